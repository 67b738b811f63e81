//! IEEE C37.118.2 over std TCP: a connection's PMU machine or PDC machine
//! (core's, sans I/O) driven by a blocking socket with read timeouts set
//! from the machine's `poll_timeout`. One thread per PMU connection,
//! bounded; time is UTC from the system clock.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pmulab_core::rng::SplitMix64;
use pmulab_core::synchrophasor::Error as FrameError;
use pmulab_core::synchrophasor::pdc::{Pdc, Received};
use pmulab_core::synchrophasor::pmu::{Pmu, PmuSettings};
use pmulab_core::time::Instant;

/// The largest frame a PDC keeps (a configuration of many channels).
pub const PDC_FRAME_LIMIT: usize = 16 * 1024;

/// Now, in UTC microseconds since the epoch.
pub fn utc_now() -> Instant {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Instant::from_micros(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

/// How a PMU connection ended.
#[derive(Debug)]
pub enum Ended {
    /// The PDC closed it.
    Closed,
    /// The PDC sent something that is not a C37.118 frame.
    Refused(FrameError),
    /// The socket failed.
    Io(io::Error),
}

/// Serves PMU connections forever: each in its own thread, at most `max`
/// at once (more are closed at once and reported through `log`).
pub fn serve_pmu(
    listener: TcpListener,
    settings: PmuSettings<'static>,
    seed: u64,
    max: u32,
    log: &(dyn Fn(SocketAddr, &str) + Sync),
) -> io::Result<()> {
    let live = AtomicU32::new(0);
    std::thread::scope(|scope| {
        let mut n = 0u64;
        loop {
            let (stream, peer) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if let Ok(local) = listener.local_addr() {
                        log(local, &format!("accept failed: {e}"));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if live.fetch_add(1, Ordering::SeqCst) >= max {
                live.fetch_sub(1, Ordering::SeqCst);
                log(peer, "turned away: every connection slot is taken");
                continue;
            }
            n += 1;
            let rng = SplitMix64::new(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let live = &live;
            scope.spawn(move || {
                log(peer, "connected");
                let outcome = match Pmu::new(settings, rng) {
                    Ok(pmu) => serve_one(stream, pmu),
                    Err(e) => Ended::Refused(e),
                };
                let said = match outcome {
                    Ended::Closed => "closed by the PDC".to_string(),
                    Ended::Refused(e) => format!("refused: {e}"),
                    Ended::Io(e) => format!("ended: {e}"),
                };
                log(peer, &said);
                live.fetch_sub(1, Ordering::SeqCst);
            });
        }
    })
}

fn serve_one(mut stream: TcpStream, mut pmu: Pmu<'static, SplitMix64>) -> Ended {
    let _ = stream.set_nodelay(true);
    let mut out = vec![0u8; 4096];
    let mut input = [0u8; 512];
    loop {
        let now = utc_now();
        while let Some(frame) = pmu.poll_transmit(now, &mut out) {
            match frame {
                Ok(n) => {
                    if let Err(e) = stream.write_all(&out[..n]) {
                        return Ended::Io(e);
                    }
                }
                Err(e) => return Ended::Refused(e),
            }
        }
        // Wake for the next frame, or after a second to look again.
        let wait = pmu
            .poll_timeout()
            .map_or(Duration::from_secs(1), |due| {
                due.saturating_duration_since(utc_now())
            })
            .min(Duration::from_secs(1));
        // ppoll sleeps on a high-resolution timer; a socket's receive
        // timeout would round up to the kernel's tick (4 ms here).
        match readable(&stream, wait) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => return Ended::Io(e),
        }
        match stream.read(&mut input) {
            Ok(0) => return Ended::Closed,
            Ok(n) => {
                if let Err(e) = pmu.handle_input(utc_now(), &input[..n]) {
                    return Ended::Refused(e);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Ended::Io(e),
        }
    }
}

/// Waits up to `wait` for `stream` to be readable (or closed).
fn readable(stream: &TcpStream, wait: Duration) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::timespec {
        tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(1),
        tv_nsec: libc::c_long::from(wait.subsec_nanos()),
    };
    // SAFETY: one valid pollfd and a valid timespec, no signal mask.
    match unsafe { libc::ppoll(&mut fd, 1, &timeout, std::ptr::null()) } {
        -1 => match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            e => Err(e),
        },
        0 => Ok(false),
        _ => Ok(true),
    }
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
