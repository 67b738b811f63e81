//! `pmulab pdc <server> <port> <command>`: the part 2 client.

use std::time::Duration;

use pmulab_core::command::Command;
use pmulab_core::pdc::{PdcConfig, PdcError, ReplyKind, Request, fetch};

use super::resolve::ipv4_first;
use crate::cli::{EXIT_FAILURE, EXIT_REFUSED, PdcArgs};
use crate::failure::Failure;
use crate::log::Log;
use crate::net::{HostClock, NetError, StdStack};
use crate::output::StdoutReply;

/// Extra patience beyond a command's own interval before calling the PMU silent.
const GRACE: Duration = Duration::from_secs(10);

/// Runs the client; prints the reply on stdout.
pub fn run(args: PdcArgs, log: &Log) -> Result<(), Failure> {
    let kind = match Command::parse(args.command.as_bytes()) {
        Ok(Command::Floodme) => ReplyKind::Raw,
        Ok(Command::Short { .. }) => ReplyKind::Messages,
        Err(_) if args.raw => ReplyKind::Messages,
        Err(e) => {
            return Err(Failure::usage(format!(
                "{:?} is not a lab command: {e} (use --raw to send it anyway)",
                args.command
            )));
        }
    };
    let idle_timeout = match args.timeout {
        Some(secs) => seconds(secs, "--timeout")?,
        None => {
            let interval = Command::parse(args.command.as_bytes())
                .ok()
                .and_then(Command::interval)
                .unwrap_or_default();
            interval + GRACE
        }
    };
    let config = PdcConfig {
        connect_timeout: seconds(args.connect_timeout, "--connect-timeout")?,
        idle_timeout,
    };
    let remote = ipv4_first(&args.server, args.port)?;
    log.info(format_args!("connecting to {remote}"));

    let clock = HostClock::new();
    let mut stack = StdStack::new(std::net::Ipv4Addr::UNSPECIFIED.into(), clock);
    let mut out = StdoutReply::new(args.trace);
    let mut buf = vec![0u8; args.read_size as usize];
    let result = fetch(
        &mut stack,
        &clock,
        Request {
            remote,
            command: args.command.as_bytes(),
            kind,
        },
        &config,
        &mut buf,
        &mut out,
    );
    let flushed = out.finish();
    let summary = result.map_err(|e| failure(e, remote))?;
    flushed.map_err(|e| Failure::runtime(format!("cannot write the output: {e}")))?;
    if args.stats {
        let plural = |n: u64, word: &str| match n {
            1 => format!("1 {word}"),
            n => format!("{n} {word}s"),
        };
        let mut line = format!(
            "{} in {}",
            plural(summary.bytes, "byte"),
            plural(summary.reads, "read")
        );
        if kind == ReplyKind::Messages {
            line += &format!(", {}", plural(summary.messages, "message"));
        }
        eprintln!("{line}");
    }
    Ok(())
}

fn failure(e: PdcError<NetError, std::io::Error>, remote: std::net::SocketAddr) -> Failure {
    let code = match e {
        PdcError::Refused(_) => EXIT_REFUSED,
        _ => EXIT_FAILURE,
    };
    let message = match &e {
        PdcError::Connect(_) | PdcError::ConnectTimeout => format!("{remote}: {e}"),
        _ => e.to_string(),
    };
    Failure { code, message }
}

/// A duration from a command-line number of seconds.
pub fn seconds(secs: f64, option: &str) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Failure::usage(format!(
                "{option} must be a positive number of seconds, not {secs}"
            ))
        })
}
