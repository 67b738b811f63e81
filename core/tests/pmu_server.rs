//! The PMU server driver over the mock stack, in virtual time.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

mod support;

use std::time::Duration;

use pmulab_core::nal::Park;
use pmulab_core::rng::SplitMix64;
use pmulab_core::stream::flood;
use pmulab_core::stream::server::{PmuEvent, PmuServer};
use pmulab_core::stream::session::{MessageCount, SessionConfig};
use pmulab_core::time::{Clock, Instant};
use support::{MockNet, PeerId};

const PORT: u16 = 5003;

struct Harness<const N: usize> {
    net: MockNet,
    stack: MockNet,
    server: PmuServer<MockNet, N>,
    rng: SplitMix64,
    buf: Vec<u8>,
    log: Vec<String>,
}

impl<const N: usize> Harness<N> {
    fn new(config: SessionConfig) -> Self {
        let net = MockNet::new();
        let mut stack = net.clone();
        let server = PmuServer::bind(&mut stack, PORT, config).unwrap();
        Harness {
            net,
            stack,
            server,
            rng: SplitMix64::new(42),
            buf: vec![0; 1500],
            log: Vec::new(),
        }
    }

    fn poll(&mut self) {
        let now = self.net.clock.now();
        let log = &mut self.log;
        self.server.poll(
            &mut self.stack,
            now,
            &mut self.rng,
            &mut self.buf,
            &mut |e| {
                log.push(describe(&e));
            },
        );
    }

    /// Polls, then lets virtual time run to the server's next deadline, until
    /// `until` or until the server has nothing timed left.
    fn run_until(&mut self, until: Instant) {
        for _ in 0..100_000 {
            self.poll();
            match self.server.poll_timeout() {
                Some(t) if t <= until => self.stack.park(Some(t)),
                _ => return,
            }
        }
        panic!("server did not settle");
    }

    fn connect(&mut self, command: &[u8]) -> PeerId {
        let peer = self.net.connect(PORT).unwrap();
        if !command.is_empty() {
            self.net.send(peer, command);
        }
        peer
    }
}

fn describe(e: &PmuEvent<'_>) -> String {
    match e {
        PmuEvent::Accepted { peer } => format!("accepted {peer}"),
        PmuEvent::Command { command, count, .. } => format!("command {command} n={count}"),
        PmuEvent::Refused { error, .. } => format!("refused {error:?}"),
        PmuEvent::Busy { .. } => "busy".into(),
        PmuEvent::Finished { bytes, .. } => format!("finished {bytes}"),
        PmuEvent::Aborted { error, .. } => format!("aborted {error}"),
        PmuEvent::AcceptFailed { error } => format!("accept failed {error}"),
    }
}

fn fixed(n: u32) -> SessionConfig {
    SessionConfig {
        count: MessageCount::Fixed(n),
        ..SessionConfig::default()
    }
}

fn messages(n: u32) -> Vec<u8> {
    (0..n)
        .map(|i| format!("This is PMU data {i}"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn short_1_sends_exactly_at_whole_seconds_one_send_per_message() {
    let mut h = Harness::<4>::new(fixed(5));
    h.net.clock.set(Instant::from_secs(7));
    let peer = h.connect(b"CMD_short:1");
    h.run_until(Instant::from_secs(60));
    let sends = h.net.sends(peer);
    let expected: Vec<(Instant, Vec<u8>)> = (0..5)
        .map(|i| {
            (
                Instant::from_secs(7 + i),
                format!("This is PMU data {i}").into_bytes(),
            )
        })
        .collect();
    assert_eq!(sends, expected);
    assert!(h.net.closed_by_stack(peer));
    assert_eq!(h.server.sessions(), 0);
    assert_eq!(
        h.log.last().unwrap(),
        &format!("finished {}", messages(5).len())
    );
}

#[test]
fn short_0_sends_everything_at_once_as_separate_sends() {
    let mut h = Harness::<4>::new(fixed(15));
    let peer = h.connect(b"CMD_short:0\r\n");
    h.poll();
    let sends = h.net.sends(peer);
    assert_eq!(sends.len(), 15);
    assert!(sends.iter().all(|(t, _)| *t == Instant::ZERO));
    assert_eq!(h.net.received(peer), messages(15));
    assert!(h.net.closed_by_stack(peer));
}

#[test]
fn concurrent_sessions_keep_their_own_schedules() {
    let mut h = Harness::<16>::new(fixed(4));
    let intervals = ["0", "0.5", "1", "2", "0.25", "1.5"];
    let peers: Vec<(PeerId, f64)> = intervals
        .iter()
        .map(|d| {
            (
                h.connect(format!("CMD_short:{d}").as_bytes()),
                d.parse().unwrap(),
            )
        })
        .collect();
    let flood_peer = h.connect(b"CMD_floodme");
    h.run_until(Instant::from_secs(30));
    for (peer, d) in peers {
        let sends = h.net.sends(peer);
        assert_eq!(sends.len(), 4, "interval {d}");
        for (i, (t, bytes)) in sends.iter().enumerate() {
            let due = Instant::from_micros((i as f64 * d * 1e6) as u64);
            assert_eq!(*t, due, "message {i} at interval {d}");
            assert_eq!(bytes, format!("This is PMU data {i}").as_bytes());
        }
        assert!(h.net.closed_by_stack(peer));
    }
    let flood = h.net.received(flood_peer);
    assert_eq!(flood.len() as u64, flood::DEFAULT_FLOOD_BYTES);
    assert_eq!(flood::first_mismatch(0, &flood), None);
}

#[test]
fn a_command_split_across_reads_is_assembled() {
    let mut h = Harness::<4>::new(fixed(3));
    let peer = h.connect(b"CMD_sh");
    h.poll();
    assert!(h.net.received(peer).is_empty());
    h.net.clock.advance(Duration::from_millis(300));
    h.net.send(peer, b"ort:0");
    h.poll();
    assert_eq!(h.net.received(peer), messages(3));
}

#[test]
fn malformed_commands_get_one_error_line_and_a_close() {
    for bad in [
        &b"HELLO"[..],
        b"CMD_short:abc",
        b"CMD_short:61",
        b"\xff\xfe\x00",
        b"GET / HTTP/1.1\r\n",
    ] {
        let mut h = Harness::<4>::new(fixed(3));
        let peer = h.connect(bad);
        h.poll();
        let reply = String::from_utf8(h.net.received(peer)).unwrap();
        assert!(reply.starts_with("ERROR: "), "{bad:?}: {reply:?}");
        assert_eq!(reply.matches('\n').count(), 1, "{reply:?}");
        assert!(reply.ends_with('\n'));
        assert!(h.net.closed_by_stack(peer));
    }
}

#[test]
fn a_silent_client_is_timed_out_without_blocking_others() {
    let mut h = Harness::<4>::new(fixed(2));
    let silent = h.connect(b"");
    h.poll();
    h.net.clock.advance(Duration::from_secs(3));
    let good = h.connect(b"CMD_short:0");
    h.run_until(Instant::from_secs(30));
    assert_eq!(h.net.received(good), messages(2));
    let reply = String::from_utf8(h.net.received(silent)).unwrap();
    assert_eq!(reply, "ERROR: no complete command in time\n");
    assert_eq!(h.net.sends(silent)[0].0, Instant::from_secs(10));
}

#[test]
fn a_reset_mid_stream_ends_only_that_session() {
    let mut h = Harness::<4>::new(fixed(10));
    let doomed = h.connect(b"CMD_short:1");
    let other = h.connect(b"CMD_short:1");
    h.run_until(Instant::from_secs(2));
    h.net.reset(doomed);
    h.run_until(Instant::from_secs(60));
    assert_eq!(h.net.received(other), messages(10));
    assert!(
        h.log.iter().any(|l| l.starts_with("aborted Reset")),
        "{:?}",
        h.log
    );
    assert_eq!(h.server.sessions(), 0);
    assert_eq!(h.net.open_sockets(), 1, "only the listener stays open");
}

#[test]
fn a_full_table_turns_new_clients_away_and_keeps_the_others() {
    let mut h = Harness::<2>::new(fixed(3));
    let a = h.connect(b"CMD_short:1");
    let b = h.connect(b"CMD_short:1");
    let c = h.connect(b"CMD_short:0");
    h.poll();
    assert_eq!(h.net.received(c), b"ERROR: server busy, try again later\n");
    assert!(h.net.closed_by_stack(c));
    h.run_until(Instant::from_secs(60));
    assert_eq!(h.net.received(a), messages(3));
    assert_eq!(h.net.received(b), messages(3));
    // Once a slot is free, the next client is served.
    let d = h.connect(b"CMD_short:0");
    h.poll();
    assert_eq!(h.net.received(d), messages(3));
}

/// A client that sends its command and its FIN at once (`nc -N`) to a full
/// server: the busy line goes out before its FIN is read.
#[test]
fn a_turned_away_client_that_already_half_closed_still_gets_the_busy_line() {
    let mut h = Harness::<1>::new(fixed(3));
    let _a = h.connect(b"CMD_short:1");
    let b = h.connect(b"CMD_short:0");
    h.net.fin(b);
    h.poll();
    assert_eq!(h.net.received(b), b"ERROR: server busy, try again later\n");
    assert!(h.net.closed_by_stack(b));
}

#[test]
fn backpressure_delays_but_never_corrupts_the_flood() {
    let mut h = Harness::<2>::new(SessionConfig {
        flood_bytes: 100_000,
        ..SessionConfig::default()
    });
    h.net.set_max_send(700);
    let peer = h.connect(b"CMD_floodme");
    h.net.set_window(peer, Some(3000));
    for step in 0..1000 {
        h.poll();
        if h.net.closed_by_stack(peer) {
            break;
        }
        // The peer reads a little and opens the window again.
        h.net.set_window(peer, Some(1 + (step * 37) % 5000));
    }
    let got = h.net.received(peer);
    assert_eq!(got.len(), 100_000);
    assert_eq!(flood::first_mismatch(0, &got), None);
    assert!(h.net.closed_by_stack(peer));
}

#[test]
fn a_client_that_half_closes_after_its_command_is_served() {
    let mut h = Harness::<2>::new(fixed(3));
    let peer = h.connect(b"CMD_short:0");
    h.net.fin(peer);
    h.poll();
    assert_eq!(h.net.received(peer), messages(3));
    // A client that connects and leaves is closed quietly.
    let quiet = h.connect(b"");
    h.net.fin(quiet);
    h.poll();
    assert!(h.net.received(quiet).is_empty());
    assert!(h.net.closed_by_stack(quiet));
}

#[test]
fn an_idle_server_has_no_deadline() {
    let mut h = Harness::<2>::new(fixed(3));
    h.poll();
    assert_eq!(h.server.poll_timeout(), None);
}

#[test]
fn random_n_varies_between_sessions() {
    let mut h = Harness::<64>::new(SessionConfig {
        count: MessageCount::Random { min: 2, max: 17 },
        ..SessionConfig::default()
    });
    let peers: Vec<PeerId> = (0..40).map(|_| h.connect(b"CMD_short:0")).collect();
    h.poll();
    let counts: std::collections::BTreeSet<usize> =
        peers.iter().map(|p| h.net.sends(*p).len()).collect();
    assert!(counts.len() > 5, "{counts:?}");
    assert!(counts.iter().all(|n| (2..=17).contains(n)));
}

#[test]
fn a_finished_connection_reads_to_the_peer_s_fin_before_release() {
    let mut h = Harness::<2>::new(fixed(1));
    let a = h.connect(b"CMD_short:0");
    h.poll();
    assert!(
        h.net.closed_by_stack(a),
        "the FIN goes out with the last message"
    );
    assert!(!h.net.released_by_stack(a));
    // Late input is read and dropped, so the close never becomes a reset.
    h.net.send(a, b"late bytes");
    h.poll();
    assert!(!h.net.released_by_stack(a));
    h.net.fin(a);
    h.poll();
    assert!(h.net.released_by_stack(a));

    // A peer that never closes is released after the linger time.
    let b = h.connect(b"CMD_short:0");
    h.poll();
    assert!(!h.net.released_by_stack(b));
    h.run_until(Instant::from_secs(10));
    assert!(h.net.released_by_stack(b));
    assert_eq!(h.net.open_sockets(), 1, "only the listener stays open");
}

#[test]
fn a_peer_that_stops_reading_is_dropped_after_the_stall_limit() {
    let mut h = Harness::<4>::new(SessionConfig {
        flood_bytes: 1_000_000,
        ..fixed(3)
    });
    let stuck = h.connect(b"CMD_floodme");
    h.net.set_window(stuck, Some(1000));
    h.poll();
    assert_eq!(h.net.received(stuck).len(), 1000);
    // Its window stays shut; meanwhile another client is served normally.
    let other = h.connect(b"CMD_short:1");
    h.run_until(Instant::from_secs(29));
    assert_eq!(h.net.received(other), messages(3));
    assert!(
        !h.net.closed_by_stack(stuck),
        "not dropped before the limit"
    );
    h.run_until(Instant::from_secs(31));
    assert!(h.net.released_by_stack(stuck), "dropped at the limit");
    assert!(
        h.log.iter().any(|l| l.contains("stopped reading")),
        "{:?}",
        h.log
    );
    assert_eq!(h.server.sessions(), 0);
}

#[test]
fn the_stack_is_told_where_each_message_ends() {
    let mut h = Harness::<4>::new(SessionConfig {
        count: MessageCount::Fixed(3),
        flood_bytes: 4000,
        ..SessionConfig::default()
    });
    h.connect(b"CMD_short:0");
    h.connect(b"CMD_floodme");
    h.connect(b"CMD_nonsense");
    h.run_until(Instant::from_secs(5));
    let short: Vec<String> = h
        .net
        .messages_on_connection(0)
        .into_iter()
        .map(|m| String::from_utf8(m).unwrap())
        .collect();
    assert_eq!(
        short,
        [
            "This is PMU data 0",
            "This is PMU data 1",
            "This is PMU data 2"
        ]
    );
    // The flood is one message, however many sends it took.
    let flood = h.net.messages_on_connection(1);
    assert_eq!(flood.len(), 1);
    assert_eq!(flood[0].len(), 4000);
    let refusal = h.net.messages_on_connection(2);
    assert_eq!(refusal.len(), 1);
    assert!(refusal[0].starts_with(b"ERROR: unknown command"));
}
