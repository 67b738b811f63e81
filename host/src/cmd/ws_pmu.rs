//! `pmulab ws-pmu`: the course's WebSocket PMU (lab part 6).
//!
//! tungstenite frames; core's [`Session`] decides what is said and when,
//! exactly as it does over TCP and TLS. One thread per connection, at most
//! `--max-sessions` at once: a session mostly sleeps until its next
//! message is due, and a blocked thread costs no CPU.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use pmulab_core::command::Command;
use pmulab_core::flood;
use pmulab_core::pmu::ServerEvent;
use pmulab_core::rng::SplitMix64;
use pmulab_core::session::{Input, Session, SessionConfig};
use pmulab_core::time::{Clock, Instant};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::{Message, WebSocket};

use super::pdc::seconds;
use crate::cli::WsPmuArgs;
use crate::failure::Failure;
use crate::log::Log;
use crate::net::HostClock;
use crate::net::deadline::DeadlineStream;
use crate::net::stack::with_advice;
use crate::rng::seeded_or_random;

/// Above this size, floodme goes out in frames of [`AUTO_FRAGMENT`] unless
/// `--fragment` says otherwise: one frame would have to be held whole.
const SINGLE_FRAME_LIMIT: u64 = 16 << 20;
const AUTO_FRAGMENT: usize = 1 << 20;
/// How long the close handshake may take before the connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// A client that stops reading is given up on after this long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Who hears of each session's events besides the log.
type Observer = Arc<dyn Fn(&ServerEvent<'_>) + Send + Sync>;

/// What every connection thread needs.
struct Shared<'a> {
    observe: Option<Observer>,
    config: SessionConfig,
    text: bool,
    fragment: Option<usize>,
    max_message: usize,
    seed: u64,
    sessions: AtomicUsize,
    max_sessions: usize,
    counter: AtomicU64,
    clock: HostClock,
    log: &'a Log,
}

/// Runs the server until killed.
pub fn run(args: WsPmuArgs, log: &Log) -> Result<(), Failure> {
    let config = SessionConfig {
        count: args.session.count,
        flood_bytes: args.session.flood_bytes,
        command_timeout: seconds(args.session.command_timeout, "--command-timeout")?,
    };
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = listen(addr)
        .map_err(|e| Failure::runtime(format!("cannot listen on {addr}: {}", with_advice(&e))))?;
    let local = listener.local_addr().map_err(Failure::runtime)?;
    let mut seed_source = seeded_or_random(args.session.seed);
    let shared = Shared {
        observe: None,
        config,
        text: args.text,
        fragment: args.fragment.map(|f| f as usize),
        max_message: args.max_message,
        seed: pmulab_core::rng::Random::next_u64(&mut seed_source),
        sessions: AtomicUsize::new(0),
        max_sessions: usize::from(args.session.max_sessions),
        counter: AtomicU64::new(0),
        clock: HostClock::new(),
        log,
    };
    log.always(format_args!(
        "pmulab ws-pmu listening on {local} (ws://{local}/, {} messages, n = {}, floodme {} bytes{})",
        if args.text { "text" } else { "binary" },
        super::pmu::describe_count(args.session.count),
        args.session.flood_bytes,
        args.fragment.map(|f| format!(" in frames of {f} bytes")).unwrap_or_default(),
    ));
    std::thread::scope(|scope| {
        loop {
            let (stream, peer) = match listener.accept() {
                Ok(got) => got,
                Err(e) => {
                    log.always(format_args!("accept failed: {e}; pausing 100 ms"));
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
            if shared.sessions.fetch_add(1, Ordering::SeqCst) >= shared.max_sessions {
                shared.sessions.fetch_sub(1, Ordering::SeqCst);
                busy(stream);
                log.always(format_args!(
                    "{peer} turned away: every session slot is taken"
                ));
                continue;
            }
            let shared = &shared;
            let spawned = std::thread::Builder::new()
                .name(format!("ws {peer}"))
                .spawn_scoped(scope, move || {
                    serve(stream, peer, shared);
                    shared.sessions.fetch_sub(1, Ordering::SeqCst);
                });
            if let Err(e) = spawned {
                shared.sessions.fetch_sub(1, Ordering::SeqCst);
                log.always(format_args!("{peer} dropped: cannot start a thread: {e}"));
            }
        }
    })
}

impl Shared<'_> {
    fn observe(&self, event: ServerEvent<'_>) {
        if let Some(observe) = &self.observe {
            observe(&event);
        }
    }
}

/// A WebSocket PMU on 127.0.0.1 serving in a thread of its own until dropped,
/// telling `observe` what it does (the grader's witness).
#[derive(Debug)]
pub struct Background {
    /// Where it listens.
    pub local: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts a [`Background`] WebSocket PMU: text or binary messages, floodme
/// in frames of `fragment` bytes.
pub fn serve_in_background(
    config: SessionConfig,
    text: bool,
    fragment: Option<usize>,
    observe: Observer,
) -> std::io::Result<Background> {
    let listener = listen(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        let log = Log::silent();
        let shared = Shared {
            observe: Some(observe),
            config,
            text,
            fragment,
            max_message: 4096,
            seed: pmulab_core::rng::Random::next_u64(&mut seeded_or_random(None)),
            sessions: AtomicUsize::new(0),
            max_sessions: 16,
            counter: AtomicU64::new(0),
            clock: HostClock::new(),
            log: &log,
        };
        std::thread::scope(|scope| {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nonblocking(false);
                        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
                        let shared = &shared;
                        scope.spawn(move || serve(stream, peer, shared));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
    });
    Ok(Background {
        local,
        stop,
        thread: Some(thread),
    })
}

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Turns a connection away before the upgrade: HTTP 503.
fn busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 35\r\nConnection: close\r\n\r\nserver busy, every session is taken",
    );
}

/// Why a session ended before its normal close.
enum Ended {
    /// The client left; nothing more to say.
    Gone(String),
    /// The client broke the protocol: close with this code.
    Violation(CloseCode, String),
}

fn serve(stream: TcpStream, peer: SocketAddr, shared: &Shared<'_>) {
    let log = shared.log;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let fallback = stream.try_clone().ok();
    // The upgrade and the command share the command timeout, however they
    // trickle in.
    let stream = DeadlineStream::new(
        stream,
        std::time::Instant::now() + shared.config.command_timeout,
    );
    let config = WebSocketConfig::default()
        .max_message_size(Some(shared.max_message))
        .max_frame_size(Some(shared.max_message));
    // The error type is tungstenite's, fixed by its Callback trait.
    #[allow(clippy::result_large_err)]
    let only_root = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        if request.uri().path() == "/" {
            Ok(response)
        } else {
            let mut refusal = ErrorResponse::new(Some("the PMU is at path /".to_string()));
            *refusal.status_mut() = tungstenite::http::StatusCode::NOT_FOUND;
            Err(refusal)
        }
    };
    let mut ws = match tungstenite::accept_hdr_with_config(stream, only_root, Some(config)) {
        Ok(ws) => ws,
        Err(e) => {
            // tungstenite answered refusals it made itself (a wrong path);
            // anything else was not an upgrade request at all.
            let answered = matches!(
                &e,
                tungstenite::HandshakeError::Failure(tungstenite::Error::Http(_))
            );
            if let (Some(mut raw), false) = (fallback, answered) {
                let _ = raw.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                );
            }
            log.always(format_args!("{peer} bad WebSocket handshake: {e}"));
            return;
        }
    };
    log.info(format_args!("{peer} connected"));
    shared.observe(ServerEvent::Accepted { peer });
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let mut rng = SplitMix64::new(shared.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let outcome = converse(&mut ws, peer, shared, &mut rng);
    match outcome {
        Ok(sent) => {
            close(&mut ws, CloseCode::Normal, "");
            log.info(format_args!("{peer} done, {sent} bytes sent"));
            shared.observe(ServerEvent::Finished { peer, bytes: sent });
        }
        Err(Ended::Gone(why)) => {
            log.info(format_args!("{peer} left: {why}"));
            shared.observe(ServerEvent::Aborted {
                peer,
                bytes: 0,
                error: &why,
            });
        }
        Err(Ended::Violation(code, why)) => {
            shared.observe(ServerEvent::Aborted {
                peer,
                bytes: 0,
                error: &why,
            });
            close(&mut ws, code, &why);
            log.always(format_args!(
                "{peer} closed with {}: {why}",
                u16::from(code)
            ));
        }
    }
}

/// Reads the command and sends the session's messages; the bytes sent.
fn converse(
    ws: &mut WebSocket<DeadlineStream>,
    peer: SocketAddr,
    shared: &Shared<'_>,
    rng: &mut SplitMix64,
) -> Result<u64, Ended> {
    let clock = &shared.clock;
    let start = clock.now();
    let mut session = Session::new(start, shared.config);
    let command = match read_command(ws) {
        Ok(bytes) => bytes,
        Err(Ended::Gone(why)) if why == "timeout" => {
            session.handle_timeout(start + shared.config.command_timeout);
            Vec::new()
        }
        Err(other) => return Err(other),
    };
    let mut refused =
        session.handle_timeout(clock.now()).is_some() || !session.is_awaiting_command();
    let mut flood = false;
    if session.is_awaiting_command() {
        // The command is one whole message: what is not complete now never will be.
        let mut input = session.handle_input(clock.now(), &command, rng);
        if input == Input::NeedMore {
            input = session.handle_peer_closed(clock.now(), rng);
        }
        match input {
            Input::Accepted { command, count } => {
                shared.observe(ServerEvent::Command {
                    peer,
                    command,
                    count,
                });
                flood = command == Command::Floodme;
                match flood {
                    true => shared.log.info(format_args!(
                        "{peer} {command}: {} bytes",
                        shared.config.flood_bytes
                    )),
                    false => shared
                        .log
                        .info(format_args!("{peer} {command}: {count} messages")),
                }
            }
            Input::Refused(error) => {
                refused = true;
                shared.observe(ServerEvent::Refused { peer, error });
                shared.log.info(format_args!("{peer} refused: {error}"));
            }
            _ => {}
        }
    }
    let _ = ws.get_mut().lift_deadline(Some(CLOSE_WAIT));
    if refused {
        return send_refusal(ws, &mut session, clock);
    }
    if flood {
        send_flood(ws, &mut session, shared, clock)
    } else {
        send_messages(ws, &mut session, shared, clock)
    }
}

fn read_command(ws: &mut WebSocket<DeadlineStream>) -> Result<Vec<u8>, Ended> {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => return Ok(text.as_bytes().to_vec()),
            Ok(Message::Binary(bytes)) => return Ok(bytes.to_vec()),
            Ok(Message::Close(_)) => {
                return Err(Ended::Gone("closed before sending a command".into()));
            }
            // Pings are answered by tungstenite as it reads.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Err(e) => return Err(ended(e)),
        }
    }
}

/// Maps a read failure to the close code RFC 6455 gives for it.
fn ended(e: tungstenite::Error) -> Ended {
    use tungstenite::error::{CapacityError, Error, ProtocolError};
    match e {
        Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ended::Gone("timeout".into())
        }
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => Ended::Violation(
            CloseCode::Size,
            format!("message of {size} bytes, limit {max_size}"),
        ),
        Error::Capacity(other) => Ended::Violation(CloseCode::Size, other.to_string()),
        Error::Utf8(_) => Ended::Violation(CloseCode::Invalid, "text message is not UTF-8".into()),
        Error::Protocol(ProtocolError::UnmaskedFrameFromClient) => {
            Ended::Violation(CloseCode::Protocol, "unmasked frame from a client".into())
        }
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Ended::Gone("connection closed without a close handshake".into())
        }
        Error::Protocol(p) => Ended::Violation(CloseCode::Protocol, p.to_string()),
        Error::ConnectionClosed | Error::AlreadyClosed => Ended::Gone("connection closed".into()),
        other => Ended::Gone(other.to_string()),
    }
}

fn data(shared: &Shared<'_>, bytes: &[u8]) -> Message {
    match shared.text {
        // Session output is ASCII; a failure here would be a bug, shown as binary.
        true => match std::str::from_utf8(bytes) {
            Ok(text) => Message::text(text.to_string()),
            Err(_) => Message::binary(bytes.to_vec()),
        },
        false => Message::binary(bytes.to_vec()),
    }
}

fn send_refusal(
    ws: &mut WebSocket<DeadlineStream>,
    session: &mut Session,
    clock: &HostClock,
) -> Result<u64, Ended> {
    let mut line = [0u8; 256];
    let n = session.poll_transmit(clock.now(), &mut line);
    session.handle_sent(n);
    let text = String::from_utf8_lossy(&line[..n]).trim_end().to_string();
    ws.send(Message::text(text.clone())).map_err(ended)?;
    Err(Ended::Violation(CloseCode::Policy, text))
}

fn send_messages(
    ws: &mut WebSocket<DeadlineStream>,
    session: &mut Session,
    shared: &Shared<'_>,
    clock: &HostClock,
) -> Result<u64, Ended> {
    let mut buf = [0u8; flood::MAX_MESSAGE_LEN];
    let mut sent = 0u64;
    loop {
        let now = clock.now();
        let n = session.poll_transmit(now, &mut buf);
        if n > 0 {
            ws.send(data(shared, &buf[..n])).map_err(ended)?;
            session.handle_sent(n);
            sent += n as u64;
            continue;
        }
        if session.is_done() {
            return Ok(sent);
        }
        if let Some(due) = session.poll_timeout() {
            std::thread::sleep(due.saturating_duration_since(now));
        }
    }
}

fn send_flood(
    ws: &mut WebSocket<DeadlineStream>,
    session: &mut Session,
    shared: &Shared<'_>,
    clock: &HostClock,
) -> Result<u64, Ended> {
    let total = shared.config.flood_bytes;
    let fragment = shared
        .fragment
        .unwrap_or(match total <= SINGLE_FRAME_LIMIT {
            true => usize::try_from(total).unwrap_or(AUTO_FRAGMENT).max(1),
            false => AUTO_FRAGMENT,
        });
    let first = OpCode::Data(if shared.text {
        Data::Text
    } else {
        Data::Binary
    });
    let mut opcode = first;
    let mut sent = 0u64;
    let mut frame = vec![0u8; fragment];
    loop {
        let mut filled = 0;
        while filled < fragment && !session.is_done() {
            let n = session.poll_transmit(Instant::ZERO.max(clock.now()), &mut frame[filled..]);
            session.handle_sent(n);
            filled += n;
            if n == 0 {
                break;
            }
        }
        let last = session.is_done();
        let out = Frame::message(frame[..filled].to_vec(), opcode, last);
        ws.write(Message::Frame(out)).map_err(ended)?;
        ws.flush().map_err(ended)?;
        sent += filled as u64;
        opcode = OpCode::Data(Data::Continue);
        if last {
            return Ok(sent);
        }
    }
}

/// Starts the close handshake and waits (bounded) for the client's reply.
fn close(ws: &mut WebSocket<DeadlineStream>, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.chars().take(100).collect::<String>().into(),
    };
    if ws.close(Some(frame)).is_err() {
        return;
    }
    let _ = ws.get_mut().lift_deadline(Some(CLOSE_WAIT));
    // Reading drives the handshake; it ends with ConnectionClosed, or a timeout.
    for _ in 0..64 {
        if ws.read().is_err() {
            break;
        }
    }
}
