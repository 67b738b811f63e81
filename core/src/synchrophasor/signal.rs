//! A deterministic three-phase signal for the PMU to measure: balanced
//! voltages and currents whose frequency starts at nominal plus an offset
//! and ramps, with optional noise from a seeded source.

use crate::rng::Random;

const TAU: f64 = core::f64::consts::TAU;

/// The signal's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// The nominal frequency, Hz.
    pub nominal_hz: f64,
    /// The frequency at time 0 minus nominal, Hz.
    pub offset_hz: f64,
    /// The frequency's rate of change, Hz/s.
    pub ramp_hz_per_s: f64,
    /// Phase voltage magnitude (RMS), V.
    pub volts: f64,
    /// Line current magnitude (RMS), A.
    pub amps: f64,
    /// How far the currents lag the voltages, radians.
    pub current_lag: f64,
    /// Noise on magnitudes, as a fraction (0: none).
    pub noise: f64,
}

impl Default for Signal {
    fn default() -> Self {
        Signal {
            nominal_hz: 50.0,
            offset_hz: 0.0,
            ramp_hz_per_s: 0.0,
            volts: 230.0,
            amps: 100.0,
            current_lag: core::f64::consts::FRAC_PI_6, // 30°: power factor 0.87
            noise: 0.0,
        }
    }
}

/// What the PMU measures at one instant: six phasors (VA, VB, VC, IA, IB,
/// IC) in polar form, the frequency and its rate of change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// (magnitude, angle in radians in (-π, π]) of VA, VB, VC, IA, IB, IC.
    pub phasors: [(f32, f32); 6],
    /// Frequency, Hz.
    pub hz: f32,
    /// Rate of change of frequency, Hz/s.
    pub rocof: f32,
}

impl Signal {
    /// The measurement `t` seconds after the signal's start.
    pub fn measure(&self, t: f64, rng: &mut impl Random) -> Measurement {
        let deviation = self.offset_hz + self.ramp_hz_per_s * t;
        // The phase against a reference turning at nominal frequency.
        let theta = TAU * (self.offset_hz * t + self.ramp_hz_per_s * t * t / 2.0);
        let mut noisy = |magnitude: f64| {
            let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            (magnitude * (1.0 + self.noise * (2.0 * unit - 1.0))) as f32
        };
        let shift = TAU / 3.0;
        let mut phasors = [(0.0, 0.0); 6];
        for (i, slot) in phasors.iter_mut().enumerate() {
            let (magnitude, lag) = match i < 3 {
                true => (self.volts, 0.0),
                false => (self.amps, self.current_lag),
            };
            let angle = theta - shift * (i % 3) as f64 - lag;
            *slot = (noisy(magnitude), wrap(angle) as f32);
        }
        Measurement {
            phasors,
            hz: (self.nominal_hz + deviation) as f32,
            rocof: self.ramp_hz_per_s as f32,
        }
    }
}

/// An angle brought into (-π, π] without libm: the turns removed by
/// truncation.
fn wrap(angle: f64) -> f64 {
    let turns = (angle / TAU) as i64 as f64;
    let mut a = angle - turns * TAU;
    if a > core::f64::consts::PI {
        a -= TAU;
    } else if a <= -core::f64::consts::PI {
        a += TAU;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn balanced_phases_a_ramp_and_wrapped_angles() {
        let signal = Signal {
            offset_hz: 0.1,
            ramp_hz_per_s: 0.01,
            ..Signal::default()
        };
        let mut rng = SplitMix64::new(1);
        let m = signal.measure(0.0, &mut rng);
        assert_eq!(m.phasors[0], (230.0, 0.0));
        assert!((m.phasors[1].1 + 2.0944).abs() < 1e-3, "{:?}", m.phasors);
        assert!((m.phasors[2].1 - 2.0944).abs() < 1e-3, "{:?}", m.phasors);
        assert!((m.phasors[3].1 + core::f32::consts::FRAC_PI_6).abs() < 1e-3);
        assert_eq!(m.hz, 50.1);
        // After 2.5 s at +0.1 Hz (+ ramp), the phase has turned ~0.28 of a cycle.
        let later = signal.measure(2.5, &mut rng);
        assert!((later.hz - 50.125).abs() < 1e-5);
        let expected = wrap(TAU * (0.1 * 2.5 + 0.01 * 2.5 * 2.5 / 2.0)) as f32;
        assert!((later.phasors[0].1 - expected).abs() < 1e-5);
        for t in [0.0, 3.3, 100.7, 12345.6] {
            for (_, angle) in signal.measure(t, &mut rng).phasors {
                let pi = core::f32::consts::PI + 1e-6;
                assert!(angle > -pi && angle <= pi, "{angle} at {t}");
            }
        }
    }

    #[test]
    fn noise_is_bounded_and_seeded() {
        let signal = Signal {
            noise: 0.01,
            ..Signal::default()
        };
        let a = signal.measure(1.0, &mut SplitMix64::new(7));
        let b = signal.measure(1.0, &mut SplitMix64::new(7));
        assert_eq!(a, b);
        for (magnitude, _) in &a.phasors[..3] {
            assert!((227.7..=232.3).contains(magnitude), "{magnitude}");
        }
    }
}
