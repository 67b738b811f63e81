//! The IEEE C37.118.2 PMU beside the lab's: core's [`C37Server`] (TCP
//! 4712) and [`C37UdpServer`] (UDP 4713) as one
//! [`app::Service`](crate::app::Service), the board's clock turned into the
//! UTC the frames are stamped with.

use embedded_nal::{TcpFullStack, UdpFullStack};
use pmulab_core::nal::NoDelay;
use pmulab_core::synchrophasor::pmu::PmuSettings;
use pmulab_core::synchrophasor::server::{C37Event, C37Server};
use pmulab_core::synchrophasor::udp::{C37_UDP_PORT, C37UdpEvent, C37UdpServer};
use pmulab_core::time::{Instant, earliest};

use crate::app::Service;

/// C37.118's TCP port.
pub const C37_PORT: u16 = 4712;

/// What the C37 PMU did, for the summary at exit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct C37Counts {
    /// PDCs that connected.
    pub accepted: u32,
    /// PDCs heard from by UDP.
    pub udp_known: u32,
    /// Datagrams dropped (not a command frame).
    pub dropped: u32,
    /// PDCs turned away (every slot taken).
    pub busy: u32,
    /// Connections that ended on a bad frame or a network error.
    pub failed: u32,
}

/// Up to `N` PDCs on [`C37_PORT`] and `N` on [`C37_UDP_PORT`].
pub struct C37Pmu<'a, S: TcpFullStack + UdpFullStack + NoDelay, const N: usize> {
    server: C37Server<'a, S, N>,
    udp: C37UdpServer<'a, S, N>,
    /// UTC microseconds since the epoch at the board's time zero.
    utc_origin: u64,
    counts: C37Counts,
}

impl<'a, S: TcpFullStack + UdpFullStack + NoDelay, const N: usize> C37Pmu<'a, S, N> {
    /// Listens on [`C37_PORT`] and [`C37_UDP_PORT`]; `utc_origin` is the UTC time (µs since the
    /// epoch) of the board's time zero.
    pub fn bind(
        stack: &mut S,
        settings: PmuSettings<'a>,
        seed: u64,
        utc_origin: u64,
    ) -> Result<Self, &'static str> {
        Ok(C37Pmu {
            server: C37Server::bind(stack, C37_PORT, settings, seed, N)
                .map_err(|_| "cannot open C37.118's TCP port 4712")?,
            udp: C37UdpServer::bind(stack, C37_UDP_PORT, settings, !seed)
                .map_err(|_| "cannot open C37.118's UDP port 4713")?,
            utc_origin,
            counts: C37Counts::default(),
        })
    }

    /// What it has done so far.
    pub fn counts(&self) -> C37Counts {
        self.counts
    }
}

impl<S: TcpFullStack + UdpFullStack + NoDelay, const N: usize> core::fmt::Debug
    for C37Pmu<'_, S, N>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("C37Pmu")
            .field("utc_origin", &self.utc_origin)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<'a, S: TcpFullStack + UdpFullStack + NoDelay, const N: usize> Service<S> for C37Pmu<'a, S, N> {
    fn poll(&mut self, stack: &mut S, now: Instant) {
        let utc = Instant::from_micros(self.utc_origin + now.as_micros());
        let counts = &mut self.counts;
        self.server.poll(stack, utc, &mut |event| match event {
            C37Event::Accepted { .. } => counts.accepted += 1,
            C37Event::Busy { .. } => counts.busy += 1,
            C37Event::Ended { .. } => counts.failed += 1,
            C37Event::Closed { .. } => {}
        });
        self.udp.poll(stack, utc, &mut |event| match event {
            C37UdpEvent::Known { .. } => counts.udp_known += 1,
            C37UdpEvent::Dropped { .. } => counts.dropped += 1,
            C37UdpEvent::Evicted { .. } | C37UdpEvent::SendFailed { .. } => {}
        });
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let due = earliest(self.server.poll_timeout(), self.udp.poll_timeout())?;
        Some(Instant::from_micros(
            due.as_micros().saturating_sub(self.utc_origin),
        ))
    }
}
