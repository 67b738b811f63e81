//! The dissector on hand-made packets: exact, with no capture and no clock.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Dissector, Ports, Record};
use crate::analysis::packet::{Flags, Packet, Segment, Transport};

const PDC: &str = "127.0.0.1:40000";
const PMU: &str = "127.0.0.1:5003";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

struct Wire {
    d: Dissector,
    /// Next sequence number of each side (client, server); ISNs 1000 and 5000.
    seq: [u32; 2],
    t: u64,
}

fn ack_flags() -> Flags {
    Flags {
        ack: true,
        ..Flags::default()
    }
}

impl Wire {
    fn new() -> Wire {
        Wire {
            d: Dissector::new(Ports::lab()),
            seq: [1000, 5000],
            t: 0,
        }
    }

    fn tcp(&mut self, from_client: bool, flags: Flags, seq: u32, payload: &[u8]) -> Record {
        self.t += 1;
        let (src, dst, me, peer) = match from_client {
            true => (PDC, PMU, 0, 1),
            false => (PMU, PDC, 1, 0),
        };
        let packet = Packet {
            time: Duration::from_millis(self.t),
            src: addr(src),
            dst: addr(dst),
            ttl: 64,
            wire_len: 66 + payload.len(),
            transport: Transport::Tcp(Segment {
                seq,
                ack: self.seq[peer],
                flags,
                window: 512,
                window_scale: None,
                payload: payload.to_vec(),
            }),
        };
        let _ = me;
        self.d.handle_packet(&packet).expect("a lab packet")
    }

    /// Sends data from one side at its next sequence number.
    fn send(&mut self, from_client: bool, payload: &[u8]) -> Record {
        let me = usize::from(!from_client);
        let seq = self.seq[me];
        self.seq[me] = seq + payload.len() as u32;
        let flags = Flags {
            psh: true,
            ..ack_flags()
        };
        self.tcp(from_client, flags, seq, payload)
    }

    fn handshake(&mut self) {
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        let r = self.tcp(true, syn, 1000, b"");
        assert_eq!(r.meaning, ["handshake 1/3: SYN"]);
        self.seq[0] = 1001;
        let r = self.tcp(
            false,
            Flags {
                syn: true,
                ack: true,
                ..Flags::default()
            },
            5000,
            b"",
        );
        assert_eq!(r.meaning, ["handshake 2/3: SYN-ACK"]);
        self.seq[1] = 5001;
        let r = self.tcp(true, ack_flags(), 1001, b"");
        assert_eq!(r.meaning, ["handshake 3/3: ACK"]);
        let fields = r.tcp.expect("tcp fields");
        assert_eq!((fields.rel_seq, fields.rel_ack), (1, 1));
    }
}

fn messages(range: std::ops::Range<u32>) -> Vec<u8> {
    range
        .flat_map(|i| format!("This is PMU data {i}").into_bytes())
        .collect()
}

#[test]
fn glued_and_split_messages_are_named_segment_by_segment() {
    let mut w = Wire::new();
    w.handshake();
    assert_eq!(
        w.send(true, b"CMD_short:0").meaning,
        ["command CMD_short:0"]
    );
    let stream = messages(0..12);
    // Messages 0–9 are 18 bytes long, 10 and 11 are 19.
    // 0–2 whole, then 5 bytes of message 3 (inside the prefix).
    let cut1 = 18 * 3 + 5;
    // The rest of 3, 4–9, and message 10 up to inside its number.
    let cut2 = 180 + 18;
    let r = w.send(false, &stream[..cut1]);
    assert_eq!(
        r.meaning,
        ["messages 0–2, glued + start of message 3 (split in the prefix)"]
    );
    let r = w.send(false, &stream[cut1..cut2]);
    assert_eq!(
        r.meaning,
        ["end of message 3 + messages 4–9, glued + start of message 10 (split in the number)"]
    );
    // One byte in the middle of a message, then the rest.
    let r = w.send(false, &stream[cut2..cut2 + 1]);
    assert_eq!(r.meaning, ["end of message 10"]);
    let r = w.send(false, &stream[cut2 + 1..cut2 + 3]);
    assert_eq!(r.meaning, ["start of message 11 (split in the prefix)"]);
    let r = w.send(false, &stream[cut2 + 3..cut2 + 5]);
    assert_eq!(r.meaning, ["middle of message 11 (bytes 2–3)"]);
    let r = w.send(false, &stream[cut2 + 5..]);
    assert_eq!(r.meaning, ["end of message 11"]);
    let summary = w.d.summary().to_string();
    assert!(
        summary.contains("12 messages in 6 data segments (messages per segment: 4, 8, 1 ×4)"),
        "{summary}"
    );
}

#[test]
fn a_segment_sent_again_is_a_retransmission_of_the_same_messages() {
    let mut w = Wire::new();
    w.handshake();
    w.send(true, b"CMD_short:1");
    let first = messages(0..1);
    w.send(false, &first);
    let r = w.tcp(
        false,
        Flags {
            psh: true,
            ..ack_flags()
        },
        5001,
        &first,
    );
    assert_eq!(r.meaning, ["retransmission", "message 0"]);
    let summary = w.d.summary().to_string();
    assert!(summary.contains("retransmissions 1"), "{summary}");
    assert!(summary.contains("1 message in 1 data segment"), "{summary}");
}

#[test]
fn bytes_that_are_not_the_messages_are_shown_as_they_are() {
    let mut w = Wire::new();
    w.handshake();
    w.send(true, b"CMD_short:0");
    let r = w.send(false, b"This is PMU data 0This is PMU datum");
    assert!(
        r.meaning[0].starts_with("35 bytes, not the messages expected here"),
        "{:?}",
        r.meaning
    );
    let mut w = Wire::new();
    w.handshake();
    w.send(true, b"CMD_bogus");
    let r = w.send(false, b"ERROR: unknown command\n");
    assert_eq!(r.meaning, ["23 bytes: \"ERROR: unknown command⏎\""]);
}

#[test]
fn floodme_is_told_as_byte_ranges_and_checked_against_the_text() {
    let mut w = Wire::new();
    w.handshake();
    w.send(true, b"CMD_floodme\n");
    let mut text = vec![0u8; 70_000];
    pmulab_core::stream::flood::fill(0, &mut text);
    let r = w.send(false, &text[..65_483]);
    assert_eq!(r.meaning, ["floodme bytes 0–65,482"]);
    let mut wrong = text[65_483..].to_vec();
    wrong[10] ^= 1;
    let r = w.send(false, &wrong);
    assert_eq!(
        r.meaning,
        ["4517 bytes, not the floodme text from byte 65,493"]
    );
}

#[test]
fn teardown_and_pure_acks_are_counted_per_side() {
    let mut w = Wire::new();
    w.handshake();
    w.send(true, b"CMD_short:0");
    let r = w.tcp(false, ack_flags(), 5001, b"");
    assert_eq!(r.meaning, ["pure ACK"]);
    w.send(false, &messages(0..2));
    let fin = Flags {
        fin: true,
        ..ack_flags()
    };
    let r = w.tcp(false, fin, 5001 + 36, b"");
    assert_eq!(r.meaning, ["teardown: FIN from the PMU (it closes first)"]);
    w.seq[1] += 1;
    let r = w.tcp(true, fin, 1012, b"");
    assert_eq!(
        r.meaning,
        ["acknowledges the PMU's FIN", "teardown: FIN from the PDC"]
    );
    let summary = w.d.summary().to_string();
    assert!(summary.contains("the PMU closed first"), "{summary}");
    assert!(summary.contains("pure ACKs: PDC 0, PMU 1"), "{summary}");
}

fn udp(d: &mut Dissector, src: &str, dst: &str, ttl: u8, payload: &[u8]) -> Record {
    let packet = Packet {
        time: Duration::ZERO,
        src: addr(src),
        dst: addr(dst),
        ttl,
        wire_len: 42 + payload.len(),
        transport: Transport::Udp(payload.to_vec()),
    };
    d.handle_packet(&packet).expect("a lab packet")
}

#[test]
fn resets_are_numbered_and_a_request_without_answer_is_shown() {
    let mut d = Dissector::new(Ports::lab());
    let (c, s) = ("[::1]:40000", "[::1]:5004");
    assert_eq!(
        udp(&mut d, c, s, 64, b"RESET:20").meaning,
        ["RESET:20 request #1 over IPv6"]
    );
    assert_eq!(
        udp(&mut d, c, s, 64, b"RESET:20").meaning,
        ["RESET:20 request #2 over IPv6 — a retransmission: #1 got no answer (lost, or not yet)"]
    );
    assert_eq!(
        udp(&mut d, s, c, 64, b"OFFSET=7").meaning,
        ["OFFSET=7: the answer to request #2"]
    );
    let summary = d.summary().to_string();
    assert!(
        summary.contains("2 requests, 1 answer (OFFSET=7); 1 without an answer before the next"),
        "{summary}"
    );
}

#[test]
fn multicast_datagrams_show_group_ttl_id_and_text() {
    let mut d = Dissector::new(Ports::lab());
    let r = udp(
        &mut d,
        "127.0.0.1:39000",
        "224.1.1.1:10505",
        10,
        b"swcmTVO Romeo",
    );
    assert_eq!(
        r.meaning,
        [
            "multicast to group 224.1.1.1 from 127.0.0.1:39000, TTL 10: id swcmTV, text 7 bytes: \"O Romeo\""
        ]
    );
    let summary = d.summary().to_string();
    assert!(
        summary.contains("1 datagram; TTL 10; ids swcmTV"),
        "{summary}"
    );
}

#[test]
fn websocket_frames_make_messages_and_close_codes_are_read() {
    let mut w = Wire::new();
    w.d = Dissector::new(Ports::only(&[5003]));
    w.handshake();
    let r = w.send(
        true,
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(
        r.meaning[0].starts_with("HTTP upgrade request: GET /; Upgrade: websocket"),
        "{:?}",
        r.meaning
    );
    let r = w.send(
        false,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    assert_eq!(
        r.meaning,
        [
            "HTTP 101 Switching Protocols; Upgrade: websocket; Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        ]
    );
    // A message in two frames (text, not FIN; continuation, FIN), then a close 1000.
    let mut frames = vec![0x01, 4];
    frames.extend_from_slice(b"This");
    frames.extend_from_slice(&[0x80, 3]);
    frames.extend_from_slice(b" is");
    frames.extend_from_slice(&[0x88, 2, 0x03, 0xe8]);
    let r = w.send(false, &frames);
    assert_eq!(r.ws_opcodes, [1, 0, 8]);
    assert_eq!(
        r.meaning,
        [
            "frame: text, not FIN, unmasked, 4 bytes",
            "frame: continuation, FIN, unmasked, 3 bytes; ends a message of 2 frames, 7 bytes",
            "frame: close, FIN, unmasked, 2 bytes, close code 1000 (normal)"
        ]
    );
    let summary = w.d.summary().to_string();
    assert!(
        summary.contains(
            "PMU: 1 message in 3 frames (0 masked); frames per message: 2; close code 1000"
        ),
        "{summary}"
    );
}
