//! Part 1.2's pair, as the handout's Code C and Code D behave: a server
//! that echoes one 8-byte piece and closes, and a client that sends a
//! sentence, reads 16-byte pieces and then keeps its socket open. Watched
//! with `pmulab states`, they show LISTEN, ESTABLISHED, the half-closed
//! states and TIME-WAIT — and what SO_REUSEADDR is for.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::analysis::sockets::state::TcpState;
use crate::analysis::sockets::table::SocketTable;
use crate::cli::{CodeCArgs, CodeDArgs};
use crate::net::resolve::ipv4_first;
use crate::ui::failure::Failure;
use crate::ui::output::{say, tell};

/// Code C reads this much, once.
const SERVER_PIECE: usize = 8;
/// Code D reads this much at a time.
const CLIENT_PIECE: usize = 16;

/// Bytes received and not yet read (FIONREAD).
fn unread(stream: &TcpStream) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::FIONREAD, &mut n) };
    match rc {
        0 => usize::try_from(n).unwrap_or(0),
        _ => 0,
    }
}

/// Why `addr` is in use, from the socket table.
fn in_use_because(addr: SocketAddr, reuse: bool) -> String {
    let rows = SocketTable::open()
        .and_then(|mut t| t.dump())
        .unwrap_or_default();
    let on_port: Vec<_> = rows
        .iter()
        .filter(|r| r.local.port() == addr.port())
        .collect();
    let listening = on_port.iter().any(|r| r.state == TcpState::Listen);
    let waiting = on_port
        .iter()
        .filter(|r| r.state == TcpState::TimeWait)
        .count();
    let other: Vec<String> = on_port
        .iter()
        .filter(|r| !matches!(r.state, TcpState::Listen | TcpState::TimeWait))
        .map(|r| format!("{} with {}", r.state, r.peer))
        .collect();
    match (listening, waiting, reuse) {
        (true, _, _) => format!(
            "another server already listens on port {}: stop it first (`pmulab states --port {}` shows it)",
            addr.port(),
            addr.port()
        ),
        (false, n @ 1.., false) => format!(
            "{n} connection{} on port {} {} in TIME-WAIT: the side that closed first keeps it for 60 s, so that late segments of the old connection cannot reach a new one. Without SO_REUSEADDR the port cannot be bound until then; the handout's Code C sets it for this (drop --no-reuseaddr)",
            if n == 1 { "" } else { "s" },
            addr.port(),
            if n == 1 { "is" } else { "are" },
        ),
        _ if !other.is_empty() => format!(
            "port {} is held by {} (`pmulab states --port {}` follows it)",
            addr.port(),
            other.join(", "),
            addr.port()
        ),
        _ => "the port is taken".into(),
    }
}

/// The handout's Code C.
pub fn code_c(args: CodeCArgs) -> Result<(), Failure> {
    let addr = SocketAddr::new(args.bind, args.port);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(Failure::runtime)?;
    let reuse = !args.no_reuseaddr;
    socket.set_reuse_address(reuse).map_err(Failure::runtime)?;
    if let Err(e) = socket.bind(&addr.into()) {
        return Err(Failure::runtime(match e.kind() {
            ErrorKind::AddrInUse => format!(
                "cannot listen on {addr}: Address already in use: {}",
                in_use_because(addr, reuse)
            ),
            _ => format!("cannot listen on {addr}: {e}"),
        }));
    }
    socket.listen(1).map_err(Failure::runtime)?;
    let listener: std::net::TcpListener = socket.into();
    let local = listener.local_addr().map_err(Failure::runtime)?;
    tell!(
        "code-c listening on {local} (SO_REUSEADDR {})",
        if reuse {
            "on, as in the handout"
        } else {
            "off"
        }
    );
    let mut served = 0u64;
    while args.max_connections.is_none_or(|n| served < n) {
        let (mut stream, peer) = listener.accept().map_err(Failure::runtime)?;
        served += 1;
        say!("connection from {peer}")?;
        let mut piece = [0u8; SERVER_PIECE];
        let n = match stream.read(&mut piece) {
            Ok(n) => n,
            Err(e) => {
                tell!("{peer}: {e}");
                continue;
            }
        };
        say!("received: {:?}", String::from_utf8_lossy(&piece[..n]))?;
        if n > 0
            && let Err(e) = stream.write_all(&piece[..n])
        {
            tell!("{peer}: {e}");
            continue;
        }
        if args.drain {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
            let mut rest = [0u8; 4096];
            let mut drained = 0;
            while let Ok(m @ 1..) = stream.read(&mut rest) {
                drained += m;
                if unread(&stream) == 0 {
                    break;
                }
            }
            say!("read {drained} more bytes without echoing them (--drain)")?;
        }
        let left = unread(&stream);
        match left {
            0 => say!(
                "closing: a FIN goes to the client; this side waits in FIN-WAIT-2 for the client's FIN, then TIME-WAIT"
            )?,
            n => say!(
                "closing with {n} bytes unread: Linux answers that with a reset (RST), not a FIN (RFC 2525); --drain reads them first"
            )?,
        }
        drop(stream);
    }
    Ok(())
}

/// The handout's Code D.
pub fn code_d(args: CodeDArgs) -> Result<(), Failure> {
    let to = ipv4_first(&args.host, args.port)?;
    let mut stream = TcpStream::connect(to)
        .map_err(|e| Failure::runtime(format!("cannot connect to {to}: {e}")))?;
    let local = stream.local_addr().map_err(Failure::runtime)?;
    tell!("code-d connected from {local} to {to}");
    let message = args.message.as_bytes();
    stream
        .write_all(message)
        .map_err(|e| Failure::runtime(format!("sending to {to}: {e}")))?;
    let expected = message.len();
    let mut received = 0;
    let mut piece = [0u8; CLIENT_PIECE];
    while received < expected {
        match stream.read(&mut piece) {
            Ok(0) => {
                say!(
                    "the server closed its side after {received} of {expected} bytes (end of stream): Code D would wait for the rest forever, so this socket stays open, in CLOSE-WAIT"
                )?;
                break;
            }
            Ok(n) => {
                received += n;
                say!("received: {:?}", String::from_utf8_lossy(&piece[..n]))?;
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return Err(Failure::runtime(format!(
                    "the server reset the connection after {received} of {expected} bytes: it closed with bytes it had not read, and Linux answers that with RST (the handout's Python client stops here with ConnectionResetError)"
                )));
            }
            Err(e) => return Err(Failure::runtime(format!("reading from {to}: {e}"))),
        }
    }
    hold(args.hold)?;
    drop(stream);
    say!("closed")?;
    Ok(())
}

/// Keeps the socket open for `limit`, or until Ctrl-C.
fn hold(limit: Option<Duration>) -> Result<(), Failure> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let on_interrupt = interrupted.clone();
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    match limit {
        Some(d) => tell!(
            "code-d: keeping the connection open for {:.1} s",
            d.as_secs_f64()
        ),
        None => tell!("code-d: keeping the connection open until Ctrl-C"),
    }
    let start = Instant::now();
    while !interrupted.load(Ordering::Relaxed) && limit.is_none_or(|d| start.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
