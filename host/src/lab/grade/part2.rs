//! Part 2: the TCP PDC, `PROGRAM <server> <port> <command>`.

use std::time::Duration;

use pmulab_core::stream::flood::DEFAULT_FLOOD_BYTES;
use pmulab_core::stream::session::{MessageCount, SessionConfig};

use super::judge::{flood_text, has_all_lines, lines_match, messages, text_matches};
use super::program::Program;
use super::report::{Check, Report};
use super::witness::{PmuWitness, SessionSeen};
use crate::ui::failure::Failure;

fn config(count: MessageCount) -> SessionConfig {
    SessionConfig {
        count,
        flood_bytes: DEFAULT_FLOOD_BYTES,
        command_timeout: Duration::from_secs(10),
    }
}

/// The session the program's command started, or why there is none.
pub fn served(sessions: &[SessionSeen], what: &str) -> Result<SessionSeen, String> {
    if sessions.is_empty() {
        return Err(format!("it never connected to the {what}"));
    }
    if let Some(served) = sessions.iter().find(|s| s.command.is_some()) {
        return Ok(served.clone());
    }
    match sessions.iter().find_map(|s| s.refused.as_ref()) {
        Some(why) => Err(format!("the {what} refused its command: {why}")),
        None => Err(format!("it connected to the {what} but sent no command")),
    }
}

/// Runs `CMD_short:d` against a fresh PMU and judges the lines printed
/// against the messages that PMU sent this program.
fn short(
    report: &mut Report,
    program: &Program,
    name: &dyn Fn(Option<u32>) -> String,
    count: MessageCount,
    interval: &str,
) -> Result<(), Failure> {
    let pmu = PmuWitness::tcp(config(count))?;
    let port = pmu.port().to_string();
    // The output is complete once the PMU has served it and it is printed.
    let complete = |stdout: &str| match served(&pmu.sessions(), "PMU") {
        Ok(s) if s.finished => has_all_lines(stdout, &messages(s.count)),
        _ => false,
    };
    let command = format!("CMD_short:{interval}");
    let ran = program.run(&args(&["127.0.0.1", &port, &command]), "", &complete)?;
    let session = served(&pmu.sessions(), "PMU");
    let verdict = session
        .clone()
        .and_then(|s| lines_match(&ran.stdout, &messages(s.count)));
    let check =
        Check::of(name(session.as_ref().ok().map(|s| s.count)), &ran, verdict).keyed(name(None));
    report.add(match session.is_ok_and(|s| s.finished) {
        true => check.delivered(),
        false => check,
    })
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Part 2's checks.
pub fn grade(report: &mut Report, program: &Program) -> Result<(), Failure> {
    for n in [15u32, 2, 17] {
        let name = |_| format!("CMD_short:0 with n = {n}");
        short(report, program, &name, MessageCount::Fixed(n), "0")?;
    }
    for run in 1..=3 {
        let name = |n: Option<u32>| match n {
            Some(n) => format!("CMD_short:0 with a random n (run {run}, n = {n})"),
            None => format!("CMD_short:0 with a random n (run {run})"),
        };
        let random = MessageCount::Random { min: 2, max: 17 };
        short(report, program, &name, random, "0")?;
    }
    let name = |_| "CMD_short:1 (a second between messages)".to_string();
    short(report, program, &name, MessageCount::Fixed(3), "1")?;

    let pmu = PmuWitness::tcp(config(MessageCount::Fixed(15)))?;
    let port = pmu.port().to_string();
    let text = flood_text(DEFAULT_FLOOD_BYTES);
    let complete = |stdout: &str| text_matches(stdout.as_bytes(), &text).is_ok();
    let ran = program.run(&args(&["127.0.0.1", &port, "CMD_floodme"]), "", &complete)?;
    let session = served(&pmu.sessions(), "PMU");
    let verdict = session
        .clone()
        .and_then(|_| text_matches(ran.stdout.as_bytes(), &text));
    let check = Check::of(
        format!("CMD_floodme ({DEFAULT_FLOOD_BYTES} bytes)"),
        &ran,
        verdict,
    );
    report.add(match session.is_ok_and(|s| s.finished) {
        true => check.delivered(),
        false => check,
    })
}
