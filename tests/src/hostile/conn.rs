//! A connection of the battery over TCP, TLS or WebSocket, and the reply
//! read from it; WebSocket frames are written and read by hand, so that
//! the battery can break the protocol on purpose.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::IO_LIMIT;

/// What the server sent back to one connection.
#[derive(Debug, Default)]
pub(super) struct Reply {
    /// The bytes (TCP, TLS) or the messages' payloads joined (WebSocket).
    pub(super) data: Vec<u8>,
    /// WebSocket messages, one entry each.
    pub(super) messages: Vec<Vec<u8>>,
    /// WebSocket close code, if the server sent a close frame.
    pub(super) close: Option<u16>,
    /// How the connection ended, if not with a clean end of stream.
    pub(super) error: Option<io::Error>,
}

impl Reply {
    pub(super) fn text(&self) -> String {
        let shown = &self.data[..self.data.len().min(80)];
        String::from_utf8_lossy(shown).trim_end().to_string()
    }
}

/// Sends a WebSocket upgrade request and returns the response's status line.
pub(super) fn upgrade(tcp: &mut TcpStream) -> Result<String, String> {
    let request = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    tcp.write_all(request.as_bytes())
        .map_err(|e| format!("upgrade: {e}"))?;
    // Byte by byte, so that no frame after the response is read here.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => break,
            Err(e) => return Err(format!("upgrade: {e}")),
        }
        if head.len() > 4096 {
            return Err("upgrade: an endless response".into());
        }
    }
    let head = String::from_utf8_lossy(&head);
    Ok(head.lines().next().unwrap_or_default().to_string())
}

/// A connection in the battery.
pub(super) enum Conn {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Ws(TcpStream),
    /// A TCP connection read as it is, whatever the server speaks.
    Raw(TcpStream),
}

impl Conn {
    pub(super) fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Tcp(s) | Conn::Ws(s) | Conn::Raw(s) => s,
            Conn::Tls(t) => &t.sock,
        }
    }

    /// Whether the server says something (or closes) within `wait`, without
    /// taking it from the reply. Over TLS, records that carry no data (the
    /// session tickets after a handshake) are not the server speaking.
    pub(super) fn spoke_within(&mut self, wait: Duration) -> bool {
        let spoke = match self {
            Conn::Tcp(s) | Conn::Ws(s) | Conn::Raw(s) => {
                let _ = s.set_read_timeout(Some(wait));
                s.peek(&mut [0u8; 1]).is_ok()
            }
            Conn::Tls(t) => {
                let deadline = Instant::now() + wait;
                loop {
                    let state = match t.conn.process_new_packets() {
                        Ok(state) => state,
                        Err(_) => break true,
                    };
                    if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
                        break true;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break false;
                    }
                    let _ = t.sock.set_read_timeout(Some(left));
                    match t.conn.read_tls(&mut t.sock) {
                        Ok(0) => break true,
                        Ok(_) => {}
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                            ) =>
                        {
                            break false;
                        }
                        Err(_) => break true,
                    }
                }
            }
        };
        let _ = self.tcp().set_read_timeout(Some(IO_LIMIT));
        spoke
    }

    /// The bytes that carry `command` on this connection.
    pub(super) fn command_bytes(&self, command: &[u8]) -> Vec<u8> {
        match self {
            Conn::Ws(_) => ws_frame(
                if std::str::from_utf8(command).is_ok() {
                    0x1
                } else {
                    0x2
                },
                command,
            ),
            _ => command.to_vec(),
        }
    }

    pub(super) fn send_command(&mut self, command: &[u8]) -> io::Result<()> {
        let bytes = self.command_bytes(command);
        self.send_raw(&bytes)
    }

    /// Writes `bytes` as they are (over TLS: as one record).
    pub(super) fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) | Conn::Ws(s) | Conn::Raw(s) => s.write_all(bytes),
            Conn::Tls(t) => {
                t.write_all(bytes)?;
                t.flush()
            }
        }
    }

    /// Reads at least one byte of the reply (a frame's bytes, for WebSocket).
    pub(super) fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) | Conn::Ws(s) | Conn::Raw(s) => s.read(buf),
            Conn::Tls(t) => t.read(buf),
        }
    }

    /// Reads until the server closes.
    pub(super) fn read_reply(mut self) -> Reply {
        let mut reply = Reply::default();
        if let Conn::Ws(s) = &mut self {
            read_ws_reply(s, &mut reply);
            return reply;
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.read_some(&mut buf) {
                Ok(0) => break,
                Ok(n) => reply.data.extend_from_slice(&buf[..n]),
                // A TLS server that closes without close_notify still said all it had.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => {
                    reply.error = Some(e);
                    break;
                }
            }
        }
        reply
    }
}

/// A masked client frame, FIN set.
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// Reads frames until the server's close frame (answered) or the end.
fn read_ws_reply(s: &mut TcpStream, reply: &mut Reply) {
    let mut message = Vec::new();
    loop {
        let mut head = [0u8; 2];
        if let Err(e) = s.read_exact(&mut head) {
            if e.kind() != io::ErrorKind::UnexpectedEof {
                reply.error = Some(e);
            }
            return;
        }
        let (fin, opcode) = (head[0] & 0x80 != 0, head[0] & 0x0f);
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                if s.read_exact(&mut b).is_err() {
                    return;
                }
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                if s.read_exact(&mut b).is_err() {
                    return;
                }
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mut payload = Vec::new();
        if let Err(e) = s.take(len).read_to_end(&mut payload) {
            reply.error = Some(e);
            return;
        }
        match opcode {
            0x8 => {
                reply.close = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                // Answer the close, as RFC 6455 asks, and read to the end.
                let _ = s.write_all(&ws_frame(0x8, payload.get(..2).unwrap_or_default()));
                let _ = s.read_to_end(&mut Vec::new());
                return;
            }
            0x0..=0x2 => {
                message.extend_from_slice(&payload);
                if fin {
                    reply.data.extend_from_slice(&message);
                    reply.messages.push(std::mem::take(&mut message));
                }
            }
            _ => {}
        }
    }
}
