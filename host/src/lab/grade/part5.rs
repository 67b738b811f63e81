//! Part 5: the secure PMU, `PROGRAM <port> <certificate> <key>`, graded as
//! the course graded it — the course supplied the client. And, on request,
//! a TLS PDC (`PROGRAM <command> <ca-certificate> --port <port>`), which
//! the course did not grade.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmulab_core::stream::flood::DEFAULT_FLOOD_BYTES;
use pmulab_core::stream::session::{MessageCount, SessionConfig};

use super::judge::messages;
use super::part2::served;
use super::program::{Ending, Program, Running};
use super::report::{Check, Report};
use super::witness::PmuWitness;
use crate::lab::ca::{self, KeyKind, Profile};
use crate::net::tls::config as tls_config;
use crate::net::tls::describe_tls_error;
use crate::ui::failure::Failure;

/// How long a PMU may take to listen after it starts.
const LISTEN_WAIT: Duration = Duration::from_secs(10);
/// How long the handshake may take.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(5);
/// How long the client waits for the first bytes after the command.
const FIRST_BYTES_WAIT: Duration = Duration::from_secs(5);
/// After data, how much silence ends the reading (the PMU may keep the
/// connection open: the course's client never required a close).
const QUIET: Duration = Duration::from_secs(2);
/// The longest the client reads in all.
const READ_LIMIT: Duration = Duration::from_secs(20);

/// A student's own course-signed files, to grade with instead of fresh ones.
#[derive(Debug, Clone)]
pub struct OwnFiles {
    /// Their certificate.
    pub certificate: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The CA that signed it.
    pub ca: PathBuf,
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))
}

fn refusal(e: ca::Refusal) -> Failure {
    Failure::runtime(format!("cannot make the grading certificates: {e}"))
}

/// A port on 127.0.0.1 that nothing listens on now.
fn free_port() -> Result<u16, Failure> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Failure::runtime(format!("cannot find a free port: {e}")))
}

/// Whether a socket in the kernel's table listens on TCP `port` (any
/// address, IPv4 or IPv6). Read from /proc, so that the grader's check
/// makes no connection the program would have to survive.
fn listens_on(port: u16) -> bool {
    const LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        let Ok(text) = std::fs::read_to_string(table) else {
            return false;
        };
        text.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields
                .get(1)
                .and_then(|local| local.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            local_port == Some(port) && fields.get(3) == Some(&LISTEN)
        })
    })
}

/// Waits (at most `limit`) until the program listens on `port`; `Err`
/// says why it did not.
fn wait_listening(running: &mut Running, port: u16, limit: Duration) -> Result<(), String> {
    let limit = limit.min(LISTEN_WAIT);
    let deadline = Instant::now() + limit;
    loop {
        if listens_on(port) {
            return Ok(());
        }
        if running.has_exited() {
            return Err(format!(
                "it exited before it listened on port {port} (it is run as PROGRAM <port> <certificate> <key>)"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "it did not listen on port {port} within {} s (it is run as PROGRAM <port> <certificate> <key>)",
                limit.as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the course's client got inside TLS.
#[derive(Debug)]
struct Received {
    bytes: Vec<u8>,
    closed: bool,
}

/// The course's client: 127.0.0.1 over IPv4, the chain verified against
/// the CA with no name check and no SNI, `CMD_short:0`, then reading a while.
fn course_client(port: u16, ca: &Path) -> Result<Received, String> {
    let (config, name) =
        tls_config::client(ca, None, Ipv4Addr::LOCALHOST.into()).map_err(|e| e.to_string())?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let tcp = TcpStream::connect_timeout(&address, HANDSHAKE_WAIT)
        .map_err(|e| format!("the course's client cannot connect to {address}: {e}"))?;
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = tcp.set_write_timeout(Some(HANDSHAKE_WAIT));
    let connection = rustls::ClientConnection::new(Arc::clone(&config), name)
        .map_err(|e| format!("cannot start TLS: {e}"))?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    handshake(&mut tls)?;
    tls.write_all(b"CMD_short:0")
        .and_then(|()| tls.flush())
        .map_err(|e| format!("it closed the connection before the command was sent: {e}"))?;
    read_a_while(&mut tls)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn handshake(tls: &mut Tls) -> Result<(), String> {
    let deadline = Instant::now() + HANDSHAKE_WAIT;
    while tls.conn.is_handshaking() {
        match tls.conn.complete_io(&mut tls.sock) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "no TLS handshake within {} s: it never answered the course client's hello \
(is the socket wrapped with ssl?)",
                        HANDSHAKE_WAIT.as_secs()
                    ));
                }
            }
            Err(e) => return Err(handshake_failure(&e)),
        }
    }
    Ok(())
}

fn handshake_failure(e: &std::io::Error) -> String {
    let tls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls_error {
        Some(rustls::Error::InvalidMessage(_)) => {
            "it did not answer with TLS (its first bytes are not a TLS record): it speaks \
plaintext — wrap the socket with ssl"
                .into()
        }
        Some(rustls::Error::InvalidCertificate(_)) => format!(
            "the course's client refused its certificate: {}",
            tls_error.map(describe_tls_error).unwrap_or_default()
        ),
        Some(other) => format!("the TLS handshake failed: {}", describe_tls_error(other)),
        None if e.kind() == ErrorKind::UnexpectedEof || e.kind() == ErrorKind::ConnectionReset => {
            "it closed the connection during the TLS handshake (a plaintext server reads the \
client's hello as its command): wrap the socket with ssl"
                .into()
        }
        None => format!("the TLS handshake failed: {e}"),
    }
}

fn read_a_while(tls: &mut Tls) -> Result<Received, String> {
    let start = Instant::now();
    let mut bytes = Vec::new();
    let mut last = start;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let now = Instant::now();
        let quiet_for = now.duration_since(last);
        if now.duration_since(start) >= READ_LIMIT
            || (bytes.is_empty() && quiet_for >= FIRST_BYTES_WAIT)
            || (!bytes.is_empty() && quiet_for >= QUIET)
        {
            return Ok(Received {
                bytes,
                closed: false,
            });
        }
        match tls.read(&mut buf) {
            Ok(0) => {
                return Ok(Received {
                    bytes,
                    closed: true,
                });
            }
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                last = Instant::now();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // A close without close_notify still ends what was sent.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                return Ok(Received {
                    bytes,
                    closed: true,
                });
            }
            Err(e) if bytes.is_empty() => return Err(format!("reading failed: {e}")),
            Err(_) => {
                return Ok(Received {
                    bytes,
                    closed: true,
                });
            }
        }
    }
}

const FIRST: &str = "This is PMU data 0";

fn judge(received: &Received) -> Result<(), String> {
    if received.bytes.is_empty() {
        return Err(format!(
            "after the handshake and CMD_short:0 it sent nothing{}",
            match received.closed {
                true => " and closed the connection".to_string(),
                false => format!(" in {} s", FIRST_BYTES_WAIT.as_secs()),
            }
        ));
    }
    if received.bytes.starts_with(FIRST.as_bytes()) {
        return Ok(());
    }
    let shown = String::from_utf8_lossy(&received.bytes[..received.bytes.len().min(40)]);
    Err(format!(
        "the first bytes inside TLS were {shown:?}, not `{FIRST}`"
    ))
}

/// Runs the PMU with `certificate` and `key`, and the course's client against it.
fn serve_check(
    report: &mut Report,
    program: &Program,
    name: &str,
    files: &OwnFiles,
) -> Result<(), Failure> {
    let port = free_port()?;
    let args = [
        port.to_string(),
        program.hand(&files.certificate)?.display().to_string(),
        program.hand(&files.key)?.display().to_string(),
    ];
    let mut running = program.start(&args)?;
    let outcome = wait_listening(&mut running, port, program.limit)
        .and_then(|()| course_client(port, &files.ca));
    let ran = running.finish(Ending::Stopped);
    let mut notes = Vec::new();
    let verdict = outcome.and_then(|received| {
        let count = String::from_utf8_lossy(&received.bytes)
            .matches("This is PMU data ")
            .count();
        notes.push(format!(
            "{count} messages arrived; it {}",
            match received.closed {
                true => "then closed the connection",
                false => "kept the connection open",
            }
        ));
        judge(&received)
    });
    let mut check = Check::plain(name, &ran, verdict);
    if check.verdict.is_ok() {
        check.notes.extend(notes);
    }
    report.add(check)
}

/// Makes a course CA, an RSA-2048 key, and a certificate for it signed both
/// ways; returns the files for (version 1, version 3).
fn fresh_material(scratch: &Path) -> Result<(OwnFiles, OwnFiles), Failure> {
    let course = ca::new_ca(&ca::default_name(), KeyKind::Rsa2048).map_err(refusal)?;
    let key = ca::new_key(KeyKind::Rsa2048).map_err(refusal)?;
    let csr = ca::request_pem(&key, "banana").map_err(refusal)?;
    let v1 = ca::sign_pem(&csr, &course, 730, None, Profile::Course).map_err(refusal)?;
    let v3 = ca::sign_pem(&csr, &course, 730, None, Profile::Modern).map_err(refusal)?;
    let path = |name: &str| scratch.join(name);
    write(&path("ca.crt"), &course.certificate)?;
    write(&path("banana_key.pem"), &key)?;
    write(&path("banana_v1.crt"), &v1.pem)?;
    write(&path("banana_v3.crt"), &v3.pem)?;
    let files = |crt: &str| OwnFiles {
        certificate: path(crt),
        key: path("banana_key.pem"),
        ca: path("ca.crt"),
    };
    Ok((files("banana_v1.crt"), files("banana_v3.crt")))
}

/// Part 5's checks of the secure PMU, as the course graded it.
pub fn grade_pmu(
    report: &mut Report,
    program: &Program,
    own: Option<&OwnFiles>,
    scratch: &Path,
) -> Result<(), Failure> {
    if let Some(files) = own {
        return serve_check(
            report,
            program,
            "the course's client, with your certificate and CA",
            files,
        );
    }
    let (v1, v3) = fresh_material(scratch)?;
    serve_check(
        report,
        program,
        "the course's client; certificate signed as the course did (X.509 v1)",
        &v1,
    )?;
    serve_check(
        report,
        program,
        "the course's client; certificate from `pmulab ca sign` (X.509 v3)",
        &v3,
    )
}

/// Part 5 with `--role pdc`: a TLS client gets the messages from a PMU
/// whose chain verifies, and refuses one another CA signed. (The course
/// supplied this client; it did not grade one.)
pub fn grade_pdc(report: &mut Report, program: &Program, scratch: &Path) -> Result<(), Failure> {
    let sign = |dir: &str| -> Result<(PathBuf, PathBuf, PathBuf), Failure> {
        let ca_dir = scratch.join(dir);
        ca::init(&ca_dir, &ca::default_name(), KeyKind::EcdsaP256, true).map_err(refusal)?;
        let (key, csr) =
            ca::request(&ca_dir, "localhost", KeyKind::EcdsaP256, true).map_err(refusal)?;
        let crt = ca_dir.join("localhost.crt");
        ca::sign(&csr, &ca_dir, &crt, 30, None, Profile::Modern, true).map_err(refusal)?;
        Ok((ca::ca_files(&ca_dir).0, crt, key))
    };
    let config = SessionConfig {
        count: MessageCount::Fixed(15),
        flood_bytes: DEFAULT_FLOOD_BYTES,
        command_timeout: Duration::from_secs(10),
    };
    let (ca_crt, crt, key) = sign("course-ca")?;
    let ca_arg = program.hand(&ca_crt)?.display().to_string();
    let pmu = PmuWitness::tls(config, &crt, &key)?;
    let expected = messages(15).concat();
    let complete = |stdout: &str| stdout.lines().collect::<String>() == expected;
    let args = |port: u16| {
        vec![
            "CMD_short:0".into(),
            ca_arg.clone(),
            "--port".into(),
            port.to_string(),
        ]
    };
    let ran = program.run(&args(pmu.port()), "", &complete)?;
    let verdict = served(&pmu.sessions(), "TLS PMU").and_then(|_| match complete(&ran.stdout) {
        true => Ok(()),
        false => Err("expected the 15 messages (one per line, or as read)".to_string()),
    });
    report.add(Check::of(
        "TLS session verified against the CA",
        &ran,
        verdict,
    ))?;

    let (_, other_crt, other_key) = sign("other-ca")?;
    let impostor = PmuWitness::tls(config, &other_crt, &other_key)?;
    let ran = program.run(&args(impostor.port()), "", &|_| false)?;
    let sessions = impostor.sessions();
    let verdict = if sessions.is_empty() {
        Err("it never connected to the PMU, so it refused nothing".to_string())
    } else if sessions.iter().any(|s| s.command.is_some())
        || ran.stdout.contains("This is PMU data")
    {
        Err("talked to a PMU it should not trust: the chain is not verified".to_string())
    } else {
        Ok(())
    };
    // Refusing ends in a failure status: no note about it.
    report.add(Check::plain(
        "refuses a PMU whose certificate the CA did not sign",
        &ran,
        verdict,
    ))
}
