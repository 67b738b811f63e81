//! `pmulab load` end to end: it counts what the servers really did, names
//! what went wrong, and stays quiet and bounded.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

fn load(port: &str, extra: &[&str]) -> Output {
    let mut cmd = pmulab_cmd(["load", "127.0.0.1", port]);
    cmd.args(extra);
    run(cmd, LIMIT)
}

/// The figure after `label` on the report line that starts with it.
fn figure(out: &Output, label: &str) -> u64 {
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in\n{}", out.stdout));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn tcp_load_counts_every_session_and_message() {
    let pmu = start_pmu(&["--count", "7"]);
    let json = std::env::temp_dir().join(format!("pmulab-load-test-{}.json", std::process::id()));
    let out = load(
        &pmu.port(),
        &[
            "--sessions",
            "300",
            "--concurrency",
            "8",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("300 done, 0 failed"), "{}", out.stdout);
    assert_eq!(figure(&out, "messages"), 300 * 7);
    let text_bytes: u64 = expected_messages(7).iter().map(|m| m.len() as u64).sum();
    assert_eq!(figure(&out, "bytes"), 300 * text_bytes);
    assert!(out.stdout.contains("errors     none"));
    let written = std::fs::read_to_string(&json).unwrap();
    let _ = std::fs::remove_file(&json);
    let written: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(written["sessions"], 300, "{written}");
    assert_eq!(written["failed"], 0, "{written}");
    assert_eq!(written["protocol"], "tcp", "{written}");
}

#[test]
fn refusals_and_dead_ports_are_errors_by_kind() {
    let pmu = start_pmu(&[]);
    let out = load(
        &pmu.port(),
        &[
            "--sessions",
            "20",
            "--concurrency",
            "4",
            "--command",
            "CMD_bogus",
        ],
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("no session completed"), "{out:?}");
    assert!(out.stdout.contains("0 done, 20 failed"), "{}", out.stdout);
    assert!(
        out.stdout.contains("complete            -"),
        "no latency without sessions: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("20 × refused (ERROR:)"),
        "{}",
        out.stdout
    );

    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port().to_string();
    drop(dead);
    let out = load(&port, &["--sessions", "5", "--concurrency", "1"]);
    assert!(
        out.stdout.contains("5 × connection refused"),
        "{}",
        out.stdout
    );
}

#[test]
fn udp_load_checks_each_answer() {
    let responder = Server::start(
        pmulab_cmd(["reset-pmu", "--port", "0", "--loss", "0", "--family", "4"]),
        false,
    );
    let out = load(
        &responder.port(),
        &[
            "--protocol",
            "udp",
            "--sessions",
            "200",
            "--concurrency",
            "2",
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("200 done, 0 failed"), "{}", out.stdout);

    // A server that answers anything else is counted as failing.
    let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = echo.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let out = load(
        &port,
        &[
            "--protocol",
            "udp",
            "--sessions",
            "10",
            "--concurrency",
            "1",
        ],
    );
    assert!(out.stdout.contains("0 done, 10 failed"), "{}", out.stdout);
    assert!(out.stdout.contains("a bad answer"), "{}", out.stdout);
}

#[test]
fn tls_and_websocket_load_complete_sessions() {
    let dir = std::env::temp_dir().join(format!("pmulab-load-pki-{}", std::process::id()));
    let pki = LocalhostPki::new(&dir);
    let secure = Server::start(pmulab_cmd(["secure-pmu", "0", &pki.crt, &pki.key]), false);
    let out = load(
        &secure.port(),
        &[
            "--protocol",
            "tls",
            "--ca",
            &pki.ca,
            "--sessions",
            "40",
            "--concurrency",
            "4",
        ],
    );
    assert!(out.stdout.contains("40 done, 0 failed"), "{out:?}");
    assert_eq!(figure(&out, "messages"), 40 * 15);

    let ws = Server::start(pmulab_cmd(["ws-pmu", "--port", "0"]), false);
    let out = load(
        &ws.port(),
        &["--protocol", "ws", "--sessions", "40", "--concurrency", "4"],
    );
    assert!(out.stdout.contains("40 done, 0 failed"), "{out:?}");
    assert_eq!(figure(&out, "messages"), 40 * 15);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pmulab load … | head -1`: the reader goes away; load stops quietly.
#[test]
fn a_closed_stdout_ends_the_report_quietly() {
    let pmu = start_pmu(&[]);
    let mut child = pmulab_cmd([
        "load",
        "127.0.0.1",
        &pmu.port(),
        "--sessions",
        "10",
        "--concurrency",
        "2",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let status = wait_with_limit(&mut child, LIMIT);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "nothing on stderr");
}
