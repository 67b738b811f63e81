//! Part 2 end to end: pmulab's PDC and PMU as real processes on loopback,
//! and against independent Python peers.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use pmulab_core::stream::flood;
use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(30);

fn pdc(server: &Server, command: &str) -> Output {
    run(
        pmulab_cmd(["pdc", "127.0.0.1", &server.port(), command]),
        LIMIT,
    )
}

#[test]
fn pdc_gets_every_message_of_short_0_on_its_own_line() {
    let pmu = start_pmu(&[]);
    let out = pdc(&pmu, "CMD_short:0");
    assert_eq!(out.ok_lines(), expected_messages(15));
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn pdc_gets_the_floodme_text_byte_exact() {
    let pmu = start_pmu(&[]);
    let out = pdc(&pmu, "CMD_floodme");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.len() as u64, flood::DEFAULT_FLOOD_BYTES);
    assert_eq!(flood::first_mismatch(0, out.stdout.as_bytes()), None);
}

#[test]
fn a_random_count_varies_and_the_pdc_follows() {
    let pmu = start_pmu(&["--count", "random"]);
    let mut counts = BTreeSet::new();
    for _ in 0..12 {
        let out = pdc(&pmu, "CMD_short:0");
        let lines = out.ok_lines();
        assert!((2..=17).contains(&lines.len()), "{lines:?}");
        assert_eq!(lines, expected_messages(lines.len() as u32));
        counts.insert(lines.len());
    }
    assert!(counts.len() >= 2, "12 sessions all had n = {counts:?}");
}

#[test]
fn pdc_against_a_python_pmu_written_as_the_course_s() {
    let mut cmd = std::process::Command::new(python());
    cmd.arg(peer("course_pmu.py")).args(["--count", "17"]);
    let pmu = Server::start(cmd, true);
    let out = pdc(&pmu, "CMD_short:0");
    assert_eq!(out.ok_lines(), expected_messages(17));
    let out = pdc(&pmu, "CMD_floodme");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "Act I, scene 1. ".repeat(3584));
    let out = run(
        pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_nope", "--raw"]),
        LIMIT,
    );
    assert_eq!(out.code(), 3, "{out:?}");
    assert!(
        out.stderr.contains("ERROR: unknown command"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_python_student_pdc_against_pmulab_pmu() {
    let pmu = start_pmu(&["--count", "17"]);
    let student = |command: &str| {
        let mut cmd = std::process::Command::new(python());
        cmd.arg(peer("student_pdc.py"))
            .args(["127.0.0.1", &pmu.port(), command]);
        run(cmd, LIMIT)
    };
    assert_eq!(student("CMD_short:0").ok_lines(), expected_messages(17));
    let out = student("CMD_floodme");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.len() as u64, flood::DEFAULT_FLOOD_BYTES);
    assert_eq!(flood::first_mismatch(0, out.stdout.as_bytes()), None);
}

#[test]
fn short_1_messages_arrive_about_a_second_apart() {
    let pmu = start_pmu(&["--count", "3"]);
    let mut child = pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_short:1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut arrivals = Vec::new();
    // Without --trace the PDC shows each message's text as soon as it arrives;
    // read byte-wise and stamp the moment each message's first byte shows.
    let mut stdout = child.stdout.take().unwrap();
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 {
        if byte[0] == b'T' {
            arrivals.push(start.elapsed());
        }
        text.push(byte[0]);
    }
    assert!(wait_with_limit(&mut child, LIMIT).success());
    assert_eq!(
        String::from_utf8(text).unwrap().lines().collect::<Vec<_>>(),
        expected_messages(3)
    );
    assert_eq!(arrivals.len(), 3);
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        // A PMU cannot send early; only the lower bound is a fact worth asserting.
        assert!(
            gap >= Duration::from_millis(900),
            "gap {gap:?} in {arrivals:?}"
        );
    }
}

#[test]
#[allow(clippy::zombie_processes)] // Reaped by wait4 to read its peak memory.
fn a_256_mib_flood_streams_byte_exact_in_flat_memory() {
    const SIZE: u64 = 256 << 20;
    let pmu = start_pmu(&["--flood-bytes", &SIZE.to_string()]);
    let mut child = pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_floodme"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert_eq!(
            flood::first_mismatch(offset, &buf[..n]),
            None,
            "near byte {offset}"
        );
        offset += n as u64;
    }
    let (code, peak_kib) = wait_with_peak_rss(&child);
    assert_eq!(code, 0);
    assert_eq!(offset, SIZE);
    assert!(peak_kib < 16 * 1024, "PDC peak RSS {peak_kib} KiB");
}

/// The PDC reads a flood in bulk (it is woken per 256 KiB, not per
/// segment), yet a flood that pauses is shown up to where it paused: the
/// server here sends the rest only once the PDC has printed the first part.
#[test]
fn a_flood_that_pauses_is_printed_up_to_the_pause() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let (go_on, resume) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut command = [0u8; 64];
        let _ = conn.read(&mut command).unwrap();
        let mut text = vec![0u8; 3000];
        flood::fill(0, &mut text);
        conn.write_all(&text[..1000]).unwrap();
        // Without a word from the test, the rest never comes.
        if resume.recv_timeout(LIMIT).is_ok() {
            conn.write_all(&text[1000..]).unwrap();
        }
    });
    let mut child = pmulab_cmd(["pdc", "127.0.0.1", &port, "CMD_floodme"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < 1000 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the PDC ended after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), 1000, "more than the first part before the pause");
    go_on.send(()).unwrap();
    stdout.read_to_end(&mut got).unwrap();
    server.join().unwrap();
    assert_eq!(wait_with_limit(&mut child, LIMIT).code(), Some(0));
    assert_eq!(got.len(), 3000);
    assert_eq!(flood::first_mismatch(0, &got), None);
}

#[test]
fn hostile_clients_do_not_disturb_a_well_behaved_one() {
    let pmu = start_pmu(&["--count", "5", "--command-timeout", "1"]);
    let addr = pmu.addr;
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"CMD_sh").unwrap();
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage
        .write_all(b"\x00\xff\x13GET / HTTP/1.1\r\n\r\n")
        .unwrap();
    let _silent = TcpStream::connect(addr).unwrap();
    let mut oversized = TcpStream::connect(addr).unwrap();
    oversized.write_all(&[b'A'; 10_000]).unwrap();

    let out = pdc(&pmu, "CMD_short:0");
    assert_eq!(out.ok_lines(), expected_messages(5));

    let reply = |s: &mut TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut text = String::new();
        let _ = BufReader::new(s).read_line(&mut text);
        text
    };
    assert!(reply(&mut garbage).starts_with("ERROR: "));
    assert!(reply(&mut oversized).starts_with("ERROR: "));
    assert_eq!(reply(&mut half), "ERROR: no complete command in time\n");
    // And the server still serves after all of that.
    assert_eq!(pdc(&pmu, "CMD_short:0").ok_lines(), expected_messages(5));
}

#[test]
fn a_command_sent_in_two_pieces_is_served() {
    let pmu = start_pmu(&["--count", "4"]);
    let mut s = TcpStream::connect(pmu.addr).unwrap();
    s.write_all(b"CMD_sh").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    s.write_all(b"ort:0\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, expected_messages(4).concat());
}

#[test]
fn a_full_server_turns_new_clients_away_clearly() {
    let pmu = start_pmu(&["--count", "3", "--max-sessions", "2"]);
    let mut holders: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(pmu.addr).unwrap();
            s.write_all(b"CMD_short:1").unwrap();
            s
        })
        .collect();
    // Both sessions are running once each has had its first message.
    for s in &mut holders {
        let mut first = [0u8; 18];
        s.read_exact(&mut first).unwrap();
    }
    let out = pdc(&pmu, "CMD_short:0");
    assert_eq!(out.code(), 3, "{out:?}");
    assert!(out.stderr.contains("server busy"), "{}", out.stderr);
    for s in &mut holders {
        let mut rest = String::new();
        s.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "This is PMU data 1This is PMU data 2");
    }
}

#[test]
fn pdc_reports_failures_clearly_with_distinct_exit_codes() {
    // Nothing listens: exit 1 and the reason.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let out = run(
        pmulab_cmd(["pdc", "127.0.0.1", &port, "CMD_short:0"]),
        LIMIT,
    );
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    // A server that accepts and says nothing: the idle timeout fires.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = mute.local_addr().unwrap().port().to_string();
    let out = run(
        pmulab_cmd(["pdc", "127.0.0.1", &port, "CMD_short:0", "--timeout", "0.5"]),
        LIMIT,
    );
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("sent nothing for 0.5 s"),
        "{}",
        out.stderr
    );

    // A bad command is caught before connecting.
    let out = run(pmulab_cmd(["pdc", "127.0.0.1", "1", "CMD_short:-1"]), LIMIT);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("interval must be a decimal number"),
        "{}",
        out.stderr
    );

    // A server that resets mid-stream.
    let rude = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = rude.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let (mut s, _) = rude.accept().unwrap();
        let mut cmd = [0u8; 11];
        s.read_exact(&mut cmd).unwrap();
        s.write_all(b"This is PMU data 0This is PMU").unwrap();
        // Linger 0 turns the close into a reset.
        reset_on_close(&s);
    });
    let out = run(
        pmulab_cmd(["pdc", "127.0.0.1", &port, "CMD_short:0"]),
        LIMIT,
    );
    server.join().unwrap();
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("reset"), "{}", out.stderr);
}

#[test]
fn an_idle_pmu_and_a_waiting_pdc_use_almost_no_cpu() {
    let pmu = start_pmu(&["--count", "2"]);
    let before = cpu_time(pmu.child.id());
    let mut client = pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_short:2"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let client_cpu = cpu_time(client.id());
    assert!(wait_with_limit(&mut client, LIMIT).success());
    let server_cpu = cpu_time(pmu.child.id()) - before;
    // A spinning loop would burn the whole 1.5 s; waiting in poll(2) burns ~nothing.
    assert!(
        client_cpu < Duration::from_millis(150),
        "PDC used {client_cpu:?}"
    );
    assert!(
        server_cpu < Duration::from_millis(150),
        "PMU used {server_cpu:?}"
    );
}

#[test]
fn the_pmu_logs_one_line_per_session_event_with_v() {
    let pmu = start_pmu(&["--count", "2"]);
    pdc(&pmu, "CMD_short:0").ok_lines();
    assert!(pmu.wait_for_log("CMD_short:0: 2 messages", LIMIT).is_some());
    assert!(pmu.wait_for_log("done, 36 bytes sent", LIMIT).is_some());
}
