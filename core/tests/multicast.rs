//! Part 4 in virtual time: the broadcaster's schedule and its driver.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod support;

use std::net::SocketAddrV4;
use std::time::Duration;

use pmulab_core::multicast::Group;
use pmulab_core::multicast::bot::{Bot, BotOutput};
use pmulab_core::multicast::client::open_sender;
use pmulab_core::multicast::server::{BotEvent, broadcast};
use pmulab_core::multicast::{Frame, FrameError};
use pmulab_core::time::{Clock, Instant};
use support::MockNet;

/// Runs a bot by itself until `until`, returning (instant, datagram) pairs.
fn schedule(text: &str, interval: Duration, once: bool, until: Instant) -> Vec<(Instant, Vec<u8>)> {
    let mut bot = Bot::new(text, interval, once);
    let mut now = Instant::from_secs(50);
    let mut buf = [0u8; 128];
    let mut out = Vec::new();
    loop {
        while let Some(o) = bot.poll_transmit(now, &mut buf) {
            match o {
                BotOutput::Line { len, .. } | BotOutput::Rewind { len } => {
                    out.push((now, buf[..len].to_vec()))
                }
                BotOutput::Skipped { line, error } => {
                    out.push((now, format!("skipped {line}: {error}").into_bytes()))
                }
            }
        }
        match bot.poll_timeout() {
            Some(t) if t <= until => now = t,
            _ => return out,
        }
    }
}

fn at(ms: u64) -> Instant {
    Instant::from_secs(50) + Duration::from_millis(ms)
}

#[test]
fn lines_then_marker_then_three_intervals_of_silence_then_again() {
    let text = "Two households,  \r\n\nboth alike\t\n";
    let got = schedule(text, Duration::from_millis(500), false, at(5000));
    let expected: Vec<(Instant, Vec<u8>)> = vec![
        (at(0), b"swcmTVTwo households,".to_vec()),
        (at(500), b"swcmTV".to_vec()),
        (at(1000), b"swcmTVboth alike".to_vec()),
        (at(1500), b"swcmTVRWND".to_vec()),
        (at(3000), b"swcmTVTwo households,".to_vec()),
        (at(3500), b"swcmTV".to_vec()),
        (at(4000), b"swcmTVboth alike".to_vec()),
        (at(4500), b"swcmTVRWND".to_vec()),
    ];
    assert_eq!(got, expected);
}

#[test]
fn once_stops_after_the_marker_and_a_missing_final_newline_is_fine() {
    let got = schedule("a\nb", Duration::from_secs(1), true, at(100_000));
    let datagrams: Vec<&[u8]> = got.iter().map(|(_, d)| d.as_slice()).collect();
    assert_eq!(datagrams, [&b"swcmTVa"[..], b"swcmTVb", b"swcmTVRWND"]);
    assert_eq!(got.last().unwrap().0, at(2000));
}

#[test]
fn an_empty_text_is_only_markers() {
    let got = schedule("", Duration::from_secs(1), false, at(7000));
    let times: Vec<Instant> = got.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [at(0), at(3000), at(6000)]);
    assert!(got.iter().all(|(_, d)| d == b"swcmTVRWND"));
}

#[test]
fn a_line_too_long_for_the_buffer_is_skipped_not_cut() {
    let long = "x".repeat(200);
    let text = format!("short\n{long}\nend\n");
    let got = schedule(&text, Duration::from_secs(1), true, at(100_000));
    let datagrams: Vec<String> = got
        .iter()
        .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
        .collect();
    assert_eq!(datagrams[0], "swcmTVshort");
    assert!(
        datagrams[1].starts_with("skipped 2: the text is 200 bytes"),
        "{datagrams:?}"
    );
    assert_eq!(datagrams[2], "swcmTVend");
}

#[test]
fn frames_parse_what_the_bot_sends() {
    let got = schedule(
        "Montague ⚔ Capulet\n",
        Duration::from_secs(1),
        true,
        at(10_000),
    );
    let frame = Frame::parse(&got[0].1).unwrap();
    assert_eq!(
        (frame.id.to_string().as_str(), frame.text),
        ("swcmTV", "Montague ⚔ Capulet")
    );
    assert_eq!(Frame::parse(b"swcm"), Err(FrameError::TooShort { len: 4 }));
}

#[test]
fn the_driver_sets_the_options_and_sends_on_schedule() {
    let net = MockNet::new();
    let mut stack = net.clone();
    let group = Group {
        addr: "224.1.1.1:10505".parse::<SocketAddrV4>().unwrap(),
        interface: "127.0.0.1".parse().unwrap(),
        ttl: 10,
    };
    let mut socket = open_sender(&mut stack, &group).unwrap();
    assert_eq!(
        net.multicast_log(),
        ["interface 127.0.0.1", "ttl 10", "loop true"]
    );
    let mut bot = Bot::new("one\ntwo\n", Duration::from_secs(2), true);
    let mut buf = [0u8; 64];
    let mut sent = 0;
    broadcast(
        &mut stack,
        &net.clock,
        &mut bot,
        &mut socket,
        &mut buf,
        &mut |e: BotEvent<'_, _>| {
            let BotEvent::Output { sent: result, .. } = e;
            assert!(result.is_ok());
            sent += 1;
        },
        &mut || true,
    );
    assert_eq!(sent, 3);
    let datagrams: Vec<(Instant, String, Vec<u8>)> = net
        .udp_sent()
        .into_iter()
        .map(|(t, _, to, d)| (t, to.to_string(), d))
        .collect();
    assert_eq!(
        datagrams,
        [
            (
                Instant::ZERO,
                "224.1.1.1:10505".to_string(),
                b"swcmTVone".to_vec()
            ),
            (
                Instant::from_secs(2),
                "224.1.1.1:10505".to_string(),
                b"swcmTVtwo".to_vec()
            ),
            (
                Instant::from_secs(4),
                "224.1.1.1:10505".to_string(),
                b"swcmTVRWND".to_vec()
            ),
        ]
    );
    assert_eq!(net.clock.now(), Instant::from_secs(4));
}
