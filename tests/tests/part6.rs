//! Part 6 end to end: WebSocket between pmulab, websocket-client and the
//! `websockets` package, and hostile clients against ws-pmu.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use pmulab_core::stream::flood;
use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

fn ws_pmu(extra: &[&str]) -> Server {
    let mut cmd = pmulab_cmd(["ws-pmu", "--port", "0", "-v"]);
    cmd.args(extra);
    Server::start(cmd, false)
}

fn pdc_ws(server: &Server, command: &str, extra: &[&str]) -> Output {
    let mut cmd = pmulab_cmd(["pdc", "--ws", "127.0.0.1", &server.port(), command]);
    cmd.args(extra);
    run(cmd, LIMIT)
}

#[test]
fn short_messages_each_arrive_as_a_message() {
    let pmu = ws_pmu(&[]);
    let out = pdc_ws(&pmu, "CMD_short:0", &["--trace"]);
    assert_eq!(out.ok_lines(), expected_messages(15));
    // Binary messages, as the course's server sent, one frame each.
    assert_eq!(
        out.stderr.matches(": binary, FIN, ").count(),
        15,
        "{}",
        out.stderr
    );
    let url = format!("ws://127.0.0.1:{}/", pmu.port());
    let out = run(pmulab_cmd(["pdc", &url, "CMD_short:0"]), LIMIT);
    assert_eq!(out.ok_lines(), expected_messages(15));
}

#[test]
fn text_messages_with_the_text_option() {
    let pmu = ws_pmu(&["--text", "--count", "3"]);
    let out = pdc_ws(&pmu, "CMD_short:0", &["--trace"]);
    assert_eq!(out.ok_lines(), expected_messages(3));
    assert_eq!(
        out.stderr.matches(": text, FIN, 18 bytes").count(),
        3,
        "{}",
        out.stderr
    );
}

#[test]
fn floodme_is_one_message_whole_or_in_frames() {
    let pmu = ws_pmu(&[]);
    let out = pdc_ws(&pmu, "CMD_floodme", &["--trace"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // The same bytes as over TCP: the text, with no line added after it.
    let text = out.stdout.as_str();
    assert_eq!(text.len() as u64, flood::DEFAULT_FLOOD_BYTES);
    assert_eq!(flood::first_mismatch(0, text.as_bytes()), None);
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("trace: frame"))
            .count(),
        2,
        "one data frame and the close: {}",
        out.stderr
    );

    let fragmented = ws_pmu(&["--fragment", "5000"]);
    let out = pdc_ws(&fragmented, "CMD_floodme", &["--trace"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let text = out.stdout.as_str();
    assert_eq!(flood::first_mismatch(0, text.as_bytes()), None);
    assert_eq!(text.len() as u64, flood::DEFAULT_FLOOD_BYTES);
    let frames = (flood::DEFAULT_FLOOD_BYTES as usize).div_ceil(5000);
    assert!(
        out.stderr.contains("frame 1: binary, not FIN, 5000 bytes"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("continuation, not FIN").count(),
        frames - 2
    );
    assert_eq!(out.stderr.matches("continuation, FIN").count(), 1);
}

#[test]
fn a_student_websocket_client_against_ws_pmu() {
    let pmu = ws_pmu(&["--count", "17"]);
    let mut cmd = Command::new(python());
    cmd.arg(peer("student_ws_pdc.py"))
        .args(["127.0.0.1", &pmu.port(), "CMD_short:0"]);
    let out = run(cmd, LIMIT);
    assert_eq!(out.ok_lines(), expected_messages(17));
}

#[test]
fn pmulab_pdc_against_a_python_websockets_server_as_the_course_s() {
    let mut cmd = Command::new(python());
    cmd.arg(peer("course_ws_pmu.py")).args(["--count", "2"]);
    let pmu = Server::start(cmd, true);
    assert_eq!(
        pdc_ws(&pmu, "CMD_short:0", &[]).ok_lines(),
        expected_messages(2)
    );
    let out = pdc_ws(&pmu, "CMD_floodme", &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "O Romeo, Romeo! ".repeat(3584));
    let out = pdc_ws(&pmu, "CMD_other", &["--raw"]);
    assert_eq!(out.code(), 3, "{out:?}");
}

/// A raw connection that has completed the upgrade.
fn upgraded(server: &Server) -> TcpStream {
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Reads one frame: its first byte and its payload.
fn frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).unwrap();
            u64::from(u16::from_be_bytes(l))
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).unwrap();
            u64::from_be_bytes(l)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).unwrap();
    (h[0], payload)
}

/// Reads frames until a close frame; returns its code.
fn close_code(s: &mut TcpStream) -> u16 {
    loop {
        let (head, payload) = frame(s);
        if head & 0x0f == 0x8 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

/// A masked client frame.
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[test]
fn hostile_clients_get_the_rfc_close_codes_and_the_server_carries_on() {
    let pmu = ws_pmu(&["--count", "2", "--max-message", "100"]);
    // Not a WebSocket upgrade at all.
    let mut s = TcpStream::connect(pmu.addr).unwrap();
    s.write_all(b"hello there\r\n\r\n").unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(pmu.wait_for_log("bad WebSocket handshake", LIMIT).is_some());
    // A wrong path.
    let out = run(
        pmulab_cmd([
            "pdc",
            &format!("ws://127.0.0.1:{}/other", pmu.port()),
            "CMD_short:0",
        ]),
        LIMIT,
    );
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .contains("refused the WebSocket upgrade: HTTP 404"),
        "{}",
        out.stderr
    );
    // An unmasked client frame: protocol error, 1002.
    let mut s = upgraded(&pmu);
    s.write_all(&[0x81, 11]).unwrap();
    s.write_all(b"CMD_short:0").unwrap();
    assert_eq!(close_code(&mut s), 1002);
    // A message over the limit: 1009.
    let mut s = upgraded(&pmu);
    s.write_all(&masked(0x1, &[b'A'; 500])).unwrap();
    assert_eq!(close_code(&mut s), 1009);
    // Text that is not UTF-8: 1007.
    let mut s = upgraded(&pmu);
    s.write_all(&masked(0x1, b"CMD_\xff")).unwrap();
    assert_eq!(close_code(&mut s), 1007);
    // Garbage after the upgrade (reserved bits and opcode): 1002.
    let mut s = upgraded(&pmu);
    s.write_all(&[0xf3, 0x85, 9, 9, 9, 9, 1, 2, 3, 4, 5])
        .unwrap();
    assert_eq!(close_code(&mut s), 1002);
    // A bad command: one whole ERROR text message, without TCP's line
    // ending (a message is its own boundary), then 1008.
    let mut s = upgraded(&pmu);
    s.write_all(&masked(0x1, b"CMD_nope")).unwrap();
    let (head, payload) = frame(&mut s);
    assert_eq!(head, 0x81, "a final text frame");
    assert_eq!(
        String::from_utf8_lossy(&payload),
        "ERROR: unknown command, expected CMD_short:<seconds> or CMD_floodme"
    );
    assert_eq!(close_code(&mut s), 1008);
    let out = pdc_ws(&pmu, "CMD_nope", &["--raw"]);
    assert_eq!(out.code(), 3);
    assert!(
        out.stderr.contains("ERROR: unknown command"),
        "{}",
        out.stderr
    );
    // And the server still serves.
    assert_eq!(
        pdc_ws(&pmu, "CMD_short:0", &[]).ok_lines(),
        expected_messages(2)
    );
}

#[test]
fn an_abnormal_close_or_a_dropped_connection_is_an_error() {
    // A server that upgrades, then closes with 1011 (internal error).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        for close in [Some(1011u16), None] {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let key = request
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .trim()
                .to_string();
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            s.write_all(format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").as_bytes()).unwrap();
            // Read the client's command frame, so the drop below is a FIN, not a reset.
            let _ = s.read(&mut buf).unwrap();
            s.write_all(&[0x82, 18]).unwrap();
            s.write_all(b"This is PMU data 0").unwrap();
            if let Some(code) = close {
                s.write_all(&[0x88, 2]).unwrap();
                s.write_all(&code.to_be_bytes()).unwrap();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let out = run(
        pmulab_cmd(["pdc", "--ws", "127.0.0.1", &port, "CMD_short:0"]),
        LIMIT,
    );
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .contains("closed the WebSocket abnormally: code 1011"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "This is PMU data 0\n");
    let out = run(
        pmulab_cmd(["pdc", "--ws", "127.0.0.1", &port, "CMD_short:0"]),
        LIMIT,
    );
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("without a WebSocket close handshake"),
        "{}",
        out.stderr
    );
    server.join().unwrap();
}
