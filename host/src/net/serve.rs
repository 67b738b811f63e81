//! The serve loop every host PMU runs: core's [`PmuServer`] over a host
//! stack (plain TCP or TLS), event loops sharing one listening socket, and
//! the same loop in the background, stoppable, for the grader.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use std::fmt::Display;

use embedded_nal::TcpFullStack;
use pmulab_core::nal::{Framing, HalfClose, Park};
use pmulab_core::stream::server::{PmuEvent, PmuServer};
use pmulab_core::stream::session::SessionConfig;
use pmulab_core::time::{Clock, earliest};

use super::rng::seeded_or_random;
use super::tls::TlsStack;
use super::ws::stack::WsStack;
use super::{HostClock, StdStack};
use crate::ui::log::Log;

/// The session table's capacity; `--max-sessions` can only lower it.
pub const MAX_SESSIONS: usize = 4096;

/// The largest single send: big enough to keep a flood at memory speed.
const SEND_BUFFER: usize = 256 * 1024;

/// What the serve loop needs of a host stack beyond embedded-nal: the
/// address a listening socket got (port 0 picks one), and a stack for
/// another thread that accepts from the same listening socket.
pub trait Listening: TcpFullStack<Error: Display> + HalfClose + Framing + Park + Sized {
    /// Cores one event loop gets by default. Plain TCP: two, because most
    /// of a short session's cost is the kernel's, and on loopback half of
    /// that runs in the clients' threads — measured on 2 cores with 64
    /// local PDCs, one loop served 8–15 % more sessions/s than two. TLS:
    /// one, its cost is the loop's own cryptography (two loops: +9 %).
    const CORES_PER_LOOP: usize;
    /// The socket's local address.
    fn local_addr_of(&self, socket: &Self::TcpSocket) -> std::io::Result<SocketAddr>;
    /// A new stack, for another thread, holding a handle to `listener`.
    fn worker(&self, listener: &Self::TcpSocket) -> std::io::Result<(Self, Self::TcpSocket)>;
    /// What to do about an error of this stack, when there is something to say.
    fn advice(error: &Self::Error) -> Option<&'static str>;
}

impl Listening for StdStack {
    const CORES_PER_LOOP: usize = 2;
    fn local_addr_of(&self, socket: &Self::TcpSocket) -> std::io::Result<SocketAddr> {
        self.local_addr(socket)
    }
    fn worker(&self, listener: &Self::TcpSocket) -> std::io::Result<(Self, Self::TcpSocket)> {
        let mut stack = StdStack::new(self.bind_ip(), self.clock());
        let shared = stack.share_listener(self, listener)?;
        Ok((stack, shared))
    }
    fn advice(error: &Self::Error) -> Option<&'static str> {
        error.advice()
    }
}

impl Listening for WsStack {
    /// Like plain TCP: framing costs little beside the kernel's work.
    const CORES_PER_LOOP: usize = 2;
    fn local_addr_of(&self, socket: &Self::TcpSocket) -> std::io::Result<SocketAddr> {
        self.local_addr(socket)
    }
    fn worker(&self, listener: &Self::TcpSocket) -> std::io::Result<(Self, Self::TcpSocket)> {
        self.worker(listener)
    }
    fn advice(error: &Self::Error) -> Option<&'static str> {
        error.advice()
    }
}

impl Listening for TlsStack {
    const CORES_PER_LOOP: usize = 1;
    fn local_addr_of(&self, socket: &Self::TcpSocket) -> std::io::Result<SocketAddr> {
        self.local_addr(socket)
    }
    fn worker(&self, listener: &Self::TcpSocket) -> std::io::Result<(Self, Self::TcpSocket)> {
        self.worker(listener)
    }
    fn advice(error: &Self::Error) -> Option<&'static str> {
        error.advice()
    }
}

/// Why a PMU could not start serving.
#[derive(Debug)]
pub enum ServeError<E> {
    /// The listening socket could not be made.
    Listen(E),
    /// The listening socket has no address.
    Address(std::io::Error),
    /// Another event loop could not share the listening socket.
    Share(std::io::Error),
}

/// How many sessions, on how many event loops.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sessions served at once, split between the loops.
    pub max_sessions: usize,
    /// Event loops [default: one per [`Listening::CORES_PER_LOOP`] cores].
    pub threads: Option<usize>,
    /// Seed for the random message counts.
    pub seed: Option<u64>,
}

/// Binds `port` of `stack`, says so in one line (`started`, given the
/// address), and serves forever, logging every session event.
pub fn serve_and_log<S>(
    stack: S,
    clock: HostClock,
    port: u16,
    config: SessionConfig,
    limits: Limits,
    log: &Log,
    started: impl FnOnce(SocketAddr) -> String,
) -> Result<(), ServeError<S::Error>>
where
    S: Listening + Send,
    S::TcpSocket: Send,
{
    let bound = bind(stack, port, config)?;
    log.always(format_args!("{}", started(bound.local)));
    bound.serve_forever(
        clock,
        limits.max_sessions,
        limits.threads,
        limits.seed,
        &|event| log_event(log, event),
    )
}

/// One line per session event: with `-v` for the ordinary ones; always
/// for what an operator must know (busy, aborted, accept failures).
pub fn log_event(log: &Log, event: &PmuEvent<'_>) {
    match event {
        PmuEvent::Accepted { peer } => log.info(format_args!("{peer} connected")),
        PmuEvent::Command {
            peer,
            command,
            count,
        } => match command.interval() {
            Some(d) => log.info(format_args!(
                "{peer} {command}: {count} messages, {} s apart",
                d.as_secs_f64()
            )),
            None => log.info(format_args!("{peer} {command}")),
        },
        PmuEvent::Refused { peer, error } => log.info(format_args!("{peer} refused: {error}")),
        PmuEvent::Busy { peer } => log.always(format_args!(
            "{peer} turned away: every session slot is taken"
        )),
        PmuEvent::Finished { peer, bytes } => {
            log.info(format_args!("{peer} done, {bytes} bytes sent"))
        }
        // Rare, and on a TLS server the sign of a failed handshake: always shown.
        PmuEvent::Aborted { peer, bytes, error } => {
            log.always(format_args!("{peer} aborted after {bytes} bytes: {error}"))
        }
        PmuEvent::AcceptFailed { error } => {
            log.always(format_args!("accept failed: {error}; pausing 100 ms"))
        }
    }
}

/// A PMU bound and listening, not yet serving.
pub struct Bound<S: Listening> {
    stack: S,
    server: Box<PmuServer<S, MAX_SESSIONS>>,
    config: SessionConfig,
    /// Where it listens.
    pub local: SocketAddr,
}

impl<S: Listening> std::fmt::Debug for Bound<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound").field("local", &self.local).finish()
    }
}

/// Opens the listening socket on `port` of `stack`.
pub fn bind<S: Listening>(
    mut stack: S,
    port: u16,
    config: SessionConfig,
) -> Result<Bound<S>, ServeError<S::Error>> {
    // Boxed: the session table is large for a stack frame.
    let server: Box<PmuServer<S, MAX_SESSIONS>> =
        Box::new(PmuServer::bind(&mut stack, port, config).map_err(ServeError::Listen)?);
    let local = stack
        .local_addr_of(server.listener())
        .map_err(ServeError::Address)?;
    Ok(Bound {
        stack,
        server,
        config,
        local,
    })
}

impl<S> Bound<S>
where
    S: Listening + Send,
    S::TcpSocket: Send,
{
    /// Serves forever on `threads` event loops (default: one per
    /// [`Listening::CORES_PER_LOOP`] cores, one below 64 sessions so that
    /// "busy" means exactly `max_sessions`), which split `max_sessions`.
    /// It returns only if it cannot start its loops.
    pub fn serve_forever(
        self,
        clock: HostClock,
        max_sessions: usize,
        threads: Option<usize>,
        seed: Option<u64>,
        on_event: &(dyn Fn(&PmuEvent<'_>) + Sync),
    ) -> Result<(), ServeError<S::Error>> {
        let Bound {
            stack,
            mut server,
            config,
            ..
        } = self;
        let threads = threads.unwrap_or_else(|| match max_sessions >= 64 {
            true => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                (cores / S::CORES_PER_LOOP).max(1)
            }
            false => 1,
        });
        let per_thread = (max_sessions / threads).max(1);
        server.set_session_limit(per_thread);
        let mut workers = Vec::new();
        for i in 1..threads {
            let (worker, listener) = stack.worker(server.listener()).map_err(ServeError::Share)?;
            let mut extra: Box<PmuServer<S, MAX_SESSIONS>> =
                Box::new(PmuServer::with_listener(listener, config));
            extra.set_session_limit(per_thread);
            workers.push((worker, extra, seed.map(|s| s.wrapping_add(i as u64))));
        }
        std::thread::scope(|scope| {
            for (worker, mut extra, seed) in workers {
                scope.spawn(move || event_loop(worker, &mut extra, clock, seed, on_event, None));
            }
            event_loop(stack, &mut server, clock, seed, on_event, None);
        });
        Ok(())
    }
}

impl<S> Bound<S>
where
    S: Listening + Send + 'static,
    S::TcpSocket: Send,
{
    /// Serves in a thread of its own, one event loop, until the returned
    /// handle is dropped.
    pub fn serve_in_background(
        self,
        clock: HostClock,
        max_sessions: usize,
        on_event: Box<dyn Fn(&PmuEvent<'_>) + Send + Sync>,
    ) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let Bound {
            stack,
            mut server,
            local,
            ..
        } = self;
        server.set_session_limit(max_sessions);
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            event_loop(stack, &mut server, clock, None, &*on_event, Some(&stopping))
        });
        Background {
            local,
            stop,
            thread: Some(thread),
        }
    }
}

/// A PMU serving in a thread of its own; stopped when dropped.
#[derive(Debug)]
pub struct Background {
    /// Where it listens.
    pub local: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How often a stoppable loop looks at its stop flag while idle.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// Serves until `stop` is set; without one, forever, waking only for work.
fn event_loop<S: Listening>(
    mut stack: S,
    server: &mut PmuServer<S, MAX_SESSIONS>,
    clock: HostClock,
    seed: Option<u64>,
    on_event: &(dyn Fn(&PmuEvent<'_>) + Sync),
    stop: Option<&AtomicBool>,
) {
    let mut rng = seeded_or_random(seed);
    let mut buf = vec![0u8; SEND_BUFFER];
    while !stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
        let now = clock.now();
        server.poll(&mut stack, now, &mut rng, &mut buf, &mut |event| {
            on_event(&event)
        });
        let wake = stop.map(|_| now + STOP_CHECK);
        stack.park(earliest(server.poll_timeout(), wake));
    }
}
