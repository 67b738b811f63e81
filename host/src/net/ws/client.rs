//! The WebSocket PDC (lab part 6): the upgrade handshake, then frames.
//!
//! It works frame by frame (with tungstenite's frame codec) rather than
//! message by message, so that `--trace` can show every frame and a large
//! fragmented message streams to stdout without being held whole.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tungstenite::handshake::client::generate_key;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame, FrameSocket};

use pmulab_core::stream::reply::{self, ReplyClass};

use crate::net::rng::seeded_or_random;
use crate::ui::output::tell;

/// Why the exchange failed.
#[derive(Debug)]
pub enum WsClientError {
    /// The URL or target is not usable.
    Usage(String),
    /// The PMU answered `ERROR:`.
    Refused(String),
    /// Writing the output failed.
    Output(std::io::Error),
    /// The connection, the upgrade or the protocol failed.
    Failed(String),
}

impl std::fmt::Display for WsClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsClientError::Usage(why)
            | WsClientError::Refused(why)
            | WsClientError::Failed(why) => f.write_str(why),
            WsClientError::Output(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

/// The largest frame accepted from a server (ws-pmu sends 1 MiB frames
/// for large floods).
const MAX_FRAME: usize = 64 << 20;
/// The longest HTTP response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// Where to connect.
#[derive(Debug, Clone)]
pub struct WsTarget {
    /// Host name for the `Host` header.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path, starting with `/`.
    pub path: String,
}

impl WsTarget {
    /// Parses `ws://host[:port][/path]`.
    pub fn parse_url(url: &str) -> Result<WsTarget, WsClientError> {
        if url.starts_with("wss://") {
            return Err(WsClientError::Usage(
                "wss:// (WebSocket over TLS) is not supported; use ws://".into(),
            ));
        }
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| WsClientError::Usage(format!("{url:?} is not a ws:// URL")))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            // An IPv6 literal is bracketed: [::1]:5006.
            Some((h, p)) if !p.contains(']') => {
                let port = p
                    .parse()
                    .map_err(|_| WsClientError::Usage(format!("{p:?} in {url:?} is not a port")))?;
                (h, port)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(WsClientError::Usage(format!("{url:?} has no host")));
        }
        Ok(WsTarget {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

/// What the exchange showed.
#[derive(Debug, Default)]
pub struct WsSummary {
    /// Data messages received.
    pub messages: u64,
    /// Frames received (all kinds).
    pub frames: u64,
    /// Payload bytes of data frames.
    pub bytes: u64,
}

fn runtime(message: String) -> WsClientError {
    WsClientError::Failed(message)
}

/// How to connect, and how to show what comes back.
#[derive(Debug, Clone, Copy)]
pub struct WsFetch {
    /// The longest wait for the connection.
    pub connect_timeout: Duration,
    /// The longest silence from the PMU.
    pub idle_timeout: Duration,
    /// Each frame's opcode, FIN bit and length on stderr.
    pub trace: bool,
    /// The reply is one text (floodme): written as it is, without a line
    /// after it — exactly the bytes the TCP PDC writes for it.
    pub raw: bool,
}

/// Connects, upgrades, sends `command` as one text message, and writes
/// every message received to `out` on its own line (or raw, see
/// [`WsFetch::raw`]) until the close handshake.
pub fn fetch(
    target: &WsTarget,
    addr: SocketAddr,
    command: &str,
    how: WsFetch,
    out: &mut dyn Write,
) -> Result<WsSummary, WsClientError> {
    let WsFetch {
        connect_timeout,
        idle_timeout,
        trace,
        raw,
    } = how;
    let mut stream = TcpStream::connect_timeout(&addr, connect_timeout)
        .map_err(|e| runtime(format!("{addr}: cannot connect: {e}")))?;
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(idle_timeout))
        .map_err(|e| runtime(e.to_string()))?;
    let tail = upgrade(&mut stream, target)?;
    let mut socket = FrameSocket::from_partially_read(stream, tail);
    let mut mask = MaskSource::new();
    send(
        &mut socket,
        Frame::message(command.as_bytes().to_vec(), OpCode::Data(Data::Text), true),
        &mut mask,
    )?;

    let mut summary = WsSummary::default();
    // The open message, if any: its first bytes decide whether it is an ERROR line.
    let mut open: Option<Vec<u8>> = None;
    let mut first_message = true;
    loop {
        let frame = match socket.read(Some(MAX_FRAME)) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                return Err(runtime(
                    "the PMU closed the connection without a WebSocket close handshake".into(),
                ));
            }
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(runtime(format!(
                    "the PMU sent nothing for {} s",
                    idle_timeout.as_secs_f32()
                )));
            }
            Err(tungstenite::Error::Io(e)) => {
                return Err(runtime(format!("connection broken: {e}")));
            }
            Err(e) => {
                return Err(runtime(format!(
                    "the PMU broke the WebSocket protocol: {e}"
                )));
            }
        };
        summary.frames += 1;
        let header = frame.header();
        let (opcode, fin) = (header.opcode, header.is_final);
        if trace {
            tell!(
                "trace: frame {}: {}, {}, {} bytes",
                summary.frames,
                opcode_name(opcode),
                if fin { "FIN" } else { "not FIN" },
                frame.payload().len()
            );
        }
        if header.mask.is_some() {
            return abort(
                &mut socket,
                &mut mask,
                CloseCode::Protocol,
                "masked frame from a server",
            );
        }
        match opcode {
            OpCode::Data(Data::Text | Data::Binary) | OpCode::Data(Data::Continue) => {
                let starts = matches!(opcode, OpCode::Data(Data::Text | Data::Binary));
                if starts == open.is_some() {
                    let why = if starts {
                        "a new message inside a fragmented one"
                    } else {
                        "a continuation frame outside a message"
                    };
                    return abort(&mut socket, &mut mask, CloseCode::Protocol, why);
                }
                summary.bytes += frame.payload().len() as u64;
                let pending = open.get_or_insert_with(Vec::new);
                if first_message {
                    // Hold the first message until we know whether it is an ERROR line.
                    pending.extend_from_slice(frame.payload());
                    let class = reply::classify(pending);
                    if class.is_none() && !fin {
                        continue;
                    }
                    if class == Some(ReplyClass::Refusal) {
                        return Err(WsClientError::Refused(format!(
                            "the PMU refused the command: {}",
                            String::from_utf8_lossy(pending).trim_end()
                        )));
                    }
                    first_message = false;
                    out.write_all(pending).map_err(write_failed)?;
                    pending.clear();
                } else {
                    out.write_all(frame.payload()).map_err(write_failed)?;
                }
                if fin {
                    open = None;
                    summary.messages += 1;
                    let end: &[u8] = if raw { b"" } else { b"\n" };
                    out.write_all(end)
                        .and_then(|()| out.flush())
                        .map_err(write_failed)?;
                }
            }
            OpCode::Control(Control::Ping) => {
                send(&mut socket, Frame::pong(frame.into_payload()), &mut mask)?;
            }
            OpCode::Control(Control::Pong) => {}
            OpCode::Control(Control::Close) => {
                out.flush().map_err(write_failed)?;
                let (code, reason) = close_code(frame.payload());
                // Answer the close, as RFC 6455 asks, then stop.
                let reply = Frame::close(code.map(|code| CloseFrame {
                    code,
                    reason: String::new().into(),
                }));
                let _ = send(&mut socket, reply, &mut mask);
                return match (code, open.is_some()) {
                    (None | Some(CloseCode::Normal), false) => Ok(summary),
                    (_, true) => Err(runtime("the PMU closed in the middle of a message".into())),
                    (Some(code), false) => Err(runtime(format!(
                        "the PMU closed the WebSocket abnormally: code {}{}",
                        u16::from(code),
                        if reason.is_empty() {
                            String::new()
                        } else {
                            format!(" ({reason})")
                        }
                    ))),
                };
            }
            OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_)) => {
                return abort(
                    &mut socket,
                    &mut mask,
                    CloseCode::Protocol,
                    "a reserved opcode",
                );
            }
        }
    }
}

fn write_failed(e: std::io::Error) -> WsClientError {
    WsClientError::Output(e)
}

fn opcode_name(opcode: OpCode) -> &'static str {
    match opcode {
        OpCode::Data(Data::Text) => "text",
        OpCode::Data(Data::Binary) => "binary",
        OpCode::Data(Data::Continue) => "continuation",
        OpCode::Data(Data::Reserved(_)) => "reserved data",
        OpCode::Control(Control::Close) => "close",
        OpCode::Control(Control::Ping) => "ping",
        OpCode::Control(Control::Pong) => "pong",
        OpCode::Control(Control::Reserved(_)) => "reserved control",
    }
}

/// The code and reason of a close frame's payload.
fn close_code(payload: &[u8]) -> (Option<CloseCode>, String) {
    match payload {
        [hi, lo, reason @ ..] => (
            Some(CloseCode::from(u16::from_be_bytes([*hi, *lo]))),
            String::from_utf8_lossy(reason).into_owned(),
        ),
        _ => (None, String::new()),
    }
}

/// Closes with `code` because the server broke the protocol.
fn abort<T>(
    socket: &mut FrameSocket<TcpStream>,
    mask: &mut MaskSource,
    code: CloseCode,
    why: &str,
) -> Result<T, WsClientError> {
    let frame = Frame::close(Some(CloseFrame {
        code,
        reason: why.to_string().into(),
    }));
    let _ = send(socket, frame, mask);
    Err(runtime(format!(
        "the PMU broke the WebSocket protocol: {why}"
    )))
}

/// Client frames are masked (RFC 6455 §5.3).
fn send(
    socket: &mut FrameSocket<TcpStream>,
    mut frame: Frame,
    mask: &mut MaskSource,
) -> Result<(), WsClientError> {
    frame.header_mut().mask = Some(mask.next());
    socket
        .send(frame)
        .map_err(|e| runtime(format!("cannot send: {e}")))
}

/// Masking keys: unpredictable enough for a client's frames.
struct MaskSource(pmulab_core::rng::SplitMix64);

impl MaskSource {
    fn new() -> Self {
        MaskSource(seeded_or_random(None))
    }

    fn next(&mut self) -> [u8; 4] {
        (pmulab_core::rng::Random::next_u64(&mut self.0) as u32).to_be_bytes()
    }
}

/// Sends the upgrade request and checks the answer; returns bytes read past
/// the response head (frames the server sent at once).
fn upgrade(stream: &mut TcpStream, target: &WsTarget) -> Result<Vec<u8>, WsClientError> {
    let key = generate_key();
    let host = match target.host.contains(':') {
        true => format!("[{}]:{}", target.host, target.port),
        false => format!("{}:{}", target.host, target.port),
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| runtime(format!("cannot send the upgrade request: {e}")))?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(runtime(
                "the server's answer to the upgrade is not HTTP".into(),
            ));
        }
        let n = stream
            .read(&mut chunk)
            .map_err(|e| runtime(format!("no answer to the WebSocket upgrade: {e}")))?;
        if n == 0 {
            return Err(runtime(
                "the server closed the connection instead of upgrading to WebSocket".into(),
            ));
        }
        head.extend_from_slice(&chunk[..n]);
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => {
            return Err(runtime(
                "the server's answer to the upgrade is not HTTP".into(),
            ));
        }
    }
    let code = response.code.unwrap_or(0);
    if code != 101 {
        return Err(runtime(format!(
            "the server refused the WebSocket upgrade: HTTP {code} {}",
            response.reason.unwrap_or("")
        )));
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    let upgrade_ok = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let accept_ok = header("sec-websocket-accept")
        .is_some_and(|v| v.trim() == derive_accept_key(key.as_bytes()));
    if !upgrade_ok || !accept_ok {
        return Err(runtime(
            "the server's upgrade answer is not a valid WebSocket handshake".into(),
        ));
    }
    Ok(head[end..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = WsTarget::parse_url("ws://127.0.0.1:5006/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 5006, "/")
        );
        let t = WsTarget::parse_url("ws://pmu.lab").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        let t = WsTarget::parse_url("ws://[::1]:9/x/y").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 9, "/x/y")
        );
        assert!(WsTarget::parse_url("wss://x/").is_err());
        assert!(WsTarget::parse_url("ws://host:port/").is_err());
        assert!(WsTarget::parse_url("ws:///").is_err());
    }
}
