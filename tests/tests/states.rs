//! Part 1.2 as the handout runs it: the Code C / Code D pair, `pmulab
//! states` against `ss` at the same moments, TIME-WAIT and SO_REUSEADDR,
//! and the handout's own Python programs as peers, both ways.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pmulab_tests::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

/// A port nothing listens on now.
fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port().to_string()
}

/// `pmulab states --json --port P --duration D` in the background.
fn states(port: &str, seconds: &str) -> Child {
    pmulab_cmd(["states", "--json", "--port", port, "--duration", seconds])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn timeline(child: Child) -> (Vec<Value>, String) {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// What `ss` says of port P now: (local, peer, state) rows.
fn ss(port: &str) -> Vec<(String, String, String)> {
    let mut cmd = Command::new("ss");
    cmd.args([
        "-tanH",
        "state",
        "all",
        &format!("( sport = :{port} or dport = :{port} )"),
    ]);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    out.stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // ss writes a listener's peer port as `*`.
            let peer = f[4].replace(":*", ":0");
            (f[3].to_string(), peer, f[0].to_string())
        })
        .collect()
}

/// `ss`'s short state names, as pmulab spells them.
fn spelled(ss_state: &str) -> &str {
    match ss_state {
        "ESTAB" => "ESTABLISHED",
        "UNCONN" => "CLOSE",
        other => other,
    }
}

/// The state pmulab last reported for (local, peer) before `at` seconds.
fn state_at<'a>(lines: &'a [Value], local: &str, peer: &str, at: f64) -> Option<&'a str> {
    lines
        .iter()
        .rev()
        .find(|l| l["time"].as_f64().unwrap() <= at && l["local"] == local && l["peer"] == peer)
        .and_then(|l| l["state"].as_str())
}

#[test]
fn the_handout_s_experiment_seen_by_states_and_by_ss() {
    let port = free_port();
    let watch = states(&port, "4");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let server = Server::start(pmulab_cmd(["code-c", "--drain", "--port", &port]), false);
    let client = pmulab_cmd(["code-d", "127.0.0.1", &port, "--hold", "1.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While Code D holds its socket open: FIN-WAIT-2 here, CLOSE-WAIT there.
    std::thread::sleep(Duration::from_millis(900));
    let during = ss(&port);
    let during_at = started.elapsed().as_secs_f64();
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("received: \"Oh Romeo\""), "{printed}");
    assert!(
        printed.contains("after 8 of 42 bytes (end of stream)"),
        "{printed}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let after = ss(&port);
    let (lines, summary) = timeline(watch);
    assert!(summary.contains("samples, at most"), "{summary}");
    let states_of = |rows: &[(String, String, String)]| -> Vec<String> {
        let mut s: Vec<String> = rows.iter().map(|r| spelled(&r.2).to_string()).collect();
        s.sort();
        s
    };
    assert_eq!(
        states_of(&during),
        ["CLOSE-WAIT", "FIN-WAIT-2", "LISTEN"],
        "ss: {during:?}"
    );
    assert!(after.iter().any(|r| r.2 == "TIME-WAIT"), "ss: {after:?}");
    // pmulab states said the same of every socket ss listed, at that moment
    // (its clock started about 0.3 s before ours; the states hold for 1.5 s).
    for (local, peer, state) in &during {
        let ours = state_at(&lines, local, peer, during_at + 0.3);
        assert_eq!(ours, Some(spelled(state)), "{local} → {peer}: {lines:?}");
    }
    let names: Vec<&str> = lines.iter().filter_map(|l| l["state"].as_str()).collect();
    for expected in ["LISTEN", "CLOSE-WAIT", "FIN-WAIT-2", "TIME-WAIT", "closed"] {
        assert!(
            names.contains(&expected),
            "{expected} in {names:?}: {lines:#?}"
        );
    }
    drop(server);

    // The port is in TIME-WAIT: without SO_REUSEADDR a restart fails, and says why.
    let out = run(
        pmulab_cmd(["code-c", "--no-reuseaddr", "--port", &port]),
        LIMIT,
    );
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("Address already in use"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("in TIME-WAIT"), "{}", out.stderr);
    assert!(out.stderr.contains("SO_REUSEADDR"), "{}", out.stderr);
    // With it, as the handout's server does, the restart works.
    let again = Server::start(
        pmulab_cmd(["code-c", "--port", &port, "--max-connections", "1"]),
        false,
    );
    drop(again);
}

#[test]
fn code_c_and_code_d_behave_as_the_handout_s_python_both_ways() {
    // The handout's Code C (Python) and pmulab's Code D.
    let port = free_port();
    let mut py = Command::new(python());
    py.arg(peer("handout_code_c.py")).args(["--port", &port]);
    let python_c = Server::start(py, true);
    let ours = run(
        pmulab_cmd(["code-d", "127.0.0.1", &port, "--hold", "0.2"]),
        LIMIT,
    );
    drop(python_c);
    // pmulab's Code C and the handout's Code D (Python): the same pieces.
    let port = free_port();
    let pmulab_c = Server::start(pmulab_cmd(["code-c", "--port", &port]), false);
    let mut py = Command::new(python());
    py.arg(peer("handout_code_d.py")).args(["--port", &port]);
    let theirs = run(py, Duration::from_secs(5));
    drop(pmulab_c);
    // Both clients got the first 8-byte piece, then a reset: the server
    // closed with 34 bytes unread, which Linux answers with RST.
    assert!(ours.stdout.contains("received: \"Oh Romeo\""), "{ours:?}");
    assert_eq!(ours.code(), 1, "{ours:?}");
    assert!(
        ours.stderr
            .contains("reset the connection after 8 of 42 bytes"),
        "{}",
        ours.stderr
    );
    assert!(theirs.stdout.contains("received b'Oh Romeo'"), "{theirs:?}");
    assert!(
        theirs.stderr.contains("ConnectionResetError"),
        "{}",
        theirs.stderr
    );
}

#[test]
fn a_quiet_port_an_ending_command_and_a_crowded_table() {
    // Nothing on the port: no changes, a clean end.
    let port = free_port();
    let (lines, summary) = timeline(states(&port, "0.4"));
    assert!(lines.is_empty(), "{lines:?}");
    assert!(summary.contains("0 changes"), "{summary}");
    // A command that exits: states ends with it, and its status.
    let out = run(pmulab_cmd(["states", "--", "sh", "-c", "exit 3"]), LIMIT);
    assert_eq!(out.code(), 3, "{out:?}");
    assert!(
        out.stderr.contains("exited with status 3"),
        "{}",
        out.stderr
    );
    // Nothing to follow is a usage error.
    let out = run(pmulab_cmd(["states"]), LIMIT);
    assert_eq!(out.code(), 2, "{out:?}");

    // 2000 connections closed by their clients: 2000 TIME-WAIT sockets on
    // the port. The first look lists 20 and counts the rest.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let accepting = std::thread::spawn(move || {
        for _ in 0..2000 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let _ = std::io::Read::read(&mut s, &mut [0u8; 1]);
        }
    });
    for _ in 0..2000 {
        let s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        drop(s);
    }
    accepting.join().unwrap();
    let out = run(
        pmulab_cmd(["states", "--port", &port, "--duration", "1"]),
        LIMIT,
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let lines = out.stdout.lines().count();
    assert!(lines <= 25, "{lines} lines:\n{}", out.stdout);
    assert!(
        out.stdout.contains("more changes in this sample"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("TIME-WAIT"), "{}", out.stdout);
}
