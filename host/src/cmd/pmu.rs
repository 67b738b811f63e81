//! `pmulab pmu` (part 2) and `pmulab secure-pmu` (part 5): core's PMU
//! server over the host stack, or over TLS on it.

use std::net::{IpAddr, SocketAddr};

use pmulab_core::stream::session::{MessageCount, SessionConfig};

use super::pdc::seconds;
use crate::cli::{PmuArgs, SecurePmuArgs, SessionOptions};
use crate::failure::Failure;
use crate::log::Log;
use crate::net::serve::{Limits, Listening, ServeError, serve_and_log};
use crate::net::tls::{Role, TlsStack};
use crate::net::{HostClock, StdStack};
use crate::tls_config;

pub use crate::net::serve::MAX_SESSIONS;

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

/// The sessions' settings and limits from the command line.
pub fn session_settings(options: &SessionOptions) -> Result<(SessionConfig, Limits), Failure> {
    let config = SessionConfig {
        count: options.count,
        flood_bytes: options.flood_bytes,
        command_timeout: seconds(options.command_timeout, "--command-timeout")?,
    };
    let limits = Limits {
        max_sessions: usize::from(options.max_sessions),
        threads: None,
        seed: options.seed,
    };
    Ok((config, limits))
}

/// The failure to start serving on `bind`:`port`, with what to do.
pub fn serve_failure<S: Listening>(bind: IpAddr, port: u16, e: ServeError<S::Error>) -> Failure {
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
    let (config, mut limits) = session_settings(&args.session)?;
    limits.threads = args.loops.threads.map(usize::from);
    let clock = HostClock::new();
    let stack = StdStack::new(args.bind, clock);
    let started = |local| started_line("pmulab pmu", local, "", &args.session);
    serve_and_log(stack, clock, args.port, config, limits, log, started)
        .map_err(|e| serve_failure::<StdStack>(args.bind, args.port, e))
}

/// Runs the PMU behind TLS until killed.
pub fn run_secure(args: SecurePmuArgs, log: &Log) -> Result<(), Failure> {
    let tls = tls_config::server(&args.certificate, &args.key)?;
    let about = describe_certificate(&args.certificate);
    let (config, mut limits) = session_settings(&args.session)?;
    limits.threads = args.loops.threads.map(usize::from);
    let clock = HostClock::new();
    let stack = TlsStack::new(StdStack::new(args.bind, clock), Role::Server(tls));
    let started = |local| started_line("pmulab secure-pmu", local, &about, &args.session);
    serve_and_log(stack, clock, args.port, config, limits, log, started)
        .map_err(|e| serve_failure::<TlsStack>(args.bind, args.port, e))
}

/// `pmulab pmu listening on ADDR (…n = 15, floodme 57344 bytes, up to 1024 sessions)`.
pub fn started_line(
    name: &str,
    local: SocketAddr,
    about: &str,
    options: &SessionOptions,
) -> String {
    format!(
        "{name} listening on {local} ({about}n = {}, floodme {} bytes, up to {} sessions)",
        describe_count(options.count),
        options.flood_bytes,
        options.max_sessions
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

/// `15` or `random 2-17`, for start-up lines.
pub fn describe_count(count: MessageCount) -> String {
    match count {
        MessageCount::Fixed(n) => n.to_string(),
        MessageCount::Random { min, max } => format!("random {min}-{max}"),
    }
}
