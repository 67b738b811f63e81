//! The host's monotonic clock, shared by drivers and the stack's park.

use std::time::Instant as StdInstant;

use pmulab_core::time::{Clock, Instant};

/// Microseconds since the clock was made. Copies share the origin, so a
/// deadline computed by a driver means the same moment to the stack.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    origin: StdInstant,
}

impl HostClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        HostClock {
            origin: StdInstant::now(),
        }
    }
}

impl Default for HostClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for HostClock {
    fn now(&self) -> Instant {
        let micros = self.origin.elapsed().as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }
}
