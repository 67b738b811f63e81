//! Fuzzing on stable Rust: every parser and machine in core is fed seeded
//! random and mutated input for a bounded time, and checked for panics,
//! unbounded growth and its properties. Seeds are printed on failure, so a
//! failure replays exactly (`PMULAB_FUZZ_SECONDS` sets the time per target).
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant as Wall};

use pmulab_core::multicast::bot::{Bot, BotOutput};
use pmulab_core::multicast::{Frame, Id};
use pmulab_core::reset::responder::{Decision, FamilySchedule, ResponderConfig, decide};
use pmulab_core::reset::retry::{ClientConfig, Received, ResetClient, Targets};
use pmulab_core::reset::{Offset, Reset};
use pmulab_core::rng::{Random, SplitMix64};
use pmulab_core::stream::client::{PdcConfig, PdcError, PdcOutput, ReplyKind, Request, fetch};
use pmulab_core::stream::command::{Assembler, Assembly, Command};
use pmulab_core::stream::deframer::{Deframer, Piece};
use pmulab_core::stream::session::{Due, MessageCount, Session, SessionConfig};
use pmulab_core::time::Instant;
use support::{MockNet, Script};

/// Runs `case(seed)` for fresh seeds until the time budget is spent.
fn fuzz(name: &str, mut case: impl FnMut(&mut SplitMix64)) {
    let budget = std::env::var("PMULAB_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_millis(700), Duration::from_secs_f64);
    let start = Wall::now();
    let mut seed = 0u64;
    while start.elapsed() < budget {
        let mut rng = SplitMix64::new(seed);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&mut rng)));
        assert!(result.is_ok(), "{name}: seed {seed} failed");
        seed += 1;
    }
    assert!(seed > 10, "{name}: ran only {seed} cases");
}

/// Random bytes, biased towards the protocol's own vocabulary so that the
/// interesting paths are reached, not only "unknown command".
fn bytes(rng: &mut SplitMix64, max: usize) -> Vec<u8> {
    const WORDS: &[&[u8]] = &[
        b"CMD_short:",
        b"CMD_floodme",
        b"0",
        b"1",
        b".",
        b"5",
        b"\r",
        b"\n",
        b"RESET:",
        b"OFFSET=",
        b"20",
        b"This is PMU data ",
        b"swcmTV",
        b"ERROR:",
        b" ",
        b"\xff",
        b"\xe2\x9a\xa1",
        b"T",
        b"99999999999",
    ];
    let len = rng.uniform_inclusive(max as u64) as usize;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        if rng.next_u64().is_multiple_of(3) {
            out.push(rng.next_u64() as u8);
        } else {
            out.extend_from_slice(WORDS[rng.uniform_inclusive(WORDS.len() as u64 - 1) as usize]);
        }
    }
    out.truncate(len);
    out
}

/// Splits `data` at random points.
fn splits<'a>(rng: &mut SplitMix64, data: &'a [u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let take = 1 + rng.uniform_inclusive(rest.len() as u64 - 1) as usize;
        out.push(&rest[..take]);
        rest = &rest[take..];
    }
    out
}

#[test]
fn command_codec_and_assembler() {
    fuzz("command", |rng| {
        let input = bytes(rng, 80);
        let whole = Command::parse(&input);
        let mut a = Assembler::new();
        for piece in splits(rng, &input) {
            match a.push(piece) {
                Assembly::Incomplete => {}
                Assembly::Complete(c) => {
                    // What completes is always a real command that formats back to itself.
                    assert_eq!(Command::parse(c.to_string().as_bytes()), Ok(c));
                    break;
                }
                Assembly::Invalid(_) => break,
            }
        }
        let _ = a.finish();
        if let Ok(c) = whole {
            assert_eq!(Command::parse(c.to_string().as_bytes()), Ok(c));
        }
        // Any interval up to 60 s round-trips through its wire form.
        let interval = Duration::from_nanos(rng.uniform_inclusive(60_000_000_000));
        let c = Command::Short { interval };
        assert_eq!(Command::parse(c.to_string().as_bytes()), Ok(c));
    });
}

fn deframe(reads: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut d = Deframer::new();
    let mut messages = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    let mut on = |p: Piece<'_>| match p {
        Piece::Start { .. } => {
            assert!(open.is_none());
            open = Some(Vec::new());
        }
        Piece::Text(t) => open.as_mut().unwrap().extend_from_slice(t),
        Piece::End => messages.push(open.take().unwrap()),
    };
    for r in reads {
        d.feed(r, &mut on);
    }
    d.finish(&mut on);
    assert!(open.is_none());
    messages
}

#[test]
fn deframer_gives_the_same_messages_however_the_stream_is_cut() {
    fuzz("deframer", |rng| {
        let stream = bytes(rng, 300);
        let one = deframe(&[&stream]);
        let cut = deframe(&splits(rng, &stream));
        assert_eq!(one, cut);
        let total: usize = one.iter().map(Vec::len).sum();
        assert!(total <= stream.len(), "the deframer never makes bytes up");
    });
}

#[test]
fn reset_codec_client_and_responder() {
    fuzz("reset", |rng| {
        let datagram = bytes(rng, 24);
        let _ = Offset::parse(&datagram);
        let seconds = rng.uniform_inclusive(86_400) as u32;
        assert_eq!(
            Reset::parse(Reset { seconds }.encode().as_bytes()),
            Ok(Reset { seconds })
        );

        let from: SocketAddr = match rng.next_u64() % 3 {
            0 => "127.0.0.1:5004".parse().unwrap(),
            1 => "[::1]:5004".parse().unwrap(),
            _ => "10.9.9.9:1".parse().unwrap(),
        };
        let config = ResponderConfig {
            loss: rng.unit_f64(),
            schedule: FamilySchedule::Both,
        };
        match decide(&config, Instant::ZERO, from, &datagram, rng) {
            Decision::Answer {
                request,
                offset,
                reply,
            } => {
                assert!(offset.seconds <= request.seconds);
                assert!(
                    reply.as_bytes().len() <= datagram.len() + 1,
                    "no amplification"
                );
            }
            Decision::Malformed(_) => assert!(Reset::parse(&datagram).is_err()),
            Decision::Lost(_) | Decision::OffSchedule(_) => {}
        }

        let targets = Targets::first_of_each_family([
            "127.0.0.1:5004".parse().unwrap(),
            "[::1]:5004".parse().unwrap(),
        ]);
        let max_rounds = 1 + rng.uniform_inclusive(5) as u32;
        let mut client = ResetClient::new(
            targets,
            Reset::LAB,
            ClientConfig {
                timeout: Duration::from_millis(100),
                max_rounds: Some(max_rounds),
            },
        );
        let mut now = Instant::ZERO;
        let mut last_rounds = 0;
        for _ in 0..50 {
            while client.poll_transmit(now).is_some() {}
            if rng.next_u64().is_multiple_of(2) {
                let got = bytes(rng, 20);
                if let Received::Answer(o) = client.handle_datagram(now, from, &got) {
                    assert!(o.seconds <= 20);
                    assert!(from.port() == 5004 && !from.ip().to_string().starts_with("10."));
                }
            }
            now += Duration::from_millis(rng.uniform_inclusive(150));
            client.handle_timeout(now);
            assert!(client.rounds() >= last_rounds && client.rounds() <= max_rounds);
            last_rounds = client.rounds();
        }
    });
}

#[test]
fn multicast_frames_and_the_bot() {
    fuzz("multicast", |rng| {
        let datagram = bytes(rng, 40);
        if let Ok(frame) = Frame::parse(&datagram) {
            let mut buf = [0u8; 64];
            let n = frame.encode(&mut buf).unwrap();
            assert_eq!(&buf[..n], &datagram[..]);
        }
        let _ = Id::new(&datagram);
        let raw = bytes(rng, 200);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut bot = Bot::new(&text, Duration::from_millis(10), true);
        let mut buf = vec![0u8; 1 + rng.uniform_inclusive(80) as usize];
        let mut now = Instant::ZERO;
        for _ in 0..500 {
            while let Some(out) = bot.poll_transmit(now, &mut buf) {
                match out {
                    BotOutput::Line { len, .. } | BotOutput::Rewind { len } => {
                        let frame = Frame::parse(&buf[..len]).unwrap();
                        assert_eq!(frame.id, Id::BOT);
                        assert_eq!(frame.text, frame.text.trim_end());
                    }
                    BotOutput::Skipped { .. } => {}
                }
            }
            match bot.poll_timeout() {
                Some(t) => now = t,
                None => break,
            }
        }
        assert!(bot.is_done(), "a single pass ends");
    });
}

#[test]
fn pmu_session_fed_arbitrary_bytes_and_times() {
    fuzz("session", |rng| {
        let config = SessionConfig {
            count: MessageCount::Random { min: 0, max: 20 },
            flood_bytes: rng.uniform_inclusive(5000),
            command_timeout: Duration::from_millis(1 + rng.uniform_inclusive(2000)),
        };
        let mut now = Instant::ZERO;
        let mut s = Session::new(now, config);
        let mut sent = 0u64;
        let mut buf = vec![0u8; 1 + rng.uniform_inclusive(300) as usize];
        for _ in 0..200 {
            match rng.next_u64() % 5 {
                0 => {
                    let input = bytes(rng, 30);
                    let _ = s.handle_input(now, &input, rng);
                }
                1 => {
                    let _ = s.handle_peer_closed(now, rng);
                }
                _ => {}
            }
            now += Duration::from_millis(rng.uniform_inclusive(800));
            let _ = s.handle_timeout(now);
            let took = match s.poll_transmit(now, &mut buf) {
                Due::Send(n) => {
                    assert!(0 < n && n <= buf.len());
                    rng.uniform_inclusive(n as u64) as usize
                }
                Due::Later => 0,
                Due::Finished => {
                    assert!(s.is_done());
                    break;
                }
            };
            let _ = s.handle_sent(took);
            sent += took as u64;
            // Bounded: at most the flood, or 20 messages, or one error line.
            assert!(sent <= config.flood_bytes.max(20 * 28).max(128));
        }
    });
}

#[derive(Default)]
struct Sink {
    bytes: usize,
}

impl PdcOutput for Sink {
    type Error = std::convert::Infallible;
    fn piece(&mut self, piece: Piece<'_>) -> Result<(), Self::Error> {
        if let Piece::Text(t) = piece {
            self.bytes += t.len();
        }
        Ok(())
    }
    fn raw(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.bytes += bytes.len();
        Ok(())
    }
}

#[test]
fn pdc_reply_from_an_arbitrary_pmu() {
    fuzz("pdc", |rng| {
        let net = MockNet::new();
        let reply = bytes(rng, 400);
        let chunks = splits(rng, &reply)
            .into_iter()
            .enumerate()
            .map(|(i, c)| (Duration::from_millis(i as u64), c.to_vec()))
            .collect();
        let remote: SocketAddr = "192.0.2.1:5003".parse().unwrap();
        net.script(
            remote,
            Script {
                chunks,
                close_after: Some(Duration::from_secs(1)),
                reset: rng.next_u64().is_multiple_of(4),
            },
        );
        let mut stack = net.clone();
        let mut sink = Sink::default();
        let mut buf = vec![0u8; 1 + rng.uniform_inclusive(64) as usize];
        let kind = if rng.next_u64().is_multiple_of(2) {
            ReplyKind::Messages
        } else {
            ReplyKind::Raw
        };
        let result = fetch(
            &mut stack,
            &net.clock,
            Request {
                remote,
                command: b"CMD_short:0",
                kind,
            },
            &PdcConfig::default(),
            &mut buf,
            &mut sink,
        );
        assert!(sink.bytes <= reply.len());
        if let Ok(summary) = result {
            assert_eq!(summary.bytes, reply.len() as u64);
        } else if let Err(PdcError::Refused(line)) = result {
            assert!(line.as_bytes().starts_with(b"ERROR:"));
        }
    });
}

/// IEEE C37.118.2 frames: a valid configuration and data frame, mutated
/// (and, half the time, given a correct CHK again so the length checks
/// behind it are reached), read with every accessor: errors, never panics.
#[test]
fn synchrophasor_frames_mutated() {
    use pmulab_core::synchrophasor::config::{
        AnalogUnit, Config, ConfigFrame, Format, Nominal, PhasorUnit, PmuConfig,
    };
    use pmulab_core::synchrophasor::crc::crc_ccitt;
    use pmulab_core::synchrophasor::data::{self, DataFrame, Phasor, PmuData, Value};
    use pmulab_core::synchrophasor::frame::{Frame, FrameType, Timestamp};

    let unit = PhasorUnit {
        current: false,
        scale: 1,
    };
    let names = [
        "D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9", "DA", "DB", "DC", "DD", "DE",
        "DF",
    ];
    let digitals = [(names, 0, 0xFFFF)];
    let pmus = [PmuConfig {
        station: "FUZZ",
        idcode: 1,
        format: Format::default(),
        phasors: &[("VA", unit), ("VB", unit)],
        analogs: &[("A", AnalogUnit { kind: 0, scale: 1 })],
        digitals: &digitals,
        nominal: Nominal::Hz50,
        cfgcnt: 0,
    }];
    let config = Config {
        version: 2,
        idcode: 1,
        time_base: 1_000_000,
        data_rate: 50,
        pmus: &pmus,
    };
    let time = Timestamp::default();
    let mut cfg = vec![0u8; config.len()];
    config.emit(&mut cfg, FrameType::Cfg2, time).unwrap();
    let mut dat = vec![0u8; 256];
    let values = [PmuData {
        stat: 0,
        phasors: &[Phasor::Int(1, 2), Phasor::Int(3, 4)],
        freq: Value::Int(0),
        dfreq: Value::Int(0),
        analogs: &[Value::Int(5)],
        digitals: &[6],
    }];
    let n = data::emit(&mut dat, &config, time, &values).unwrap();
    dat.truncate(n);
    fuzz("synchrophasor", |rng| {
        let original = if rng.next_u64() % 2 == 0 { &cfg } else { &dat };
        let mut bytes = original.clone();
        for _ in 0..1 + rng.next_u64() % 4 {
            let at = (rng.next_u64() as usize) % bytes.len();
            bytes[at] = rng.next_u64() as u8;
        }
        if rng.next_u64() % 3 == 0 {
            let cut = (rng.next_u64() as usize) % bytes.len();
            bytes.truncate(cut);
        }
        if rng.next_u64() % 2 == 0 && bytes.len() >= 4 {
            let size = usize::from(u16::from_be_bytes([bytes[2], bytes[3]])).min(bytes.len());
            if size >= 2 {
                let crc = crc_ccitt(&bytes[..size - 2]).to_be_bytes();
                bytes[size - 2..size].copy_from_slice(&crc);
            }
        }
        let _ = Frame::parse(&bytes).map(|f| (f.idcode(), f.timestamp(), f.body().len()));
        if let Ok(config) = ConfigFrame::parse(&bytes) {
            for pmu in config.pmus() {
                let _ = (
                    pmu.station(),
                    pmu.format(),
                    pmu.nominal(),
                    pmu.cfgcnt(),
                    pmu.data_len(),
                );
                for i in 0..pmu.phasor_count() + pmu.analog_count() + 16 * pmu.digital_count() + 1 {
                    let _ = (
                        pmu.channel_name(i),
                        pmu.phasor_unit(i),
                        pmu.analog_unit(i),
                        pmu.digital_unit(i),
                    );
                }
            }
        }
        let good = ConfigFrame::parse(&cfg).unwrap();
        if let Ok(frame) = DataFrame::parse(&bytes, good) {
            for pmu in frame.pmus() {
                let _ = (pmu.stat(), pmu.frequency_hz(), pmu.rocof());
                for i in 0..4 {
                    let _ = (pmu.phasor(i), pmu.analog(i), pmu.digital(i));
                }
            }
        }
    });
}
