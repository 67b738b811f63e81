//! Runs the hostile-client battery against one PMU and prints each case
//! and its outcome as a markdown table; exits 1 if any case failed or the
//! well-behaved PDC beside them was ever served wrongly.
//!
//!     hostile tcp 127.0.0.1:5003 --udp 127.0.0.1:5004 --command-timeout 10
//!     hostile tls 127.0.0.1:5443 --ca ca.crt
//!     hostile ws 127.0.0.1:8765
//!
//! Options: --count N (messages per CMD_short, 15), --command-timeout SECS
//! (the server's, 10), --burst K (connections at once, 2000), --ca FILE
//! (TLS), --udp ADDR (the reset port, for the garbage flood), --lossy-link
//! (the link drops frames, as QEMU's board NIC under a flood does: a
//! well-behaved command that never arrived is counted as lost, not wrong).
#![allow(clippy::print_stdout)] // A command-line tool.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use pmulab_tests::hostile::{Battery, Transport};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()) {
        Ok(battery) => run(&battery),
        Err(e) => {
            eprintln!("hostile: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(battery: &Battery) -> ExitCode {
    pmulab_tests::hostile::raise_open_file_limit();
    let (cases, watch) = battery.run();
    println!("| what the client does | what the server did |");
    println!("|---|---|");
    let mut failed = 0;
    for case in &cases {
        match &case.outcome {
            Ok(outcome) => println!("| {} | {outcome} |", case.what),
            Err(why) => {
                failed += 1;
                println!("| {} | **FAILED**: {why} |", case.what);
            }
        }
    }
    println!(
        "\nA well-behaved PDC beside them: {} sessions served in full, {} told busy, {} refused by the stack, {} commands lost on the link, {} wrong.",
        watch.served,
        watch.busy,
        watch.refused,
        watch.lost,
        watch.failures.len()
    );
    for failure in watch.failures.iter().take(5) {
        println!("  wrong {failure}");
    }
    if watch.failures.len() > 5 {
        let last = watch
            .failures
            .last()
            .map(String::as_str)
            .unwrap_or_default();
        println!("  … the last one {last}");
    }
    match failed == 0 && watch.failures.is_empty() && watch.served > 0 {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}

fn parse(args: Vec<String>) -> Result<Battery, String> {
    let usage = "usage: hostile <tcp|tls|ws> <addr:port> [--ca FILE] [--udp ADDR] [--count N] [--command-timeout SECS] [--burst K] [--lossy-link]";
    let mut positional = Vec::new();
    let (mut ca, mut udp, mut count, mut timeout, mut burst) = (None, None, 15, 10.0, 2000);
    let mut lossy_link = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--ca" => ca = Some(value("--ca")?),
            "--udp" => udp = Some(address(&value("--udp")?)?),
            "--count" => count = number(&value("--count")?)?,
            "--burst" => burst = number(&value("--burst")?)?,
            "--command-timeout" => {
                timeout = value("--command-timeout")?
                    .parse::<f64>()
                    .ok()
                    .filter(|t| t.is_finite() && *t > 0.0)
                    .ok_or("--command-timeout needs a positive number of seconds")?
            }
            "--lossy-link" => lossy_link = true,
            "-h" | "--help" => return Err(usage.into()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}; {usage}")),
            _ => positional.push(arg),
        }
    }
    let [kind, addr] = positional.as_slice() else {
        return Err(usage.into());
    };
    let transport = match (kind.as_str(), ca) {
        ("tcp", _) => Transport::Tcp,
        ("ws", _) => Transport::Ws,
        ("tls", Some(ca)) => Transport::Tls(client_config(&ca)?),
        ("tls", None) => return Err("tls needs --ca FILE".into()),
        (other, _) => return Err(format!("unknown transport {other:?}; {usage}")),
    };
    Ok(Battery {
        addr: address(addr)?,
        transport,
        count,
        command_timeout: Duration::from_secs_f64(timeout),
        burst,
        udp,
        lossy_link,
    })
}

fn address(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an address such as 127.0.0.1:5003"))
}

fn number(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

fn client_config(ca: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{ca}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{ca}: {e}"))?;
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
