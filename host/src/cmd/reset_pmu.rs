//! `pmulab reset-pmu`: the course's UDP PMU (part 3), core's responder
//! over the host stack, one socket per family.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use embedded_nal::{UdpClientStack, UdpFullStack};
use pmulab_core::nal::Park;
use pmulab_core::reset::responder::{Decision, Family, FamilySchedule, ResponderConfig};
use pmulab_core::reset::server::{ResetServer, ResponderEvent};
use pmulab_core::time::Clock;

use crate::cli::ResetPmuArgs;
use crate::cli::values::FamilyChoice;
use crate::net::rng::seeded_or_random;
use crate::net::{HostClock, StdStack};
use crate::ui::failure::Failure;
use crate::ui::log::Log;

/// Sockets the responder can serve on: one per `--bind` address.
const MAX_BINDS: usize = 4;

/// Runs the responder until killed.
pub fn run(args: ResetPmuArgs, log: &Log) -> Result<(), Failure> {
    let schedule = match args.family {
        FamilyChoice::V4 => FamilySchedule::Only(Family::V4),
        FamilyChoice::V6 => FamilySchedule::Only(Family::V6),
        FamilyChoice::Alternate => FamilySchedule::Alternate {
            period: args.period,
            first: Family::V4,
        },
        FamilyChoice::Both => FamilySchedule::Both,
    };
    let mut binds = args.bind.clone();
    if binds.is_empty() {
        binds = vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
    }
    // A family that is never served gets no socket: its requests meet a closed port.
    binds.retain(|ip| match schedule {
        FamilySchedule::Only(Family::V4) => ip.is_ipv4(),
        FamilySchedule::Only(Family::V6) => ip.is_ipv6(),
        _ => true,
    });
    if binds.is_empty() {
        return Err(Failure::usage(format!(
            "--family {} has no --bind address of that family",
            args.family.name()
        )));
    }
    if binds.len() > MAX_BINDS {
        return Err(Failure::usage(format!(
            "at most {MAX_BINDS} --bind addresses"
        )));
    }

    let clock = HostClock::new();
    let mut stack = StdStack::new(Ipv4Addr::UNSPECIFIED.into(), clock);
    let mut sockets: [Option<_>; MAX_BINDS] = Default::default();
    let mut port = args.port;
    let mut listening = Vec::new();
    for (slot, ip) in sockets.iter_mut().zip(&binds) {
        stack.set_bind_ip(*ip);
        let mut socket = UdpClientStack::socket(&mut stack).map_err(Failure::runtime)?;
        UdpFullStack::bind(&mut stack, &mut socket, port).map_err(|e| {
            Failure::runtime(format!(
                "cannot listen on {}: {e}{}",
                fmt_addr(*ip, port),
                e.advice().map(|a| format!(": {a}")).unwrap_or_default()
            ))
        })?;
        let local = stack.local_addr(&socket).map_err(Failure::runtime)?;
        // With --port 0, every family shares the port the first one got.
        port = local.port();
        listening.push(local.to_string());
        *slot = Some(socket);
    }
    let config = ResponderConfig {
        loss: args.loss,
        schedule,
    };
    let families = match schedule {
        FamilySchedule::Both => "IPv4 and IPv6".to_string(),
        FamilySchedule::Only(f) => format!("{} only", family_name(f)),
        FamilySchedule::Alternate { period, .. } => {
            format!(
                "one family at a time, switching every {} s",
                period.as_secs_f64()
            )
        }
    };
    log.always(format_args!(
        "pmulab reset-pmu listening on {} (loss {}, {families})",
        listening.join(" and "),
        args.loss
    ));

    let mut server: ResetServer<StdStack, MAX_BINDS> = ResetServer::from_sockets(sockets, config);
    let mut rng = seeded_or_random(args.seed);
    let mut buf = [0u8; 2048];
    let mut served: Option<(bool, bool)> = None;
    loop {
        let now = clock.now();
        let active = (
            schedule.serves(Family::V4, now),
            schedule.serves(Family::V6, now),
        );
        if matches!(schedule, FamilySchedule::Alternate { .. }) && served != Some(active) {
            let now_serving = if active.0 { "IPv4" } else { "IPv6" };
            log.always(format_args!("now answering {now_serving} only"));
        }
        served = Some(active);
        server.poll(&mut stack, now, &mut rng, &mut buf, &mut |event| {
            report(log, &event, args.loss)
        });
        stack.park(server.poll_timeout());
    }
}

fn report(log: &Log, event: &ResponderEvent<'_>, loss: f64) {
    match event {
        ResponderEvent::Request {
            from,
            decision,
            send_error,
        } => match decision {
            Decision::Answer {
                request, offset, ..
            } => match send_error {
                None => log.info(format_args!("{from} {request} → {offset}")),
                Some(e) => log.always(format_args!("{from} {request} → {offset}, not sent: {e}")),
            },
            Decision::Lost(request) => {
                log.info(format_args!("{from} {request} → lost (p = {loss})"))
            }
            Decision::Malformed(e) => log.info(format_args!("{from} malformed ({e}): no answer")),
            Decision::OffSchedule(f) => log.info(format_args!(
                "{from} {} is not served now: no answer",
                family_name(*f)
            )),
        },
        ResponderEvent::ReceiveFailed { error } => {
            log.info(format_args!("receive failed: {error}"))
        }
    }
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

fn fmt_addr(ip: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}
