//! Part 4 end to end: multicast between real processes, pinned to the
//! loopback interface (127.0.0.1 for membership and sending), so nothing
//! leaves the machine. Each test uses its own group and port.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(30);

/// A free UDP port and an admin-scoped group of this test's own.
fn group_and_port(n: u8) -> (String, String) {
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    (format!("239.255.77.{n}"), port.to_string())
}

fn receiver(group: &str, port: &str, extra: &[&str]) -> Server {
    let mut cmd = pmulab_cmd(["receiver", group, port]);
    cmd.args(extra);
    Server::start_keeping_stdout(cmd)
}

fn python_receiver(group: &str, port: &str, count: usize) -> Server {
    let mut cmd = Command::new(python());
    cmd.arg(peer("student_mc_receiver.py"))
        .args([group, port, &count.to_string()]);
    Server::start_keeping_stdout(cmd)
}

fn with_input(cmd: Command, input: &str) -> Output {
    run_with_input(cmd, Some(input), LIMIT)
}

const PLAY: &str = include_str!("../../host/src/cmd/bot_text.txt");

#[test]
fn the_bot_reaches_two_receivers_on_one_machine() {
    let (group, port) = group_and_port(1);
    let lines = PLAY.lines().count();
    let count = (lines + 1).to_string();
    let mut a = receiver(&group, &port, &["--max-messages", &count]);
    let mut b = receiver(&group, &port, &["--max-messages", &count, "--plain"]);
    let out = run(
        pmulab_cmd(["bot", &group, &port, "builtin", "0.01", "--once"]),
        LIMIT,
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let (ok_a, text_a) = a.finish(LIMIT);
    let (ok_b, text_b) = b.finish(LIMIT);
    assert!(ok_a && ok_b);
    let expected: Vec<String> = PLAY
        .lines()
        .map(|l| format!("swcmTV: {}", l.trim_end()))
        .chain(["swcmTV: RWND".to_string()])
        .collect();
    assert_eq!(text_a.lines().collect::<Vec<_>>(), expected);
    let plain: Vec<&str> = expected.iter().map(|l| &l["swcmTV: ".len()..]).collect();
    assert_eq!(text_b.lines().collect::<Vec<_>>(), plain);
}

#[test]
fn the_bot_repeats_after_the_rewind_marker() {
    let (group, port) = group_and_port(2);
    let mut r = receiver(&group, &port, &["--max-messages", "7"]);
    let mut bot = pmulab_cmd(["bot", &group, &port, "-", "0.02"]);
    bot.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut bot = bot.spawn().unwrap();
    bot.stdin
        .take()
        .unwrap()
        .write_all(b"first  \n\nsecond\n")
        .unwrap();
    let (ok, text) = r.finish(LIMIT);
    let _ = bot.kill();
    let _ = bot.wait();
    assert!(ok);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "swcmTV: first",
            "swcmTV: ",
            "swcmTV: second",
            "swcmTV: RWND",
            "swcmTV: first",
            "swcmTV: ",
            "swcmTV: second"
        ]
    );
}

#[test]
fn sender_to_receiver_with_the_students_id() {
    let (group, port) = group_and_port(3);
    let mut r = receiver(&group, &port, &["--max-messages", "3"]);
    let out = with_input(
        pmulab_cmd(["sender", &group, &port, "123456"]),
        "Hello, group\n\nÀ bientôt ⚡\r\n",
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let (ok, text) = r.finish(LIMIT);
    assert!(ok);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["123456: Hello, group", "123456: ", "123456: À bientôt ⚡"]
    );
}

#[test]
fn pmulab_and_python_peers_interoperate_both_ways() {
    // Python sender → pmulab receiver.
    let (group, port) = group_and_port(4);
    let mut r = receiver(&group, &port, &["--max-messages", "2"]);
    let mut cmd = Command::new(python());
    cmd.arg(peer("student_mc_sender.py"))
        .args([&group, &port, "654321"]);
    let out = with_input(cmd, "from python\nsecond line\n");
    assert_eq!(out.code(), 0, "{out:?}");
    let (ok, text) = r.finish(LIMIT);
    assert!(ok);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["654321: from python", "654321: second line"]
    );

    // pmulab sender and bot → Python receiver.
    let (group, port) = group_and_port(5);
    let mut py = python_receiver(&group, &port, 3);
    let out = with_input(
        pmulab_cmd(["sender", &group, &port, "123456"]),
        "from pmulab\n",
    );
    assert_eq!(out.code(), 0);
    let out = with_input(
        pmulab_cmd(["bot", &group, &port, "-", "0.01", "--once"]),
        "to be\n",
    );
    assert_eq!(out.code(), 0);
    let (ok, text) = py.finish(LIMIT);
    assert!(ok);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["123456: from pmulab", "swcmTV: to be", "swcmTV: RWND"]
    );
}

#[test]
fn malformed_datagrams_are_reported_and_the_receiver_keeps_listening() {
    let (group, port) = group_and_port(6);
    let mut r = receiver(&group, &port, &["--max-messages", "2"]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&sock)
        .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
        .unwrap();
    let to = format!("{group}:{port}");
    for junk in [&b"abc"[..], b"", b"123456bad \xff utf8"] {
        sock.send_to(junk, &to).unwrap();
    }
    sock.send_to(b"123456esc\x1b[2Jand\nnewline", &to).unwrap();
    sock.send_to(b"123456fine", &to).unwrap();
    assert!(
        r.wait_for_log("shorter than the 6-byte identifier", LIMIT)
            .is_some()
    );
    assert!(r.wait_for_log("not UTF-8", LIMIT).is_some());
    let (ok, text) = r.finish(LIMIT);
    assert!(ok);
    // Control characters from the network are shown, not obeyed: one message, one line.
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["123456: esc\\u{1b}[2Jand\\nnewline", "123456: fine"]
    );
}

#[test]
fn bad_ids_long_lines_and_unicast_groups_get_clear_errors() {
    let (group, port) = group_and_port(7);
    for bad in ["12345", "1234567", "ééé4"] {
        let out = with_input(pmulab_cmd(["sender", &group, &port, bad]), "x\n");
        assert_eq!(out.code(), 2, "{bad}: {out:?}");
        assert!(
            out.stderr.contains("the identifier must be 6 bytes"),
            "{}",
            out.stderr
        );
    }
    let mut r = receiver(&group, &port, &["--max-messages", "1"]);
    let long = "x".repeat(70_000);
    let out = with_input(
        pmulab_cmd(["sender", &group, &port, "123456"]),
        &format!("{long}\nafter\n"),
    );
    assert_eq!(out.code(), 0);
    assert!(
        out.stderr
            .contains("line 1 is 70000 bytes; at most 65501 fit in one datagram: not sent"),
        "{}",
        out.stderr
    );
    let (ok, text) = r.finish(LIMIT);
    assert!(ok);
    assert_eq!(text.trim_end(), "123456: after");

    let out = run(pmulab_cmd(["receiver", "10.1.2.3", &port]), LIMIT);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("is not a multicast group"),
        "{}",
        out.stderr
    );
}

#[test]
fn datagrams_leave_from_the_loopback_address_by_default() {
    let (group, port) = group_and_port(8);
    let mut r = receiver(&group, &port, &["--max-messages", "2", "--show-address"]);
    assert_eq!(
        with_input(pmulab_cmd(["sender", &group, &port, "123456"]), "a\n").code(),
        0
    );
    assert_eq!(
        with_input(
            pmulab_cmd(["bot", &group, &port, "-", "0.01", "--once"]),
            ""
        )
        .code(),
        0
    );
    let (ok, text) = r.finish(LIMIT);
    assert!(ok);
    for line in text.lines() {
        assert!(line.starts_with("127.0.0.1:"), "{line}");
    }
}
