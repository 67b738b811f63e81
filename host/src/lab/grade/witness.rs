//! The lab's servers, run inside the grader and recording what they saw.
//! A verdict rests on this evidence — what the grader's own servers did for
//! the program — never on what the program says it did.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use embedded_nal::{UdpClientStack, UdpFullStack};
use pmulab_core::nal::Park;
use pmulab_core::reset::responder::{Decision, Family, FamilySchedule, ResponderConfig};
use pmulab_core::reset::server::{ResetServer, ResponderEvent};
use pmulab_core::stream::server::PmuEvent;
use pmulab_core::stream::session::SessionConfig;
use pmulab_core::time::{Clock, earliest};

use crate::net::rng::seeded_or_random;
use crate::net::serve::{self, Background, Listening};
use crate::net::tls::config as tls_config;
use crate::net::tls::{Role, TlsStack};
use crate::net::ws::stack::{WsSettings, WsStack};
use crate::net::{HostClock, StdStack};
use crate::ui::failure::Failure;

/// Sessions a grading PMU serves at once: a program under test needs one,
/// a program that retries a few.
const SESSIONS: usize = 16;

/// What a PMU saw of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSeen {
    /// The peer.
    pub peer: SocketAddr,
    /// The command it accepted, as written (`CMD_short:0`).
    pub command: Option<String>,
    /// Messages it sent for `CMD_short` (n), 0 for `CMD_floodme`.
    pub count: u32,
    /// Why it refused the command, if it did.
    pub refused: Option<String>,
    /// Bytes it sent.
    pub bytes: u64,
    /// Whether it sent everything and closed normally.
    pub finished: bool,
    /// Why the connection failed, if it did.
    pub aborted: Option<String>,
}

impl SessionSeen {
    fn new(peer: SocketAddr) -> Self {
        SessionSeen {
            peer,
            command: None,
            count: 0,
            refused: None,
            bytes: 0,
            finished: false,
            aborted: None,
        }
    }
}

/// The sessions a server saw, in the order they connected.
#[derive(Debug, Clone, Default)]
pub struct Sessions(Arc<Mutex<Vec<SessionSeen>>>);

impl Sessions {
    /// Everything seen so far.
    pub fn seen(&self) -> Vec<SessionSeen> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records one server event.
    pub fn record(&self, event: &PmuEvent<'_>) {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut session = |peer: SocketAddr| -> usize {
            match all.iter().rposition(|s| s.peer == peer) {
                Some(i) => i,
                None => {
                    all.push(SessionSeen::new(peer));
                    all.len() - 1
                }
            }
        };
        match event {
            PmuEvent::Accepted { peer } => {
                all.push(SessionSeen::new(*peer));
            }
            PmuEvent::Command {
                peer,
                command,
                count,
            } => {
                let i = session(*peer);
                all[i].command = Some(command.to_string());
                all[i].count = *count;
            }
            PmuEvent::Refused { peer, error } => {
                let i = session(*peer);
                all[i].refused = Some(error.to_string());
            }
            PmuEvent::Finished { peer, bytes } => {
                let i = session(*peer);
                all[i].bytes = *bytes;
                all[i].finished = true;
            }
            PmuEvent::Aborted { peer, bytes, error } => {
                let i = session(*peer);
                all[i].bytes = *bytes;
                all[i].aborted = Some(error.to_string());
            }
            PmuEvent::Busy { .. } | PmuEvent::AcceptFailed { .. } => {}
        }
    }
}

/// A PMU (plain TCP or TLS) on 127.0.0.1 for one scenario.
#[derive(Debug)]
pub struct PmuWitness {
    server: Background,
    sessions: Sessions,
}

impl PmuWitness {
    /// The part 2 PMU.
    pub fn tcp(config: SessionConfig) -> Result<PmuWitness, Failure> {
        let clock = HostClock::new();
        Self::start(
            StdStack::new(Ipv4Addr::LOCALHOST.into(), clock),
            clock,
            config,
        )
    }

    /// The part 6 PMU, framing as `settings` say.
    pub fn ws(config: SessionConfig, settings: WsSettings) -> Result<PmuWitness, Failure> {
        let clock = HostClock::new();
        let stack = WsStack::new(StdStack::new(Ipv4Addr::LOCALHOST.into(), clock), settings);
        Self::start(stack, clock, config)
    }

    /// The part 5 PMU, serving `certificate` with `key`.
    pub fn tls(
        config: SessionConfig,
        certificate: &Path,
        key: &Path,
    ) -> Result<PmuWitness, Failure> {
        let tls = tls_config::server(certificate, key)?;
        let clock = HostClock::new();
        let stack = TlsStack::new(
            StdStack::new(Ipv4Addr::LOCALHOST.into(), clock),
            Role::Server(tls),
        );
        Self::start(stack, clock, config)
    }

    fn start<S>(stack: S, clock: HostClock, config: SessionConfig) -> Result<PmuWitness, Failure>
    where
        S: Listening + Send + 'static,
        S::TcpSocket: Send,
    {
        let bound = serve::bind(stack, 0, config)
            .map_err(|e| Failure::runtime(format!("the grader's PMU cannot listen: {e:?}")))?;
        let sessions = Sessions::default();
        let recorder = sessions.clone();
        let server =
            bound.serve_in_background(clock, SESSIONS, Box::new(move |e| recorder.record(e)));
        Ok(PmuWitness { server, sessions })
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.local.port()
    }

    /// What it saw.
    pub fn sessions(&self) -> Vec<SessionSeen> {
        self.sessions.seen()
    }
}

/// What the reset PMU did with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Answered `OFFSET=X`.
    Answered(u32),
    /// A valid request, lost on purpose.
    Lost,
    /// Not a request.
    Malformed,
}

/// One datagram the reset PMU received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSeen {
    /// When, since the PMU started.
    pub at: Duration,
    /// Over which family.
    pub family: Family,
    /// What became of it.
    pub fate: Fate,
}

/// The part 3 PMU on 127.0.0.1 and/or ::1, one port for both.
#[derive(Debug)]
pub struct ResetWitness {
    port: u16,
    seen: Arc<Mutex<Vec<RequestSeen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ResetWitness {
    /// Serves the families in `schedule`, losing requests with `loss`.
    pub fn start(schedule: FamilySchedule, loss: f64) -> Result<ResetWitness, Failure> {
        let clock = HostClock::new();
        let mut stack = StdStack::new(Ipv4Addr::UNSPECIFIED.into(), clock);
        let binds: Vec<IpAddr> = match schedule {
            FamilySchedule::Only(Family::V4) => vec![Ipv4Addr::LOCALHOST.into()],
            FamilySchedule::Only(Family::V6) => vec![Ipv6Addr::LOCALHOST.into()],
            _ => vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
        };
        // Both families share the port the first one got; if the other
        // family's port is taken, try another.
        let mut last_error = String::new();
        for _ in 0..20 {
            let mut sockets: [Option<_>; 2] = [None, None];
            let mut port = 0;
            let mut bound = true;
            for (slot, ip) in sockets.iter_mut().zip(&binds) {
                stack.set_bind_ip(*ip);
                let mut socket = UdpClientStack::socket(&mut stack).map_err(Failure::runtime)?;
                if let Err(e) = UdpFullStack::bind(&mut stack, &mut socket, port) {
                    last_error = format!("{}: {e}", SocketAddr::new(*ip, port));
                    let _ = UdpClientStack::close(&mut stack, socket);
                    bound = false;
                    break;
                }
                port = stack.local_addr(&socket).map_err(Failure::runtime)?.port();
                *slot = Some(socket);
            }
            if !bound {
                for socket in sockets.into_iter().flatten() {
                    let _ = UdpClientStack::close(&mut stack, socket);
                }
                continue;
            }
            let config = ResponderConfig { loss, schedule };
            let server: ResetServer<StdStack, 2> = ResetServer::from_sockets(sockets, config);
            return Ok(Self::run(stack, clock, server, port));
        }
        Err(Failure::runtime(format!(
            "the grader's reset PMU cannot listen: {last_error}"
        )))
    }

    fn run(
        mut stack: StdStack,
        clock: HostClock,
        mut server: ResetServer<StdStack, 2>,
        port: u16,
    ) -> ResetWitness {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (recorded, stopping) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut rng = seeded_or_random(None);
            let mut buf = [0u8; 2048];
            let started = clock.now();
            while !stopping.load(Ordering::Relaxed) {
                let now = clock.now();
                server.poll(&mut stack, now, &mut rng, &mut buf, &mut |event| {
                    let ResponderEvent::Request { from, decision, .. } = event else {
                        return;
                    };
                    let fate = match decision {
                        Decision::Answer { offset, .. } => Fate::Answered(offset.seconds),
                        Decision::Lost(_) => Fate::Lost,
                        Decision::Malformed(_) | Decision::OffSchedule(_) => Fate::Malformed,
                    };
                    let request = RequestSeen {
                        at: now.saturating_duration_since(started),
                        family: Family::of(from),
                        fate,
                    };
                    recorded
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(request);
                });
                let wake = now + Duration::from_millis(50);
                stack.park(earliest(server.poll_timeout(), Some(wake)));
            }
        });
        ResetWitness {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every datagram it received, in order.
    pub fn requests(&self) -> Vec<RequestSeen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for ResetWitness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
