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
            "PORT must be a number from 1 to 65535",
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
            &["pmu", "--bind", "no-such-host.invalid"][..],
            "is not an address, nor a name this machine resolves",
        ),
        (
            &["pmu", "--command-timeout=0"][..],
            "0 seconds: it must be more than 0",
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
    assert!(
        err.contains("--port (0 picks a free one"),
        "says what to do: {err}"
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory for one test, removed at the end.
struct Dir(std::path::PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("pmulab-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn path(&self, file: &str) -> String {
        self.0.join(file).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn out_of_range_validity_is_a_usage_error_not_a_panic() {
    let dir = Dir::new("days");
    assert!(pmulab(&["ca", "init", &dir.path("ca")]).status.success());
    assert!(
        pmulab(&["ca", "request", &dir.path(""), "--cn", "banana"])
            .status
            .success()
    );
    let (csr, ca, out_file) = (dir.path("banana.csr"), dir.path("ca"), dir.path("x.crt"));
    for extra in [
        &["--days", "3000000"][..],
        &["--not-before", "9990-01-01", "--days", "36000"][..],
    ] {
        let mut args = vec!["ca", "sign", &csr, "--ca", &ca, "--out", &out_file];
        args.extend_from_slice(extra);
        let out = pmulab(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {out:?}");
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.starts_with("pmulab ca sign: error:"), "{err}");
    }
}

#[test]
fn keys_and_certificates_are_never_overwritten_without_force() {
    let dir = Dir::new("force");
    assert!(pmulab(&["ca", "init", &dir.path("ca")]).status.success());
    let request = ["ca", "request", &dir.path(""), "--cn", "kiwi"];
    assert!(pmulab(&request).status.success());
    let key = std::fs::read(dir.path("kiwi_key.pem")).unwrap();
    let out = pmulab(&request);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists; use --force"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read(dir.path("kiwi_key.pem")).unwrap(),
        key,
        "the key was replaced"
    );
    let mut forced = request.to_vec();
    forced.push("--force");
    assert!(pmulab(&forced).status.success());
    assert_ne!(std::fs::read(dir.path("kiwi_key.pem")).unwrap(), key);

    let (csr, ca, crt) = (dir.path("kiwi.csr"), dir.path("ca"), dir.path("kiwi.crt"));
    let sign = [
        "ca",
        "sign",
        csr.as_str(),
        "--ca",
        ca.as_str(),
        "--out",
        crt.as_str(),
    ];
    assert!(pmulab(&sign).status.success());
    let out = pmulab(&sign);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("kiwi.crt already exists"),
        "{out:?}"
    );
    // --ca names the CA's directory, not its certificate.
    let ca_file = dir.path("ca/ca.crt");
    let out = pmulab(&[
        "ca",
        "sign",
        &csr,
        "--ca",
        &ca_file,
        "--out",
        &dir.path("y.crt"),
    ]);
    assert!(
        text(&out.stderr).contains("--ca wants the CA's directory"),
        "{out:?}"
    );
}

#[test]
fn every_error_has_one_style_and_the_version_is_pmulab_s() {
    for (args, prefix) in [
        (&["pdc", "127.0.0.1"][..], "pmulab pdc: error:"),
        (
            &[
                "ca", "sign", "x.csr", "--ca", "d", "--out", "y", "--days", "0",
            ][..],
            "pmulab ca sign: error:",
        ),
        (&["no-such-command"][..], "pmulab: error:"),
        (
            &["pdc", "127.0.0.1", "5003", "CMD_hello"][..],
            "pmulab pdc: error:",
        ),
    ] {
        let out = pmulab(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with(prefix), "{args:?}: {err}");
        assert!(!err.contains('\x1b'), "colour on a pipe: {err:?}");
    }
    for args in [
        &["-V"][..],
        &["pdc", "-V"][..],
        &["ca", "sign", "--version"][..],
    ] {
        let out = pmulab(args);
        assert!(out.status.success());
        assert_eq!(
            text(&out.stdout).trim(),
            format!("pmulab {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn every_help_teaches_with_examples_and_one_set_of_value_names() {
    let subcommands = [
        "pdc",
        "pmu",
        "reset",
        "reset-pmu",
        "receiver",
        "sender",
        "bot",
        "secure-pmu",
        "ws-pmu",
        "secure-pdc",
        "ca",
        "serve",
        "grade",
        "load",
        "demo",
        "udp-receiver",
        "udp-sender",
        "echo-server",
        "echo-client",
        "completions",
        "man",
    ];
    for sub in subcommands {
        let help = text(&pmulab(&[sub, "--help"]).stdout);
        assert!(
            help.contains("Example"),
            "{sub} --help has no example:\n{help}"
        );
        for odd in [
            "<BIND>",
            "<COUNT>",
            "<FLOOD_BYTES>",
            "<MAX_SESSIONS>",
            "<TTL>",
            "<SEED>",
            "<HOST>",
        ] {
            assert!(!help.contains(odd), "{sub} --help says {odd}");
        }
    }
    let pmu = text(&pmulab(&["pmu", "--help"]).stdout);
    for name in [
        "--bind <ADDR>",
        "--port <PORT>",
        "--count <N>",
        "--flood-bytes <BYTES>",
        "--command-timeout <SECONDS>",
    ] {
        assert!(pmu.contains(name), "{name}: {pmu}");
    }
    // --count means messages per CMD_short everywhere; receivers stop after --max-messages.
    for receiver in ["receiver", "udp-receiver"] {
        let help = text(&pmulab(&[receiver, "--help"]).stdout);
        assert!(
            help.contains("--max-messages <N>") && !help.contains("--count"),
            "{help}"
        );
    }
    let pdc = text(&pmulab(&["pdc", "--help"]).stdout);
    assert!(
        pdc.contains("pmulab pdc [OPTIONS] <SERVER> <PORT> <COMMAND>"),
        "{pdc}"
    );
    assert!(
        pdc.contains("pmulab pdc [OPTIONS] <URL> <COMMAND>"),
        "{pdc}"
    );
    assert!(
        pdc.contains("<SERVER|URL>") && pdc.contains("[::1]"),
        "{pdc}"
    );
    let secure = text(&pmulab(&["secure-pdc", "--help"]).stdout);
    assert!(
        !secure.contains("--ws") && !secure.contains("WebSocket"),
        "{secure}"
    );
    let secure_pmu = text(&pmulab(&["secure-pmu", "--help"]).stdout);
    assert!(
        secure_pmu.contains("pmulab secure-pmu 5443"),
        "{secure_pmu}"
    );
}

#[test]
fn bad_ports_and_addresses_are_bad_input_with_what_to_do() {
    for (args, needle) in [
        (
            &["pdc", "127.0.0.1:5003", "CMD_short:0"][..],
            "put a space between the address and the port: pmulab pdc 127.0.0.1 5003 CMD_short:0",
        ),
        (
            &["pdc", "127.0.0.1", "0", "CMD_short:0"][..],
            "port 0 cannot be connected to",
        ),
        (
            &["udp-sender", "127.0.0.1", "0", "hi"][..],
            "port 0 cannot be reached",
        ),
        (
            &["load", "127.0.0.1", "5003", "--sessions", "0"][..],
            "it must be at least 1",
        ),
    ] {
        let out = pmulab(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = pmulab(&[
        "pdc",
        "127.0.0.1",
        "5003",
        "CMD_short:0",
        "--timeout",
        "1e300",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("1e300 seconds is too long") && err.len() < 200,
        "{err}"
    );
}

#[test]
fn completions_and_man_pages_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = pmulab(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(
            script.contains("pmulab") && script.contains("secure-pdc"),
            "{shell}"
        );
    }
    let dir = Dir::new("man");
    let out = pmulab(&["man", &dir.0.display().to_string()]);
    assert!(out.status.success(), "{out:?}");
    for page in [
        "pmulab.1",
        "pmulab-pdc.1",
        "pmulab-ca-sign.1",
        "pmulab-grade.1",
    ] {
        let roff = std::fs::read_to_string(dir.0.join(page)).unwrap();
        assert!(roff.contains(".TH"), "{page}");
    }
}
