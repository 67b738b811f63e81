//! `pmulab serve`: every lab server at once, on loopback, as the course ran
//! them — so the lab works on any laptop.

use std::fmt::Write as _;
use std::io::Write as _;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pmulab_core::lab;

use crate::cli::ServeArgs;
use crate::cli::values::{FamilyChoice, count_text};
use crate::lab::launch::Launched;
use crate::lab::state::{default_state_dir, tls_material};
use crate::ui::failure::Failure;
use crate::ui::output::tell;

/// Set by SIGINT/SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// How to try the reset PMU on `family`, and its families in words. A
/// name reaches both families only if it has both addresses, which
/// `localhost` has on some systems and not on others.
fn reset_advice(family: FamilyChoice, port: u16) -> (String, &'static str) {
    let localhost: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&("localhost", port))
            .map(Iterator::collect)
            .unwrap_or_default();
    let dual = localhost.iter().any(|a| a.is_ipv4()) && localhost.iter().any(|a| a.is_ipv6());
    match (family, dual) {
        (FamilyChoice::V4, _) => (format!("pmulab reset 127.0.0.1 {port}"), "IPv4 only"),
        (FamilyChoice::V6, _) => (format!("pmulab reset ::1 {port}"), "IPv6 only"),
        (FamilyChoice::Alternate, true) => (
            format!("pmulab reset localhost {port}"),
            "one family at a time",
        ),
        (FamilyChoice::Alternate, false) => (
            format!("pmulab reset 127.0.0.1 {port}, or ::1 while IPv6 is served"),
            "one family at a time",
        ),
        (_, true) => (format!("pmulab reset localhost {port}"), "IPv4 and IPv6"),
        (_, false) => (format!("pmulab reset 127.0.0.1 {port}"), "IPv4 and IPv6"),
    }
}

/// Runs all servers until Ctrl-C.
pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let offset = args.port_offset;
    let port = |base: u16| {
        base.checked_add(offset).ok_or_else(|| {
            Failure::usage(format!(
                "--port-offset {offset} pushes port {base} past 65535"
            ))
        })
    };
    let (tcp, udp, ws, tls, mc) = (
        port(lab::TCP_PMU_PORT)?,
        port(lab::UDP_RESET_PORT)?,
        port(lab::WS_PMU_PORT)?,
        port(lab::TLS_PMU_PORT)?,
        port(lab::MULTICAST_PORT)?,
    );
    let state = args.state_dir.clone().unwrap_or_else(default_state_dir);
    std::fs::create_dir_all(&state)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", state.display())))?;
    let (ca_crt, crt, key) = tls_material(&state)?;
    let count = count_text(args.count);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();

    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let plan: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "TCP PMU",
            s(&["pmu", "--port", &tcp.to_string(), "--count", &count]),
            "listening on",
        ),
        (
            "UDP reset PMU",
            s(&[
                "reset-pmu",
                "--port",
                &udp.to_string(),
                "--loss",
                &args.loss.to_string(),
                "--family",
                args.family.name(),
            ]),
            "listening on",
        ),
        (
            "WebSocket PMU",
            s(&["ws-pmu", "--port", &ws.to_string(), "--count", &count]),
            "listening on",
        ),
        (
            "TLS PMU",
            vec![
                "secure-pmu".into(),
                tls.to_string(),
                crt.display().to_string(),
                key.display().to_string(),
                "--count".into(),
                count.clone(),
            ],
            "listening on",
        ),
        (
            "multicast bot",
            s(&[
                "bot",
                &lab::MULTICAST_GROUP.to_string(),
                &mc.to_string(),
                "builtin",
                "1",
                "--iface",
                &args.iface.to_string(),
            ]),
            "sending",
        ),
    ];
    let mut running = Vec::new();
    for (name, argv, marker) in plan {
        match Launched::start(name, &argv, marker) {
            Ok(server) => running.push(server),
            Err(failure) => {
                // No half-running lab: stop what started.
                drop(running);
                return Err(failure);
            }
        }
    }
    // What listens, as the reset PMU itself said it.
    let udp_where = running
        .iter()
        .find(|server| server.name == "UDP reset PMU")
        .and_then(|server| server.ready_line.split("listening on ").nth(1))
        .and_then(|rest| rest.split(" (").next())
        .map(|addrs| addrs.replace(" and ", ", "))
        .unwrap_or_default();
    let (udp_try, families) = reset_advice(args.family, udp);
    let mut table = String::new();
    let _ = writeln!(
        table,
        "pmulab serve: the lab's servers, on loopback (state in {})",
        state.display()
    );
    let _ = writeln!(table);
    let rows = [
        (
            "2",
            "TCP PMU",
            format!("127.0.0.1:{tcp}"),
            format!("pmulab pdc 127.0.0.1 {tcp} CMD_short:0"),
        ),
        ("3", "UDP reset PMU", udp_where, udp_try),
        (
            "4",
            "multicast bot",
            format!("{}:{mc} via {}", lab::MULTICAST_GROUP, args.iface),
            format!("pmulab receiver {} {mc}", lab::MULTICAST_GROUP),
        ),
        (
            "5",
            "TLS PMU",
            format!("127.0.0.1:{tls}"),
            format!(
                "pmulab secure-pdc CMD_short:0 {} --port {tls}",
                ca_crt.display()
            ),
        ),
        (
            "6",
            "WebSocket PMU",
            format!("ws://127.0.0.1:{ws}/"),
            format!("pmulab pdc ws://127.0.0.1:{ws}/ CMD_short:0"),
        ),
        (
            "6",
            "PDC page",
            format!("http://127.0.0.1:{ws}/"),
            "open it in a browser".to_string(),
        ),
    ];
    let _ = writeln!(
        table,
        "  {:<5} {:<14} {:<32} try it",
        "part", "server", "where"
    );
    for (part, server, place, try_it) in rows {
        let _ = writeln!(table, "  {part:<5} {server:<14} {place:<32} {try_it}");
    }
    let _ = writeln!(table);
    let _ = writeln!(
        table,
        "CMD_short n = {count}, UDP loss {} ({families}). Ctrl-C stops them all.",
        args.loss
    );
    // A closed stdout (the table piped into `head`) must not stop the servers.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(table.as_bytes()).and_then(|()| out.flush());
    drop(out);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if STOP.load(Ordering::SeqCst) {
            for server in &mut running {
                server.stop();
            }
            tell!("pmulab serve: stopped");
            return Ok(());
        }
        for server in &mut running {
            if let Some(status) = server.exited() {
                let said = server.drain().join(" / ");
                let name = server.name.clone();
                for other in &mut running {
                    other.stop();
                }
                return Err(Failure::runtime(format!(
                    "the {name} stopped ({status}): {said}; stopped the others"
                )));
            }
        }
    }
}
