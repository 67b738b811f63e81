//! `pmulab demo`: parts 1–6 in one command, each with a line on what to
//! notice. Everything runs on loopback, on ports the system picks.

use std::time::Duration;

use crate::analysis::dissect::{Dissector, Ports};
use crate::analysis::live::{LiveCapture, Recording};
use crate::analysis::packet::{self, LinkType};
use crate::analysis::sockets::Watching;
use crate::cli::DemoArgs;
use crate::lab::launch::{Finished, Launched, run_self};
use crate::ui::failure::Failure;
use crate::ui::output::say;

const LIMIT: Duration = Duration::from_secs(30);

/// Lines of dissection shown per part; the summary follows.
const SHOWN_PACKETS: usize = 12;

/// Captures a part's traffic when `--packets` asked for it.
struct Packets(Option<Recording>);

impl Packets {
    fn start(wanted: bool) -> Result<Packets, Failure> {
        match wanted {
            false => Ok(Packets(None)),
            true => Recording::start("lo")
                .map(|r| Packets(Some(r)))
                .map_err(|e| Failure::runtime(format!("--packets: {e}"))),
        }
    }

    /// Shows what was captured on `ports`: the telling packets, then the summary.
    fn show(self, ports: Ports) -> Result<(), Failure> {
        let Some(recording) = self.0 else {
            return Ok(());
        };
        let (frames, drops) = recording.stop(Duration::from_millis(150));
        let mut dissector = Dissector::new(ports);
        let mut shown = 0;
        let mut hidden = 0;
        for frame in &frames {
            let Ok(Some(packet)) =
                packet::decode(LinkType::Ethernet, frame.time, &frame.data, frame.wire_len)
            else {
                continue;
            };
            if !dissector.is_lab(&packet) {
                continue;
            }
            let Some(record) = dissector.handle_packet(&packet) else {
                continue;
            };
            let routine = record.meaning.is_empty() || record.meaning == ["pure ACK"];
            match (routine, shown < SHOWN_PACKETS) {
                (false, true) => {
                    say!("    {record}")?;
                    shown += 1;
                }
                _ => hidden += 1,
            }
        }
        if hidden > 0 {
            say!("    … and {hidden} more packets (`pmulab capture` shows them all)")?;
        }
        let summary = dissector.summary().to_string();
        for line in summary.lines() {
            say!("    | {line}")?;
        }
        if drops > 0 {
            say!("    | {drops} packets dropped by the kernel")?;
        }
        Ok(())
    }
}

/// A port the demo's own server printed.
fn number(port: &str) -> u16 {
    port.parse().unwrap_or(0)
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn start(name: &str, argv: &[&str], marker: &str) -> Result<(Launched, String), Failure> {
    let server = Launched::start(name, &args(argv), marker)?;
    let port = server
        .address()
        .map(|a| a.port().to_string())
        .unwrap_or_default();
    Ok((server, port))
}

fn ok(f: &Finished, what: &str) -> Result<(), Failure> {
    match f.code {
        Some(0) => Ok(()),
        _ if f.timed_out => Err(Failure::runtime(format!("{what} did not finish in time"))),
        _ => Err(Failure::runtime(format!(
            "{what} failed: {}",
            f.stderr.trim()
        ))),
    }
}

fn part(title: &str, body: impl FnOnce() -> Result<String, Failure>) -> Result<bool, Failure> {
    say!("\n{title}")?;
    match body() {
        Ok(notice) => {
            say!("  ✓ {notice}")?;
            Ok(true)
        }
        Err(e) => {
            say!("  ✗ {}", e.message)?;
            Ok(false)
        }
    }
}

/// Part 1.2: the pair under `states`, then a restart without SO_REUSEADDR.
fn part_1_2() -> Result<String, Failure> {
    // As written, Code C closes with the rest of the sentence unread.
    let (mut as_written, port) = start(
        "Code C",
        &["code-c", "--port", "0", "--bind", "127.0.0.1"],
        "listening on",
    )?;
    let reset = run_self(
        &args(&["code-d", "127.0.0.1", &port, "--hold", "0.1"]),
        LIMIT,
    )?;
    as_written.stop();
    if !reset.stderr.contains("reset the connection") {
        return Err(Failure::runtime(format!(
            "Code D was not reset: {}",
            reset.stderr.trim()
        )));
    }
    say!(
        "    Code C as written: 8 bytes echoed, 34 left unread, so Linux resets the connection (RST); Code D's read fails"
    )?;
    // With --drain the close is a FIN, and the states of the lesson show.
    let (mut server, port) = start(
        "Code C",
        &["code-c", "--drain", "--port", "0", "--bind", "127.0.0.1"],
        "listening on",
    )?;
    let watching = Watching::start(vec![number(&port)], Duration::from_millis(2))
        .map_err(|e| Failure::runtime(format!("reading the socket table: {e}")))?;
    let client = run_self(
        &args(&["code-d", "127.0.0.1", &port, "--hold", "0.5"]),
        LIMIT,
    )?;
    ok(&client, "Code D")?;
    server.stop();
    std::thread::sleep(Duration::from_millis(100));
    let changes = watching.stop();
    say!("    pmulab states --port {port}, Code C --drain and Code D:")?;
    for change in &changes {
        say!("    {change}")?;
    }
    let restart = run_self(
        &args(&[
            "code-c",
            "--no-reuseaddr",
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
        ]),
        LIMIT,
    )?;
    let refused = restart.stderr.contains("Address already in use");
    let reason = restart.stderr.lines().next().unwrap_or_default();
    say!("    restart without SO_REUSEADDR: {}", reason.trim())?;
    let seen = |name: &str| {
        changes
            .iter()
            .any(|c| c.to.is_some_and(|s| s.name() == name))
    };
    match (seen("FIN-WAIT-2") && seen("CLOSE-WAIT") && seen("TIME-WAIT"), refused) {
        (true, true) => Ok("LISTEN, then FIN-WAIT-2 on the side that closed and CLOSE-WAIT on the other, TIME-WAIT after; SO_REUSEADDR is what lets a server restart during TIME-WAIT".into()),
        (false, _) => Err(Failure::runtime("the half-closed states and TIME-WAIT were not all seen")),
        (true, false) => Err(Failure::runtime("the restart without SO_REUSEADDR did not fail")),
    }
}

/// Runs every part; exits 0 when all worked.
pub fn run(options: DemoArgs) -> Result<(), Failure> {
    if options.packets {
        // Say it before anything runs, with what to do.
        LiveCapture::open("lo", 64).map_err(|e| {
            Failure::runtime(match e.advice() {
                Some(advice) => format!("--packets: {e}: {advice}"),
                None => format!("--packets: {e}"),
            })
        })?;
    }
    let packets = options.packets;
    say!("pmulab demo: the socket-programming lab, parts 1 to 6, on this machine")?;
    let results = [
        part(
            "Part 1 — socket basics: a TCP echo read back in 16-byte pieces",
            || {
                let (_echo, port) = start(
                    "echo server",
                    &["echo-server", "0", "--bind", "127.0.0.1"],
                    "listening on",
                )?;
                let sentence = "The PMU measures the grid, the PDC concentrates.";
                let watch = Packets::start(packets)?;
                let f = run_self(&args(&["echo-client", "127.0.0.1", &port, sentence]), LIMIT)?;
                ok(&f, "the echo client")?;
                for line in f.stdout.lines() {
                    say!("    {line}")?;
                }
                watch.show(Ports::only(&[]).with_echo(number(&port)))?;
                Ok(format!(
                    "{} bytes came back in {} pieces: a stream has no message boundaries",
                    sentence.len(),
                    f.stdout.lines().count()
                ))
            },
        )?,
        part(
            "Part 1.2 — socket states: the handout's Code C and Code D, TIME-WAIT and SO_REUSEADDR",
            part_1_2,
        )?,
        part(
            "Part 2 — PMU/PDC over TCP: messages glued and split by the stream",
            || {
                let (_pmu, port) = start("TCP PMU", &["pmu", "--port", "0"], "listening on")?;
                let watch = Packets::start(packets)?;
                let f = run_self(
                    &args(&[
                        "pdc",
                        "127.0.0.1",
                        &port,
                        "CMD_short:0",
                        "--trace",
                        "--read-size",
                        "40",
                    ]),
                    LIMIT,
                )?;
                ok(&f, "the PDC")?;
                let reads = f
                    .stderr
                    .lines()
                    .filter(|l| l.starts_with("trace: read"))
                    .count();
                for line in f
                    .stderr
                    .lines()
                    .filter(|l| l.starts_with("trace: read"))
                    .take(3)
                {
                    say!("    {line}")?;
                }
                watch.show(Ports::only(&[number(&port)]))?;
                let split = f
                    .stderr
                    .lines()
                    .filter(|l| l.starts_with("trace: read") && l.contains("split"))
                    .count();
                let how = match split {
                    0 => "each read ending on a message boundary this time".to_string(),
                    n => format!("{n} of them cutting a message in two"),
                };
                Ok(format!(
                    "{} messages arrived in {reads} reads of at most 40 bytes, {how}; the PDC printed them one per line",
                    f.stdout.lines().count()
                ))
            },
        )?,
        part(
            "Part 3 — clock reset over UDP with loss: retransmit until answered",
            || {
                let (_pmu, port) = start(
                    "UDP reset PMU",
                    &["reset-pmu", "--port", "0", "--loss", "0.4"],
                    "listening on",
                )?;
                let watch = Packets::start(packets)?;
                let f = run_self(
                    &args(&[
                        "reset",
                        "127.0.0.1",
                        &port,
                        "--trials",
                        "30",
                        "--timeout",
                        "0.05",
                    ]),
                    LIMIT,
                )?;
                ok(&f, "the reset client")?;
                watch.show(Ports::only(&[number(&port)]))?;
                let estimate = f
                    .stdout
                    .lines()
                    .find(|l| l.starts_with("loss estimate"))
                    .unwrap_or("")
                    .to_string();
                Ok(format!(
                    "30 resets against a PMU losing 40% of requests: {estimate}"
                ))
            },
        )?,
        part(
            "Part 4 — multicast: one broadcaster, every member hears it",
            || {
                let (mut receiver, _) = start(
                    "receiver",
                    &["receiver", "239.255.7.7", "17505", "--max-messages", "3"],
                    "listening on",
                )?;
                let watch = Packets::start(packets)?;
                let f = run_self(
                    &args(&["bot", "239.255.7.7", "17505", "builtin", "0.05", "--once"]),
                    LIMIT,
                )?;
                ok(&f, "the bot")?;
                std::thread::sleep(Duration::from_millis(300));
                watch.show(Ports::only(&[17505]))?;
                let done = receiver.exited().is_some_and(|s| s.success());
                match done {
                true => Ok("the receiver joined 239.255.7.7 on the loopback interface and got the bot's datagrams (id `swcmTV` + a line)".into()),
                false => Err(Failure::runtime("the receiver did not get the bot's datagrams")),
            }
            },
        )?,
        part(
            "Part 5 — the PMU behind TLS, verified against the course's CA",
            || {
                let dir = std::env::temp_dir().join(format!("pmulab-demo-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                let d = dir.display().to_string();
                ok(
                    &run_self(&args(&["ca", "init", &format!("{d}/ca")]), LIMIT)?,
                    "ca init",
                )?;
                ok(
                    &run_self(
                        &args(&["ca", "request", &d, "--cn", "banana", "--rsa"]),
                        LIMIT,
                    )?,
                    "ca request",
                )?;
                let signed = run_self(
                    &args(&[
                        "ca",
                        "sign",
                        &format!("{d}/banana.csr"),
                        "--ca",
                        &format!("{d}/ca"),
                        "--out",
                        &format!("{d}/banana.crt"),
                        "--course",
                    ]),
                    LIMIT,
                )?;
                ok(&signed, "ca sign")?;
                say!("    {}", signed.stdout.trim())?;
                let (_pmu, port) = start(
                    "TLS PMU",
                    &[
                        "secure-pmu",
                        "0",
                        &format!("{d}/banana.crt"),
                        &format!("{d}/banana_key.pem"),
                    ],
                    "listening on",
                )?;
                let watch = Packets::start(packets)?;
                let f = run_self(
                    &args(&[
                        "secure-pdc",
                        "CMD_short:0",
                        &format!("{d}/ca/ca.crt"),
                        "--port",
                        &port,
                    ]),
                    LIMIT,
                )?;
                ok(&f, "the TLS PDC")?;
                watch.show(Ports::only(&[number(&port)]))?;
                let _ = std::fs::remove_dir_all(&dir);
                Ok(format!(
                    "{} messages over TLS, after the chain verified against the CA (the name, as in the course, not checked)",
                    f.stdout.lines().count()
                ))
            },
        )?,
        part(
            "Part 6 — WebSocket: the protocol keeps message boundaries",
            || {
                let (_ws, port) = start(
                    "WebSocket PMU",
                    &["ws-pmu", "--port", "0", "--fragment", "20000"],
                    "listening on",
                )?;
                let url = format!("ws://127.0.0.1:{port}/");
                let f = run_self(&args(&["pdc", &url, "CMD_short:0"]), LIMIT)?;
                ok(&f, "the WebSocket PDC")?;
                let watch = Packets::start(packets)?;
                let flood = run_self(&args(&["pdc", &url, "CMD_floodme", "--trace"]), LIMIT)?;
                ok(&flood, "the WebSocket PDC")?;
                watch.show(Ports::only(&[number(&port)]))?;
                let frames = flood
                    .stderr
                    .lines()
                    .filter(|l| l.contains("not FIN") || l.contains("continuation"))
                    .count();
                Ok(format!(
                    "{} messages, one per WebSocket message, no deframing needed; floodme came as 1 message in {frames} frames",
                    f.stdout.lines().count()
                ))
            },
        )?,
    ];
    let worked = results.iter().filter(|r| **r).count();
    say!("\n{worked} of {} parts worked.", results.len())?;
    match worked == results.len() {
        true => Ok(()),
        false => Err(Failure::runtime("some parts did not work (see above)")),
    }
}
