//! Part 5 end to end: TLS between pmulab, Python's ssl and openssl, with
//! certificates the tests make (openssl's lab commands and pmulab ca), and
//! every refusal: wrong CA, expired, not yet valid, wrong name, bad files,
//! failed handshakes, and CSRs the CA must not sign.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pmulab_core::stream::flood;
use pmulab_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

/// A directory of certificates for one test.
struct Pki {
    dir: PathBuf,
}

fn sh(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pmulab_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = pmulab_cmd(args);
    cmd.current_dir(dir);
    run(cmd, LIMIT)
}

impl Pki {
    /// A CA made by `pmulab ca init`, and `banana.crt` for an RSA-2048 key made
    /// with the lab's openssl commands, signed by that CA.
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("pmulab-part5-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(pmulab_in(&dir, &["ca", "init", "ca"]).code(), 0);
        sh(
            "openssl",
            &["genrsa", "-out", "banana_key.pem", "2048"],
            &dir,
        );
        sh(
            "openssl",
            &[
                "req",
                "-new",
                "-key",
                "banana_key.pem",
                "-out",
                "banana.csr",
                "-subj",
                "/CN=banana",
            ],
            &dir,
        );
        let out = pmulab_in(
            &dir,
            &[
                "ca",
                "sign",
                "banana.csr",
                "--ca",
                "ca",
                "--out",
                "banana.crt",
            ],
        );
        assert_eq!(out.code(), 0, "{out:?}");
        Pki { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn sign(&self, csr: &str, out: &str, extra: &[&str]) -> Output {
        let mut args = vec!["ca", "sign", csr, "--ca", "ca", "--out", out];
        args.extend_from_slice(extra);
        pmulab_in(&self.dir, &args)
    }

    fn secure_pmu(&self, cert: &str, key: &str, extra: &[&str]) -> Server {
        let mut cmd = pmulab_cmd(["secure-pmu", "0", &self.path(cert), &self.path(key), "-v"]);
        cmd.args(extra);
        Server::start(cmd, false)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn secure_pdc_and_secure_pmu_with_the_lab_s_openssl_certificates() {
    let pki = Pki::new("basic");
    sh(
        "openssl",
        &["verify", "-CAfile", "ca/ca.crt", "banana.crt"],
        &pki.dir,
    );
    let pmu = pki.secure_pmu("banana.crt", "banana_key.pem", &[]);
    let out = run(
        pmulab_cmd([
            "secure-pdc",
            "CMD_short:0",
            &pki.path("ca/ca.crt"),
            "--port",
            &pmu.port(),
        ]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(15));
    assert!(
        out.stderr.contains("verifying the PMU's certificate chain"),
        "{}",
        out.stderr
    );
    let out = run(
        pmulab_cmd([
            "pdc",
            "--tls",
            "--ca",
            &pki.path("ca/ca.crt"),
            "--server-name",
            "banana",
            "127.0.0.1",
            &pmu.port(),
            "CMD_floodme",
        ]),
        LIMIT,
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout.len() as u64, flood::DEFAULT_FLOOD_BYTES);
    assert_eq!(flood::first_mismatch(0, out.stdout.as_bytes()), None);
    assert!(
        !out.stderr.contains("only, not its name"),
        "a name was given: {}",
        out.stderr
    );
}

#[test]
fn pmulab_ca_request_makes_what_openssl_and_python_accept() {
    let pki = Pki::new("request");
    let out = pmulab_in(&pki.dir, &["ca", "request", ".", "--cn", "pmu.lab"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(pki.sign("pmu.lab.csr", "pmu.lab.crt", &[]).code(), 0);
    sh(
        "openssl",
        &["verify", "-CAfile", "ca/ca.crt", "pmu.lab.crt"],
        &pki.dir,
    );
    // EC (PKCS#8) key, checked by name through the SAN the CA added.
    let pmu = pki.secure_pmu("pmu.lab.crt", "pmu.lab_key.pem", &["--count", "3"]);
    let mut python = Command::new(python());
    python
        .arg("-c")
        .arg(concat!(
            "import socket, ssl, sys\n",
            "ctx = ssl.create_default_context(cafile=sys.argv[1])\n",
            "with socket.create_connection(('127.0.0.1', int(sys.argv[2]))) as raw:\n",
            "    with ctx.wrap_socket(raw, server_hostname='pmu.lab') as tls:\n",
            "        tls.sendall(b'CMD_short:0')\n",
            "        data = b''\n",
            "        while chunk := tls.recv(4096): data += chunk\n",
            "print(data.decode())\n"
        ))
        .args([&pki.path("ca/ca.crt"), &pmu.port()]);
    let out = run(python, LIMIT);
    assert_eq!(out.ok_lines(), [expected_messages(3).concat()]);
}

#[test]
fn python_course_client_against_secure_pmu() {
    let pki = Pki::new("course-client");
    let pmu = pki.secure_pmu("banana.crt", "banana_key.pem", &[]);
    let mut cmd = Command::new(python());
    cmd.arg(peer("course_tls_client.py")).args([
        "CMD_short:0",
        &pki.path("ca/ca.crt"),
        "--port",
        &pmu.port(),
    ]);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    let glued: String = out.stdout.lines().collect();
    assert_eq!(glued, expected_messages(15).concat());
}

#[test]
fn openssl_s_client_against_secure_pmu_over_tls_1_3_and_1_2() {
    let pki = Pki::new("s-client");
    let pmu = pki.secure_pmu("banana.crt", "banana_key.pem", &["--count", "4"]);
    for version in ["-tls1_3", "-tls1_2"] {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", pmu.port()),
            "-CAfile",
            &pki.path("ca/ca.crt"),
            "-verify_return_error",
            "-quiet",
            version,
        ]);
        let out = run_with_input(cmd, Some("CMD_short:0\n"), LIMIT);
        assert_eq!(out.code(), 0, "{version}: {out:?}");
        assert_eq!(out.stdout, expected_messages(4).concat(), "{version}");
    }
}

#[test]
fn tls_pdc_against_a_python_student_secure_pmu() {
    let pki = Pki::new("student-pmu");
    let mut cmd = Command::new(python());
    cmd.arg(peer("student_secure_pmu.py")).args([
        "0",
        &pki.path("banana.crt"),
        &pki.path("banana_key.pem"),
        "--count",
        "17",
    ]);
    let pmu = Server::start(cmd, true);
    let ca = pki.path("ca/ca.crt");
    let out = run(
        pmulab_cmd([
            "pdc",
            "--tls",
            "--ca",
            &ca,
            "127.0.0.1",
            &pmu.port(),
            "CMD_short:0",
        ]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(17));
    let out = run(
        pmulab_cmd([
            "secure-pdc",
            "CMD_floodme",
            &ca,
            "--port",
            &pmu.port(),
            "--host",
            "127.0.0.1",
        ]),
        LIMIT,
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "To be, or not to be. ".repeat(2731));
}

#[test]
fn tls_pdc_against_openssl_s_server() {
    let pki = Pki::new("s-server");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port().to_string()
    };
    let mut server = Command::new("openssl");
    server
        .args(["s_server", "-accept", &port, "-naccept", "1", "-quiet"])
        .args([
            "-cert",
            &pki.path("banana.crt"),
            "-key",
            &pki.path("banana_key.pem"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut server = server.spawn().unwrap();
    // s_server relays its standard input to the client; closing it ends the session.
    let mut stdin = server.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        let _ = std::io::Write::write_all(
            &mut stdin,
            b"This is PMU data 0This is PMU data 1This is PMU data 2\n",
        );
        std::thread::sleep(Duration::from_millis(500));
        drop(stdin);
    });
    let mut out = None;
    for _ in 0..50 {
        let attempt = run(
            pmulab_cmd([
                "pdc",
                "--tls",
                "--ca",
                &pki.path("ca/ca.crt"),
                "127.0.0.1",
                &port,
                "CMD_short:0",
            ]),
            LIMIT,
        );
        // s_server may not be listening yet.
        if attempt.stderr.contains("Connection refused") {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        out = Some(attempt);
        break;
    }
    writer.join().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let out = out.expect("openssl s_server never accepted");
    assert_eq!(out.ok_lines(), expected_messages(3));
}

/// Runs the TLS PDC against `pmu` with `ca` and extra arguments; it must fail.
fn refused(pmu: &Server, ca: &str, extra: &[&str]) -> String {
    let mut cmd = pmulab_cmd([
        "pdc",
        "--tls",
        "--ca",
        ca,
        "127.0.0.1",
        &pmu.port(),
        "CMD_short:0",
    ]);
    cmd.args(extra);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "data printed despite the refusal: {}",
        out.stdout
    );
    out.stderr
}

#[test]
fn the_client_refuses_wrong_ca_expired_not_yet_valid_and_wrong_name() {
    let pki = Pki::new("refusals");
    // Another CA entirely.
    assert_eq!(pmulab_in(&pki.dir, &["ca", "init", "other"]).code(), 0);
    let pmu = pki.secure_pmu("banana.crt", "banana_key.pem", &[]);
    let err = refused(&pmu, &pki.path("other/ca.crt"), &[]);
    assert!(err.contains("not signed by the given CA"), "{err}");
    let err = refused(&pmu, &pki.path("ca/ca.crt"), &["--server-name", "apple"]);
    assert!(
        err.contains("the server's certificate is not for apple: it names banana"),
        "{err}"
    );
    drop(pmu);

    assert_eq!(
        pki.sign(
            "banana.csr",
            "old.crt",
            &["--not-before", "2020-01-01", "--days", "30"]
        )
        .code(),
        0
    );
    let pmu = pki.secure_pmu("old.crt", "banana_key.pem", &[]);
    let err = refused(&pmu, &pki.path("ca/ca.crt"), &[]);
    assert!(err.contains("has expired"), "{err}");
    drop(pmu);

    assert_eq!(
        pki.sign("banana.csr", "future.crt", &["--not-before", "2099-01-01"])
            .code(),
        0
    );
    let pmu = pki.secure_pmu("future.crt", "banana_key.pem", &[]);
    let err = refused(&pmu, &pki.path("ca/ca.crt"), &[]);
    assert!(err.contains("not valid yet"), "{err}");
}

#[test]
fn secure_pmu_loads_every_key_format_and_a_chain() {
    let pki = Pki::new("keys");
    // PKCS#1 RSA ("BEGIN RSA PRIVATE KEY") and SEC1 EC ("BEGIN EC PRIVATE KEY").
    sh(
        "openssl",
        &["genrsa", "-traditional", "-out", "rsa1.pem", "2048"],
        &pki.dir,
    );
    sh(
        "openssl",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
        &pki.dir,
    );
    for key in ["rsa1.pem", "ec.pem"] {
        let csr = format!("{key}.csr");
        let crt = format!("{key}.crt");
        sh(
            "openssl",
            &["req", "-new", "-key", key, "-out", &csr, "-subj", "/CN=lab"],
            &pki.dir,
        );
        assert_eq!(pki.sign(&csr, &crt, &[]).code(), 0);
        let pmu = pki.secure_pmu(&crt, key, &["--count", "2"]);
        let out = run(
            pmulab_cmd([
                "secure-pdc",
                "CMD_short:0",
                &pki.path("ca/ca.crt"),
                "--port",
                &pmu.port(),
            ]),
            LIMIT,
        );
        assert_eq!(out.ok_lines(), expected_messages(2), "{key}");
    }
    // The certificate file may carry the chain after the leaf.
    let chain = [
        std::fs::read_to_string(pki.dir.join("banana.crt")).unwrap(),
        std::fs::read_to_string(pki.dir.join("ca/ca.crt")).unwrap(),
    ]
    .concat();
    std::fs::write(pki.dir.join("chain.pem"), chain).unwrap();
    let pmu = pki.secure_pmu("chain.pem", "banana_key.pem", &["--count", "2"]);
    let out = run(
        pmulab_cmd([
            "secure-pdc",
            "CMD_short:0",
            &pki.path("ca/ca.crt"),
            "--port",
            &pmu.port(),
        ]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(2));
}

#[test]
fn secure_pmu_refuses_bad_files_with_one_clear_error() {
    let pki = Pki::new("bad-files");
    sh(
        "openssl",
        &["genrsa", "-out", "other_key.pem", "2048"],
        &pki.dir,
    );
    std::fs::write(pki.dir.join("notes.txt"), "just some text\n").unwrap();
    let cases = [
        (
            "banana.crt",
            "other_key.pem",
            "does not belong to the certificate",
        ),
        ("missing.crt", "banana_key.pem", "cannot read"),
        ("notes.txt", "banana_key.pem", "holds no PEM certificate"),
        ("banana.crt", "notes.txt", "holds no PEM private key"),
        ("banana.crt", "banana.crt", "holds no PEM private key"),
    ];
    for (cert, key, reason) in cases {
        let out = run(
            pmulab_cmd(["secure-pmu", "0", &pki.path(cert), &pki.path(key)]),
            LIMIT,
        );
        assert_eq!(out.code(), 1, "{cert} {key}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        assert!(out.stderr.contains(reason), "{cert} {key}: {}", out.stderr);
    }
}

#[test]
fn failed_handshakes_are_logged_and_the_server_keeps_serving() {
    let pki = Pki::new("handshakes");
    assert_eq!(pmulab_in(&pki.dir, &["ca", "init", "other"]).code(), 0);
    let pmu = pki.secure_pmu("banana.crt", "banana_key.pem", &["--count", "3"]);
    // A plaintext PDC: told that the PMU speaks TLS.
    let out = run(
        pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_short:0"]),
        LIMIT,
    );
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("answered with TLS"), "{}", out.stderr);
    assert!(pmu.wait_for_log("does not speak TLS", LIMIT).is_some());
    // Garbage.
    let mut raw = TcpStream::connect(pmu.addr).unwrap();
    std::io::Write::write_all(&mut raw, &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3]).unwrap();
    drop(raw);
    // A client that does not trust the certificate.
    refused(&pmu, &pki.path("other/ca.crt"), &[]);
    assert!(pmu.wait_for_log("refused the handshake", LIMIT).is_some());
    // And a good client is still served.
    let out = run(
        pmulab_cmd([
            "secure-pdc",
            "CMD_short:0",
            &pki.path("ca/ca.crt"),
            "--port",
            &pmu.port(),
        ]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(3));
}

#[test]
fn the_ca_refuses_weak_keys_ca_requests_and_tampered_csrs() {
    let pki = Pki::new("ca-refusals");
    sh("openssl", &["genrsa", "-out", "weak.pem", "1024"], &pki.dir);
    sh(
        "openssl",
        &[
            "req", "-new", "-key", "weak.pem", "-out", "weak.csr", "-subj", "/CN=weak",
        ],
        &pki.dir,
    );
    sh(
        "openssl",
        &[
            "req",
            "-new",
            "-key",
            "banana_key.pem",
            "-out",
            "ca-req.csr",
            "-subj",
            "/CN=evil",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
        &pki.dir,
    );
    sh(
        "openssl",
        &[
            "req",
            "-new",
            "-key",
            "banana_key.pem",
            "-out",
            "nameless.csr",
            "-subj",
            "/O=No Name",
        ],
        &pki.dir,
    );
    // Tamper: change the requested name after signing ("banana" → "banane").
    let tamper = concat!(
        "import base64, sys\n",
        "lines = open(sys.argv[1]).read().split('\\n')\n",
        "der = base64.b64decode(''.join(l for l in lines if l and not l.startswith('-----')))\n",
        "der = der.replace(b'banana', b'banane', 1)\n",
        "b64 = base64.encodebytes(der).decode()\n",
        "open(sys.argv[2], 'w').write('-----BEGIN CERTIFICATE REQUEST-----\\n' + b64 + '-----END CERTIFICATE REQUEST-----\\n')\n"
    );
    let out = run(
        {
            let mut c = Command::new(python());
            c.args([
                "-c",
                tamper,
                &pki.path("banana.csr"),
                &pki.path("tampered.csr"),
            ]);
            c
        },
        LIMIT,
    );
    assert_eq!(out.code(), 0, "{out:?}");
    for (csr, reason) in [
        ("weak.csr", "RSA with 1024 bits; at least 2048 are required"),
        ("ca-req.csr", "asks to be a certificate authority"),
        ("tampered.csr", "signature does not verify"),
        ("banana_key.pem", "not a certificate signing request"),
    ] {
        let out = pki.sign(csr, "never.crt", &[]);
        assert_eq!(out.code(), 1, "{csr}: {out:?}");
        assert!(out.stderr.contains(reason), "{csr}: {}", out.stderr);
        assert!(!pki.dir.join("never.crt").exists(), "{csr} was signed");
    }
    // The course signed subjects without a CN; so does pmulab, with a note.
    for extra in [&[][..], &["--course"][..]] {
        let out = pki.sign(
            "nameless.csr",
            "nameless.crt",
            &[extra, &["--force"]].concat(),
        );
        assert_eq!(out.code(), 0, "{out:?}");
        assert!(
            out.stdout.contains("signed nameless.crt: O=No Name"),
            "{}",
            out.stdout
        );
        assert!(out.stderr.contains("no common name"), "{}", out.stderr);
        sh(
            "openssl",
            &["verify", "-CAfile", "ca/ca.crt", "nameless.crt"],
            &pki.dir,
        );
    }
}

/// A CA the way the course made one (RSA, self-signed, CA:TRUE) and a
/// banana certificate the way the course signed CSRs: `openssl x509 -req`
/// without `-extfile`, so X.509 version 1 with no extensions.
fn course_pki(pki: &Pki) {
    sh(
        "openssl",
        &["genrsa", "-out", "course.key", "2048"],
        &pki.dir,
    );
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "course.key",
            "-days",
            "365",
            "-out",
            "course.crt",
            "-subj",
            "/CN=Course CA",
        ],
        &pki.dir,
    );
    sh(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "banana.csr",
            "-CA",
            "course.crt",
            "-CAkey",
            "course.key",
            "-CAcreateserial",
            "-out",
            "v1.crt",
            "-days",
            "730",
        ],
        &pki.dir,
    );
    let text = Command::new("openssl")
        .args(["x509", "-in", "v1.crt", "-noout", "-text"])
        .current_dir(&pki.dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Version: 1 (0x0)"), "{text}");
    assert!(!text.contains("X509v3"), "{text}");
}

#[test]
fn version_1_certificates_work_as_they_do_with_openssl() {
    let pki = Pki::new("v1");
    course_pki(&pki);
    // secure-pmu serves it; secure-pdc, pdc --tls, Python's ssl and openssl verify it.
    let pmu = pki.secure_pmu("v1.crt", "banana_key.pem", &[]);
    let out = run(
        pmulab_cmd([
            "secure-pdc",
            "CMD_short:0",
            &pki.path("course.crt"),
            "--port",
            &pmu.port(),
        ]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(15));
    let out = run(
        pmulab_cmd([
            "pdc",
            "--tls",
            "--ca",
            &pki.path("course.crt"),
            "--server-name",
            "banana",
            "127.0.0.1",
            &pmu.port(),
            "CMD_short:0",
        ]),
        LIMIT,
    );
    assert_eq!(out.ok_lines(), expected_messages(15), "{out:?}");
    let mut course_client = Command::new(python());
    course_client.arg(peer("course_tls_client.py")).args([
        "CMD_short:0",
        &pki.path("course.crt"),
        "--port",
        &pmu.port(),
    ]);
    let out = run(course_client, LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.stdout.lines().collect::<String>(),
        expected_messages(15).concat()
    );
    for version in ["-tls1_3", "-tls1_2"] {
        let mut cmd = Command::new("openssl");
        cmd.args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", pmu.port()),
            "-CAfile",
            &pki.path("course.crt"),
            "-verify_return_error",
            "-quiet",
            version,
        ]);
        let out = run_with_input(cmd, Some("CMD_short:0\n"), LIMIT);
        assert_eq!(
            out.stdout,
            expected_messages(15).concat(),
            "{version}: {out:?}"
        );
    }
    let err = refused(&pmu, &pki.path("course.crt"), &["--server-name", "apple"]);
    assert!(err.contains("is not for apple: it names banana"), "{err}");
    // A CA with the same name but another key did not sign it.
    sh("openssl", &["genrsa", "-out", "fake.key", "2048"], &pki.dir);
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "fake.key",
            "-days",
            "365",
            "-out",
            "fake.crt",
            "-subj",
            "/CN=Course CA",
        ],
        &pki.dir,
    );
    let err = refused(&pmu, &pki.path("fake.crt"), &[]);
    assert!(err.contains("not signed by the given CA"), "{err}");
    let err = refused(&pmu, &pki.path("ca/ca.crt"), &[]);
    assert!(err.contains("not signed by the given CA"), "{err}");
    drop(pmu);

    // pmulab's TLS client against openssl's server, over TLS 1.2 and 1.3.
    for version in ["-tls1_2", "-tls1_3"] {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port().to_string()
        };
        let mut server = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &port,
                "-cert",
                "v1.crt",
                "-key",
                "banana_key.pem",
                "-quiet",
                "-naccept",
                "1",
                version,
            ])
            .current_dir(&pki.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = server.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            std::thread::sleep(Duration::from_millis(800));
            let _ = stdin.write_all(expected_messages(2).concat().as_bytes());
            std::thread::sleep(Duration::from_millis(300));
        });
        let mut out = None;
        for _ in 0..50 {
            let attempt = run(
                pmulab_cmd([
                    "pdc",
                    "--tls",
                    "--ca",
                    &pki.path("course.crt"),
                    "127.0.0.1",
                    &port,
                    "CMD_short:0",
                    "--timeout",
                    "2",
                ]),
                LIMIT,
            );
            if attempt.stderr.contains("Connection refused") {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            out = Some(attempt);
            break;
        }
        writer.join().unwrap();
        let _ = server.kill();
        let _ = server.wait();
        let out = out.expect("openssl s_server never accepted");
        assert!(
            out.stdout.starts_with("This is PMU data 0"),
            "{version}: {out:?}"
        );
    }
}

#[test]
fn version_1_certificates_out_of_their_validity_are_refused() {
    let pki = Pki::new("v1-dates");
    // pmulab signs version 1 as the course did; openssl agrees it is one.
    for (name, extra, reason) in [
        (
            "old.crt",
            &["--not-before", "2020-01-01", "--days", "30"][..],
            "has expired",
        ),
        (
            "future.crt",
            &["--not-before", "2099-01-01"][..],
            "not valid yet",
        ),
    ] {
        let out = pki.sign("banana.csr", name, &[extra, &["--course"]].concat());
        assert_eq!(out.code(), 0, "{out:?}");
        assert!(out.stdout.contains("X.509 version 1"), "{}", out.stdout);
        let pmu = pki.secure_pmu(name, "banana_key.pem", &[]);
        let err = refused(&pmu, &pki.path("ca/ca.crt"), &[]);
        assert!(err.contains(reason), "{name}: {err}");
    }
    let out = pki.sign("banana.csr", "now.crt", &["--course"]);
    assert_eq!(out.code(), 0, "{out:?}");
    sh(
        "openssl",
        &["verify", "-CAfile", "ca/ca.crt", "now.crt"],
        &pki.dir,
    );
    let pmu = pki.secure_pmu("now.crt", "banana_key.pem", &[]);
    let mut course_client = Command::new(python());
    course_client.arg(peer("course_tls_client.py")).args([
        "CMD_short:0",
        &pki.path("ca/ca.crt"),
        "--port",
        &pmu.port(),
    ]);
    let out = run(course_client, LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
}
