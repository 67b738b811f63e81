//! The smoltcp adapter on the host: two smoltcp interfaces joined by an
//! in-memory wire, core's PMU server and reset responder on one, the
//! adapter's client side on the other, in virtual time.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use embedded_nal::{TcpClientStack, UdpClientStack, nb};
use pmulab_core::nal::Park;
use pmulab_core::reset::responder::{FamilySchedule, ResponderConfig};
use pmulab_core::reset::server::ResetServer;
use pmulab_core::rng::SplitMix64;
use pmulab_core::stream::server::PmuServer;
use pmulab_core::stream::session::{MessageCount, SessionConfig};
use pmulab_core::time::Instant;
use pmulab_embedded::nal::{Platform, SmolStack};

mod common;

use common::{End, Virtual};

type Stack = SmolStack<'static, End, Virtual, 6, 1>;

fn pair() -> (Stack, Stack, Virtual) {
    let clock = Virtual::new();
    let (a, b) = common::wire();
    let server = common::stack(a, [10, 0, 0, 1], 1, clock.clone());
    let client = common::stack(b, [10, 0, 0, 2], 2, clock.clone());
    (server, client, clock)
}

const PMU: &str = "10.0.0.1:5003";

/// One PDC exchange over the adapter's client side, with the server polled in between.
fn exchange(
    server: &mut Stack,
    pmu: &mut PmuServer<Stack, 4>,
    client: &mut Stack,
    command: &[u8],
) -> Vec<u8> {
    let mut rng = SplitMix64::new(1);
    let mut buf = [0u8; 256];
    let mut step = |server: &mut Stack, client: &mut Stack| {
        let now = server.platform().now();
        pmu.poll(server, now, &mut rng, &mut buf, &mut |_| {});
        server.poll();
        client.poll();
        server.park(Some(now + Duration::from_millis(1)));
    };
    let mut socket = TcpClientStack::socket(client).unwrap();
    let remote: SocketAddr = PMU.parse().unwrap();
    for _ in 0..10_000 {
        match TcpClientStack::connect(client, &mut socket, remote) {
            Ok(()) => break,
            Err(nb::Error::WouldBlock) => step(server, client),
            Err(e) => panic!("connect: {e:?}"),
        }
    }
    let mut sent = 0;
    while sent < command.len() {
        match TcpClientStack::send(client, &mut socket, &command[sent..]) {
            Ok(n) => sent += n,
            Err(nb::Error::WouldBlock) => step(server, client),
            Err(e) => panic!("send: {e:?}"),
        }
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 300];
    for _ in 0..100_000 {
        match TcpClientStack::receive(client, &mut socket, &mut chunk) {
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(nb::Error::WouldBlock) => step(server, client),
            Err(nb::Error::Other(pmulab_embedded::nal::SmolError::Closed)) => {
                TcpClientStack::close(client, socket).unwrap();
                // Let the FINs and ACKs settle before the next exchange.
                for _ in 0..50 {
                    step(server, client);
                }
                return got;
            }
            Err(e) => panic!("receive: {e:?}"),
        }
    }
    panic!("no end of stream");
}

#[test]
fn core_s_pmu_runs_on_the_adapter() {
    let (mut server, mut client, _clock) = pair();
    let config = SessionConfig {
        count: MessageCount::Fixed(15),
        flood_bytes: 5000,
        command_timeout: Duration::from_secs(10),
    };
    let mut pmu: PmuServer<Stack, 4> = PmuServer::bind(&mut server, 5003, config).unwrap();
    let glued: String = (0..15).map(|i| format!("This is PMU data {i}")).collect();
    // One after another: the listener keeps listening through its spares.
    for _ in 0..4 {
        let got = exchange(&mut server, &mut pmu, &mut client, b"CMD_short:0");
        assert_eq!(String::from_utf8(got).unwrap(), glued);
    }
    let flood = exchange(&mut server, &mut pmu, &mut client, b"CMD_floodme");
    assert_eq!(flood.len(), 5000);
    assert_eq!(pmulab_core::stream::flood::first_mismatch(0, &flood), None);
    let refused = exchange(&mut server, &mut pmu, &mut client, b"HELLO");
    assert!(refused.starts_with(b"ERROR: unknown command"));
}

#[test]
fn core_s_reset_responder_runs_on_the_adapter() {
    let (mut server, mut client, _clock) = pair();
    let responder = ResponderConfig {
        loss: 0.0,
        schedule: FamilySchedule::Both,
    };
    let mut reset: ResetServer<Stack, 1> = ResetServer::bind(&mut server, 5004, responder).unwrap();
    let mut socket = UdpClientStack::socket(&mut client).unwrap();
    UdpClientStack::connect(&mut client, &mut socket, "10.0.0.1:5004".parse().unwrap()).unwrap();
    // Garbage first: no answer. Then a request: one answer.
    UdpClientStack::send(&mut client, &mut socket, b"garbage").unwrap();
    UdpClientStack::send(&mut client, &mut socket, b"RESET:20").unwrap();
    let mut rng = SplitMix64::new(3);
    let mut buf = [0u8; 64];
    let mut answers = Vec::new();
    for _ in 0..2000 {
        client.poll();
        server.poll();
        let now = server.platform().now();
        reset.poll(&mut server, now, &mut rng, &mut buf, &mut |_| {});
        server.poll();
        client.poll();
        if let Ok((n, from)) = UdpClientStack::receive(&mut client, &mut socket, &mut buf) {
            answers.push((String::from_utf8_lossy(&buf[..n]).into_owned(), from));
        }
        server.park(Some(now + Duration::from_millis(1)));
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].0.starts_with("OFFSET="));
    assert_eq!(answers[0].1, "10.0.0.1:5004".parse::<SocketAddr>().unwrap());
}

/// Core's C37.118.2 server (the board's [`C37Pmu`] service) and core's
/// C37 client on the two ends of the wire, in virtual time: the client
/// gets the configuration, then a data frame every 20 ms of the grid.
#[test]
fn core_s_c37_pmu_and_pdc_run_on_the_adapter() {
    use pmulab_core::synchrophasor::client::{C37Client, Flow};
    use pmulab_core::synchrophasor::pdc::Received;
    use pmulab_core::synchrophasor::pmu::PmuSettings;
    use pmulab_core::synchrophasor::signal::Signal;
    use pmulab_embedded::app::Service;
    use pmulab_embedded::c37::{C37_PORT, C37Pmu};

    let (mut server, mut client, clock) = pair();
    // The board's time zero is 2026-12-03T00:00:00.5Z: frames fall on the grid of UTC.
    let origin = 1_796_256_000_500_000;
    let settings = PmuSettings {
        idcode: 7,
        station: "adapter",
        rate: 50,
        signal: Signal::default(),
    };
    let mut pmu: C37Pmu<'_, Stack, 2> = C37Pmu::bind(&mut server, settings, 1, origin).unwrap();
    let remote: SocketAddr = format!("10.0.0.1:{C37_PORT}").parse().unwrap();
    let now = clock.0.get();
    let mut pdc: C37Client<Stack, 1024> =
        C37Client::new(&mut client, remote, 7, Duration::from_secs(2), now).unwrap();
    let mut stations = Vec::new();
    let mut stamps = Vec::new();
    let mut buf = [0u8; 512];
    for _ in 0..2_000 {
        let now = clock.0.get();
        let utc = Instant::from_micros(origin + now.as_micros());
        pmu.poll(&mut server, now);
        server.poll();
        client.poll();
        let flow = pdc
            .poll(&mut client, now, utc, &mut buf, &mut |frame, _| {
                match frame {
                    Received::Config(cfg) => {
                        let station = cfg.pmus().next().unwrap().station().to_vec();
                        stations.push(String::from_utf8(station).unwrap());
                    }
                    Received::Data(data) => {
                        let t = data.frame().timestamp();
                        stamps.push(u64::from(t.soc) * 1_000_000 + u64::from(t.fraction));
                    }
                    _ => {}
                }
                match stamps.len() < 25 {
                    true => Flow::More,
                    false => Flow::Stop,
                }
            })
            .unwrap();
        if flow == Flow::Stop {
            break;
        }
        server.park(Some(now + Duration::from_millis(1)));
    }
    assert_eq!(stations, ["adapter"]);
    assert_eq!(stamps.len(), 25);
    for pair in stamps.windows(2) {
        assert_eq!(pair[1] - pair[0], 20_000, "{stamps:?}");
    }
    assert_eq!(
        stamps[0] % 20_000,
        0,
        "on the 50-per-second grid: {stamps:?}"
    );
    // Every frame was sent no earlier than its time.
    assert!(
        stamps[24] <= origin + clock.0.get().as_micros(),
        "{stamps:?}"
    );
    let utc = Instant::from_micros(origin + clock.0.get().as_micros());
    pdc.finish(&mut client, utc);
}
