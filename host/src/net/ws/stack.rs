//! WebSocket as an embedded-nal stack: [`WsStack`] wraps the host's
//! [`StdStack`] and puts a WebSocket server on every accepted connection,
//! so that core's PMU server runs over WebSocket unchanged (lab part 6),
//! as it runs over TLS.
//!
//! - A connection starts with the client's HTTP upgrade request, answered
//!   `101` ([`super::upgrade`]) or with an HTTP error; a plain `GET` is
//!   answered with the PDC page, and ends like a client that sent nothing.
//! - `receive` gives the client's first message — the command — and then
//!   the end of the input, as a TCP client that half-closes after its
//!   command: the command is one whole message, so what is not complete
//!   now never will be. Pings are answered as they come.
//! - `send` collects the payload of the message being sent and
//!   [`Framing::end_message`] makes it one WebSocket message: each `This is
//!   PMU data i` its own, the floodme one (in frames of `fragment` bytes).
//!   An `ERROR:` message goes as text and the close that follows says
//!   1008 (policy); before the upgrade it becomes an HTTP error (503 for a
//!   busy server).
//! - `half_close` starts the close handshake; the FIN follows once every
//!   byte before it is out.
//! - A client that breaks the protocol gets the close code RFC 6455 gives
//!   (1002, 1007, 1009) and the error says so.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use embedded_nal::{TcpClientStack, TcpError, TcpErrorKind, TcpFullStack, nb};
use pmulab_core::nal::{Framing, HalfClose, Park};
use pmulab_core::stream::reply::{self, ReplyClass};
use pmulab_core::time::Instant;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::protocol::{Role, WebSocketConfig, WebSocketContext};
use tungstenite::{Error as WsLibError, Message};

use super::upgrade::{self, Origins, Upgrade};
use crate::net::stack::{NetError, StdSocket, StdStack};

/// Above this, a floodme goes out in frames of this size unless
/// `fragment` says otherwise: a frame is held whole until it is framed.
pub const AUTO_FRAGMENT: usize = 1 << 20;

/// How the server frames what it sends.
#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    /// Messages as text; the course's server sent binary.
    pub text: bool,
    /// The largest frame of a long message (the floodme).
    pub fragment: usize,
    /// The longest message (and frame) a client may send.
    pub max_message: usize,
}

/// An error from the socket below or from WebSocket.
#[derive(Debug)]
pub enum WsError {
    /// The TCP socket failed.
    Net(NetError),
    /// The request was not an upgrade (or not to `/`): answered with HTTP `status`.
    BadUpgrade {
        /// The HTTP status sent.
        status: u16,
        /// Why.
        reason: String,
    },
    /// The client broke the protocol: closed with `code`.
    Violation {
        /// The close code sent (RFC 6455, 7.4.1).
        code: u16,
        /// Why.
        reason: String,
    },
    /// The socket is not a WebSocket connection of this stack.
    NotConnected,
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsError::Net(e) => e.fmt(f),
            WsError::BadUpgrade { status, reason } => {
                write!(
                    f,
                    "bad WebSocket handshake: {reason} (answered HTTP {status})"
                )
            }
            WsError::Violation { code, reason } => {
                write!(f, "WebSocket closed with {code}: {reason}")
            }
            WsError::NotConnected => f.write_str("WebSocket: the socket is not connected"),
        }
    }
}

impl TcpError for WsError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            WsError::Net(e) => e.kind(),
            _ => TcpErrorKind::Other,
        }
    }
}

impl From<NetError> for WsError {
    fn from(e: NetError) -> Self {
        WsError::Net(e)
    }
}

impl WsError {
    /// What to do about it, when there is something to say.
    pub fn advice(&self) -> Option<&'static str> {
        match self {
            WsError::Net(e) => e.advice(),
            _ => None,
        }
    }
}

/// A socket of a [`WsStack`].
#[derive(Debug)]
pub struct WsSocket {
    inner: StdSocket,
}

/// Where a connection is in its life.
enum Phase {
    /// Reading the client's upgrade request.
    Upgrading { request: Vec<u8> },
    /// An HTTP error was (or is being) answered; nothing more is said.
    Refused,
    /// The WebSocket is open.
    Open(Box<WebSocketContext>),
}

/// One connection's state.
struct Conn {
    phase: Phase,
    /// HTTP bytes still to write, before anything else.
    raw_out: Vec<u8>,
    /// The payload of the message being sent, not yet framed.
    pending: Vec<u8>,
    /// A frame of the current message is out: the next is a continuation.
    continuing: bool,
    /// The current message is an `ERROR:` line.
    refusing: bool,
    /// The close frame `half_close` sends.
    close: CloseFrame,
    /// The client's first message, what the caller has not taken yet.
    input: Vec<u8>,
    /// The first message was delivered: the input has ended.
    input_ended: bool,
    /// A FIN is due once everything before it is out.
    fin_pending: bool,
}

impl Conn {
    fn new() -> Self {
        Conn {
            phase: Phase::Upgrading {
                request: Vec::new(),
            },
            raw_out: Vec::new(),
            pending: Vec::new(),
            continuing: false,
            refusing: false,
            close: CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            },
            input: Vec::new(),
            input_ended: false,
            fin_pending: false,
        }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match self.phase {
            Phase::Upgrading { .. } => "upgrading",
            Phase::Refused => "refused",
            Phase::Open(_) => "open",
        };
        f.debug_struct("Conn")
            .field("phase", &phase)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// WebSocket over the host stack; see the module documentation.
#[derive(Debug)]
pub struct WsStack {
    inner: StdStack,
    settings: WsSettings,
    origins: Arc<Origins>,
    conns: HashMap<usize, Conn>,
}

impl WsStack {
    /// A WebSocket server stack over `inner`.
    pub fn new(inner: StdStack, settings: WsSettings) -> Self {
        WsStack {
            inner,
            settings,
            origins: Arc::new(Origins::default()),
            conns: HashMap::new(),
        }
    }

    /// Lets browser pages of these origins drive the PMU too (its own page
    /// always may).
    pub fn allowing(mut self, origins: Origins) -> Self {
        self.origins = Arc::new(origins);
        self
    }

    /// A new stack for another thread, accepting from `listener` too.
    pub fn worker(&self, listener: &WsSocket) -> io::Result<(WsStack, WsSocket)> {
        let mut inner = StdStack::new(self.inner.bind_ip(), self.inner.clock());
        let shared = inner.share_listener(&self.inner, &listener.inner)?;
        let mut worker = WsStack::new(inner, self.settings);
        worker.origins = Arc::clone(&self.origins);
        Ok((worker, WsSocket { inner: shared }))
    }

    /// The local address of a socket (e.g. the listener's port).
    pub fn local_addr(&self, socket: &WsSocket) -> io::Result<SocketAddr> {
        self.inner.local_addr(&socket.inner)
    }

    fn config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.settings.max_message))
            .max_frame_size(Some(self.settings.max_message))
            // Every frame goes to the socket at once; what it cannot take
            // waits, bounded: a frame being written and one being framed.
            // (tungstenite panics unless the bound exceeds the first size.)
            .write_buffer_size(0)
            .max_write_buffer_size(2 * self.settings.fragment.max(1) + (64 << 10))
    }

    fn parts(&mut self, socket: &WsSocket) -> Result<(&mut StdStack, &mut Conn), WsError> {
        let conn = self
            .conns
            .get_mut(&socket.inner.index())
            .ok_or(WsError::NotConnected)?;
        Ok((&mut self.inner, conn))
    }
}

/// The socket below as the byte stream tungstenite reads and writes.
struct Below<'a> {
    stack: &'a mut StdStack,
    socket: &'a mut StdSocket,
}

impl io::Read for Below<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.stack.receive(self.socket, buf) {
            Ok(n) => Ok(n),
            Err(nb::Error::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            // End of stream reads as 0, as io::Read expects.
            Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => Ok(0),
            Err(nb::Error::Other(e)) => Err(e.0),
        }
    }
}

impl io::Write for Below<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.stack.send(self.socket, buf) {
            Ok(n) => Ok(n),
            Err(nb::Error::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(nb::Error::Other(e)) => Err(e.0),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn would_block(e: &WsLibError) -> bool {
    matches!(e, WsLibError::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

/// Writes what is queued (HTTP bytes, then frames), then the FIN if it is
/// due; `Ok(true)` when everything went out.
fn flush(stack: &mut StdStack, socket: &mut StdSocket, conn: &mut Conn) -> Result<bool, WsError> {
    while !conn.raw_out.is_empty() {
        match stack.send(socket, &conn.raw_out) {
            Ok(n) => {
                conn.raw_out.drain(..n);
            }
            Err(nb::Error::WouldBlock) => return Ok(false),
            Err(nb::Error::Other(e)) => return Err(WsError::Net(e)),
        }
    }
    if let Phase::Open(ctx) = &mut conn.phase {
        match ctx.flush(&mut Below { stack, socket }) {
            Ok(()) => {}
            Err(e) if would_block(&e) => return Ok(false),
            // Closed by us and flushed: the close frame is out.
            Err(WsLibError::ConnectionClosed | WsLibError::AlreadyClosed) => {}
            Err(e) => return Err(lib_error(e)),
        }
    }
    if conn.fin_pending {
        conn.fin_pending = false;
        stack.half_close(socket)?;
    }
    Ok(true)
}

/// Writes one frame of the message being sent; `fin` ends the message.
fn write_frame(
    stack: &mut StdStack,
    socket: &mut StdSocket,
    conn: &mut Conn,
    settings: &WsSettings,
    fin: bool,
) -> Result<(), WsError> {
    let Phase::Open(ctx) = &mut conn.phase else {
        return Ok(());
    };
    let opcode = match (conn.continuing, conn.refusing || settings.text) {
        (true, _) => OpCode::Data(Data::Continue),
        (false, true) => OpCode::Data(Data::Text),
        (false, false) => OpCode::Data(Data::Binary),
    };
    let payload = std::mem::take(&mut conn.pending);
    conn.continuing = !fin;
    match ctx.write(
        &mut Below { stack, socket },
        Message::Frame(Frame::message(payload, opcode, fin)),
    ) {
        Ok(()) => Ok(()),
        // Queued; it goes out as the socket takes it.
        Err(e) if would_block(&e) => Ok(()),
        Err(e) => Err(lib_error(e)),
    }
}

/// A tungstenite failure, as this stack's error: a protocol violation by
/// the client gets its RFC 6455 close code.
fn lib_error(e: WsLibError) -> WsError {
    use tungstenite::error::{CapacityError, ProtocolError};
    let violation = |code: CloseCode, reason: String| WsError::Violation {
        code: code.into(),
        reason,
    };
    match e {
        WsLibError::Io(io) => WsError::Net(NetError(io)),
        WsLibError::Capacity(CapacityError::MessageTooLong { size, max_size }) => violation(
            CloseCode::Size,
            format!("a message of {size} bytes, the limit is {max_size}"),
        ),
        WsLibError::Capacity(other) => violation(CloseCode::Size, other.to_string()),
        WsLibError::Utf8(_) => violation(
            CloseCode::Invalid,
            "a text message that is not UTF-8".into(),
        ),
        WsLibError::Protocol(ProtocolError::UnmaskedFrameFromClient) => violation(
            CloseCode::Protocol,
            "an unmasked frame from a client".into(),
        ),
        WsLibError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            WsError::Net(NetError(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "the client left without a close handshake",
            )))
        }
        WsLibError::Protocol(p) => violation(CloseCode::Protocol, p.to_string()),
        WsLibError::ConnectionClosed | WsLibError::AlreadyClosed => WsError::Net(NetError(
            io::Error::new(io::ErrorKind::UnexpectedEof, "WebSocket closed"),
        )),
        other => violation(CloseCode::Protocol, other.to_string()),
    }
}

impl TcpClientStack for WsStack {
    type TcpSocket = WsSocket;
    type Error = WsError;

    fn socket(&mut self) -> Result<WsSocket, WsError> {
        Ok(WsSocket {
            inner: TcpClientStack::socket(&mut self.inner)?,
        })
    }

    /// This stack only serves; pmulab's WebSocket client is its own.
    fn connect(&mut self, _socket: &mut WsSocket, _remote: SocketAddr) -> nb::Result<(), WsError> {
        Err(nb::Error::Other(WsError::NotConnected))
    }

    fn send(&mut self, socket: &mut WsSocket, buffer: &[u8]) -> nb::Result<usize, WsError> {
        let settings = self.settings;
        let (stack, conn) = self.parts(socket)?;
        // What waits goes first, so bytes keep their order.
        flush(stack, &mut socket.inner, conn)?;
        match &conn.phase {
            // Before the upgrade the PMU only ever says no: in HTTP.
            Phase::Upgrading { .. } => {
                let text = String::from_utf8_lossy(buffer);
                let text = text.trim_end();
                let busy = text.contains(reply::BUSY_REASON);
                conn.raw_out = match busy {
                    true => upgrade::error_response(
                        503,
                        "Service Unavailable",
                        "server busy, every session is taken",
                    ),
                    false => upgrade::error_response(400, "Bad Request", text),
                };
                conn.phase = Phase::Refused;
                flush(stack, &mut socket.inner, conn)?;
                Ok(buffer.len())
            }
            Phase::Refused => Ok(buffer.len()),
            Phase::Open(_) => {
                if conn.pending.is_empty() && !conn.continuing {
                    conn.refusing = reply::classify(buffer) == Some(ReplyClass::Refusal);
                }
                // Frames of `fragment` bytes; a full one goes out only after
                // the one before it did, so at most two are held.
                let mut taken = 0;
                loop {
                    if conn.pending.len() == settings.fragment {
                        // Would block: the socket below now waits for writability.
                        if !flush(stack, &mut socket.inner, conn)? {
                            break;
                        }
                        write_frame(stack, &mut socket.inner, conn, &settings, false)?;
                        continue;
                    }
                    let room = settings.fragment - conn.pending.len();
                    let take = room.min(buffer.len() - taken);
                    if take == 0 {
                        break;
                    }
                    conn.pending.extend_from_slice(&buffer[taken..taken + take]);
                    taken += take;
                }
                match taken {
                    0 if !buffer.is_empty() => Err(nb::Error::WouldBlock),
                    n => Ok(n),
                }
            }
        }
    }

    fn receive(&mut self, socket: &mut WsSocket, buffer: &mut [u8]) -> nb::Result<usize, WsError> {
        let config = self.config();
        let origins = Arc::clone(&self.origins);
        let (stack, conn) = self.parts(socket)?;
        flush(stack, &mut socket.inner, conn)?;
        if !conn.input.is_empty() {
            let n = conn.input.len().min(buffer.len());
            buffer[..n].copy_from_slice(&conn.input[..n]);
            conn.input.drain(..n);
            return Ok(n);
        }
        loop {
            match &mut conn.phase {
                Phase::Upgrading { request } => {
                    let mut chunk = [0u8; 2048];
                    let n = match stack.receive(&mut socket.inner, &mut chunk) {
                        Ok(0) => return Ok(0),
                        Ok(n) => n,
                        Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => {
                            return Ok(0);
                        }
                        Err(e) => return Err(e.map(WsError::Net)),
                    };
                    request.extend_from_slice(&chunk[..n]);
                    match upgrade::upgrade(request, &origins) {
                        Upgrade::Partial => {}
                        // A browser asking for the page: answered, and for
                        // the PMU the input ends with no command.
                        Upgrade::Page { response, .. } => {
                            conn.raw_out = response;
                            conn.phase = Phase::Refused;
                            conn.fin_pending = true;
                            flush(stack, &mut socket.inner, conn)?;
                            return Ok(0);
                        }
                        Upgrade::Accept { response, consumed } => {
                            let frames = request.split_off(consumed);
                            conn.raw_out = response;
                            conn.phase =
                                Phase::Open(Box::new(WebSocketContext::from_partially_read(
                                    frames,
                                    Role::Server,
                                    Some(config),
                                )));
                            flush(stack, &mut socket.inner, conn)?;
                        }
                        Upgrade::Refuse {
                            response,
                            reason,
                            status,
                        } => {
                            conn.raw_out = response;
                            conn.phase = Phase::Refused;
                            conn.fin_pending = true;
                            flush(stack, &mut socket.inner, conn)?;
                            return Err(nb::Error::Other(WsError::BadUpgrade { status, reason }));
                        }
                    }
                }
                // Whatever the client still sends is read, to its FIN, and dropped.
                Phase::Refused => {
                    return stack
                        .receive(&mut socket.inner, buffer)
                        .map_err(|e| e.map(WsError::Net));
                }
                Phase::Open(ctx) => {
                    let read = ctx.read(&mut Below {
                        stack: &mut *stack,
                        socket: &mut socket.inner,
                    });
                    match read {
                        Ok(Message::Text(text)) if !conn.input_ended => {
                            conn.input = text.as_bytes().to_vec();
                        }
                        Ok(Message::Binary(bytes)) if !conn.input_ended => {
                            conn.input = bytes.to_vec();
                        }
                        // After the command, the client has nothing to say but close.
                        Ok(Message::Text(_) | Message::Binary(_)) => continue,
                        Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                        // The client closed; tungstenite queued the reply.
                        Ok(Message::Close(_)) => {
                            conn.input_ended = true;
                            flush(stack, &mut socket.inner, conn)?;
                            return Ok(0);
                        }
                        Err(e) if would_block(&e) => return Err(nb::Error::WouldBlock),
                        Err(WsLibError::ConnectionClosed | WsLibError::AlreadyClosed) => {
                            return Ok(0);
                        }
                        Err(e) => {
                            let error = lib_error(e);
                            if let WsError::Violation { code, reason } = &error {
                                let frame = CloseFrame {
                                    code: CloseCode::from(*code),
                                    reason: reason.chars().take(100).collect::<String>().into(),
                                };
                                let _ = ctx.close(
                                    &mut Below {
                                        stack: &mut *stack,
                                        socket: &mut socket.inner,
                                    },
                                    Some(frame),
                                );
                                conn.fin_pending = true;
                                let _ = flush(stack, &mut socket.inner, conn);
                            }
                            return Err(nb::Error::Other(error));
                        }
                    }
                    // The command is the first message, whole: then the input ends.
                    conn.input_ended = true;
                    if conn.input.is_empty() {
                        return Ok(0);
                    }
                    let n = conn.input.len().min(buffer.len());
                    buffer[..n].copy_from_slice(&conn.input[..n]);
                    conn.input.drain(..n);
                    return Ok(n);
                }
            }
        }
    }

    fn close(&mut self, socket: WsSocket) -> Result<(), WsError> {
        let index = socket.inner.index();
        let mut inner = socket.inner;
        if let Some(mut conn) = self.conns.remove(&index) {
            // Best effort: the socket is going away either way.
            let _ = flush(&mut self.inner, &mut inner, &mut conn);
        }
        TcpClientStack::close(&mut self.inner, inner)?;
        Ok(())
    }
}

impl TcpFullStack for WsStack {
    fn bind(&mut self, socket: &mut WsSocket, local_port: u16) -> Result<(), WsError> {
        Ok(TcpFullStack::bind(
            &mut self.inner,
            &mut socket.inner,
            local_port,
        )?)
    }

    fn listen(&mut self, socket: &mut WsSocket) -> Result<(), WsError> {
        Ok(self.inner.listen(&mut socket.inner)?)
    }

    fn accept(&mut self, socket: &mut WsSocket) -> nb::Result<(WsSocket, SocketAddr), WsError> {
        let (inner, peer) = self
            .inner
            .accept(&mut socket.inner)
            .map_err(|e| e.map(WsError::Net))?;
        // Best effort: without it small messages wait for acknowledgements.
        let _ = self.inner.set_nodelay(&inner);
        self.conns.insert(inner.index(), Conn::new());
        Ok((WsSocket { inner }, peer))
    }
}

impl Framing for WsStack {
    fn end_message(&mut self, socket: &mut WsSocket) -> Result<(), WsError> {
        let settings = self.settings;
        let (stack, conn) = self.parts(socket)?;
        if !matches!(conn.phase, Phase::Open(_)) {
            return Ok(());
        }
        if conn.refusing {
            // A message is its own boundary: the line's terminator, which
            // TCP needs, is not part of it (as `This is PMU data i` has none).
            let kept = pmulab_core::text::strip_line_ending(&conn.pending).len();
            conn.pending.truncate(kept);
            let line = String::from_utf8_lossy(&conn.pending).to_string();
            conn.close = CloseFrame {
                code: CloseCode::Policy,
                reason: line.chars().take(100).collect::<String>().into(),
            };
        }
        write_frame(stack, &mut socket.inner, conn, &settings, true)?;
        conn.refusing = false;
        flush(stack, &mut socket.inner, conn)?;
        Ok(())
    }
}

impl HalfClose for WsStack {
    fn half_close(&mut self, socket: &mut WsSocket) -> Result<(), WsError> {
        let (stack, conn) = self.parts(socket)?;
        if let Phase::Open(ctx) = &mut conn.phase {
            let frame = conn.close.clone();
            match ctx.close(
                &mut Below {
                    stack,
                    socket: &mut socket.inner,
                },
                Some(frame),
            ) {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(WsLibError::ConnectionClosed | WsLibError::AlreadyClosed) => {}
                Err(e) => return Err(lib_error(e)),
            }
        }
        // The FIN follows the close frame once everything before it is out.
        conn.fin_pending = true;
        flush(stack, &mut socket.inner, conn)?;
        Ok(())
    }
}

impl Park for WsStack {
    fn park(&mut self, deadline: Option<Instant>) {
        for (&index, conn) in &mut self.conns {
            let mut socket = StdSocket::alias(index);
            // A failure shows on the owner's next call on this socket.
            let _ = flush(&mut self.inner, &mut socket, conn);
        }
        self.inner.park(deadline);
    }
}
