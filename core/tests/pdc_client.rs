//! The PDC client driver over the mock stack, against scripted PMUs.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use pmulab_core::stream::client::{
    PdcConfig, PdcError, PdcOutput, ReplyKind, Request, Summary, fetch,
};
use pmulab_core::stream::deframer::Piece;
use pmulab_core::time::Instant;
use support::{MockError, MockNet, Script};

#[derive(Default, Debug)]
struct Collect {
    messages: Vec<String>,
    current: Vec<u8>,
    raw: Vec<u8>,
    reads: Vec<(Instant, usize)>,
}

impl PdcOutput for Collect {
    type Error = std::convert::Infallible;
    fn read(&mut self, now: Instant, len: usize) -> Result<(), Self::Error> {
        self.reads.push((now, len));
        Ok(())
    }
    fn piece(&mut self, piece: Piece<'_>) -> Result<(), Self::Error> {
        match piece {
            Piece::Start { .. } => self.current.clear(),
            Piece::Text(t) => self.current.extend_from_slice(t),
            Piece::End => self
                .messages
                .push(String::from_utf8(self.current.clone()).unwrap()),
        }
        Ok(())
    }
    fn raw(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.raw.extend_from_slice(bytes);
        Ok(())
    }
}

fn pmu() -> SocketAddr {
    "192.0.2.10:5003".parse().unwrap()
}

fn run(
    net: &MockNet,
    kind: ReplyKind,
) -> (
    Result<Summary, PdcError<MockError, std::convert::Infallible>>,
    Collect,
) {
    let mut stack = net.clone();
    let mut out = Collect::default();
    let mut buf = [0u8; 64];
    let result = fetch(
        &mut stack,
        &net.clock,
        Request {
            remote: pmu(),
            command: b"CMD_short:1",
            kind,
        },
        &PdcConfig::default(),
        &mut buf,
        &mut out,
    );
    (result, out)
}

fn glued(n: u32) -> Vec<u8> {
    (0..n)
        .map(|i| format!("This is PMU data {i}"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn reads_glued_and_split_messages_in_order() {
    let stream = glued(15);
    for cut in [1usize, 7, 17, 18, 30, 100] {
        let net = MockNet::new();
        let chunks = stream
            .chunks(cut)
            .enumerate()
            .map(|(i, c)| (Duration::from_millis(i as u64), c.to_vec()))
            .collect();
        net.script(
            pmu(),
            Script {
                chunks,
                close_after: Some(Duration::from_secs(1)),
                reset: false,
            },
        );
        let (result, out) = run(&net, ReplyKind::Messages);
        let summary = result.unwrap();
        let expected: Vec<String> = (0..15).map(|i| format!("This is PMU data {i}")).collect();
        assert_eq!(out.messages, expected, "chunks of {cut}");
        assert_eq!(summary.messages, 15);
        assert_eq!(summary.bytes, stream.len() as u64);
        assert_eq!(net.sent_on_connection(0), b"CMD_short:1");
    }
}

#[test]
fn reads_arrive_when_the_pmu_sends_them() {
    let net = MockNet::new();
    net.script(
        pmu(),
        Script {
            chunks: (0..3)
                .map(|i| {
                    (
                        Duration::from_secs(i),
                        format!("This is PMU data {i}").into_bytes(),
                    )
                })
                .collect(),
            close_after: Some(Duration::from_secs(3)),
            reset: false,
        },
    );
    let (result, out) = run(&net, ReplyKind::Messages);
    result.unwrap();
    let times: Vec<Instant> = out.reads.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        times,
        [Instant::ZERO, Instant::from_secs(1), Instant::from_secs(2)]
    );
}

#[test]
fn raw_replies_pass_through_untouched() {
    let net = MockNet::new();
    let text: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    net.script(
        pmu(),
        Script {
            chunks: text
                .chunks(999)
                .map(|c| (Duration::ZERO, c.to_vec()))
                .collect(),
            close_after: Some(Duration::ZERO),
            reset: false,
        },
    );
    let (result, out) = run(&net, ReplyKind::Raw);
    assert_eq!(result.unwrap().bytes, 5000);
    assert_eq!(out.raw, text);
}

#[test]
fn an_error_reply_is_a_refusal_even_when_split() {
    let net = MockNet::new();
    net.script(
        pmu(),
        Script {
            chunks: vec![
                (Duration::ZERO, b"ERR".to_vec()),
                (Duration::ZERO, b"OR: unknown command\r\n".to_vec()),
            ],
            close_after: Some(Duration::ZERO),
            reset: false,
        },
    );
    let (result, out) = run(&net, ReplyKind::Messages);
    match result {
        Err(PdcError::Refused(line)) => assert_eq!(line.to_string(), "ERROR: unknown command"),
        other => panic!("{other:?}"),
    }
    assert!(out.messages.is_empty());
}

#[test]
fn short_replies_are_data() {
    let net = MockNet::new();
    net.script(
        pmu(),
        Script {
            chunks: vec![(Duration::ZERO, b"ERR".to_vec())],
            close_after: Some(Duration::ZERO),
            reset: false,
        },
    );
    let (result, out) = run(&net, ReplyKind::Messages);
    result.unwrap();
    assert_eq!(out.messages, ["ERR"]);
}

#[test]
fn silence_times_out_in_virtual_time() {
    let net = MockNet::new();
    net.script(
        pmu(),
        Script {
            chunks: vec![(Duration::ZERO, b"This is PMU data 0".to_vec())],
            close_after: None,
            reset: false,
        },
    );
    let (result, out) = run(&net, ReplyKind::Messages);
    assert!(matches!(result, Err(PdcError::IdleTimeout(d)) if d == Duration::from_secs(10)));
    assert!(
        out.messages.is_empty(),
        "the unfinished message is not printed as complete"
    );
    assert_eq!(
        pmulab_core::time::Clock::now(&net.clock),
        Instant::from_secs(10)
    );
}

#[test]
fn refused_and_reset_connections_are_errors() {
    let net = MockNet::new();
    let (result, _) = run(&net, ReplyKind::Messages);
    assert!(matches!(result, Err(PdcError::Connect(MockError::Refused))));

    let net = MockNet::new();
    net.script(
        pmu(),
        Script {
            chunks: vec![(Duration::ZERO, glued(3))],
            close_after: Some(Duration::from_millis(5)),
            reset: true,
        },
    );
    let (result, out) = run(&net, ReplyKind::Messages);
    assert!(
        matches!(result, Err(PdcError::Receive(MockError::Reset))),
        "{result:?}"
    );
    assert_eq!(
        out.messages.len(),
        2,
        "complete messages before the reset were delivered"
    );
}

#[test]
fn a_tls_alert_in_reply_says_the_pmu_speaks_tls() {
    let net = MockNet::new();
    net.script(
        pmu(),
        Script {
            chunks: vec![(
                Duration::ZERO,
                vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32],
            )],
            close_after: Some(Duration::ZERO),
            reset: false,
        },
    );
    let (result, out) = run(&net, ReplyKind::Messages);
    assert!(matches!(result, Err(PdcError::TlsReply)), "{result:?}");
    assert!(out.messages.is_empty());
}

#[test]
fn an_http_answer_says_the_pmu_speaks_websocket() {
    let net = MockNet::new();
    net.script(
        pmu(),
        Script {
            chunks: vec![(
                Duration::ZERO,
                b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n".to_vec(),
            )],
            close_after: Some(Duration::ZERO),
            reset: false,
        },
    );
    let (result, out) = run(&net, ReplyKind::Messages);
    assert!(matches!(result, Err(PdcError::HttpReply)), "{result:?}");
    assert!(out.messages.is_empty(), "HTTP printed as PMU data");
}

#[test]
fn a_stream_cut_inside_a_prefix_is_an_error_after_the_messages() {
    let net = MockNet::new();
    net.script(
        pmu(),
        Script {
            chunks: vec![(
                Duration::ZERO,
                b"This is PMU data 0This is PMU data 1This is PM".to_vec(),
            )],
            close_after: Some(Duration::ZERO),
            reset: false,
        },
    );
    let (result, out) = run(&net, ReplyKind::Messages);
    assert!(
        matches!(result, Err(PdcError::EndedMidMessage)),
        "{result:?}"
    );
    assert_eq!(
        out.messages,
        ["This is PMU data 0", "This is PMU data 1", "This is PM"]
    );
}
