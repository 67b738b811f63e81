//! `pmulab serve` (every lab server at once) and `pmulab demo`.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn serve_runs_every_server_and_ctrl_c_stops_them_all() {
    let state = std::env::temp_dir().join(format!("pmulab-serve-{}", std::process::id()));
    let mut serve = pmulab_cmd(["serve", "--port-offset", "21000", "--state-dir"]);
    serve
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut serve = serve.spawn().unwrap();
    let stdout = serve.stdout.take().unwrap();
    let mut table = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.contains("Ctrl-C stops them all");
        table.push(line);
        if done {
            break;
        }
    }
    let table = table.join("\n");
    for needle in [
        "127.0.0.1:26003",
        "[::1]:26004",
        "224.1.1.1:31505",
        "127.0.0.1:26443",
        "ws://127.0.0.1:26006/",
    ] {
        assert!(table.contains(needle), "{needle} missing from:\n{table}");
    }
    let ca = state.join("ca/ca.crt").display().to_string();
    assert!(table.contains(&ca), "{table}");

    assert_eq!(
        run(
            pmulab_cmd(["pdc", "127.0.0.1", "26003", "CMD_short:0"]),
            LIMIT
        )
        .ok_lines(),
        expected_messages(15)
    );
    assert!(
        run(pmulab_cmd(["reset", "127.0.0.1", "26004"]), LIMIT).ok_lines()[0]
            .starts_with("OFFSET=")
    );
    assert!(run(pmulab_cmd(["reset", "::1", "26004"]), LIMIT).ok_lines()[0].starts_with("OFFSET="));
    assert_eq!(
        run(
            pmulab_cmd(["pdc", "ws://127.0.0.1:26006/", "CMD_short:0"]),
            LIMIT
        )
        .ok_lines(),
        expected_messages(15)
    );
    let tls = run(
        pmulab_cmd([
            "secure-pdc",
            "CMD_short:0",
            &ca,
            "--port",
            "26443",
            "--server-name",
            "localhost",
        ]),
        LIMIT,
    );
    assert_eq!(tls.ok_lines(), expected_messages(15));
    let heard = run(
        pmulab_cmd(["receiver", "224.1.1.1", "31505", "--max-messages", "2"]),
        LIMIT,
    );
    assert!(
        heard.ok_lines().iter().all(|l| l.starts_with("swcmTV: ")),
        "{heard:?}"
    );

    // Ctrl-C: the servers stop with it, and their ports are free again.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(serve.id() as libc::pid_t, libc::SIGINT) };
    let status = wait_with_limit(&mut serve, LIMIT);
    assert!(status.success());
    std::net::TcpListener::bind("127.0.0.1:26003").expect("the TCP PMU is gone");
    std::net::TcpListener::bind("127.0.0.1:26006").expect("the WebSocket PMU is gone");

    // A second start reuses the CA made on the first.
    let before = std::fs::read(state.join("ca/ca.crt")).unwrap();
    let mut again = pmulab_cmd(["serve", "--port-offset", "21000", "--state-dir"]);
    again
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut again = again.spawn().unwrap();
    let mut again_out = BufReader::new(again.stdout.take().unwrap());
    let mut first = String::new();
    again_out.read_line(&mut first).unwrap();
    assert!(first.starts_with("pmulab serve:"), "{first}");
    unsafe { libc::kill(again.id() as libc::pid_t, libc::SIGTERM) };
    assert!(wait_with_limit(&mut again, LIMIT).success());
    assert_eq!(std::fs::read(state.join("ca/ca.crt")).unwrap(), before);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn one_server_failing_to_start_stops_the_others() {
    let state = std::env::temp_dir().join(format!("pmulab-serve-fail-{}", std::process::id()));
    // The WebSocket PMU's port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:27006").unwrap();
    let mut cmd = pmulab_cmd(["serve", "--port-offset", "22000", "--state-dir"]);
    cmd.arg(&state);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("the WebSocket PMU did not start"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Address already in use"),
        "{}",
        out.stderr
    );
    // The TCP PMU and the reset PMU it had started are gone.
    std::net::TcpListener::bind("127.0.0.1:27003").expect("the TCP PMU was left running");
    std::net::UdpSocket::bind("127.0.0.1:27004").expect("the reset PMU was left running");
    drop(taken);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn the_demo_walks_through_every_part() {
    let out = run(pmulab_cmd(["demo"]), LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout.contains("7 of 7 parts worked."),
        "{}",
        out.stdout
    );
    for part in ["1", "1.2", "2", "3", "4", "5", "6"] {
        assert!(
            out.stdout.contains(&format!("Part {part} — ")),
            "{}",
            out.stdout
        );
    }
    assert_eq!(out.stdout.matches("  ✓ ").count(), 7, "{}", out.stdout);
}
