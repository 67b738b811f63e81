//! `pmulab pmu`: the course's TCP PMU (part 2), core's server over the
//! host stack.

use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use pmulab_core::pmu::ServerEvent;
use pmulab_core::session::{MessageCount, SessionConfig};

use super::pdc::seconds;
use crate::cli::{PmuArgs, SecurePmuArgs, SessionOptions};
use crate::failure::Failure;
use crate::log::Log;
use crate::net::serve::{Listening, ServeError};
use crate::net::tls::{Role, TlsStack};
use crate::net::{self, HostClock, StdStack};
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
    stack: S,
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
    S: Listening + Send,
    S::TcpSocket: Send,
{
    let config = SessionConfig {
        count: options.count,
        flood_bytes: options.flood_bytes,
        command_timeout: seconds(options.command_timeout, "--command-timeout")?,
    };
    let failed = |e: ServeError<S::Error>| match e {
        ServeError::Listen(e) => Failure::runtime(format!(
            "cannot listen on {}: {e:?}{}",
            SocketAddr::new(bind, port),
            S::advice(&e).map(|a| format!(": {a}")).unwrap_or_default()
        )),
        ServeError::Address(e) => Failure::runtime(format!("listening socket has no address: {e}")),
        ServeError::Share(e) => Failure::runtime(format!("cannot share the listening socket: {e}")),
    };
    let bound = net::serve::bind(stack, port, config).map_err(failed)?;
    let count = describe_count(options.count);
    log.always(format_args!(
        "{name} listening on {} ({about}n = {count}, floodme {} bytes, up to {} sessions)",
        bound.local, options.flood_bytes, options.max_sessions
    ));
    bound
        .serve_forever(
            clock,
            usize::from(options.max_sessions),
            threads.map(usize::from),
            options.seed,
            &|event| report(log, event),
        )
        .map_err(failed)
}

/// `15` or `random 2-17`, for start-up lines.
pub fn describe_count(count: MessageCount) -> String {
    match count {
        MessageCount::Fixed(n) => n.to_string(),
        MessageCount::Random { min, max } => format!("random {min}-{max}"),
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
