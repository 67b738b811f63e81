//! IEEE C37.118.2 on the host: the PMU is core's server over the host's
//! embedded-nal stack ([`serve_pmu`]); the PDC is core's machine over a
//! blocking socket ([`run_pdc`]). Time is UTC from the system clock.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pmulab_core::nal::Park;
use pmulab_core::synchrophasor::Error as FrameError;
use pmulab_core::synchrophasor::pdc::{Pdc, Received};
use pmulab_core::synchrophasor::pmu::PmuSettings;
use pmulab_core::synchrophasor::server::{C37Event, C37Server};
use pmulab_core::time::{Clock, Instant};

use super::clock::HostClock;
use super::stack::{NetError, StdStack};

/// PDCs a PMU can serve at once (its table's size).
pub const MAX_PDCS: usize = 256;

/// Listens on `bind`:`port`; the address, once listening, goes to
/// `started`; then serves forever, every event to `log`.
pub fn serve_pmu(
    bind: std::net::IpAddr,
    port: u16,
    settings: PmuSettings<'_>,
    seed: u64,
    limit: usize,
    started: impl FnOnce(SocketAddr),
    log: &mut dyn FnMut(C37Event<'_>),
) -> Result<(), NetError> {
    let clock = HostClock::new();
    let mut stack = StdStack::new(bind, clock);
    // The table is large: on the heap.
    let mut server: Box<C37Server<'_, StdStack, MAX_PDCS>> =
        Box::new(C37Server::bind(&mut stack, port, settings, seed, limit)?);
    let local = stack
        .local_addr(server.listener())
        .map_err(NetError::from)?;
    started(local);
    loop {
        server.poll(&mut stack, utc_now(), log);
        // The next frame's UTC time, as a deadline on the stack's clock.
        let deadline = server
            .poll_timeout()
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

/// What the PDC's caller wants after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    More,
    /// Turn transmission off and close.
    Stop,
}

/// Why a PDC session ended badly.
#[derive(Debug)]
pub enum PdcError {
    /// The PMU sent a frame that does not decode.
    Frame(FrameError),
    /// What came first is not C37.118 at all (its first bytes, as text).
    NotC37(String),
    /// Nothing came for the timeout.
    Silent(Duration),
    /// The PMU closed the connection.
    Closed,
    /// The socket failed.
    Io(io::Error),
}

/// Runs a PDC over `stream`: asks for CFG-2, turns transmission on, and
/// gives each frame (with its arrival time) to `on_frame` until it says
/// stop, `stop` is set, or the PMU closes. Turns transmission off at the end.
pub fn run_pdc(
    mut stream: TcpStream,
    id: u16,
    timeout: Duration,
    stop: &AtomicBool,
    mut on_frame: impl FnMut(Received<'_>, Instant) -> Flow,
) -> Result<(), PdcError> {
    let _ = stream.set_nodelay(true);
    let mut pdc: Pdc<PDC_FRAME_LIMIT> = Pdc::new(id);
    let mut out = [0u8; 64];
    let mut input = vec![0u8; 64 * 1024];
    let mut silent_since = std::time::Instant::now();
    let mut frames = 0u64;
    let result = 'session: loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        while let Some(command) = pdc.poll_transmit(utc_now(), &mut out) {
            let sent = command
                .map_err(PdcError::Frame)
                .and_then(|n| stream.write_all(&out[..n]).map_err(PdcError::Io));
            if let Err(e) = sent {
                break 'session Err(e);
            }
        }
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let n = match stream.read(&mut input) {
            Ok(0) => break Err(PdcError::Closed),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if silent_since.elapsed() > timeout {
                    break Err(PdcError::Silent(timeout));
                }
                continue;
            }
            Err(e) => break Err(PdcError::Io(e)),
        };
        silent_since = std::time::Instant::now();
        let arrived = utc_now();
        let mut fed = 0;
        while fed < n {
            fed += pdc.handle_input(&input[fed..n]);
            while let Some(frame) = pdc.poll_frame() {
                match frame {
                    Ok(frame) => {
                        frames += 1;
                        if on_frame(frame, arrived) == Flow::Stop {
                            break 'session Ok(());
                        }
                    }
                    Err(FrameError::NoSync(_)) if frames == 0 => {
                        let text = String::from_utf8_lossy(&input[..n.min(80)]);
                        break 'session Err(PdcError::NotC37(text.trim_end().to_string()));
                    }
                    Err(e) => break 'session Err(PdcError::Frame(e)),
                }
            }
        }
    };
    // Transmission off, politely, whatever happened.
    let off = pmulab_core::synchrophasor::command::emit(
        &mut out,
        pmulab_core::synchrophasor::frame::VERSION,
        id,
        pmulab_core::synchrophasor::frame::Timestamp::default(),
        pmulab_core::synchrophasor::command::Command::Off,
    );
    if let Ok(n) = off {
        let _ = stream.write_all(&out[..n]);
    }
    result
}
