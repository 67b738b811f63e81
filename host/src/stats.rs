//! The lab's experiment in numbers: requests per answer, the loss
//! estimate, its confidence interval, and a terminal histogram.

/// What a series of reset trials showed.
#[derive(Debug, Clone, PartialEq)]
pub struct LossEstimate {
    /// Trials that got an answer.
    pub answered: usize,
    /// Mean requests per answered trial.
    pub mean: f64,
    /// p̂ = 1 − 1/mean.
    pub p_hat: f64,
    /// A 95% confidence interval for p.
    pub interval: (f64, f64),
}

/// Estimates the loss probability from the request counts of answered
/// trials. The count is geometric with success probability 1 − p, whose
/// mean is 1/(1 − p); the interval maps the normal interval of the mean.
pub fn estimate(rounds: &[u32]) -> Option<LossEstimate> {
    let n = rounds.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = rounds.iter().map(|&r| f64::from(r)).sum::<f64>() / nf;
    let var = match n {
        1 => 0.0,
        _ => {
            rounds
                .iter()
                .map(|&r| (f64::from(r) - mean).powi(2))
                .sum::<f64>()
                / (nf - 1.0)
        }
    };
    let half = 1.96 * (var / nf).sqrt();
    let p_of = |m: f64| if m <= 1.0 { 0.0 } else { 1.0 - 1.0 / m };
    Some(LossEstimate {
        answered: n,
        mean,
        p_hat: p_of(mean),
        interval: (p_of(mean - half), p_of(mean + half)),
    })
}

/// Rows `requests │ bar count`, one per request count seen, bars scaled to `width`.
pub fn histogram(rounds: &[u32], width: usize) -> Vec<String> {
    let Some(&max_rounds) = rounds.iter().max() else {
        return Vec::new();
    };
    let mut counts = vec![0usize; max_rounds as usize + 1];
    for &r in rounds {
        counts[r as usize] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    counts
        .iter()
        .enumerate()
        .skip(1)
        .map(|(requests, &count)| {
            let bar = "█".repeat((count * width).div_ceil(top).min(width) * usize::from(count > 0));
            format!("{requests:>8} │ {bar} {count}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_loss_means_one_request_each() {
        let e = estimate(&[1; 60]).unwrap();
        assert_eq!(e.mean, 1.0);
        assert_eq!(e.p_hat, 0.0);
        assert_eq!(e.interval, (0.0, 0.0));
    }

    #[test]
    fn the_lab_s_figures() {
        // A mean of 1.8 requests per answer is p ≈ 0.44.
        let mut rounds = vec![1u32; 30];
        rounds.extend([2; 18]);
        rounds.extend([3; 12]);
        let e = estimate(&rounds).unwrap();
        assert!((e.mean - 1.7).abs() < 1e-9);
        assert!((e.p_hat - (1.0 - 1.0 / 1.7)).abs() < 1e-9);
        assert!(e.interval.0 < e.p_hat && e.p_hat < e.interval.1);
        assert_eq!(estimate(&[]), None);
    }

    #[test]
    fn histogram_rows_cover_every_count() {
        let rows = histogram(&[1, 1, 1, 1, 3], 8);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], "       1 │ ████████ 4");
        assert_eq!(rows[1], "       2 │  0");
        assert_eq!(rows[2], "       3 │ ██ 1");
    }
}
