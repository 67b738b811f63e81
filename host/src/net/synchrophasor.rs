//! IEEE C37.118.2 on the host: the PMU is core's server over the host's
//! embedded-nal stack ([`serve_pmu`]); the PDC is core's client driver
//! over it too ([`run_pdc`]). Time is UTC from the system clock.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pmulab_core::nal::Park;
use pmulab_core::synchrophasor::client::{ClientError, Flow, stream};
use pmulab_core::synchrophasor::pdc::Received;
use pmulab_core::synchrophasor::pmu::PmuSettings;
use pmulab_core::synchrophasor::server::C37Server;
use pmulab_core::synchrophasor::udp::C37UdpServer;
use pmulab_core::time::{Clock, Instant, earliest};

use super::clock::HostClock;
use super::stack::{NetError, StdStack};

/// PDCs a PMU can serve at once (its table's size).
pub const MAX_PDCS: usize = 256;

/// Listens on `bind`, TCP and UDP `ports`; the addresses, once bound, go
/// to `started`; then serves forever, every event to `log`.
pub fn serve_pmu(
    bind: IpAddr,
    (tcp_port, udp_port): (u16, u16),
    settings: PmuSettings<'_>,
    seed: u64,
    limit: usize,
    started: impl FnOnce(SocketAddr, SocketAddr),
    log: &mut dyn FnMut(&dyn std::fmt::Debug),
) -> Result<(), NetError> {
    let clock = HostClock::new();
    let mut stack = StdStack::new(bind, clock);
    // The table is large: on the heap.
    let mut server: Box<C37Server<'_, StdStack, MAX_PDCS>> = Box::new(C37Server::bind(
        &mut stack, tcp_port, settings, seed, limit,
    )?);
    let mut udp: Box<C37UdpServer<'_, StdStack, MAX_PDCS>> =
        Box::new(C37UdpServer::bind(&mut stack, udp_port, settings, !seed)?);
    let tcp_local = stack
        .local_addr(server.listener())
        .map_err(NetError::from)?;
    let udp_local = stack.local_addr(udp.socket()).map_err(NetError::from)?;
    started(tcp_local, udp_local);
    loop {
        let now = utc_now();
        server.poll(&mut stack, now, &mut |event| log(&event));
        udp.poll(&mut stack, now, &mut |event| log(&event));
        // The next frame's UTC time, as a deadline on the stack's clock.
        let deadline = earliest(server.poll_timeout(), udp.poll_timeout())
            .map(|due| clock.now() + due.saturating_duration_since(utc_now()));
        stack.park(deadline);
    }
}

/// The largest frame a PDC keeps (a configuration of many channels).
pub const PDC_FRAME_LIMIT: usize = 16 * 1024;

/// Now, in UTC microseconds since the epoch.
pub fn utc_now() -> Instant {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Instant::from_micros(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

/// UTC from the system clock, as core's clocks give time.
#[derive(Debug, Clone, Copy)]
pub struct Utc;

impl Clock for Utc {
    fn now(&self) -> Instant {
        utc_now()
    }
}

/// Runs core's PDC over the host's stack against `remote`: asks for CFG-2,
/// turns transmission on, and gives each frame (with its arrival time) to
/// `on_frame` until it says stop, `stop` is set, or the session fails.
/// Turns transmission off at the end. How many frames came.
pub fn run_pdc(
    remote: SocketAddr,
    id: u16,
    timeout: Duration,
    stop: &AtomicBool,
    mut on_frame: impl FnMut(Received<'_>, Instant) -> Flow,
) -> Result<u64, ClientError<NetError>> {
    let clock = HostClock::new();
    let unspecified = match remote {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let mut stack = StdStack::new(unspecified, clock);
    let mut buf = vec![0u8; 64 * 1024];
    stream::<_, _, _, PDC_FRAME_LIMIT>(
        &mut stack,
        &clock,
        &Utc,
        remote,
        id,
        timeout,
        &mut buf,
        &mut || stop.load(Ordering::Relaxed),
        &mut on_frame,
    )
}
