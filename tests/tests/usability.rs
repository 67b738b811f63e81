//! What a new user trips over, end to end: closed pipes, answers that are
//! not what they seem, honest statistics, Ctrl-C, and messages that say
//! what to do. Each test failed before the fix it covers.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use pmulab_core::stream::flood;
use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

fn free_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port().to_string()
}

fn interrupt(child: &std::process::Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("pmulab-usability-{name}-{}", std::process::id()))
}

#[test]
fn a_trace_on_a_closed_stderr_ends_quietly_and_the_messages_still_arrive() {
    let pmu = start_pmu(&["--count", "6"]);
    let mut child = pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_short:0.2", "--trace"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one trace line, then close stderr, as `2>&1 | head -1` does.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("trace: read 1"), "{first}");
    drop(stderr);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = wait_with_limit(&mut child, LIMIT);
    assert_eq!(status.code(), Some(0), "a closed stderr made it fail");
    assert_eq!(stdout.lines().count(), 6, "{stdout}");
}

#[test]
fn a_plain_pdc_against_the_websocket_pmu_is_told_to_use_websocket() {
    let ws = Server::start(pmulab_cmd(["ws-pmu", "--port", "0"]), false);
    let out = run(
        pmulab_cmd(["pdc", "127.0.0.1", &ws.port(), "CMD_short:0"]),
        LIMIT,
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "HTTP printed as PMU data: {}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains(&format!("use ws://127.0.0.1:{}/ or --ws", ws.port())),
        "{}",
        out.stderr
    );
}

#[test]
fn the_floodme_prints_the_same_bytes_over_tcp_and_websocket() {
    let pmu = start_pmu(&[]);
    let ws = Server::start(pmulab_cmd(["ws-pmu", "--port", "0"]), false);
    let tcp = run(
        pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_floodme"]),
        LIMIT,
    );
    let url = format!("ws://127.0.0.1:{}/", ws.port());
    let over_ws = run(pmulab_cmd(["pdc", &url, "CMD_floodme"]), LIMIT);
    assert_eq!(tcp.stdout.len() as u64, flood::DEFAULT_FLOOD_BYTES);
    assert_eq!(over_ws.stdout.len(), tcp.stdout.len());
    assert!(over_ws.stdout == tcp.stdout);
}

#[test]
fn a_stream_cut_inside_a_message_prints_the_fragment_alone_and_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut command = [0u8; 64];
        let _ = conn.read(&mut command).unwrap();
        conn.write_all(b"This is PMU data 0This is PMU data 1This is PMU da")
            .unwrap();
    });
    let out = run(
        pmulab_cmd(["pdc", "127.0.0.1", &port, "CMD_short:0"]),
        LIMIT,
    );
    server.join().unwrap();
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        out.stdout,
        "This is PMU data 0\nThis is PMU data 1\nThis is PMU da\n"
    );
    assert!(
        out.stderr.contains("ended in the middle of a message"),
        "{}",
        out.stderr
    );
}

#[test]
fn serve_lists_what_listens_for_each_udp_family() {
    let state = temp("serve-state");
    for (family, place, try_it, words) in [
        ("6", "[::1]:", "pmulab reset ::1", "(IPv6 only)"),
        ("4", "127.0.0.1:", "pmulab reset 127.0.0.1", "(IPv4 only)"),
    ] {
        let mut child = pmulab_cmd([
            "serve",
            "--family",
            family,
            "--port-offset",
            "21000",
            "--state-dir",
        ])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut table = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let done = line.contains("Ctrl-C");
            table.push(line);
            if done {
                break;
            }
        }
        interrupt(&child);
        wait_with_limit(&mut child, LIMIT);
        let row = table.iter().find(|l| l.contains("UDP reset PMU")).unwrap();
        assert!(row.contains(&format!("{place}26004")), "{row}");
        assert!(
            !row.contains(if family == "6" { "127.0.0.1" } else { "[::1]" }),
            "{row}"
        );
        assert!(row.contains(try_it), "{row}");
        assert!(table.last().unwrap().contains(words), "{table:?}");
    }
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn twenty_clean_trials_bound_the_loss_honestly() {
    let pmu = Server::start(
        pmulab_cmd(["reset-pmu", "--port", "0", "--loss", "0", "--family", "4"]),
        false,
    );
    let json = temp("trials.json");
    let mut cmd = pmulab_cmd([
        "reset",
        "127.0.0.1",
        &pmu.port(),
        "--trials",
        "20",
        "--json",
    ]);
    cmd.arg(&json);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout
            .contains("p̂ = 1 − 1/mean = 0.000 (95% confidence interval 0.000 to 0.161"),
        "{}",
        out.stdout
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written["trials"], 20);
    assert_eq!(written["lost"], 0);
    assert!(written["interval_95"][1].as_f64().unwrap() > 0.15);
    let _ = std::fs::remove_file(&json);
}

#[test]
fn trials_that_give_up_are_losses_and_none_answered_fails() {
    // Nothing listens: every trial gives up after 2 requests.
    let port = free_port();
    let out = run(
        pmulab_cmd([
            "reset",
            "127.0.0.1",
            &port,
            "--trials",
            "3",
            "--max-attempts",
            "2",
            "--timeout",
            "0.05",
        ]),
        LIMIT,
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stdout.contains("0 answered, 3 gave up"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("p̂ = lost/sent = 1.000"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("no trial got an answer"),
        "{}",
        out.stderr
    );
    // The refusal is said once, not per request or per trial.
    assert_eq!(
        out.stderr.matches("refuses the requests").count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn a_reset_to_a_closed_port_says_so_and_the_final_error_too() {
    let port = free_port();
    let out = run(
        pmulab_cmd([
            "reset",
            "127.0.0.1",
            &port,
            "--max-attempts",
            "3",
            "--timeout",
            "0.05",
        ]),
        LIMIT,
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("refuses the requests (ICMP port unreachable"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("no answer after 3 requests"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("refused them"), "{}", out.stderr);
}

#[test]
fn ctrl_c_during_trials_prints_the_summary_so_far_and_exits_130() {
    let pmu = Server::start(
        pmulab_cmd(["reset-pmu", "--port", "0", "--loss", "0.5", "--family", "4"]),
        false,
    );
    let mut child = pmulab_cmd([
        "reset",
        "127.0.0.1",
        &pmu.port(),
        "--trials",
        "1000",
        "--timeout",
        "0.1",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(&child);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = wait_with_limit(&mut child, LIMIT);
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("of 1000 trials (interrupted)"), "{stdout}");
    assert!(stdout.contains("loss estimate"), "{stdout}");
}

#[test]
fn ctrl_c_during_load_prints_the_report_and_exits_130() {
    let pmu = start_pmu(&[]);
    let mut child = pmulab_cmd([
        "load",
        "127.0.0.1",
        &pmu.port(),
        "--duration",
        "30",
        "--concurrency",
        "2",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    interrupt(&child);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = wait_with_limit(&mut child, LIMIT);
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(
        stdout.contains("sessions") && stdout.contains("latency"),
        "{stdout}"
    );
}

#[test]
fn load_against_a_dead_port_stops_after_a_few_hundred_refusals() {
    let port = free_port();
    let started = Instant::now();
    let out = run(
        pmulab_cmd(["load", "127.0.0.1", &port, "--duration", "30"]),
        LIMIT,
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(out.stderr.contains("nothing listens on"), "{}", out.stderr);
    let refused: u64 = out
        .stdout
        .lines()
        .find_map(|l| {
            l.split("errors")
                .nth(1)?
                .split('×')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .unwrap();
    assert!(refused < 1000, "{refused} attempts: {}", out.stdout);
}

#[test]
fn pdc_stats_can_be_written_as_json() {
    let pmu = start_pmu(&["--count", "4"]);
    let json = temp("pdc.json");
    let mut cmd = pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_short:0", "--json"]);
    cmd.arg(&json);
    assert_eq!(run(cmd, LIMIT).code(), 0);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written["messages"], 4);
    assert_eq!(written["protocol"], "tcp");
    assert_eq!(written["command"], "CMD_short:0");
    let _ = std::fs::remove_file(&json);
}

#[test]
fn tls_mistakes_get_a_hint_and_a_ca_alone_means_tls() {
    let dir = temp("tls");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pki = LocalhostPki::new(&dir);
    let pmu = start_pmu(&[]);
    // secure-pdc against the plain PMU: where the TLS PMU is.
    let ca = pki.ca.clone();
    let out = run(
        pmulab_cmd(["secure-pdc", "CMD_short:0", &ca, "--port", &pmu.port()]),
        LIMIT,
    );
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("is it a plain PMU?"), "{}", out.stderr);
    assert!(out.stderr.contains("5443"), "{}", out.stderr);
    assert!(!out.stderr.contains("InvalidContentType"), "{}", out.stderr);
    // --ca without --tls speaks TLS.
    let secure = Server::start(pmulab_cmd(["secure-pmu", "0", &pki.crt, &pki.key]), false);
    let out = run(
        pmulab_cmd([
            "pdc",
            "--ca",
            &ca,
            "127.0.0.1",
            &secure.port(),
            "CMD_short:0",
        ]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(15), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_host_name_is_a_bind_address() {
    let pmu = Server::start(
        pmulab_cmd(["pmu", "--port", "0", "--bind", "localhost"]),
        false,
    );
    assert!(pmu.addr.ip().is_loopback(), "{}", pmu.addr);
    let out = run(
        pmulab_cmd(["pdc", "localhost", &pmu.port(), "CMD_short:0"]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(15));
}
