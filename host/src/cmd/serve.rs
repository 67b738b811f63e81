//! `pmulab serve`: every lab server at once, on loopback, as the course ran
//! them — so the lab works on any laptop.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::ca;
use crate::cli::ServeArgs;
use crate::failure::Failure;
use crate::launch::Launched;
use crate::output::tell;

/// Set by SIGINT/SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Where the CA and the TLS PMU's certificate live between runs.
pub fn default_state_dir() -> PathBuf {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(state).join("pmulab");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/state/pmulab"),
        None => PathBuf::from(".pmulab-state"),
    }
}

/// The TLS material `serve` and `grade` use: a CA and a certificate for
/// `localhost` it signed, made on first use. Returns (ca.crt, server.crt, server key).
pub fn tls_material(state: &Path) -> Result<(PathBuf, PathBuf, PathBuf), Failure> {
    let ca_dir = state.join("ca");
    let (ca_crt, _) = ca::ca_files(&ca_dir);
    if !ca_crt.exists() {
        ca::init(&ca_dir, &ca::default_name(), ca::KeyKind::EcdsaP256, false)
            .map_err(|e| Failure::runtime(format!("cannot make the CA: {e}")))?;
    }
    let crt = state.join("localhost.crt");
    let key = state.join("localhost_key.pem");
    if !crt.exists() || !key.exists() {
        let (key_path, csr) = ca::request(state, "localhost", ca::KeyKind::EcdsaP256, true)
            .map_err(|e| Failure::runtime(format!("cannot make a key: {e}")))?;
        ca::sign(&csr, &ca_dir, &crt, 730, None, ca::Profile::Modern, true)
            .map_err(|e| Failure::runtime(format!("cannot sign the TLS PMU's certificate: {e}")))?;
        debug_assert_eq!(key_path, key);
    }
    Ok((ca_crt, crt, key))
}

/// How to try the reset PMU on `family`, and its families in words. A
/// name reaches both families only if it has both addresses, which
/// `localhost` has on some systems and not on others.
fn reset_advice(family: &str, port: u16) -> (String, &'static str) {
    let localhost: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs(&("localhost", port))
            .map(Iterator::collect)
            .unwrap_or_default();
    let dual = localhost.iter().any(|a| a.is_ipv4()) && localhost.iter().any(|a| a.is_ipv6());
    match (family, dual) {
        ("4", _) => (format!("pmulab reset 127.0.0.1 {port}"), "IPv4 only"),
        ("6", _) => (format!("pmulab reset ::1 {port}"), "IPv6 only"),
        ("alternate", true) => (
            format!("pmulab reset localhost {port}"),
            "one family at a time",
        ),
        ("alternate", false) => (
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
        port(5003)?,
        port(5004)?,
        port(5006)?,
        port(5443)?,
        port(10505)?,
    );
    let state = args.state_dir.clone().unwrap_or_else(default_state_dir);
    std::fs::create_dir_all(&state)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", state.display())))?;
    let (ca_crt, crt, key) = tls_material(&state)?;
    let count = args.count.clone();
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
                &args.family,
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
                "224.1.1.1",
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
    let (udp_try, families) = reset_advice(&args.family, udp);
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
            format!("224.1.1.1:{mc} via {}", args.iface),
            format!("pmulab receiver 224.1.1.1 {mc}"),
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
