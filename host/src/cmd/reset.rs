//! `pmulab reset <server> <port>`: the part 3 client, and `--trials`, the
//! lab's experiment.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use pmulab_core::reset::Reset;
use pmulab_core::reset::client::{ClientEvent, request};
use pmulab_core::reset::retry::{ClientConfig, Outcome, Received, Targets};

use crate::cli::ResetArgs;
use crate::lab::stats;
use crate::net::resolve::all_addresses;
use crate::net::{HostClock, StdStack};
use crate::ui::failure::EXIT_INTERRUPTED;
use crate::ui::failure::Failure;
use crate::ui::log::Log;
use crate::ui::output::write_json;
use crate::ui::output::{error_label, say, tell};

/// Runs one reset, or the experiment with `--trials`.
pub fn run(args: ResetArgs, log: &Log) -> Result<(), Failure> {
    let reset = Reset::parse(args.command.as_bytes())
        .map_err(|e| Failure::usage(format!("{:?} is not a RESET:n request: {e}", args.command)))?;
    let config = ClientConfig {
        timeout: args.timeout,
        max_rounds: (args.max_attempts > 0).then_some(args.max_attempts),
    };
    let addrs = all_addresses(&args.server, args.port)?;
    let targets = Targets::first_of_each_family(addrs);
    let asked = describe(&targets);
    log.info(format_args!("asking {asked}"));

    let clock = HostClock::new();
    let mut stack = StdStack::new(std::net::Ipv4Addr::UNSPECIFIED.into(), clock);
    let mut reporter = Reporter {
        log,
        refused: Vec::new(),
    };
    let mut once = |reporter: &mut Reporter<'_>| {
        exchange(&mut stack, &clock, targets, reset, config, reporter)
    };
    match args.trials {
        None => match once(&mut reporter)? {
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
                "no answer after {} to {asked}{}",
                plural(rounds, "request"),
                reporter.refusals()
            ))),
        },
        Some(trials) => experiment(trials, &mut || once(&mut reporter), &asked, args.json),
    }
}

fn exchange(
    stack: &mut StdStack,
    clock: &HostClock,
    targets: Targets,
    reset: Reset,
    config: ClientConfig,
    reporter: &mut Reporter<'_>,
) -> Result<Outcome, Failure> {
    let mut buf = [0u8; 512];
    request(
        stack,
        clock,
        targets,
        reset,
        config,
        &mut buf,
        &mut |event| reporter.report(&event),
    )
    .map_err(Failure::runtime)
}

/// Logs the client's events with `-v`, and says once, always, when a
/// family's requests are refused: without that, a client asking a port
/// where nothing listens would retry in silence forever.
struct Reporter<'a> {
    log: &'a Log,
    refused: Vec<SocketAddr>,
}

impl Reporter<'_> {
    fn report(&mut self, event: &ClientEvent<'_>) {
        match event {
            ClientEvent::Sent(t) => self.log.info(format_args!(
                "round {}: {} sent to {}",
                t.round,
                t.payload.as_str(),
                t.to
            )),
            ClientEvent::SendFailed { transmit, error } => self.log.info(format_args!(
                "round {}: cannot send to {}: {error}",
                transmit.round, transmit.to
            )),
            ClientEvent::Received { from, what } => match what {
                Received::Answer(offset) => self.log.info(format_args!("{offset} from {from}")),
                Received::NotAsked => self
                    .log
                    .info(format_args!("ignored a datagram from {from}: not asked")),
                Received::Malformed(e) => self
                    .log
                    .info(format_args!("ignored a datagram from {from}: {e}")),
                Received::OutOfRange(o) => self.log.info(format_args!(
                    "ignored {o} from {from}: above the requested n"
                )),
                Received::AfterEnd => {}
            },
            ClientEvent::ReceiveFailed { target, error } => {
                self.log.info(format_args!("{target}: {error}"));
                if !self.refused.contains(target) {
                    self.refused.push(*target);
                    tell!(
                        "pmulab reset: note: {target} refuses the requests (ICMP port unreachable: \
nothing listens there); asking on, as the lab's client does"
                    );
                }
            }
        }
    }

    /// `; 127.0.0.1:5004 refused them (…)` for a final error.
    fn refusals(&self) -> String {
        match self.refused.as_slice() {
            [] => String::new(),
            refused => {
                let list: Vec<String> = refused.iter().map(ToString::to_string).collect();
                format!(
                    "; {} refused them (ICMP port unreachable: nothing listens there)",
                    list.join(" and ")
                )
            }
        }
    }
}

/// The experiment so far: what Ctrl-C prints, and what the end prints.
#[derive(Debug, Default)]
struct Experiment {
    planned: u32,
    answered: Vec<u32>,
    gave_up: Vec<u32>,
    asked: String,
    json: Option<PathBuf>,
}

/// The lab's experiment: `trials` resets, the mean number of requests,
/// and the loss estimate with its interval and a histogram. Ctrl-C prints
/// what the trials so far show, as ping does, and exits 130.
fn experiment(
    trials: u32,
    once: &mut dyn FnMut() -> Result<Outcome, Failure>,
    asked: &str,
    json: Option<PathBuf>,
) -> Result<(), Failure> {
    let state = Arc::new(Mutex::new(Experiment {
        planned: trials,
        asked: asked.to_string(),
        json,
        ..Experiment::default()
    }));
    let progress = std::io::stderr().is_terminal();
    let on_interrupt = Arc::clone(&state);
    // Without the handler, Ctrl-C still stops the program; only the summary is lost.
    let _ = ctrlc::set_handler(move || {
        if progress {
            tell!("");
        }
        let state = on_interrupt.lock().unwrap_or_else(PoisonError::into_inner);
        let status = match summarize(&state, true) {
            Ok(()) => EXIT_INTERRUPTED,
            Err(failure) => {
                if !failure.message.is_empty() {
                    tell!("pmulab reset: {} {}", error_label(), failure.message);
                }
                EXIT_INTERRUPTED
            }
        };
        std::process::exit(i32::from(status));
    });
    for done in 1..=trials {
        let outcome = once()?;
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Outcome::Answered { rounds, .. } => s.answered.push(rounds),
            Outcome::GaveUp { rounds } => s.gave_up.push(rounds),
        }
        drop(s);
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
        tell!("");
    }
    let state = state.lock().unwrap_or_else(PoisonError::into_inner);
    summarize(&state, false)
}

/// Prints what the trials show; `Err` when nothing could be estimated or
/// no trial got an answer.
fn summarize(e: &Experiment, interrupted: bool) -> Result<(), Failure> {
    let done = e.answered.len() + e.gave_up.len();
    let of = match interrupted {
        true => format!("{done} of {} trials (interrupted)", e.planned),
        false => format!("{done} trials"),
    };
    say!(
        "{of} against {}: {} answered, {} gave up",
        e.asked,
        e.answered.len(),
        e.gave_up.len()
    )?;
    let Some(estimate) = stats::estimate(&e.answered, &e.gave_up) else {
        return Err(Failure::runtime("no request was sent: nothing to estimate"));
    };
    if let Some(mean) = estimate.mean {
        say!("mean requests per answer: {mean:.3}")?;
    }
    let how = match estimate.gave_up {
        0 => "1 − 1/mean".to_string(),
        _ => "lost/sent".to_string(),
    };
    say!(
        "loss estimate p̂ = {how} = {:.3} (95% confidence interval {:.3} to {:.3}, over {} requests)",
        estimate.p_hat,
        estimate.interval.0,
        estimate.interval.1,
        estimate.requests
    )?;
    if estimate.gave_up > 0 {
        say!(
            "note: {} gave up; their {} requests count as lost (leaving them out would bias p̂ low)",
            plural(estimate.gave_up as u32, "trial"),
            e.gave_up.iter().map(|&r| u64::from(r)).sum::<u64>()
        )?;
    }
    if !e.answered.is_empty() {
        say!("requests │ trials")?;
        for row in stats::histogram(&e.answered, 40) {
            say!("{row}")?;
        }
    }
    if let Some(path) = &e.json {
        let json = serde_json::json!({
            "server": e.asked,
            "protocol": "udp",
            "trials": done,
            "answered": estimate.answered,
            "gave_up": estimate.gave_up,
            "requests": estimate.requests,
            "lost": estimate.lost,
            "mean_requests_per_answer": estimate.mean,
            "p_hat": estimate.p_hat,
            "interval_95": [estimate.interval.0, estimate.interval.1],
            "interrupted": interrupted,
        });
        write_json(path, &json)?;
    }
    match e.answered.is_empty() {
        true => Err(Failure::runtime(format!(
            "no trial got an answer ({} requests, all lost)",
            estimate.requests
        ))),
        false => Ok(()),
    }
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
