//! Part 3 in virtual time: the reset client's schedule, the responder, and
//! the loss statistics, over the mock UDP stack.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod support;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use pmulab_core::reset::client::{ClientEvent, request};
use pmulab_core::reset::responder::{Decision, Family, FamilySchedule, ResponderConfig, decide};
use pmulab_core::reset::retry::{ClientConfig, Outcome, Received, ResetClient, Targets};
use pmulab_core::reset::server::{ResetServer, ResponderEvent};
use pmulab_core::reset::{Offset, Reset};
use pmulab_core::rng::{Random, SplitMix64};
use pmulab_core::time::{Clock, Instant};
use support::MockNet;

fn v4() -> SocketAddr {
    "127.0.0.1:5004".parse().unwrap()
}
fn v6() -> SocketAddr {
    "[::1]:5004".parse().unwrap()
}
fn both() -> Targets {
    Targets {
        v4: Some(v4()),
        v6: Some(v6()),
    }
}

fn config(max_rounds: Option<u32>) -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(1),
        max_rounds,
    }
}

/// Runs the client driver on `net`; returns the outcome and the log.
fn run_client(net: &MockNet, targets: Targets, max_rounds: Option<u32>) -> (Outcome, Vec<String>) {
    let mut stack = net.clone();
    let mut buf = [0u8; 64];
    let mut log = Vec::new();
    let outcome = request(
        &mut stack,
        &net.clock,
        targets,
        Reset::LAB,
        config(max_rounds),
        &mut buf,
        &mut |e| {
            log.push(match e {
                ClientEvent::Sent(t) => format!("sent round {} to {}", t.round, t.to),
                ClientEvent::SendFailed { transmit, error } => {
                    format!("send failed {} {error}", transmit.to)
                }
                ClientEvent::Received { from, what } => format!("received from {from}: {what:?}"),
                ClientEvent::ReceiveFailed { target, error } => {
                    format!("receive failed {target} {error}")
                }
            })
        },
    )
    .unwrap();
    (outcome, log)
}

/// A scripted server that answers the `k`-th request it gets (1-based) for
/// which `answer(k)` is true, with `OFFSET=7`, after `delay`.
fn server(
    net: &MockNet,
    addr: SocketAddr,
    delay: Duration,
    answer: impl Fn(u32) -> bool + 'static,
) {
    let mut seen = 0;
    net.udp_script(
        addr,
        Box::new(move |_, req| {
            seen += 1;
            assert_eq!(req, b"RESET:20");
            match answer(seen) {
                true => vec![(delay, addr, b"OFFSET=7".to_vec())],
                false => vec![],
            }
        }),
    );
}

#[test]
fn each_round_sends_once_per_family_at_whole_seconds() {
    let net = MockNet::new();
    net.clock.set(Instant::from_secs(3));
    let (outcome, _) = run_client(&net, both(), Some(5));
    assert_eq!(outcome, Outcome::GaveUp { rounds: 5 });
    let sent: Vec<(Instant, SocketAddr)> = net
        .udp_sent()
        .iter()
        .map(|(t, _, to, _)| (*t, *to))
        .collect();
    let expected: Vec<(Instant, SocketAddr)> = (0..5)
        .flat_map(|r| {
            [
                (Instant::from_secs(3 + r), v4()),
                (Instant::from_secs(3 + r), v6()),
            ]
        })
        .collect();
    assert_eq!(sent, expected);
    assert_eq!(
        net.clock.now(),
        Instant::from_secs(8),
        "gave up exactly when round 5 timed out"
    );
}

#[test]
fn a_v4_only_server_answers_after_losses() {
    let net = MockNet::new();
    server(&net, v4(), Duration::from_millis(3), |k| k == 3);
    let (outcome, _) = run_client(&net, both(), None);
    assert_eq!(
        outcome,
        Outcome::Answered {
            offset: Offset { seconds: 7 },
            from: v4(),
            rounds: 3,
            at: Instant::from_secs(2) + Duration::from_millis(3),
        }
    );
    // Both families were asked every round, though only one answered.
    assert_eq!(net.udp_sent().len(), 6);
}

#[test]
fn a_v6_only_server_is_found_too() {
    let net = MockNet::new();
    server(&net, v6(), Duration::from_millis(1), |k| k == 2);
    let (outcome, _) = run_client(&net, both(), None);
    match outcome {
        Outcome::Answered { from, rounds, .. } => {
            assert_eq!(from, v6());
            assert_eq!(rounds, 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_single_family_name_works_with_one_send_per_round() {
    let net = MockNet::new();
    server(&net, v4(), Duration::ZERO, |k| k == 4);
    let targets = Targets {
        v4: Some(v4()),
        v6: None,
    };
    let (outcome, _) = run_client(&net, targets, None);
    assert!(matches!(outcome, Outcome::Answered { rounds: 4, .. }));
    assert_eq!(net.udp_sent().len(), 4);
}

#[test]
fn a_late_answer_to_an_earlier_round_still_counts() {
    let net = MockNet::new();
    // The first request is answered 1.5 s later, during round 2.
    server(&net, v4(), Duration::from_millis(1500), |k| k == 1);
    let (outcome, _) = run_client(&net, both(), None);
    assert_eq!(
        outcome,
        Outcome::Answered {
            offset: Offset { seconds: 7 },
            from: v4(),
            rounds: 2,
            at: Instant::from_millis(1500),
        }
    );
}

#[test]
fn garbage_strangers_and_out_of_range_answers_are_ignored() {
    let net = MockNet::new();
    let stranger: SocketAddr = "127.0.0.9:5004".parse().unwrap();
    net.udp_script(
        v4(),
        Box::new(move |_, _| {
            vec![
                (Duration::from_millis(1), v4(), b"\xff\x00garbage".to_vec()),
                (Duration::from_millis(2), stranger, b"OFFSET=3".to_vec()),
                (Duration::from_millis(3), v4(), b"OFFSET=21".to_vec()),
                (Duration::from_millis(4), v4(), b"OFFSET=20\n".to_vec()),
                (Duration::from_millis(5), v4(), b"OFFSET=1".to_vec()),
            ]
        }),
    );
    let (outcome, log) = run_client(
        &net,
        Targets {
            v4: Some(v4()),
            v6: None,
        },
        None,
    );
    assert!(matches!(
        outcome,
        Outcome::Answered {
            offset: Offset { seconds: 20 },
            rounds: 1,
            ..
        }
    ));
    let received: Vec<&String> = log.iter().filter(|l| l.starts_with("received")).collect();
    assert_eq!(received.len(), 4, "{log:?}");
    assert!(received[0].contains("Malformed"));
    assert!(received[1].contains("NotAsked"));
    assert!(received[2].contains("OutOfRange"));
    assert!(received[3].contains("Answer"));
}

#[test]
fn the_machine_ignores_what_arrives_after_the_end_and_before_the_start() {
    let mut c = ResetClient::new(both(), Reset::LAB, config(None));
    assert_eq!(
        c.handle_datagram(Instant::ZERO, v4(), b"OFFSET=1"),
        Received::NotAsked
    );
    while c.poll_transmit(Instant::ZERO).is_some() {}
    assert_eq!(
        c.handle_datagram(Instant::ZERO, v4(), b"OFFSET=1"),
        Received::Answer(Offset { seconds: 1 })
    );
    assert_eq!(
        c.handle_datagram(Instant::ZERO, v6(), b"OFFSET=2"),
        Received::AfterEnd
    );
    // A v4 answer through a dual-stack socket shows as a mapped address.
    let mut c = ResetClient::new(both(), Reset::LAB, config(None));
    while c.poll_transmit(Instant::ZERO).is_some() {}
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:5004".parse().unwrap();
    assert_eq!(
        c.handle_datagram(Instant::ZERO, mapped, b"OFFSET=1"),
        Received::Answer(Offset { seconds: 1 })
    );
}

#[test]
fn the_loss_estimate_lands_near_the_true_loss() {
    // Many simulated lab experiments against the real responder logic.
    for (p, seed) in [(0.0, 1u64), (0.4, 2), (0.7, 3)] {
        let net = MockNet::new();
        let rng = Rc::new(RefCell::new(SplitMix64::new(seed)));
        let responder = ResponderConfig {
            loss: p,
            schedule: FamilySchedule::Only(Family::V4),
        };
        let r = rng.clone();
        let clock = net.clock.clone();
        net.udp_script(
            v4(),
            Box::new(move |now, req| {
                let from: SocketAddr = "127.0.0.1:50000".parse().unwrap();
                match decide(&responder, now, from, req, &mut *r.borrow_mut()) {
                    Decision::Answer { reply, .. } => {
                        vec![(Duration::from_millis(1), v4(), reply.as_bytes().to_vec())]
                    }
                    _ => vec![],
                }
            }),
        );
        let _ = clock;
        let trials = 3000;
        let mut total = 0u64;
        for _ in 0..trials {
            let (outcome, _) = run_client(&net, both(), None);
            match outcome {
                Outcome::Answered { rounds, offset, .. } => {
                    assert!(offset.seconds <= 20);
                    total += u64::from(rounds);
                }
                other => panic!("{other:?}"),
            }
        }
        let mean = total as f64 / f64::from(trials);
        let p_hat = 1.0 - 1.0 / mean;
        assert!(
            (p_hat - p).abs() < 0.03,
            "p = {p}: estimated {p_hat} from mean {mean}"
        );
    }
}

#[test]
fn responder_answers_within_range_and_never_answers_garbage() {
    let mut rng = SplitMix64::new(5);
    let cfg = ResponderConfig {
        loss: 0.0,
        schedule: FamilySchedule::Both,
    };
    let mut seen = [false; 21];
    for _ in 0..2000 {
        match decide(&cfg, Instant::ZERO, v4(), b"RESET:20", &mut rng) {
            Decision::Answer { offset, reply, .. } => {
                seen[offset.seconds as usize] = true;
                assert!(reply.as_bytes().len() <= b"RESET:20".len() + 1);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(seen.iter().all(|s| *s), "every X in 0..=20 comes up");
    for junk in [
        &b""[..],
        b"RESET",
        b"RESET:x",
        b"OFFSET=1",
        b"RESET:100000",
        &[0u8; 1400],
    ] {
        assert!(matches!(
            decide(&cfg, Instant::ZERO, v4(), junk, &mut rng),
            Decision::Malformed(_)
        ));
    }
    let all_lost = ResponderConfig {
        loss: 1.0,
        schedule: FamilySchedule::Both,
    };
    for _ in 0..100 {
        assert!(matches!(
            decide(&all_lost, Instant::ZERO, v4(), b"RESET:20", &mut rng),
            Decision::Lost(_)
        ));
    }
    let _ = rng.next_u64();
}

#[test]
fn the_alternating_schedule_switches_family_every_period() {
    let s = FamilySchedule::Alternate {
        period: Duration::from_secs(60),
        first: Family::V4,
    };
    assert!(s.serves(Family::V4, Instant::from_secs(0)));
    assert!(!s.serves(Family::V6, Instant::from_secs(59)));
    assert!(s.serves(Family::V6, Instant::from_secs(60)));
    assert!(!s.serves(Family::V4, Instant::from_secs(119)));
    assert!(s.serves(Family::V4, Instant::from_secs(120)));
    assert_eq!(
        s.next_change(Instant::from_secs(61)),
        Some(Instant::from_secs(120))
    );
    assert_eq!(FamilySchedule::Both.next_change(Instant::ZERO), None);
}

#[test]
fn the_server_driver_answers_requests_and_drops_the_rest() {
    let net = MockNet::new();
    let mut stack = net.clone();
    let s4 = stack.udp_bind_at(v4());
    let s6 = stack.udp_bind_at(v6());
    let mut server: ResetServer<MockNet, 2> = ResetServer::from_sockets(
        [Some(s4), Some(s6)],
        ResponderConfig {
            loss: 0.0,
            schedule: FamilySchedule::Alternate {
                period: Duration::from_secs(10),
                first: Family::V4,
            },
        },
    );
    let pdc4: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let pdc6: SocketAddr = "[::1]:40001".parse().unwrap();
    let mut rng = SplitMix64::new(1);
    let mut buf = [0u8; 64];
    let mut log = Vec::new();
    let mut poll = |stack: &mut MockNet, log: &mut Vec<String>| {
        let now = net.clock.now();
        server.poll(stack, now, &mut rng, &mut buf, &mut |e| match e {
            ResponderEvent::Request { from, decision, .. } => {
                log.push(format!("{from} {decision:?}"))
            }
            ResponderEvent::ReceiveFailed { error } => log.push(format!("failed {error}")),
        });
    };
    net.udp_deliver(pdc4, 5004, b"RESET:20");
    net.udp_deliver(pdc6, 5004, b"RESET:20");
    net.udp_deliver(pdc4, 5004, b"RESET:20 please");
    poll(&mut stack, &mut log);
    let sent = net.udp_sent();
    assert_eq!(
        sent.len(),
        1,
        "only the v4 request is answered in the v4 period: {log:?}"
    );
    assert_eq!(sent[0].2, pdc4);
    assert!(Offset::parse(&sent[0].3).is_ok());
    assert!(log.iter().any(|l| l.contains("OffSchedule(V6)")));
    assert!(log.iter().any(|l| l.contains("Malformed")));

    net.clock.set(Instant::from_secs(10));
    net.udp_deliver(pdc6, 5004, b"RESET:20\n");
    poll(&mut stack, &mut log);
    let sent = net.udp_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].2, pdc6);
}
