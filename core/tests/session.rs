//! The PMU session machine on its own: bytes and instants in, bytes out.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

use std::time::Duration;

use pmulab_core::command::{Command, CommandError};
use pmulab_core::flood;
use pmulab_core::rng::{Random, SplitMix64};
use pmulab_core::session::{Input, MessageCount, Session, SessionConfig};
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
        let n = session.poll_transmit(now, &mut buf);
        if n > 0 {
            out.push((now, buf[..n].to_vec()));
            session.handle_sent(n);
            continue;
        }
        if session.is_done() {
            return out;
        }
        now = session.poll_timeout().expect("a live session wants waking");
        session.handle_timeout(now);
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
        Input::Accepted {
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
    s.handle_input(Instant::ZERO, b"CMD_short:0", &mut rng);
    let mut buf = [0u8; 64];
    let n = s.poll_transmit(Instant::ZERO, &mut buf);
    assert_eq!(&buf[..n], b"This is PMU data 0");
    s.handle_sent(5);
    let n = s.poll_transmit(Instant::ZERO, &mut buf);
    assert_eq!(&buf[..n], b"is PMU data 0");
    s.handle_sent(n);
    let n = s.poll_transmit(Instant::ZERO, &mut buf);
    assert_eq!(&buf[..n], b"This is PMU data 1");
}

#[test]
fn flood_is_the_generated_text_whatever_the_send_sizes() {
    let mut rng = SplitMix64::new(9);
    let mut s = Session::new(Instant::ZERO, config(MessageCount::DEFAULT, 57_344));
    s.handle_input(Instant::ZERO, b"CMD_floodme\r\n", &mut rng);
    let mut buf = [0u8; 5000];
    let mut got = Vec::new();
    while !s.is_done() {
        let n = s.poll_transmit(Instant::ZERO, &mut buf);
        assert!(n > 0);
        let took = 1 + rng.uniform_inclusive(n as u64 - 1) as usize;
        got.extend_from_slice(&buf[..took]);
        s.handle_sent(took);
    }
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
            Input::Accepted { count, .. } => {
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
        Input::Refused(CommandError::Unknown)
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
    assert_eq!(s.handle_timeout(Instant::from_secs(9)), None);
    assert_eq!(
        s.handle_timeout(Instant::from_secs(10)),
        Some(CommandError::Timeout)
    );
    let mut buf = [0u8; 128];
    let n = s.poll_transmit(Instant::from_secs(10), &mut buf);
    assert!(buf[..n].starts_with(b"ERROR: no complete command in time"));
}

#[test]
fn half_close_after_the_command_still_gets_the_answer() {
    let mut rng = SplitMix64::new(1);
    let mut s = Session::new(Instant::ZERO, config(MessageCount::Fixed(3), 0));
    assert_eq!(
        s.handle_input(Instant::ZERO, b"CMD_short:", &mut rng),
        Input::NeedMore
    );
    assert_eq!(
        s.handle_input(Instant::ZERO, b"0", &mut rng),
        Input::Accepted {
            command: Command::Short {
                interval: Duration::ZERO
            },
            count: 3
        }
    );
    assert_eq!(
        s.handle_peer_closed(Instant::ZERO, &mut rng),
        Input::Ignored
    );
    assert_eq!(run(&mut s, Instant::ZERO, 64).len(), 3);

    // A peer that connects and leaves gets nothing, not an error.
    let mut s = Session::new(Instant::ZERO, SessionConfig::default());
    assert_eq!(
        s.handle_peer_closed(Instant::ZERO, &mut rng),
        Input::Abandoned
    );
    assert!(s.is_done());

    // A truncated command is refused.
    let mut s = Session::new(Instant::ZERO, SessionConfig::default());
    s.handle_input(Instant::ZERO, b"CMD_flo", &mut rng);
    assert_eq!(
        s.handle_peer_closed(Instant::ZERO, &mut rng),
        Input::Refused(CommandError::Incomplete)
    );
}

#[test]
fn n_zero_closes_at_once() {
    let mut rng = SplitMix64::new(1);
    let mut s = Session::new(Instant::ZERO, config(MessageCount::Fixed(0), 0));
    s.handle_input(Instant::ZERO, b"CMD_short:1", &mut rng);
    assert!(s.is_done());
}
