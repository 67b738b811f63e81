//! The hostile-client battery (`src/hostile/`, run as the `hostile`
//! binary) against every server on the host: `pmu` with `reset-pmu`,
//! `secure-pmu` and `ws-pmu`. Each must answer every case as documented,
//! keep serving a well-behaved PDC throughout, keep its memory bounded, and
//! say in its log what it refused. (The board has its own run in board.rs.)
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::process::Command;
use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(120);
/// Peak resident memory allowed to a server through the whole battery.
const MEMORY_LIMIT_KIB: u64 = 64 * 1024;

/// Options every server under test gets: short command timeout, a flood
/// big enough to be cut in the middle, room for 256 sessions.
const SESSION_OPTIONS: [&str; 7] = [
    "-v",
    "--command-timeout",
    "1",
    "--flood-bytes",
    "50000000",
    "--max-sessions",
    "256",
];

fn battery(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hostile"));
    cmd.args(args)
        .args(["--command-timeout", "1", "--burst", "1500"]);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "the battery failed:\n{}", out.stdout);
    assert!(!out.stdout.contains("FAILED"), "{}", out.stdout);
    out
}

/// Every log line of `server` so far, joined.
fn log_of(server: &Server) -> String {
    server.log_lines().join("\n")
}

#[test]
fn the_tcp_pmu_and_the_reset_pmu_withstand_the_battery() {
    let mut pmu_cmd = pmulab_cmd(["pmu", "--port", "0"]);
    pmu_cmd.args(SESSION_OPTIONS);
    let pmu = Server::start(pmu_cmd, false);
    let reset = Server::start(
        pmulab_cmd(["reset-pmu", "--port", "0", "--family", "4", "-v"]),
        false,
    );
    let out = battery(&[
        "tcp",
        &pmu.addr.to_string(),
        "--udp",
        &reset.addr.to_string(),
    ]);
    assert!(
        out.stdout
            .contains("no answer to any; the next RESET:20 answered"),
        "{}",
        out.stdout
    );
    let peak = peak_rss_kib(pmu.child.id());
    assert!(peak < MEMORY_LIMIT_KIB, "pmu peak RSS {peak} KiB");
    let log = log_of(&pmu);
    for said in [
        "refused: no complete command in time",
        "refused: command too long",
        "refused: command is not printable UTF-8 text",
        "turned away: every session slot is taken",
        "aborted after",
    ] {
        assert!(log.contains(said), "the pmu log lacks {said:?}");
    }
    let reset_log = log_of(&reset);
    assert!(
        reset_log.contains("malformed"),
        "the reset-pmu log says what it refused"
    );
    let peak = peak_rss_kib(reset.child.id());
    assert!(peak < MEMORY_LIMIT_KIB, "reset-pmu peak RSS {peak} KiB");
}

#[test]
fn the_tls_pmu_withstands_the_battery() {
    let dir = std::env::temp_dir().join(format!("pmulab-hostile-tls-{}", std::process::id()));
    let pki = LocalhostPki::new(&dir);
    let mut cmd = pmulab_cmd(["secure-pmu", "0", &pki.crt, &pki.key]);
    cmd.args(SESSION_OPTIONS);
    let pmu = Server::start(cmd, false);
    battery(&["tls", &pmu.addr.to_string(), "--ca", &pki.ca]);
    let peak = peak_rss_kib(pmu.child.id());
    assert!(peak < MEMORY_LIMIT_KIB, "secure-pmu peak RSS {peak} KiB");
    let log = log_of(&pmu);
    for said in [
        "the client never completed its handshake",
        "the peer does not speak TLS",
        "refused: command too long",
        "turned away: every session slot is taken",
        "aborted after",
    ] {
        assert!(log.contains(said), "the secure-pmu log lacks {said:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_websocket_pmu_withstands_the_battery() {
    let mut cmd = pmulab_cmd(["ws-pmu", "--port", "0"]);
    cmd.args(SESSION_OPTIONS);
    let pmu = Server::start(cmd, false);
    battery(&["ws", &pmu.addr.to_string()]);
    let peak = peak_rss_kib(pmu.child.id());
    assert!(peak < MEMORY_LIMIT_KIB, "ws-pmu peak RSS {peak} KiB");
    let log = log_of(&pmu);
    for said in [
        // Before the upgrade: answered with HTTP 400.
        "refused: no complete command in time",
        "WebSocket closed with 1009",
        "WebSocket closed with 1002",
        // After it: an ERROR message, then close 1008.
        "refused: command",
        "turned away: every session slot is taken",
    ] {
        assert!(log.contains(said), "the ws-pmu log lacks {said:?}");
    }
}

/// A busy TLS PMU still completes the handshake, to say so in TLS.
#[test]
fn a_full_tls_pmu_says_it_is_busy_inside_tls() {
    let dir = std::env::temp_dir().join(format!("pmulab-busy-tls-{}", std::process::id()));
    let pki = LocalhostPki::new(&dir);
    let pmu = Server::start(
        pmulab_cmd(["secure-pmu", "0", &pki.crt, &pki.key, "--max-sessions", "1"]),
        false,
    );
    // The one slot, held by a connection that never sends.
    let _holder = std::net::TcpStream::connect(pmu.addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let out = run(
        pmulab_cmd(["secure-pdc", "CMD_short:0", &pki.ca, "--port", &pmu.port()]),
        LIMIT,
    );
    assert_eq!(out.code(), 3, "{out:?}");
    assert!(out.stderr.contains("ERROR: server busy"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
