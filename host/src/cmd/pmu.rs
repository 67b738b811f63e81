//! The PMU over every transport, on one serve loop: `pmulab pmu` (part 2,
//! TCP), `pmulab secure-pmu` (part 5, TLS) and `pmulab ws-pmu` (part 6,
//! WebSocket) — core's PMU server over the host stack, or over TLS or
//! WebSocket on it.

use std::net::{IpAddr, SocketAddr};

use pmulab_core::stream::session::{MessageCount, SessionConfig};

use crate::cli::{PmuArgs, SecurePmuArgs, SessionOptions, WsPmuArgs};
use crate::net::serve::{Limits, Listening, ServeError, serve_and_log};
use crate::net::tls::{Role, TlsStack, config};
use crate::net::ws::stack::{AUTO_FRAGMENT, WsSettings, WsStack};
use crate::net::ws::upgrade::Origins;
use crate::net::{HostClock, StdStack};
use crate::ui::failure::Failure;
use crate::ui::log::Log;

/// The sessions' settings and limits from the command line.
fn session_settings(options: &SessionOptions, threads: Option<u16>) -> (SessionConfig, Limits) {
    let config = SessionConfig {
        count: options.count,
        flood_bytes: options.flood_bytes,
        command_timeout: options.command_timeout,
    };
    let limits = Limits {
        max_sessions: usize::from(options.max_sessions),
        threads: threads.map(usize::from),
        seed: options.seed,
    };
    (config, limits)
}

/// The failure to start serving on `bind`:`port`, with what to do.
fn serve_failure<S: Listening>(bind: IpAddr, port: u16, e: ServeError<S::Error>) -> Failure {
    match e {
        ServeError::Listen(e) => Failure::runtime(format!(
            "cannot listen on {}: {e}{}",
            SocketAddr::new(bind, port),
            S::advice(&e).map(|a| format!(": {a}")).unwrap_or_default()
        )),
        ServeError::Address(e) => Failure::runtime(format!("listening socket has no address: {e}")),
        ServeError::Share(e) => Failure::runtime(format!("cannot share the listening socket: {e}")),
    }
}

/// Runs the PMU until killed.
pub fn run(args: PmuArgs, log: &Log) -> Result<(), Failure> {
    let (config, limits) = session_settings(&args.session, args.loops.threads);
    let clock = HostClock::new();
    let stack = StdStack::new(args.bind, clock);
    let started = |local| started_line("pmulab pmu", local, "", &args.session);
    serve_and_log(stack, clock, args.port, config, limits, log, started)
        .map_err(|e| serve_failure::<StdStack>(args.bind, args.port, e))
}

/// Runs the PMU behind TLS until killed.
pub fn run_secure(args: SecurePmuArgs, log: &Log) -> Result<(), Failure> {
    let tls = config::server(&args.certificate, &args.key)?;
    let about = describe_certificate(&args.certificate);
    let (config, limits) = session_settings(&args.session, args.loops.threads);
    let clock = HostClock::new();
    let stack = TlsStack::new(StdStack::new(args.bind, clock), Role::Server(tls));
    let started = |local| started_line("pmulab secure-pmu", local, &about, &args.session);
    serve_and_log(stack, clock, args.port, config, limits, log, started)
        .map_err(|e| serve_failure::<TlsStack>(args.bind, args.port, e))
}

/// Runs the WebSocket PMU until killed.
pub fn run_ws(args: WsPmuArgs, log: &Log) -> Result<(), Failure> {
    let (config, limits) = session_settings(&args.session, args.loops.threads);
    let settings = WsSettings {
        text: args.text,
        fragment: args.fragment.map_or(AUTO_FRAGMENT, |f| f as usize),
        max_message: args.max_message,
    };
    let kind = if args.text { "text" } else { "binary" };
    let frames = args
        .fragment
        .map(|f| format!(", floodme in frames of {f} bytes"))
        .unwrap_or_default();
    let origins = Origins {
        any: args.allow_origin.iter().any(|o| o == "*"),
        allowed: args
            .allow_origin
            .iter()
            .filter(|o| *o != "*")
            .cloned()
            .collect(),
    };
    let clock = HostClock::new();
    let stack = WsStack::new(StdStack::new(args.bind, clock), settings).allowing(origins);
    let started = |local: SocketAddr| {
        let about = format!("ws://{local}/, {kind} messages{frames}; ");
        let line = started_line("pmulab ws-pmu", local, &about, &args.session);
        format!("{line}\npmulab ws-pmu: the PDC page: open http://{local}/ in a browser")
    };
    serve_and_log(stack, clock, args.port, config, limits, log, started)
        .map_err(|e| serve_failure::<WsStack>(args.bind, args.port, e))
}

/// `pmulab pmu listening on ADDR (…n = 15, floodme 57344 bytes, up to 1024 sessions)`.
fn started_line(name: &str, local: SocketAddr, about: &str, options: &SessionOptions) -> String {
    format!(
        "{name} listening on {local} ({about}n = {}, floodme {} bytes, up to {} sessions)",
        describe_count(options.count),
        options.flood_bytes,
        options.max_sessions
    )
}

/// `subject, issued by …, valid until …` for the start-up line.
fn describe_certificate(path: &std::path::Path) -> String {
    let Ok(certs) = config::load_certificates(path) else {
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

/// `15` or `random 2-17`, for start-up lines.
fn describe_count(count: MessageCount) -> String {
    match count {
        MessageCount::Fixed(n) => n.to_string(),
        MessageCount::Random { min, max } => format!("random {min}-{max}"),
    }
}
