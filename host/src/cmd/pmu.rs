//! `pmulab pmu`: the course's TCP PMU (part 2), core's server over the
//! host stack.

use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use embedded_nal::{TcpClientStack, TcpFullStack};
use pmulab_core::pmu::{PmuServer, ServerEvent};
use pmulab_core::session::{MessageCount, SessionConfig};
use pmulab_core::stack::HalfClose;
use pmulab_core::time::{Clock, Park};

use super::pdc::seconds;
use crate::cli::{PmuArgs, SecurePmuArgs, SessionOptions};
use crate::failure::Failure;
use crate::log::Log;
use crate::net::tls::{Role, TlsStack};
use crate::net::{HostClock, StdStack};
use crate::rng::seeded_or_random;
use crate::tls_config;

/// The session table's capacity; `--max-sessions` can only lower it.
pub const MAX_SESSIONS: usize = 4096;

/// The largest single send: big enough to keep a flood at memory speed.
const SEND_BUFFER: usize = 256 * 1024;

/// Parses `--count`: `15`, `random` (2–17) or `5-20`.
pub fn parse_count(text: &str) -> Result<MessageCount, String> {
    if text == "random" {
        return Ok(MessageCount::Random { min: 2, max: 17 });
    }
    let number = |s: &str| {
        s.trim().parse::<u32>().map_err(|_| {
            format!("{s:?} is not a count; use a number, `random` or a range such as 5-20")
        })
    };
    match text.split_once('-') {
        Some((lo, hi)) => {
            let (min, max) = (number(lo)?, number(hi)?);
            if min > max {
                return Err(format!("range {min}-{max} is empty"));
            }
            Ok(MessageCount::Random { min, max })
        }
        None => Ok(MessageCount::Fixed(number(text)?)),
    }
}

/// Runs the PMU until killed.
pub fn run(args: PmuArgs, log: &Log) -> Result<(), Failure> {
    let clock = HostClock::new();
    let stack = StdStack::new(args.bind, clock);
    serve(
        stack,
        clock,
        args.bind,
        args.port,
        &args.session,
        args.loops.threads,
        log,
        "pmulab pmu",
        "",
    )
}

/// Runs the PMU behind TLS until killed.
pub fn run_secure(args: SecurePmuArgs, log: &Log) -> Result<(), Failure> {
    let config = tls_config::server(&args.certificate, &args.key)?;
    let about = describe_certificate(&args.certificate);
    let clock = HostClock::new();
    let stack = TlsStack::new(StdStack::new(args.bind, clock), Role::Server(config));
    serve(
        stack,
        clock,
        args.bind,
        args.port,
        &args.session,
        args.loops.threads,
        log,
        "pmulab secure-pmu",
        &about,
    )
}

/// `subject, issued by …, valid until …` for the start-up line.
fn describe_certificate(path: &std::path::Path) -> String {
    let Ok(certs) = tls_config::load_certificates(path) else {
        return String::new();
    };
    let Some(first) = certs.first() else {
        return String::new();
    };
    match x509_parser::parse_x509_certificate(first) {
        Ok((_, cert)) => format!(
            "TLS 1.3/1.2, certificate {} issued by {}, valid until {}; ",
            cert.subject(),
            cert.issuer(),
            cert.validity().not_after
        ),
        Err(_) => String::new(),
    }
}

/// The serving loop, over any stack: plain TCP or TLS.
#[allow(clippy::too_many_arguments)]
fn serve<S>(
    mut stack: S,
    clock: HostClock,
    bind: IpAddr,
    port: u16,
    options: &SessionOptions,
    threads: Option<u16>,
    log: &Log,
    name: &str,
    about: &str,
) -> Result<(), Failure>
where
    S: TcpFullStack + HalfClose + Park + LocalAddr + Send,
    S::TcpSocket: Send,
{
    let config = SessionConfig {
        count: options.count,
        flood_bytes: options.flood_bytes,
        command_timeout: seconds(options.command_timeout, "--command-timeout")?,
    };
    // Boxed: the session table is large for a stack frame.
    let mut server: Box<PmuServer<S, MAX_SESSIONS>> =
        Box::new(PmuServer::bind(&mut stack, port, config).map_err(|e| {
            Failure::runtime(format!(
                "cannot listen on {}: {e:?}",
                SocketAddr::new(bind, port)
            ))
        })?);
    server.set_session_limit(usize::from(options.max_sessions));
    let local = stack
        .local_addr_of(server.listener())
        .map_err(|e| Failure::runtime(format!("listening socket has no address: {e}")))?;
    let count = describe_count(options.count);
    log.always(format_args!(
        "{name} listening on {local} ({about}n = {count}, floodme {} bytes, up to {} sessions)",
        options.flood_bytes, options.max_sessions
    ));

    // Event loops, all accepting from the one listening socket. The session
    // limit is split between them, so a small limit keeps one loop: then
    // "busy" means exactly --max-sessions sessions are running.
    let threads = threads.map_or_else(
        || match options.max_sessions >= 64 {
            true => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                (cores / S::CORES_PER_LOOP).max(1)
            }
            false => 1,
        },
        usize::from,
    );
    let per_thread = (usize::from(options.max_sessions) / threads).max(1);
    server.set_session_limit(per_thread);
    let mut workers = Vec::new();
    for i in 1..threads {
        let (worker, listener) = stack
            .worker(server.listener())
            .map_err(|e| Failure::runtime(format!("cannot share the listening socket: {e}")))?;
        let mut extra: Box<PmuServer<S, MAX_SESSIONS>> =
            Box::new(PmuServer::with_listener(listener, config));
        extra.set_session_limit(per_thread);
        workers.push((
            worker,
            extra,
            options.seed.map(|s| s.wrapping_add(i as u64)),
        ));
    }
    std::thread::scope(|scope| {
        for (worker, mut extra, seed) in workers {
            scope.spawn(move || event_loop(worker, &mut extra, clock, seed, log));
        }
        event_loop(stack, &mut server, clock, options.seed, log)
    })
}

fn event_loop<S>(
    mut stack: S,
    server: &mut PmuServer<S, MAX_SESSIONS>,
    clock: HostClock,
    seed: Option<u64>,
    log: &Log,
) -> !
where
    S: TcpFullStack + HalfClose + Park,
{
    let mut rng = seeded_or_random(seed);
    let mut buf = vec![0u8; SEND_BUFFER];
    loop {
        server.poll(&mut stack, clock.now(), &mut rng, &mut buf, &mut |event| {
            report(log, &event)
        });
        stack.park(server.poll_timeout());
    }
}

/// `15` or `random 2-17`, for start-up lines.
pub fn describe_count(count: MessageCount) -> String {
    match count {
        MessageCount::Fixed(n) => n.to_string(),
        MessageCount::Random { min, max } => format!("random {min}-{max}"),
    }
}

/// What `serve` needs of a host stack beyond embedded-nal: the address a
/// listening socket got (port 0 picks one), and a stack for another thread
/// that accepts from the same listening socket.
pub trait LocalAddr: TcpClientStack + Sized {
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
}

impl LocalAddr for StdStack {
    const CORES_PER_LOOP: usize = 2;
    fn local_addr_of(&self, socket: &Self::TcpSocket) -> std::io::Result<SocketAddr> {
        self.local_addr(socket)
    }
    fn worker(&self, listener: &Self::TcpSocket) -> std::io::Result<(Self, Self::TcpSocket)> {
        let mut stack = StdStack::new(self.bind_ip(), self.clock());
        let shared = stack.share_listener(self, listener)?;
        Ok((stack, shared))
    }
}

impl LocalAddr for TlsStack {
    const CORES_PER_LOOP: usize = 1;
    fn local_addr_of(&self, socket: &Self::TcpSocket) -> std::io::Result<SocketAddr> {
        self.local_addr(socket)
    }
    fn worker(&self, listener: &Self::TcpSocket) -> std::io::Result<(Self, Self::TcpSocket)> {
        self.worker(listener)
    }
}

fn report(log: &Log, event: &ServerEvent<'_>) {
    match event {
        ServerEvent::Accepted { peer } => log.info(format_args!("{peer} connected")),
        ServerEvent::Command {
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
        ServerEvent::Refused { peer, error } => log.info(format_args!("{peer} refused: {error}")),
        ServerEvent::Busy { peer } => log.always(format_args!(
            "{peer} turned away: every session slot is taken"
        )),
        ServerEvent::Finished { peer, bytes } => {
            log.info(format_args!("{peer} done, {bytes} bytes sent"))
        }
        // Rare, and on a TLS server the sign of a failed handshake: always shown.
        ServerEvent::Aborted { peer, bytes, error } => log.always(format_args!(
            "{peer} aborted after {bytes} bytes: {error:?}"
        )),
        ServerEvent::AcceptFailed { error } => log.always(format_args!(
            "accept failed: {error:?}; pausing {:?}",
            Duration::from_millis(100)
        )),
    }
}
