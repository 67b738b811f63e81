//! `pmulab reset <server> <port>`: the part 3 client, and `--trials`, the
//! lab's experiment.

use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};

use pmulab_core::reset::Reset;
use pmulab_core::reset::client::{ClientConfig, Outcome, Received, Targets};
use pmulab_core::reset::driver::{ClientError, ClientEvent, request};

use super::pdc::seconds;
use crate::cli::ResetArgs;
use crate::failure::Failure;
use crate::log::Log;
use crate::net::{HostClock, StdStack};
use crate::output::say;
use crate::stats;

/// Runs one reset, or the experiment with `--trials`.
pub fn run(args: ResetArgs, log: &Log) -> Result<(), Failure> {
    let reset = Reset::parse(args.command.as_bytes())
        .map_err(|e| Failure::usage(format!("{:?} is not a RESET:n request: {e}", args.command)))?;
    let config = ClientConfig {
        timeout: seconds(args.timeout, "--timeout")?,
        max_rounds: (args.max_attempts > 0).then_some(args.max_attempts),
    };
    let addrs: Vec<SocketAddr> = (args.server.as_str(), args.port)
        .to_socket_addrs()
        .map_err(|e| Failure::runtime(format!("cannot resolve {:?}: {e}", args.server)))?
        .collect();
    let targets = Targets::first_of_each_family(addrs);
    let asked = describe(&targets);
    log.info(format_args!("asking {asked}"));

    let clock = HostClock::new();
    let mut stack = StdStack::new(std::net::Ipv4Addr::UNSPECIFIED.into(), clock);
    let mut once = || exchange(&mut stack, &clock, targets, reset, config, log);
    match args.trials {
        None => match once()? {
            Outcome::Answered {
                offset,
                from,
                rounds,
                ..
            } => {
                say!(
                    "{offset} after {} (answer from {from})",
                    plural(rounds, "request")
                )?;
                Ok(())
            }
            Outcome::GaveUp { rounds } => Err(Failure::runtime(format!(
                "no answer after {} to {asked}",
                plural(rounds, "request")
            ))),
        },
        Some(trials) => experiment(trials, &mut once, &asked),
    }
}

fn exchange(
    stack: &mut StdStack,
    clock: &HostClock,
    targets: Targets,
    reset: Reset,
    config: ClientConfig,
    log: &Log,
) -> Result<Outcome, Failure> {
    let mut buf = [0u8; 512];
    request(
        stack,
        clock,
        targets,
        reset,
        config,
        &mut buf,
        &mut |event| report(log, &event),
    )
    .map_err(|e| match e {
        ClientError::NoTargets => Failure::runtime("the server name has no address"),
        ClientError::Socket(e) => Failure::runtime(format!("cannot open a UDP socket: {e}")),
    })
}

fn report(log: &Log, event: &ClientEvent<'_>) {
    match event {
        ClientEvent::Sent(t) => log.info(format_args!(
            "round {}: {} sent to {}",
            t.round,
            t.payload.as_str(),
            t.to
        )),
        ClientEvent::SendFailed { transmit, error } => log.info(format_args!(
            "round {}: cannot send to {}: {error:?}",
            transmit.round, transmit.to
        )),
        ClientEvent::Received { from, what } => match what {
            Received::Answer(offset) => log.info(format_args!("{offset} from {from}")),
            Received::NotAsked => {
                log.info(format_args!("ignored a datagram from {from}: not asked"))
            }
            Received::Malformed(e) => log.info(format_args!("ignored a datagram from {from}: {e}")),
            Received::OutOfRange(o) => log.info(format_args!(
                "ignored {o} from {from}: above the requested n"
            )),
            Received::AfterEnd => {}
        },
        ClientEvent::ReceiveFailed { target, error } => {
            log.info(format_args!("{target}: {error:?} (nothing listens there?)"))
        }
    }
}

/// The lab's experiment: `trials` resets, the mean number of requests,
/// and the loss estimate with its interval and a histogram.
fn experiment(
    trials: u32,
    once: &mut dyn FnMut() -> Result<Outcome, Failure>,
    asked: &str,
) -> Result<(), Failure> {
    let progress = std::io::stderr().is_terminal();
    let mut answered = Vec::with_capacity(trials as usize);
    let mut gave_up = 0u32;
    for done in 1..=trials {
        match once()? {
            Outcome::Answered { rounds, .. } => answered.push(rounds),
            Outcome::GaveUp { .. } => gave_up += 1,
        }
        if progress {
            let width = 30;
            let filled = (done as usize * width) / trials as usize;
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r[{}{}] {done}/{trials}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            let _ = err.flush();
        }
    }
    if progress {
        eprintln!();
    }
    say!(
        "{trials} trials against {asked}: {} answered, {gave_up} gave up",
        answered.len()
    )?;
    let Some(estimate) = stats::estimate(&answered) else {
        return Err(Failure::runtime(
            "no trial got an answer: nothing to estimate",
        ));
    };
    say!("mean requests per answer: {:.3}", estimate.mean)?;
    say!(
        "loss estimate p̂ = 1 − 1/mean = {:.3} (95% confidence interval {:.3} to {:.3})",
        estimate.p_hat,
        estimate.interval.0,
        estimate.interval.1
    )?;
    if gave_up > 0 {
        say!("note: trials that gave up are left out, so p̂ is biased low; raise --max-attempts")?;
    }
    say!("requests │ trials")?;
    for row in stats::histogram(&answered, 40) {
        say!("{row}")?;
    }
    Ok(())
}

fn describe(targets: &Targets) -> String {
    let addrs: Vec<String> = targets.iter().map(|(_, a)| a.to_string()).collect();
    addrs.join(" and ")
}

fn plural(n: u32, word: &str) -> String {
    match n {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    }
}
