//! The IEEE C37.118.2 PMU beside the lab's: core's [`C37Server`] as an
//! [`app::Service`](crate::app::Service), the board's clock turned into the
//! UTC the frames are stamped with.

use embedded_nal::TcpFullStack;
use pmulab_core::nal::NoDelay;
use pmulab_core::synchrophasor::pmu::PmuSettings;
use pmulab_core::synchrophasor::server::{C37Event, C37Server};
use pmulab_core::time::Instant;

use crate::app::Service;

/// C37.118's TCP port.
pub const C37_PORT: u16 = 4712;

/// What the C37 PMU did, for the summary at exit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct C37Counts {
    /// PDCs that connected.
    pub accepted: u32,
    /// PDCs turned away (every slot taken).
    pub busy: u32,
    /// Connections that ended on a bad frame or a network error.
    pub failed: u32,
}

/// Up to `N` PDCs on [`C37_PORT`].
pub struct C37Pmu<'a, S: TcpFullStack + NoDelay, const N: usize> {
    server: C37Server<'a, S, N>,
    /// UTC microseconds since the epoch at the board's time zero.
    utc_origin: u64,
    counts: C37Counts,
}

impl<'a, S: TcpFullStack + NoDelay, const N: usize> C37Pmu<'a, S, N> {
    /// Listens on [`C37_PORT`]; `utc_origin` is the UTC time (µs since the
    /// epoch) of the board's time zero.
    pub fn bind(
        stack: &mut S,
        settings: PmuSettings<'a>,
        seed: u64,
        utc_origin: u64,
    ) -> Result<Self, S::Error> {
        Ok(C37Pmu {
            server: C37Server::bind(stack, C37_PORT, settings, seed, N)?,
            utc_origin,
            counts: C37Counts::default(),
        })
    }

    /// What it has done so far.
    pub fn counts(&self) -> C37Counts {
        self.counts
    }
}

impl<S: TcpFullStack + NoDelay, const N: usize> core::fmt::Debug for C37Pmu<'_, S, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("C37Pmu")
            .field("utc_origin", &self.utc_origin)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<'a, S: TcpFullStack + NoDelay, const N: usize> Service<S> for C37Pmu<'a, S, N> {
    fn poll(&mut self, stack: &mut S, now: Instant) {
        let utc = Instant::from_micros(self.utc_origin + now.as_micros());
        let counts = &mut self.counts;
        self.server.poll(stack, utc, &mut |event| match event {
            C37Event::Accepted { .. } => counts.accepted += 1,
            C37Event::Busy { .. } => counts.busy += 1,
            C37Event::Ended { .. } => counts.failed += 1,
            C37Event::Closed { .. } => {}
        });
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let due = self.server.poll_timeout()?;
        Some(Instant::from_micros(
            due.as_micros().saturating_sub(self.utc_origin),
        ))
    }
}
