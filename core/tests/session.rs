//! The PMU session machine on its own: bytes and instants in, bytes out.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

use std::time::Duration;

use pmulab_core::rng::{Random, SplitMix64};
use pmulab_core::stream::command::{Command, CommandError};
use pmulab_core::stream::flood;
use pmulab_core::stream::session::{Due, MessageCount, Session, SessionConfig, SessionEvent};
use pmulab_core::time::Instant;

fn config(count: MessageCount, flood_bytes: u64) -> SessionConfig {
    SessionConfig {
        count,
        flood_bytes,
        command_timeout: Duration::from_secs(5),
    }
}

/// Runs a session to its end, sending everything due at each instant and
/// jumping to `poll_timeout` in between; returns each transmit's instant
/// and bytes.
fn run(session: &mut Session, mut now: Instant, chunk: usize) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    for _ in 0..100_000 {
        match session.poll_transmit(now, &mut buf) {
            Due::Send(n) => {
                out.push((now, buf[..n].to_vec()));
                let _ = session.handle_sent(n);
                continue;
            }
            Due::Finished => return out,
            Due::Later => {}
        }
        now = session.poll_timeout().expect("a live session wants waking");
        let _ = session.handle_timeout(now);
    }
    panic!("session never finished");
}

#[test]
fn short_1_sends_one_message_per_second_on_the_dot() {
    let mut rng = SplitMix64::new(1);
    let t0 = Instant::from_secs(100);
    let mut s = Session::new(t0, config(MessageCount::Fixed(4), 0));
    let accepted = s.handle_input(t0, b"CMD_short:1", &mut rng);
    assert_eq!(
        accepted,
        SessionEvent::Accepted {
            command: Command::Short {
                interval: Duration::from_secs(1)
            },
            count: 4
        }
    );
    let sends = run(&mut s, t0, 1024);
    let expected: Vec<(Instant, Vec<u8>)> = (0..4)
        .map(|i| {
            (
                Instant::from_secs(100 + i),
                format!("This is PMU data {i}").into_bytes(),
            )
        })
        .collect();
    assert_eq!(sends, expected);
    assert!(s.is_done());
}

#[test]
fn a_partially_sent_message_is_finished_before_the_next() {
    let mut rng = SplitMix64::new(1);
    let mut s = Session::new(Instant::ZERO, config(MessageCount::Fixed(2), 0));
    let _ = s.handle_input(Instant::ZERO, b"CMD_short:0", &mut rng);
    let mut buf = [0u8; 64];
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut buf), Due::Send(18));
    assert_eq!(&buf[..18], b"This is PMU data 0");
    assert!(!s.handle_sent(5), "5 bytes do not end the message");
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut buf), Due::Send(13));
    assert_eq!(&buf[..13], b"is PMU data 0");
    assert!(s.handle_sent(13), "the rest ends it");
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut buf), Due::Send(18));
    assert_eq!(&buf[..18], b"This is PMU data 1");
    assert!(s.handle_sent(18));
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut buf), Due::Finished);
}

#[test]
fn nothing_due_yet_is_not_finished() {
    let mut rng = SplitMix64::new(1);
    let mut s = Session::new(Instant::ZERO, config(MessageCount::Fixed(2), 0));
    let mut buf = [0u8; 64];
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut buf), Due::Later);
    let _ = s.handle_input(Instant::ZERO, b"CMD_short:1", &mut rng);
    assert_eq!(s.poll_transmit(Instant::ZERO, &mut buf), Due::Send(18));
    assert!(s.handle_sent(18));
    assert_eq!(
        s.poll_transmit(Instant::from_millis(500), &mut buf),
        Due::Later
    );
    assert_eq!(
        s.poll_transmit(Instant::from_secs(1), &mut buf),
        Due::Send(18)
    );
}

#[test]
fn flood_is_the_generated_text_whatever_the_send_sizes() {
    let mut rng = SplitMix64::new(9);
    let mut s = Session::new(Instant::ZERO, config(MessageCount::DEFAULT, 57_344));
    s.handle_input(Instant::ZERO, b"CMD_floodme\r\n", &mut rng);
    let mut buf = [0u8; 5000];
    let mut got = Vec::new();
    let mut ends = 0;
    while let Due::Send(n) = s.poll_transmit(Instant::ZERO, &mut buf) {
        let took = 1 + rng.uniform_inclusive(n as u64 - 1) as usize;
        got.extend_from_slice(&buf[..took]);
        ends += usize::from(s.handle_sent(took));
    }
    assert!(s.is_done());
    assert_eq!(ends, 1, "the flood is one message");
    assert_eq!(got.len(), 57_344);
    assert_eq!(flood::first_mismatch(0, &got), None);
}

#[test]
fn random_counts_stay_in_range_and_vary() {
    let mut rng = SplitMix64::new(3);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let mut s = Session::new(
            Instant::ZERO,
            config(MessageCount::Random { min: 2, max: 17 }, 0),
        );
        match s.handle_input(Instant::ZERO, b"CMD_short:0", &mut rng) {
            SessionEvent::Accepted { count, .. } => {
                assert!((2..=17).contains(&count));
                seen.insert(count);
                let sends = run(&mut s, Instant::ZERO, 64);
                assert_eq!(sends.len(), count as usize);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen.len(), 16, "every count in 2..=17 should turn up");
}

#[test]
fn malformed_command_gets_one_error_line_then_done() {
    let mut rng = SplitMix64::new(1);
    let mut s = Session::new(Instant::ZERO, SessionConfig::default());
    assert_eq!(
        s.handle_input(Instant::ZERO, b"HELLO", &mut rng),
        SessionEvent::Refused(CommandError::Unknown)
    );
    let sends = run(&mut s, Instant::ZERO, 7);
    let all: Vec<u8> = sends.into_iter().flat_map(|(_, b)| b).collect();
    let text = String::from_utf8(all).unwrap();
    assert!(text.starts_with("ERROR: unknown command"), "{text}");
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "{text:?}"
    );
}

#[test]
fn a_silent_peer_times_out_with_an_error() {
    let mut s = Session::new(Instant::ZERO, SessionConfig::default());
    assert_eq!(s.poll_timeout(), Some(Instant::from_secs(10)));
    assert_eq!(
        s.handle_timeout(Instant::from_secs(9)),
        SessionEvent::Unchanged
    );
    // Refused the way a bad command is.
    assert_eq!(
        s.handle_timeout(Instant::from_secs(10)),
        SessionEvent::Refused(CommandError::Timeout)
    );
    let mut buf = [0u8; 128];
    let Due::Send(n) = s.poll_transmit(Instant::from_secs(10), &mut buf) else {
        panic!("the error line is due");
    };
    assert!(buf[..n].starts_with(b"ERROR: no complete command in time"));
    assert!(s.handle_sent(n), "the error line is one message");
}

#[test]
fn half_close_after_the_command_still_gets_the_answer() {
    let mut rng = SplitMix64::new(1);
    let mut s = Session::new(Instant::ZERO, config(MessageCount::Fixed(3), 0));
    assert_eq!(
        s.handle_input(Instant::ZERO, b"CMD_short:", &mut rng),
        SessionEvent::NeedMore
    );
    assert_eq!(
        s.handle_input(Instant::ZERO, b"0", &mut rng),
        SessionEvent::Accepted {
            command: Command::Short {
                interval: Duration::ZERO
            },
            count: 3
        }
    );
    assert_eq!(
        s.handle_peer_closed(Instant::ZERO, &mut rng),
        SessionEvent::Unchanged
    );
    assert_eq!(run(&mut s, Instant::ZERO, 64).len(), 3);

    // A peer that connects and leaves gets nothing, not an error.
    let mut s = Session::new(Instant::ZERO, SessionConfig::default());
    assert_eq!(
        s.handle_peer_closed(Instant::ZERO, &mut rng),
        SessionEvent::Abandoned
    );
    assert!(s.is_done());

    // A truncated command is refused.
    let mut s = Session::new(Instant::ZERO, SessionConfig::default());
    s.handle_input(Instant::ZERO, b"CMD_flo", &mut rng);
    assert_eq!(
        s.handle_peer_closed(Instant::ZERO, &mut rng),
        SessionEvent::Refused(CommandError::Incomplete)
    );
}

#[test]
fn n_zero_closes_at_once() {
    let mut rng = SplitMix64::new(1);
    let mut s = Session::new(Instant::ZERO, config(MessageCount::Fixed(0), 0));
    s.handle_input(Instant::ZERO, b"CMD_short:1", &mut rng);
    assert!(s.is_done());
}
