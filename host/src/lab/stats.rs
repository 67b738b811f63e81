//! The lab's experiment in numbers: requests per answer, the loss
//! estimate, its confidence interval, and a terminal histogram.
//!
//! Every request is lost independently with probability p, so the rounds a
//! trial needs are geometric with success probability 1 − p, and a trial
//! that gave up after m rounds saw m losses. Over all trials, p̂ is the
//! share of requests lost: with every trial answered that is exactly the
//! lab's 1 − 1/mean, and a trial that gave up counts for what it saw, not
//! as a success. The interval is Wilson's for that share, which stays
//! honest at the edges: 20 clean trials bound p by about 0.16, not by 0.

/// The normal quantile of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// What a series of reset trials showed.
#[derive(Debug, Clone, PartialEq)]
pub struct LossEstimate {
    /// Trials that got an answer.
    pub answered: usize,
    /// Trials that gave up (`--max-attempts`).
    pub gave_up: usize,
    /// Requests sent in all trials (one round is one request).
    pub requests: u64,
    /// Requests that got no answer.
    pub lost: u64,
    /// Mean requests per answered trial, if any was answered.
    pub mean: Option<f64>,
    /// p̂: the share of requests lost.
    pub p_hat: f64,
    /// A 95 % confidence interval for p (Wilson score).
    pub interval: (f64, f64),
}

/// Estimates the loss probability from the rounds of answered trials and
/// of trials that gave up; `None` when no request was sent.
pub fn estimate(answered: &[u32], gave_up: &[u32]) -> Option<LossEstimate> {
    let rounds = |trials: &[u32]| trials.iter().map(|&r| u64::from(r)).sum::<u64>();
    let requests = rounds(answered) + rounds(gave_up);
    if requests == 0 {
        return None;
    }
    let lost = requests - answered.len() as u64;
    let mean = (!answered.is_empty()).then(|| rounds(answered) as f64 / answered.len() as f64);
    Some(LossEstimate {
        answered: answered.len(),
        gave_up: gave_up.len(),
        requests,
        lost,
        mean,
        p_hat: lost as f64 / requests as f64,
        interval: wilson(lost, requests),
    })
}

/// Wilson's 95 % score interval for `k` successes in `n` trials.
fn wilson(k: u64, n: u64) -> (f64, f64) {
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
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
    fn no_loss_still_has_an_honest_upper_bound() {
        let e = estimate(&[1; 20], &[]).unwrap();
        assert_eq!(e.mean, Some(1.0));
        assert_eq!(e.p_hat, 0.0);
        assert_eq!(e.interval.0, 0.0);
        // Wilson's bound for 0 of 20: z²/(n + z²) ≈ 0.161 (the rule of three says 0.15).
        assert!((e.interval.1 - 0.161).abs() < 0.001, "{:?}", e.interval);
    }

    #[test]
    fn the_lab_s_figures() {
        // A mean of 1.7 requests per answer is p = 1 − 1/1.7 ≈ 0.41.
        let mut rounds = vec![1u32; 30];
        rounds.extend([2; 18]);
        rounds.extend([3; 12]);
        let e = estimate(&rounds, &[]).unwrap();
        assert!((e.mean.unwrap() - 1.7).abs() < 1e-9);
        assert!((e.p_hat - (1.0 - 1.0 / 1.7)).abs() < 1e-9);
        assert!(e.interval.0 < e.p_hat && e.p_hat < e.interval.1);
        assert!(e.interval.1 - e.interval.0 < 0.2);
        assert_eq!(estimate(&[], &[]), None);
    }

    #[test]
    fn trials_that_gave_up_count_their_losses() {
        // Five of six gave up after 2 requests: 10 losses, not 5 successes.
        let e = estimate(&[1], &[2; 5]).unwrap();
        assert_eq!((e.requests, e.lost), (11, 10));
        assert!((e.p_hat - 10.0 / 11.0).abs() < 1e-9);
        assert!(e.interval.0 > 0.5, "{:?}", e.interval);
        // None answered: p̂ is 1, with a lower bound below it.
        let e = estimate(&[], &[3; 4]).unwrap();
        assert_eq!(e.p_hat, 1.0);
        assert_eq!(e.mean, None);
        assert!(e.interval.0 < 1.0 && e.interval.1 == 1.0);
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
