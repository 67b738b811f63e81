//! Part 1 end to end: the socket-basics programs on loopback.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

use std::time::Duration;

use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn udp_sender_sends_one_datagram_and_says_so() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    let out = run(
        pmulab_cmd(["udp-sender", "127.0.0.1", &port, "hello PMU"]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), ["Message sent"]);
    let mut buf = [0u8; 64];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello PMU");
}

#[test]
fn udp_receiver_prints_sender_and_text() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    drop(socket);
    let mut receiver = pmulab_cmd([
        "udp-receiver",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--max-messages",
        "1",
    ]);
    receiver.stdout(std::process::Stdio::piped());
    let child = std::thread::spawn(move || run(receiver, LIMIT));
    // Send until the receiver is up and exits; it may not be bound yet.
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let from = sender.local_addr().unwrap();
    for _ in 0..100 {
        sender
            .send_to("grüße ⚡".as_bytes(), ("127.0.0.1", port))
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        if child.is_finished() {
            break;
        }
    }
    let out = child.join().unwrap();
    assert_eq!(out.ok_lines(), [format!("from {from}: grüße ⚡")]);
}

#[test]
fn echo_client_reads_the_echo_back_in_16_byte_pieces() {
    let server = Server::start(
        pmulab_cmd([
            "echo-server",
            "0",
            "--bind",
            "127.0.0.1",
            "--max-connections",
            "1",
        ]),
        false,
    );
    let sentence = "The PMU measures the grid; the PDC concentrates the data.";
    let out = run(
        pmulab_cmd(["echo-client", "127.0.0.1", &server.port(), sentence]),
        LIMIT,
    );
    let lines = out.ok_lines();
    let mut echoed = String::new();
    for line in &lines {
        let piece = line.strip_prefix("received: ").expect("piece line");
        let piece: String = piece.trim_matches('"').to_string();
        assert!(piece.len() <= 16, "{piece:?}");
        echoed += &piece;
    }
    assert_eq!(echoed, sentence);
    assert!(lines.len() >= sentence.len().div_ceil(16));
}

#[test]
fn echo_server_survives_a_client_that_resets() {
    let server = Server::start(
        pmulab_cmd([
            "echo-server",
            "0",
            "--bind",
            "127.0.0.1",
            "--max-connections",
            "2",
        ]),
        false,
    );
    {
        let s = std::net::TcpStream::connect(server.addr).unwrap();
        drop(s);
    }
    let out = run(
        pmulab_cmd(["echo-client", "127.0.0.1", &server.port(), "still here"]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), ["received: \"still here\""]);
}
