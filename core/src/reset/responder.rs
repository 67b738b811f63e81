//! The PMU's side of the reset: for each request, answer `OFFSET=X` with
//! `X` uniform in `0..=n`, or lose it with probability `p` — the course's
//! `if random() >= p: reply`. Sans I/O and stateless: the schedule of
//! families and the randomness are inputs.
//!
//! Safety as a UDP server: a malformed request never gets an answer (no
//! reflection of garbage), and an answer is at most one byte longer than
//! its request (`OFFSET=` is one letter longer than `RESET:`, and `X` has
//! no more digits than `n`), so the responder cannot amplify traffic.

use core::net::SocketAddr;
use core::time::Duration;

use super::codec::{Offset, Reset, ResetError, Wire};
use crate::rng::Random;
use crate::time::Instant;

/// An IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `addr` (IPv4-mapped IPv6 counts as IPv4).
    pub fn of(addr: SocketAddr) -> Family {
        match addr.ip().to_canonical() {
            core::net::IpAddr::V4(_) => Family::V4,
            core::net::IpAddr::V6(_) => Family::V6,
        }
    }

    fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }
}

/// Which families the PMU answers on, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilySchedule {
    /// IPv4 and IPv6 at all times.
    Both,
    /// One family at all times.
    Only(Family),
    /// One family at a time, switching every `period` (the course's server
    /// changed with the time of day). `first` is active from the origin.
    Alternate {
        /// How long each family is active.
        period: Duration,
        /// The family active first.
        first: Family,
    },
}

impl FamilySchedule {
    /// Whether requests over `family` are answered at `now`.
    pub fn serves(&self, family: Family, now: Instant) -> bool {
        match *self {
            FamilySchedule::Both => true,
            FamilySchedule::Only(only) => only == family,
            FamilySchedule::Alternate { period, first } => {
                let period = period.as_micros().max(1);
                let turn = u128::from(now.as_micros()) / period;
                let active = if turn % 2 == 0 { first } else { first.other() };
                active == family
            }
        }
    }

    /// When the set of served families next changes, if it ever does.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        match *self {
            FamilySchedule::Alternate { period, .. } => {
                let period = u64::try_from(period.as_micros()).unwrap_or(u64::MAX).max(1);
                let next = (now.as_micros() / period)
                    .saturating_add(1)
                    .saturating_mul(period);
                Some(Instant::from_micros(next))
            }
            _ => None,
        }
    }
}

/// The responder's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResponderConfig {
    /// Probability in `[0, 1]` that a valid request is ignored.
    pub loss: f64,
    /// Families served over time.
    pub schedule: FamilySchedule,
}

impl Default for ResponderConfig {
    fn default() -> Self {
        ResponderConfig {
            loss: 0.4,
            schedule: FamilySchedule::Both,
        }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send this answer back to the requester.
    Answer {
        /// The request.
        request: Reset,
        /// The answer.
        offset: Offset,
        /// Its bytes.
        reply: Wire,
    },
    /// A valid request, lost on purpose (probability `loss`).
    Lost(Reset),
    /// Not a request: no answer, ever.
    Malformed(ResetError),
    /// The request's family is not served at this time.
    OffSchedule(Family),
}

/// Decides the fate of `datagram` from `from` at `now`.
pub fn decide(
    config: &ResponderConfig,
    now: Instant,
    from: SocketAddr,
    datagram: &[u8],
    rng: &mut impl Random,
) -> Decision {
    let family = Family::of(from);
    if !config.schedule.serves(family, now) {
        return Decision::OffSchedule(family);
    }
    let request = match Reset::parse(datagram) {
        Ok(request) => request,
        Err(e) => return Decision::Malformed(e),
    };
    // The course's server: `if random() >= p: reply`.
    if rng.unit_f64() < config.loss {
        return Decision::Lost(request);
    }
    let seconds = rng.uniform_inclusive(u64::from(request.seconds)) as u32;
    let offset = Offset { seconds };
    Decision::Answer {
        request,
        offset,
        reply: offset.encode(),
    }
}
