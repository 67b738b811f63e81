//! The command line itself: help that teaches, and usage errors that say
//! what is wrong with exit status 2.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

use std::process::Command;

fn pmulab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pmulab"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_lists_every_program_with_examples() {
    let out = pmulab(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "pdc",
        "pmu",
        "udp-receiver",
        "udp-sender",
        "echo-server",
        "echo-client",
    ] {
        assert!(help.contains(sub), "{sub} missing from --help");
    }
    assert!(help.contains("Exit status"));
    let pdc = String::from_utf8(pmulab(&["pdc", "--help"]).stdout).unwrap();
    assert!(pdc.contains("<SERVER> <PORT> <COMMAND>"), "{pdc}");
    assert!(pdc.contains("pmulab pdc 127.0.0.1 5003 CMD_short:0"));
}

#[test]
fn usage_errors_exit_2_with_a_reason() {
    for (args, needle) in [
        (
            &["pdc", "127.0.0.1", "notaport", "CMD_short:0"][..],
            "PORT must be a number from 0 to 65535",
        ),
        (&["pdc", "127.0.0.1", "5003"][..], "the command is missing"),
        (
            &["pdc", "ws://127.0.0.1:5006/", "CMD_short:0", "extra"][..],
            "with a ws:// URL, give only the command",
        ),
        (
            &["pdc", "wss://127.0.0.1:5006/", "CMD_short:0"][..],
            "wss:// (WebSocket over TLS) is not supported",
        ),
        (
            &["pdc", "--tls", "127.0.0.1", "5003", "CMD_short:0"][..],
            "--ca <FILE>",
        ),
        (&["ws-pmu", "--fragment", "0"][..], "invalid value '0'"),
        (
            &["pdc", "127.0.0.1", "5003", "CMD_short"][..],
            "unknown command",
        ),
        (&["pmu", "--count", "7-3"][..], "range 7-3 is empty"),
        (
            &["pmu", "--count", "many"][..],
            "use a number, `random` or a range",
        ),
        (
            &["pmu", "--bind", "localhost"][..],
            "invalid value 'localhost'",
        ),
        (
            &["pmu", "--command-timeout=0"][..],
            "positive number of seconds",
        ),
    ] {
        let out = pmulab(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn a_port_in_use_is_a_clear_runtime_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = pmulab(&["pmu", "--port", &port]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("Address already in use"), "{err}");
}
