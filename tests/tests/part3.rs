//! Part 3 end to end: pmulab's reset client and UDP PMU on loopback, over
//! IPv4, IPv6 and a name with both, and against Python peers.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

fn reset_pmu(extra: &[&str]) -> Server {
    let mut cmd = pmulab_cmd(["reset-pmu", "--port", "0", "-v"]);
    cmd.args(extra);
    Server::start(cmd, false)
}

fn reset(host: &str, port: &str, extra: &[&str]) -> Output {
    let mut cmd = pmulab_cmd(["reset", host, port]);
    cmd.args(extra);
    run(cmd, LIMIT)
}

/// `OFFSET=X after N requests (answer from ADDR)` → (X, N, ADDR).
fn parse_answer(out: &Output) -> (u32, u32, String) {
    let line = out.ok_lines()[0].to_string();
    let rest = line
        .strip_prefix("OFFSET=")
        .unwrap_or_else(|| panic!("{line}"));
    let (x, rest) = rest.split_once(" after ").unwrap();
    let (n, rest) = rest.split_once(' ').unwrap();
    let from = rest.rsplit_once("from ").unwrap().1.trim_end_matches(')');
    (x.parse().unwrap(), n.parse().unwrap(), from.to_string())
}

/// Runs `pmulab reset pmu.test <port>` where `pmu.test` has both an A and
/// an AAAA record: in a private mount namespace with its own /etc/hosts
/// (the machine's own file is never touched).
fn reset_by_dual_stack_name(port: &str, extra: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!("pmulab-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 pmu.test\n::1 pmu.test\n").unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
    ])
    .arg(&hosts)
    .arg(pmulab())
    .args(["reset", "pmu.test", port])
    .args(extra);
    run(cmd, LIMIT)
}

#[test]
fn v4_only_server_answers_the_first_request_without_loss() {
    let pmu = reset_pmu(&["--family", "4", "--loss", "0"]);
    let (x, n, from) = parse_answer(&reset("127.0.0.1", &pmu.port(), &[]));
    assert!(x <= 20);
    assert_eq!(n, 1);
    assert_eq!(from, pmu.addr.to_string());
}

#[test]
fn v6_only_server_answers_over_ipv6() {
    let pmu = reset_pmu(&["--family", "6", "--loss", "0"]);
    assert!(pmu.addr.is_ipv6());
    let (_, n, from) = parse_answer(&reset("::1", &pmu.port(), &[]));
    assert_eq!(
        (n, from.as_str()),
        (1, format!("[::1]:{}", pmu.port()).as_str())
    );
}

#[test]
fn a_name_with_both_families_finds_whichever_the_server_listens_on() {
    for (family, expected) in [("6", "[::1]"), ("4", "127.0.0.1"), ("both", "")] {
        let pmu = reset_pmu(&["--family", family, "--loss", "0"]);
        let out = reset_by_dual_stack_name(&pmu.port(), &["-v"]);
        let (_, n, from) = parse_answer(&out);
        assert_eq!(n, 1, "{out:?}");
        assert!(from.starts_with(expected), "{family}: {from}");
        // One round is one request to each family.
        assert!(
            out.stderr.contains(&format!(
                "round 1: RESET:20 sent to 127.0.0.1:{}",
                pmu.port()
            )),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains(&format!("round 1: RESET:20 sent to [::1]:{}", pmu.port())),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn under_heavy_loss_the_client_retries_until_answered() {
    let pmu = reset_pmu(&["--loss", "0.85", "--seed", "7"]);
    let mut total = 0;
    for _ in 0..5 {
        let (_, n, _) = parse_answer(&reset("127.0.0.1", &pmu.port(), &["--timeout", "0.05"]));
        total += n;
    }
    assert!(total > 5, "85% loss yet every first request was answered");
}

#[test]
fn total_loss_ends_after_max_attempts_with_a_clear_error() {
    let pmu = reset_pmu(&["--loss", "1"]);
    let out = reset(
        "127.0.0.1",
        &pmu.port(),
        &["--timeout", "0.1", "--max-attempts", "3"],
    );
    assert_eq!(out.code(), 1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("no answer after 3 requests"),
        "{}",
        out.stderr
    );
}

#[test]
fn trials_estimate_the_configured_loss() {
    let pmu = reset_pmu(&["--loss", "0.5", "--seed", "11"]);
    let out = reset(
        "127.0.0.1",
        &pmu.port(),
        &["--trials", "300", "--timeout", "0.03"],
    );
    let lines = out.ok_lines();
    assert!(lines[0].starts_with("300 trials against"), "{lines:?}");
    let estimate_line = lines
        .iter()
        .find(|l| l.starts_with("loss estimate"))
        .unwrap();
    let p_hat: f64 = estimate_line
        .split(" = ")
        .nth(2)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((p_hat - 0.5).abs() < 0.1, "{estimate_line}");
    assert!(
        lines.iter().any(|l| l.starts_with("       1 │ ")),
        "histogram missing: {lines:?}"
    );
}

#[test]
fn pmulab_reset_against_a_python_pmu_written_as_the_course_s() {
    for family in ["4", "6"] {
        let mut cmd = Command::new(python());
        cmd.arg(peer("course_udp_pmu.py"))
            .args(["--family", family, "--loss", "0.3", "--seed", "3"]);
        let pmu = Server::start(cmd, true);
        let host = if family == "4" { "127.0.0.1" } else { "::1" };
        let (x, n, _) = parse_answer(&reset(host, &pmu.port(), &["--timeout", "0.2"]));
        assert!(x <= 20 && n >= 1);
    }
}

#[test]
fn a_python_student_client_against_pmulab_reset_pmu() {
    let pmu = reset_pmu(&["--family", "4", "--loss", "0.5", "--seed", "5"]);
    let mut cmd = Command::new(python());
    cmd.arg(peer("student_reset.py"))
        .args(["127.0.0.1", &pmu.port()]);
    let out = run(cmd, LIMIT);
    let lines = out.ok_lines();
    let x: u32 = lines[0].strip_prefix("OFFSET=").unwrap().parse().unwrap();
    assert!(x <= 20);
    assert!(lines[1].starts_with("requests: "));
}

#[test]
fn garbage_gets_no_answer_and_does_not_stop_the_server() {
    let pmu = reset_pmu(&["--family", "4", "--loss", "0"]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(pmu.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let junk: [&[u8]; 7] = [
        b"",
        b"RESET",
        b"RESET:-1",
        b"RESET:999999",
        b"OFFSET=3",
        b"\xff\xfe\x00",
        &[b'A'; 1400],
    ];
    for j in junk {
        sock.send(j).unwrap();
    }
    // A bounded flood of junk, then one real request.
    for i in 0..5000u32 {
        sock.send(format!("junk {i}").as_bytes()).unwrap();
    }
    let mut buf = [0u8; 64];
    assert!(sock.recv(&mut buf).is_err(), "garbage was answered");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.send(b"RESET:20").unwrap();
    let n = sock.recv(&mut buf).unwrap();
    let reply = std::str::from_utf8(&buf[..n]).unwrap();
    assert!(reply.starts_with("OFFSET="), "{reply}");
    assert!(
        n <= b"RESET:20".len() + 1,
        "the answer is no bigger than the request plus one byte"
    );
    assert!(pmu.wait_for_log("malformed", LIMIT).is_some());
}

#[test]
fn usage_errors_are_caught_before_any_traffic() {
    let out = reset("127.0.0.1", "5004", &["--command", "RESET:abc"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("not a RESET:n request"),
        "{}",
        out.stderr
    );
    let out = run(pmulab_cmd(["reset-pmu", "--loss", "1.5"]), LIMIT);
    assert_eq!(out.code(), 2);
    assert!(out.stderr.contains("not a probability"), "{}", out.stderr);
    let out = run(
        pmulab_cmd(["reset-pmu", "--family", "6", "--bind", "127.0.0.1"]),
        LIMIT,
    );
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("no --bind address of that family"),
        "{}",
        out.stderr
    );
}
