//! The benchmark runner: each row is pmulab against the reference it is
//! compared with, measured in the same run on this machine, as a ratio.
//! Every load is bounded in count and time, and stays on loopback.
//!
//!     cargo build --release -p pmulab && cargo run --release -p pmulab-tests --bin bench
//!
//! `bench batch udp` runs only those groups of rows (see `GROUPS`).
//!
//! `PMULAB_BENCH_EARLIER=path/to/pmulab` adds the WebSocket rows measured
//! with an earlier build too, alternating, to show a redesign's effect.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // A measuring tool: a failure should be loud.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pmulab_tests::hostile::{Battery, Transport, raise_open_file_limit};
use pmulab_tests::*;

const FLOOD: u64 = 256 << 20;

struct Row {
    name: String,
    ours: String,
    reference: String,
    ratio: String,
    target: String,
}

/// A group of rows: measures and appends them.
type Group = fn(&mut Vec<Row>);

/// The groups of rows, by the name that picks them on the command line.
const GROUPS: &[(&str, Group)] = &[
    ("floodme", floodme),
    ("sessions", sessions),
    ("udp", udp),
    ("tls", tls),
    ("websocket", websocket),
    ("memory", burst_memory),
    ("idle", idle),
    ("batch", batch),
    ("c37", c37),
];

fn main() {
    // `bench batch udp` runs those groups only; no argument runs them all.
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    for name in &wanted {
        assert!(
            GROUPS.iter().any(|(group, _)| group == name),
            "no group {name}; the groups: {}",
            GROUPS
                .iter()
                .map(|(g, _)| *g)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut rows = Vec::new();
    let machine = machine();
    eprintln!("bench: {machine}");
    for (name, group) in GROUPS {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            group(&mut rows);
        }
    }
    println!(
        "Measured {} on {machine}. floodme, PMU sessions/s and UDP answers are the \
median of {ROUNDS} runs alternating pmulab and its reference.\n",
        today()
    );
    println!("| benchmark | pmulab | reference | ratio | target |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.name, r.ours, r.reference, r.ratio, r.target
        );
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

fn today() -> String {
    let out = Command::new("date").arg("+%Y-%m-%d").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `cmd` with stdout discarded; returns (seconds, peak RSS KiB, success).
#[allow(clippy::zombie_processes)] // Reaped by wait4.
fn timed(mut cmd: Command) -> (f64, i64, bool) {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let start = Instant::now();
    let child = cmd.spawn().unwrap();
    let (code, rss) = wait_with_peak_rss(&child);
    (start.elapsed().as_secs_f64(), rss, code == 0)
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

/// Rounds of each noisy measurement, alternating pmulab and its reference;
/// the median of each side is reported.
const ROUNDS: usize = 3;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn floodme(rows: &mut Vec<Row>) {
    let pmu = quiet(&["pmu", "--flood-bytes", &FLOOD.to_string()]);
    let (mut ours_t, mut py_t) = (Vec::new(), Vec::new());
    let (mut rss_ours, mut rss_py) = (0, 0);
    for _ in 0..ROUNDS {
        let (t, rss, ok) = timed(pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_floodme"]));
        assert!(ok, "pmulab pdc failed");
        ours_t.push(t);
        rss_ours = rss_ours.max(rss);
        let mut py = Command::new(python());
        py.arg(peer("student_pdc.py"))
            .args(["127.0.0.1", &pmu.port(), "CMD_floodme"]);
        let (t, rss, ok) = timed(py);
        assert!(ok, "the Python PDC failed");
        py_t.push(t);
        rss_py = rss_py.max(rss);
    }
    let (t_ours, t_py) = (median(ours_t), median(py_t));
    let ours = mbps(FLOOD, t_ours);
    rows.push(Row {
        name: "floodme 256 MiB, receive (MB/s; peak RSS)".into(),
        ours: format!("{ours:.0} MB/s; {:.1} MiB", rss_ours as f64 / 1024.0),
        reference: format!(
            "Python PDC {:.0} MB/s; {:.0} MiB",
            mbps(FLOOD, t_py),
            rss_py as f64 / 1024.0
        ),
        ratio: format!("{:.1}×", t_py / t_ours),
        target: "≥ 10× Python, flat memory".into(),
    });
    match iperf3() {
        Some(limit) => rows.push(Row {
            name: "floodme vs iperf3 over loopback (one stream, its default buffers)".into(),
            ours: format!("{ours:.0} MB/s"),
            reference: format!("iperf3 {limit:.0} MB/s"),
            ratio: format!("{:.2}", ours / limit),
            target: "≥ 0.5 of iperf3".into(),
        }),
        None => eprintln!("bench: iperf3 is not available; the loopback-limit row is left out"),
    }
}

/// The kernel's loopback limit for one TCP stream, in MB/s, by iperf3
/// (installed with apt-get when missing and possible).
fn iperf3() -> Option<f64> {
    let have = |_: ()| {
        Command::new("sh")
            .args(["-c", "command -v iperf3"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have(()) {
        let _ = Command::new("sh")
            .args([
                "-c",
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null 2>&1",
            ])
            .status();
    }
    if !have(()) {
        return None;
    }
    let port = free_tcp_port();
    let mut server = Command::new("iperf3")
        .args(["-s", "-1", "-B", "127.0.0.1", "-p", &port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new("iperf3")
        .args(["-c", "127.0.0.1", "-p", &port, "-n", "256M", "-J"])
        .output()
        .ok()?;
    let _ = server.kill();
    let _ = server.wait();
    let json = String::from_utf8_lossy(&out.stdout);
    let received = json.split("\"sum_received\"").nth(1)?;
    let bps: f64 = received
        .split("\"bits_per_second\":")
        .nth(1)?
        .split([',', '}'])
        .next()?
        .trim()
        .parse()
        .ok()?;
    Some(bps / 8.0 / 1e6)
}

fn free_tcp_port() -> String {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string()
}

/// Runs `pmulab load` and returns its sessions (or answers) per second.
fn load(args: &[&str]) -> f64 {
    let json = std::env::temp_dir().join(format!("pmulab-bench-{}.json", std::process::id()));
    let mut cmd = pmulab_cmd(["load"]);
    cmd.args(args).arg("--json").arg(&json);
    let out = run(cmd, Duration::from_secs(120));
    assert_eq!(out.code(), 0, "{out:?}");
    eprintln!(
        "{}",
        out.stdout.lines().take(2).collect::<Vec<_>>().join("\n")
    );
    let text = std::fs::read_to_string(&json).unwrap();
    let _ = std::fs::remove_file(&json);
    let figures: serde_json::Value = serde_json::from_str(&text).unwrap();
    figures["sessions_per_second"].as_f64().unwrap()
}

/// The floor: a minimal thread-per-core blocking PMU (accept, read the
/// command, 15 writes, close), written here.
fn minimal_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..cores {
        let listener = listener.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if stream.read(&mut buf).is_err() {
                    continue;
                }
                for i in 0..15 {
                    if stream
                        .write_all(format!("This is PMU data {i}").as_bytes())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        });
    }
    port
}

/// A pmulab server on a free port, quiet (a log line per session would be
/// measured too).
fn quiet(args: &[&str]) -> Server {
    quiet_from(&pmulab(), args)
}

/// `quiet`, with the pmulab binary at `exe`.
fn quiet_from(exe: &Path, args: &[&str]) -> Server {
    let mut cmd = Command::new(exe);
    cmd.args(args).args(["--port", "0"]);
    Server::start(cmd, false)
}

/// An earlier build to compare the redesigned servers with
/// (`PMULAB_BENCH_EARLIER=path/to/pmulab`), if one was given.
fn earlier_build() -> Option<PathBuf> {
    let exe = PathBuf::from(std::env::var_os("PMULAB_BENCH_EARLIER")?);
    assert!(
        exe.is_file(),
        "PMULAB_BENCH_EARLIER: no file {}",
        exe.display()
    );
    Some(exe)
}

fn sessions(rows: &mut Vec<Row>) {
    let tcp_load = |port: &str, seconds: &str| {
        load(&[
            "127.0.0.1",
            port,
            "--duration",
            seconds,
            "--sessions",
            "1000000",
        ])
    };
    let pmu = quiet(&["pmu"]);
    let minimal = minimal_server();
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(tcp_load(&pmu.port(), "3"));
        floor.push(tcp_load(&minimal, "3"));
    }
    let (ours, floor) = (median(ours), median(floor));
    drop(pmu);
    let mut py = Command::new(python());
    py.arg(peer("course_pmu.py"));
    let py_pmu = Server::start(py, true);
    let python_rate = tcp_load(&py_pmu.port(), "4");
    drop(py_pmu);
    rows.push(Row {
        name: "PMU sessions/s (CMD_short:0, n = 15, 64 concurrent PDCs)".into(),
        ours: format!("{ours:.0}"),
        reference: format!(
            "Python course-style {python_rate:.0}; minimal blocking server {floor:.0}"
        ),
        ratio: format!(
            "{:.1}× Python; {:.2}× minimal",
            ours / python_rate,
            ours / floor
        ),
        target: "≥ 4× Python, ≥ 1× minimal".into(),
    });
}

fn udp(rows: &mut Vec<Row>) {
    // Few clients: with many, the load generator's own threads are what is measured.
    let udp_load = |port: &str| {
        load(&[
            "127.0.0.1",
            port,
            "--protocol",
            "udp",
            "--concurrency",
            "4",
            "--sessions",
            "5000000",
            "--duration",
            "2",
        ])
    };
    let pmu = quiet(&["reset-pmu", "--loss", "0", "--family", "4"]);
    let mut py = Command::new(python());
    py.arg(peer("course_udp_pmu.py")).args(["--loss", "0"]);
    let py_pmu = Server::start(py, true);
    let (mut ours, mut reference) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(udp_load(&pmu.port()));
        reference.push(udp_load(&py_pmu.port()));
    }
    let (ours, reference) = (median(ours), median(reference));
    rows.push(Row {
        name: "UDP reset answers/s (4 clients, loss 0)".into(),
        ours: format!("{ours:.0}"),
        reference: format!("Python responder {reference:.0}"),
        ratio: format!("{:.1}×", ours / reference),
        target: "≥ 2×".into(),
    });
}

fn tls(rows: &mut Vec<Row>) {
    let dir = std::env::temp_dir().join(format!("pmulab-bench-tls-{}", std::process::id()));
    let LocalhostPki { ca, crt, key } = LocalhostPki::new(&dir);
    let tls_load = |port: &str, command: &str| {
        load(&[
            "127.0.0.1",
            port,
            "--protocol",
            "tls",
            "--ca",
            &ca,
            "--concurrency",
            "16",
            "--duration",
            "4",
            "--command",
            command,
        ])
    };
    let pmu = Server::start(pmulab_cmd(["secure-pmu", "0", &crt, &key]), false);
    let ours = tls_load(&pmu.port(), "CMD_short:0");
    drop(pmu);
    let port = free_tcp_port();
    let mut openssl = Command::new("openssl")
        .args([
            "s_server", "-quiet", "-www", "-accept", &port, "-cert", &crt, "-key", &key,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // s_server -www answers an HTTP request with a status page and closes.
    let openssl_rate = tls_load(&port, "GET / HTTP/1.0\r\n\r\n");
    let _ = openssl.kill();
    let _ = openssl.wait();
    let mut py = Command::new(python());
    py.arg(peer("student_secure_pmu.py"))
        .args(["0", &crt, &key]);
    let py_pmu = Server::start(py, true);
    let python_rate = tls_load(&py_pmu.port(), "CMD_short:0");
    let _ = std::fs::remove_dir_all(&dir);
    rows.push(Row {
        name: "TLS sessions/s (handshake + one exchange, 16 concurrent, ECDSA P-256)".into(),
        ours: format!("{ours:.0}"),
        reference: format!("openssl s_server {openssl_rate:.0}; Python ssl {python_rate:.0}"),
        ratio: format!(
            "{:.1}× openssl; {:.1}× Python",
            ours / openssl_rate,
            ours / python_rate
        ),
        target: "ahead of openssl s_server".into(),
    });
}

fn websocket(rows: &mut Vec<Row>) {
    let ws_load = |port: &str| {
        load(&[
            "127.0.0.1",
            port,
            "--protocol",
            "ws",
            "--concurrency",
            "16",
            "--duration",
            "4",
        ])
    };
    let ws = quiet(&["ws-pmu"]);
    let ours = ws_load(&ws.port());
    drop(ws);
    let mut py = Command::new(python());
    py.arg(peer("course_ws_pmu.py"));
    let py_ws = Server::start(py, true);
    let reference = ws_load(&py_ws.port());
    drop(py_ws);
    rows.push(Row {
        name: "WebSocket sessions/s (CMD_short:0, 16 concurrent)".into(),
        ours: format!("{ours:.0}"),
        reference: format!("Python websockets {reference:.0}"),
        ratio: format!("{:.1}×", ours / reference),
        target: "≥ 4×".into(),
    });
    let Some(earlier) = earlier_build() else {
        return;
    };
    let (mut now, mut then) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let ws = quiet(&["ws-pmu"]);
        now.push(ws_load(&ws.port()));
        drop(ws);
        let ws = quiet_from(&earlier, &["ws-pmu"]);
        then.push(ws_load(&ws.port()));
    }
    let (now, then) = (median(now), median(then));
    rows.push(Row {
        name: "WebSocket sessions/s, this build against the earlier one".into(),
        ours: format!("{now:.0}"),
        reference: format!("earlier build {then:.0}"),
        ratio: format!("{:.2}×", now / then),
        target: "must not drop".into(),
    });
}

/// Connections at once in the memory row.
const BURST: usize = 3000;

/// Peak memory of ws-pmu next to pmu's, each under the whole hostile
/// battery with `BURST` connections at once. (With a thread per
/// connection, ws-pmu took 29.5 MiB here.)
fn burst_memory(rows: &mut Vec<Row>) {
    raise_open_file_limit();
    let peak = |exe: &Path, server: &str, transport: Transport| {
        let pmu = quiet_from(exe, &[server, "--command-timeout", "1"]);
        let battery = Battery {
            addr: pmu.addr,
            transport,
            count: 15,
            command_timeout: Duration::from_secs(1),
            burst: BURST,
            udp: None,
            lossy_link: false,
        };
        let (cases, watch) = battery.run();
        for case in cases {
            assert!(
                case.outcome.is_ok(),
                "{server}: {}: {:?}",
                case.what,
                case.outcome
            );
        }
        assert!(watch.failures.is_empty(), "{server}: {:?}", watch.failures);
        peak_rss_kib(pmu.child.id()) as f64 / 1024.0
    };
    let tcp = peak(&pmulab(), "pmu", Transport::Tcp);
    let ws = peak(&pmulab(), "ws-pmu", Transport::Ws);
    let earlier = earlier_build().map(|exe| peak(&exe, "ws-pmu", Transport::Ws));
    rows.push(Row {
        name: format!("peak memory, hostile battery with {BURST} connections at once"),
        ours: format!("ws-pmu {ws:.1} MiB"),
        reference: match earlier {
            Some(then) => format!("pmu {tcp:.1} MiB; earlier ws-pmu {then:.1} MiB"),
            None => format!("pmu {tcp:.1} MiB"),
        },
        ratio: match earlier {
            Some(then) => format!("{:.2}× pmu; {:.2}× earlier", ws / tcp, ws / then),
            None => format!("{:.2}× pmu", ws / tcp),
        },
        target: "ws-pmu ≤ 2× pmu".into(),
    });
}

fn idle(rows: &mut Vec<Row>) {
    let pmu = quiet(&["pmu"]);
    let mut py = Command::new(python());
    py.arg(peer("course_pmu.py"));
    let py_pmu = Server::start(py, true);
    let (a, b) = (cpu_time(pmu.child.id()), cpu_time(py_pmu.child.id()));
    std::thread::sleep(Duration::from_secs(3));
    let ours = cpu_time(pmu.child.id()) - a;
    let reference = cpu_time(py_pmu.child.id()) - b;
    rows.push(Row {
        name: "CPU of an idle server over 3 s".into(),
        ours: format!("{} ms", ours.as_millis()),
        reference: format!("Python server {} ms", reference.as_millis()),
        ratio: "—".into(),
        target: "near zero".into(),
    });
    // A client waiting out three 1-second timeouts against a silent port.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let mut client = pmulab_cmd(["reset", "127.0.0.1", &port, "--max-attempts", "3"]);
    client.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = client.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let used = cpu_time(child.id());
    let _ = wait_with_limit(&mut child, Duration::from_secs(10));
    rows.push(Row {
        name: "CPU of a reset client waiting out timeouts (2.5 s)".into(),
        ours: format!("{} ms", used.as_millis()),
        reference: "—".into(),
        ratio: "—".into(),
        target: "near zero".into(),
    });
}

/// The batch's class: 60 part 2 submissions, correct, buggy and hostile
/// in turn (36, 12 and 12).
fn batch_class(dir: &Path, hostile: bool) -> usize {
    let correct = ["student_pdc.py", "course_graded_pdc.py"];
    let buggy = ["broken_pdc_glued.py", "broken_pdc_fixed_n.py"];
    let bad = [
        "hostile/fork_bomb.py",
        "hostile/memory_hog.py",
        "hostile/endless_printer.py",
        "hostile/leaves_child.py",
        "hostile/writes_home.py",
        "hostile/lists_interfaces.py",
    ];
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..60 {
        let script = match (i % 5, hostile) {
            (0 | 2 | 4, _) | (_, false) => correct[i % 2],
            (1, _) => buggy[(i / 5) % 2],
            _ => bad[(i / 5) % bad.len()],
        };
        let folder = dir.join(format!("student{i:02}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(peer(script), folder.join("PDC.py")).unwrap();
    }
    60
}

/// Grades the class in `dir` with `jobs` at a time; wall seconds, and the
/// median seconds of a correct submission.
fn grade_class(dir: &Path, jobs: u32) -> (f64, f64) {
    let out = dir.with_extension("grades");
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = pmulab_cmd([
        "grade",
        "2",
        "--timeout",
        "10",
        "--jobs",
        &jobs.to_string(),
        "--batch",
    ]);
    cmd.arg(dir).arg("--out").arg(&out);
    let (secs, _, ok) = timed(cmd);
    assert!(ok, "the batch failed");
    let jsonl = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let correct: Vec<f64> = jsonl
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["score"].as_f64() == Some(5.0))
        .filter_map(|r| r["seconds"].as_f64())
        .collect();
    assert!(!correct.is_empty(), "no submission passed");
    (secs, median(correct))
}

fn batch(rows: &mut Vec<Row>) {
    let mixed = std::env::temp_dir().join("pmulab-bench-class");
    let n = batch_class(&mixed, true);
    let (one, _) = grade_class(&mixed, 1);
    let mut beside_hostile = 0.0;
    for jobs in [2, 4] {
        let (t, correct) = grade_class(&mixed, jobs);
        if jobs == 2 {
            beside_hostile = correct;
        }
        rows.push(Row {
            name: format!("grade --batch: {n} part 2 submissions (36 correct, 12 buggy, 12 hostile), --jobs {jobs}"),
            ours: format!("{t:.0} s"),
            reference: format!("--jobs 1: {one:.0} s"),
            ratio: format!("{:.2}× faster", one / t),
            target: "whole batch < 180 s".into(),
        });
    }
    // A correct submission's grading beside hostile ones, and beside its like.
    let calm = std::env::temp_dir().join("pmulab-bench-calm");
    batch_class(&calm, false);
    let (_, beside_correct) = grade_class(&calm, 2);
    rows.push(Row {
        name: "one correct submission's grading, beside hostile ones (--jobs 2, median)".into(),
        ours: format!("{beside_hostile:.1} s"),
        reference: format!("beside correct ones {beside_correct:.1} s"),
        ratio: format!("{:.2}×", beside_hostile / beside_correct),
        target: "≈ 1× (no slow-down)".into(),
    });
    for dir in [&mixed, &calm] {
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(dir.with_extension("grades"));
    }
}

/// `p50 X ms, p99 Y ms` from a c37-pdc summary on stderr.
fn lateness(stderr: &str) -> (f64, f64) {
    let number = |key: &str| {
        stderr
            .split(key)
            .nth(1)
            .and_then(|rest| rest.split(" ms").next())
            .and_then(|n| n.trim().parse::<f64>().ok())
            .unwrap()
    };
    (number("p50 "), number("p99 "))
}

/// Runs pmulab's C37.118 PDC for `frames` against `port`; its lateness.
fn c37_pdc(port: &str, id: &str, frames: u64) -> (f64, f64) {
    let out = run(
        pmulab_cmd([
            "c37-pdc",
            "127.0.0.1",
            port,
            "--id",
            id,
            "--frames",
            &frames.to_string(),
        ]),
        Duration::from_secs(120),
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    lateness(&out.stderr)
}

fn c37(rows: &mut Vec<Row>) {
    let pmu = quiet(&["c37-pmu"]);
    let (p50, p99) = c37_pdc(&pmu.port(), "7", 500);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut py = Command::new(python());
    py.arg(peer("pyc37_pmu.py")).arg(&port);
    let pyc37 = Server::start(py, true);
    let (py50, py99) = c37_pdc(&port, "7734", 150);
    drop(pyc37);
    rows.push(Row {
        name: "C37.118.2 data frames: arrival after their timestamps (one PDC, p50 / p99)".into(),
        ours: format!("{p50:.2} / {p99:.2} ms at 50 frames/s"),
        reference: format!("pyc37 PMU {py50:.2} / {py99:.2} ms at its 30 frames/s"),
        ratio: format!("{:.1}× sooner at p99", py99 / p99),
        target: "p99 < 2 ms".into(),
    });
    // 32 PDCs at once, 250 frames each (5 s): the worst p99 of them.
    let children: Vec<_> = (0..32)
        .map(|_| {
            let mut c = pmulab_cmd(["c37-pdc", "127.0.0.1", &pmu.port(), "--frames", "250"]);
            c.stdout(Stdio::null()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let worst = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            lateness(&String::from_utf8_lossy(&out.stderr)).1
        })
        .fold(0.0, f64::max);
    rows.push(Row {
        name: "C37.118.2, 32 PDCs at once at 50 frames/s: the worst PDC's p99 lateness".into(),
        ours: format!("{worst:.2} ms"),
        reference: "—".into(),
        ratio: "—".into(),
        target: "p99 < 20 ms (one frame)".into(),
    });
    // The board's image (QEMU, through slirp's port forward), 500 frames.
    let board_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("../embedded/board.sh");
    let mut board = Command::new(board_sh);
    board.args(["--image", "c37", "--"]).arg(pmulab()).args([
        "c37-pdc",
        "127.0.0.1",
        "14712",
        "--frames",
        "500",
    ]);
    let out = run(board, Duration::from_secs(600));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let (b50, b99) = lateness(&out.stderr);
    rows.push(Row {
        name: "C37.118.2 on the board (QEMU mps2-an386, user-mode network), one PDC (p50 / p99)"
            .into(),
        ours: format!("{b50:.2} / {b99:.2} ms at 50 frames/s"),
        reference: format!("pmulab on the host {p50:.2} / {p99:.2} ms"),
        ratio: format!("{:.1}× later at p99", b99 / p99),
        target: "p99 < 20 ms (one frame)".into(),
    });
}
