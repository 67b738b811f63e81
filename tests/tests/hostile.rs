//! Hostile clients against the TCP PMU: trickled commands, connections that
//! never send, resets in the middle of a flood, a burst of connections at
//! once. Throughout, a well-behaved PDC keeps being served and the
//! server's memory stays bounded. (TLS garbage, WebSocket violations and UDP
//! floods have their own tests in part5.rs, part6.rs and part3.rs.)
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

fn well_behaved(pmu: &Server) {
    let out = run(
        pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_short:0"]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(3));
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_command_trickled_byte_by_byte_is_served() {
    let pmu = start_pmu(&["--count", "3", "--flood-bytes", "1000"]);
    let mut s = TcpStream::connect(pmu.addr).unwrap();
    s.set_nodelay(true).unwrap();
    // Every prefix of "CMD_floodme" is incomplete, so the server waits for each byte.
    for b in b"CMD_floodme" {
        s.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // Meanwhile, others are served.
        if *b == b'_' {
            well_behaved(&pmu);
        }
    }
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    assert_eq!(reply.len(), 1000);
    assert_eq!(pmulab_core::flood::first_mismatch(0, &reply), None);
}

#[test]
fn resets_and_half_closes_in_the_middle_of_floods() {
    let pmu = start_pmu(&["--count", "3", "--flood-bytes", "50000000"]);
    for i in 0..20 {
        let mut s = TcpStream::connect(pmu.addr).unwrap();
        s.write_all(b"CMD_floodme").unwrap();
        let mut some = [0u8; 10_000];
        s.read_exact(&mut some).unwrap();
        if i % 2 == 0 {
            // Linger 0: the close is a reset, mid-flood.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid socket and a correctly sized option.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&s),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    size_of::<libc::linger>() as libc::socklen_t,
                )
            };
        } else {
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }
        drop(s);
    }
    well_behaved(&pmu);
    assert!(
        pmu.wait_for_log("aborted", LIMIT).is_some(),
        "the server says what it dropped"
    );
    assert!(rss_kib(pmu.child.id()) < 64 * 1024, "memory stays bounded");
}

/// Lets this process (and the servers it starts) hold a few thousand sockets.
fn raise_open_file_limit() {
    // SAFETY: plain getrlimit/setrlimit on this process, with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < 8192 {
            limit.rlim_cur = limit.rlim_max.min(8192);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[test]
fn a_burst_of_connections_at_once_is_answered_or_refused_cleanly() {
    raise_open_file_limit();
    let pmu = start_pmu(&[
        "--count",
        "3",
        "--max-sessions",
        "256",
        "--command-timeout",
        "2",
    ]);
    // 1500 connections at once, most of which never send a command.
    let idle: Vec<TcpStream> = (0..1500)
        .map(|_| TcpStream::connect(pmu.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut busy = 0;
    let mut waiting = 0;
    for mut s in idle.into_iter().take(400) {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut line = String::new();
        match s.read_to_string(&mut line) {
            Ok(_) if line.starts_with("ERROR: server busy") => busy += 1,
            _ => waiting += 1,
        }
    }
    assert!(
        busy > 0,
        "beyond --max-sessions, connections are told the server is busy"
    );
    assert!(
        waiting > 0,
        "the first ones got a session slot and wait for their command"
    );
    // After the command timeout frees the slots, a well-behaved client is served.
    std::thread::sleep(Duration::from_millis(2500));
    well_behaved(&pmu);
    assert!(rss_kib(pmu.child.id()) < 64 * 1024, "memory stays bounded");
}

#[test]
fn silent_clients_of_the_tls_and_websocket_pmus_are_timed_out() {
    // TLS: a TCP connection that never starts its handshake.
    let dir = std::env::temp_dir().join(format!("pmulab-hostile-tls-{}", std::process::id()));
    let pki = LocalhostPki::new(&dir);
    let tls = Server::start(
        pmulab_cmd([
            "secure-pmu",
            "0",
            &pki.crt,
            &pki.key,
            "--command-timeout",
            "1",
        ]),
        false,
    );
    let mut silent = TcpStream::connect(tls.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    // The server gives up on it: end of stream, or a reset.
    let _ = silent.read_to_end(&mut rest);
    assert!(
        tls.wait_for_log("never completed its handshake", LIMIT)
            .is_some()
    );
    let out = run(
        pmulab_cmd(["secure-pdc", "CMD_short:0", &pki.ca, "--port", &tls.port()]),
        LIMIT,
    );
    assert_eq!(out.ok_lines().len(), 15);

    // WebSocket: upgraded, then silent.
    let ws = Server::start(
        pmulab_cmd(["ws-pmu", "--port", "0", "--command-timeout", "1"]),
        false,
    );
    let mut s = TcpStream::connect(ws.addr).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("ERROR: no complete command in time"),
        "{text}"
    );
    let url = format!("ws://127.0.0.1:{}/", ws.port());
    assert_eq!(
        run(pmulab_cmd(["pdc", &url, "CMD_short:0"]), LIMIT)
            .ok_lines()
            .len(),
        15
    );
    let _ = std::fs::remove_dir_all(&dir);
}
