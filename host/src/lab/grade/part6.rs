//! Part 6: the WebSocket PDC, `PROGRAM <server> <port> <command>`. The
//! course's server sent binary messages, and students' clients call
//! `.decode()` on them: the scored scenarios are binary; text messages are
//! only a note.

use std::time::Duration;

use pmulab_core::stream::flood::DEFAULT_FLOOD_BYTES;
use pmulab_core::stream::session::{MessageCount, SessionConfig};

use super::judge::{flood_text, has_all_lines, lines_match, messages, text_matches};
use super::part2::served;
use super::program::Program;
use super::report::{Check, Report};
use super::witness::PmuWitness;
use crate::net::ws::stack::{AUTO_FRAGMENT, WsSettings};
use crate::ui::failure::Failure;

/// Frames of the fragmented floodme.
const FRAGMENT: usize = 4096;

/// A WebSocket PMU for one scenario, and what it saw.
struct Witness {
    pmu: PmuWitness,
}

impl Witness {
    fn start(count: MessageCount, text: bool, fragment: Option<usize>) -> Result<Self, Failure> {
        let config = SessionConfig {
            count,
            flood_bytes: DEFAULT_FLOOD_BYTES,
            command_timeout: Duration::from_secs(10),
        };
        let settings = WsSettings {
            text,
            fragment: fragment.unwrap_or(AUTO_FRAGMENT),
            max_message: 4096,
        };
        Ok(Witness {
            pmu: PmuWitness::ws(config, settings)?,
        })
    }

    fn port(&self) -> String {
        self.pmu.port().to_string()
    }

    fn seen(&self) -> Vec<super::witness::SessionSeen> {
        self.pmu.sessions()
    }
}

fn short(
    program: &Program,
    name: &dyn Fn(Option<u32>) -> String,
    witness: &Witness,
) -> Result<Check, Failure> {
    let complete = |stdout: &str| match served(&witness.seen(), "WebSocket PMU") {
        Ok(s) if s.finished => has_all_lines(stdout, &messages(s.count)),
        _ => false,
    };
    let args = vec![
        "127.0.0.1".to_string(),
        witness.port(),
        "CMD_short:0".to_string(),
    ];
    let ran = program.run(&args, "", &complete)?;
    let session = served(&witness.seen(), "WebSocket PMU");
    let n = session.as_ref().ok().map(|s| s.count);
    let delivered = session.as_ref().is_ok_and(|s| s.finished);
    let verdict = session.and_then(|s| lines_match(&ran.stdout, &messages(s.count)));
    let check = Check::of(name(n), &ran, verdict);
    Ok(match delivered {
        true => check.delivered(),
        false => check,
    })
}

/// Part 6's checks.
pub fn grade(report: &mut Report, program: &Program) -> Result<(), Failure> {
    let witness = Witness::start(MessageCount::Fixed(15), false, None)?;
    let name = |_| "binary messages, one per line, n = 15".to_string();
    report.add(short(program, &name, &witness)?)?;
    let witness = Witness::start(MessageCount::Random { min: 2, max: 17 }, false, None)?;
    let name = |n: Option<u32>| match n {
        Some(n) => format!("binary messages, a random n (n = {n})"),
        None => "binary messages, a random n".to_string(),
    };
    report.add(short(program, &name, &witness)?)?;

    let witness = Witness::start(MessageCount::Fixed(15), false, Some(FRAGMENT))?;
    let text = flood_text(DEFAULT_FLOOD_BYTES);
    let complete = |stdout: &str| text_matches(stdout.as_bytes(), &text).is_ok();
    let args = vec![
        "127.0.0.1".to_string(),
        witness.port(),
        "CMD_floodme".to_string(),
    ];
    let ran = program.run(&args, "", &complete)?;
    let session = served(&witness.seen(), "WebSocket PMU");
    let delivered = session.as_ref().is_ok_and(|s| s.finished);
    let frames = text.len().div_ceil(FRAGMENT);
    let verdict = session.and_then(|_| {
        text_matches(ran.stdout.as_bytes(), &text).map_err(|why| {
            format!("expected the floodme message whole, from its {frames} frames: {why}")
        })
    });
    let check = Check::of("CMD_floodme fragmented into frames", &ran, verdict);
    report.add(match delivered {
        true => check.delivered(),
        false => check,
    })?;

    // The course's server never sent text: worth knowing, not scored.
    let witness = Witness::start(MessageCount::Fixed(4), true, None)?;
    let name = |_| "text messages, n = 4 (not scored: the course sent binary)".to_string();
    report.add(short(program, &name, &witness)?.unscored())
}
