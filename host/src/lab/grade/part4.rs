//! Part 4: the multicast receiver (`PROGRAM <group> <port>`) and sender
//! (`PROGRAM <group> <port> <sciper>`, lines on standard input), each in a
//! private network namespace whose only interface is loopback, so a program
//! that joins "any" interface hears loopback traffic and nothing leaves the
//! machine. The lines are fresh random words every run: a program cannot
//! pass by printing fixed strings.

use std::path::Path;

use pmulab_core::rng::Random;

use super::program::{Ending, Program, Ran};
use super::report::{Check, Report};
use crate::lab::launch::self_exe;
use crate::net::rng::seeded_or_random;
use crate::ui::failure::Failure;

/// Which programs to grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// The receiver only.
    Receiver,
    /// The sender only.
    Sender,
    /// The same program as both.
    Both,
}

/// The namespace's set-up: loopback up, multicast routed to it.
const SETUP: &str = "ip link set lo up && ip route add 224.0.0.0/4 dev lo || exit 97";
/// What the scripts exit with when the scenario's timer stopped the program.
const STOPPED: i32 = 124;

const WORDS: &[&str] = &[
    "amber", "breaker", "copper", "dusk", "ember", "ferry", "gale", "harbor", "island", "juniper",
    "kestrel", "lantern", "meadow", "nickel", "orchard", "pylon", "quartz", "river", "signal",
    "tundra", "umber", "valley", "willow", "yarrow", "zephyr",
];

/// `count` lines of three random words and a number.
fn fresh_lines(count: usize) -> Vec<String> {
    let mut rng = seeded_or_random(None);
    (0..count)
        .map(|_| {
            let words: Vec<&str> = (0..3)
                .map(|_| WORDS[(rng.next_u64() % WORDS.len() as u64) as usize])
                .collect();
            format!("{} {}", words.join(" "), 100 + rng.next_u64() % 900)
        })
        .collect()
}

/// The lines as `printf` arguments, one per line.
fn printf(lines: &[String]) -> String {
    let quoted: Vec<String> = lines.iter().map(|l| shell_quote(l)).collect();
    format!("printf '%s\\n' {}", quoted.join(" "))
}

fn fresh_sciper() -> String {
    format!("{:06}", seeded_or_random(None).next_u64() % 1_000_000)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn no_namespace(ran: &Ran) -> bool {
    matches!(ran.ending, Ending::Exited(97))
        || (matches!(ran.ending, Ending::Exited(1)) && ran.stderr.contains("unshare"))
}

/// The scenario's timer stopping the program is how a receiver ends.
fn stopped_by_timer(mut ran: Ran, how: Ending) -> Ran {
    if ran.ending == Ending::Exited(STOPPED) {
        ran.ending = how;
    }
    ran
}

fn receiving(report: &mut Report, program: &Program) -> Result<(), Failure> {
    let me = self_exe()?.display().to_string();
    let lines = fresh_lines(3);
    let printf = printf(&lines);
    let script = format!(
        "{SETUP}; {printf} | '{me}' bot 239.255.4.4 14505 - 0.2 >/dev/null 2>&1 & \
sleep 0.2; timeout 4 \"$@\"; status=$?; kill $! 2>/dev/null; exit $status"
    );
    let group = vec!["239.255.4.4".to_string(), "14505".to_string()];
    let ran = program.run_in(&["unshare", "-n"], &script, &group, &|_| false)?;
    if no_namespace(&ran) {
        return Err(Failure::runtime(
            "part 4 needs a network namespace (run as root, with iproute2)",
        ));
    }
    let ran = stopped_by_timer(ran, Ending::Stopped);
    let missing: Vec<&String> = lines.iter().filter(|l| !ran.stdout.contains(*l)).collect();
    let verdict = match missing.len() {
        0 => Ok(()),
        n if n == lines.len() => Err(format!(
            "it printed none of the bot's {} lines (this run's: {:?}, …)",
            lines.len(),
            lines[0]
        )),
        _ => Err(format!("it missed the bot's line {:?}", missing[0])),
    };
    report.add(Check::of("receiving the bot's messages", &ran, verdict).delivered())
}

fn sending(report: &mut Report, program: &Program, scratch: &Path) -> Result<(), Failure> {
    let me = self_exe()?.display().to_string();
    let lines = fresh_lines(2);
    let sciper = fresh_sciper();
    let out = scratch.join("received.txt");
    let _ = std::fs::remove_file(&out);
    let printf = printf(&lines);
    let script = format!(
        "{SETUP}; '{me}' receiver 239.255.4.5 14506 --show-address > '{}' 2>/dev/null & r=$!; \
sleep 0.3; {printf} | timeout 10 \"$@\"; status=$?; sleep 0.5; kill $r 2>/dev/null; exit $status",
        out.display()
    );
    let group = vec![
        "239.255.4.5".to_string(),
        "14506".to_string(),
        sciper.clone(),
    ];
    let ran = program.run_in(&["unshare", "-n"], &script, &group, &|_| false)?;
    if no_namespace(&ran) {
        return Err(Failure::runtime(
            "part 4 needs a network namespace (run as root, with iproute2)",
        ));
    }
    let ran = stopped_by_timer(ran, Ending::TimeLimit);
    let heard = std::fs::read_to_string(&out).unwrap_or_default();
    let got: Vec<&str> = heard.lines().collect();
    let expected: Vec<String> = lines.iter().map(|l| format!("{sciper}: {l}")).collect();
    let verdict = if got.is_empty() {
        Err("the grader's receiver in the group got no datagram from it".to_string())
    } else {
        match expected
            .iter()
            .find(|e| !got.iter().any(|g| g.ends_with(e.as_str())))
        {
            None => Ok(()),
            Some(e) => Err(format!(
                "the grader's receiver did not get {e:?} (the id {sciper}, 6 bytes, then the line); it got: {}",
                got.iter()
                    .take(3)
                    .map(|g| g.split_once(' ').map_or(*g, |(_, rest)| rest))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )),
        }
    };
    report.add(Check::of(
        "sending standard input with the 6-byte id",
        &ran,
        verdict,
    ))
}

/// Part 4's checks.
pub fn grade(
    report: &mut Report,
    program: &Program,
    roles: Roles,
    scratch: &Path,
) -> Result<(), Failure> {
    if roles != Roles::Sender {
        receiving(report, program)?;
    }
    if roles != Roles::Receiver {
        sending(report, program, scratch)?;
    }
    Ok(())
}
