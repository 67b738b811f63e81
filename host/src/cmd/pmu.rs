//! `pmulab pmu`: the course's TCP PMU (part 2), core's server over the
//! host stack.

use std::time::Duration;

use pmulab_core::pmu::{PmuServer, ServerEvent};
use pmulab_core::session::{MessageCount, SessionConfig};
use pmulab_core::time::{Clock, Park};

use super::pdc::seconds;
use crate::cli::PmuArgs;
use crate::failure::Failure;
use crate::log::Log;
use crate::net::{HostClock, StdStack};
use crate::rng::seeded_or_random;

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
    let config = SessionConfig {
        count: args.count,
        flood_bytes: args.flood_bytes,
        command_timeout: seconds(args.command_timeout, "--command-timeout")?,
    };
    let clock = HostClock::new();
    let mut stack = StdStack::new(args.bind, clock);
    // Boxed: the session table is large for a stack frame.
    let mut server: Box<PmuServer<StdStack, MAX_SESSIONS>> =
        Box::new(PmuServer::bind(&mut stack, args.port, config).map_err(|e| {
            Failure::runtime(format!("cannot listen on {}:{}: {e}", args.bind, args.port))
        })?);
    server.set_session_limit(usize::from(args.max_sessions));
    let local = stack
        .local_addr(server.listener())
        .map_err(|e| Failure::runtime(format!("listening socket has no address: {e}")))?;
    let count = match args.count {
        MessageCount::Fixed(n) => n.to_string(),
        MessageCount::Random { min, max } => format!("random {min}-{max}"),
    };
    log.always(format_args!(
        "pmulab pmu listening on {local} (n = {count}, floodme {} bytes, up to {} sessions)",
        args.flood_bytes, args.max_sessions
    ));

    let mut rng = seeded_or_random(args.seed);
    let mut buf = vec![0u8; SEND_BUFFER];
    loop {
        server.poll(&mut stack, clock.now(), &mut rng, &mut buf, &mut |event| {
            report(log, &event)
        });
        stack.park(server.poll_timeout());
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
        ServerEvent::Aborted { peer, bytes, error } => log.info(format_args!(
            "{peer} aborted after {bytes} bytes: {error:?}"
        )),
        ServerEvent::AcceptFailed { error } => log.always(format_args!(
            "accept failed: {error:?}; pausing {:?}",
            Duration::from_millis(100)
        )),
    }
}
