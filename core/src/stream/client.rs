//! The PDC client over any [`TcpClientStack`] (lab part 2).
//!
//! [`fetch`] connects, sends the command and reads until the PMU closes,
//! handing every read to a [`PdcOutput`]: deframed into messages for
//! `CMD_short`, as raw bytes for `CMD_floodme`. It reads into the caller's
//! buffer and keeps nothing else, so a reply of any size streams through in
//! constant memory. An `ERROR:` reply becomes [`PdcError::Refused`].

use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

use embedded_nal::{TcpClientStack, TcpError, TcpErrorKind, nb};

use super::deframer::{Deframer, Piece};
use super::reply::{self, ReplyClass};
use crate::nal::Park;
use crate::time::{Clock, Instant};

/// How to read the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// A glued stream of `This is PMU data i` messages (`CMD_short`).
    Messages,
    /// One text to pass on as it is (`CMD_floodme`).
    Raw,
}

/// What to ask and of whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The PMU.
    pub remote: SocketAddr,
    /// The command's bytes as they go on the wire.
    pub command: &'a [u8],
    /// How to read the reply.
    pub kind: ReplyKind,
}

/// Limits for one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdcConfig {
    /// Longest wait for the connection to be established.
    pub connect_timeout: Duration,
    /// Longest silence from the PMU before giving up.
    pub idle_timeout: Duration,
}

impl Default for PdcConfig {
    fn default() -> Self {
        PdcConfig {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
        }
    }
}

/// Where the reply goes.
pub trait PdcOutput {
    /// What writing the output can fail with.
    type Error;

    /// One read of `len` bytes arrived at `now` (before its content is
    /// delivered). For tracing; does nothing by default.
    fn read(&mut self, now: Instant, len: usize) -> Result<(), Self::Error> {
        let _ = (now, len);
        Ok(())
    }

    /// The read announced by the last [`PdcOutput::read`] has been
    /// delivered. For tracing; does nothing by default.
    fn read_done(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// A piece of a deframed message ([`ReplyKind::Messages`]).
    fn piece(&mut self, piece: Piece<'_>) -> Result<(), Self::Error>;

    /// Bytes of a raw reply ([`ReplyKind::Raw`]).
    fn raw(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// What a completed exchange received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Bytes received.
    pub bytes: u64,
    /// Reads that returned data.
    pub reads: u64,
    /// Messages deframed (0 for a raw reply).
    pub messages: u64,
}

/// The longest `ERROR:` line kept from a refusal; longer lines are cut.
/// Small, so that errors stay cheap to return on a board.
pub const MAX_ERROR_LINE: usize = 112;

/// Why an exchange failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PdcError<N, O> {
    /// No socket could be opened.
    Socket(N),
    /// The connection was refused or failed.
    Connect(N),
    /// The connection was not established within the connect timeout.
    ConnectTimeout,
    /// Sending the command failed.
    Send(N),
    /// Receiving failed (typically: connection reset by the PMU).
    Receive(N),
    /// The PMU sent nothing for the idle timeout.
    IdleTimeout(Duration),
    /// The PMU answered with an `ERROR:` line.
    Refused(ErrorLine),
    /// The reply is a TLS record: the PMU speaks TLS, the client did not.
    TlsReply,
    /// The reply is HTTP: the PMU speaks WebSocket, the client did not.
    HttpReply,
    /// The stream ended in the middle of a message (inside its prefix, or
    /// right after it); everything before it was delivered, and the
    /// fragment as a message of its own.
    EndedMidMessage,
    /// Writing the output failed.
    Output(O),
}

/// The `ERROR:` line of a refusal, without its line ending.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorLine {
    line: heapless::Vec<u8, MAX_ERROR_LINE>,
}

impl ErrorLine {
    /// The line's bytes (possibly cut at [`MAX_ERROR_LINE`]).
    pub fn as_bytes(&self) -> &[u8] {
        &self.line
    }
}

impl fmt::Debug for ErrorLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ErrorLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.as_bytes().utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

impl<N: fmt::Debug, O: fmt::Display> fmt::Display for PdcError<N, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PdcError::Socket(e) => write!(f, "cannot open a socket: {e:?}"),
            PdcError::Connect(e) => write!(f, "cannot connect: {e:?}"),
            PdcError::ConnectTimeout => f.write_str("connection timed out"),
            PdcError::Send(e) => write!(f, "sending the command failed: {e:?}"),
            PdcError::Receive(e) => write!(f, "connection broken while receiving: {e:?}"),
            PdcError::IdleTimeout(d) => {
                write!(f, "the PMU sent nothing for {} s", d.as_secs_f32())
            }
            PdcError::Refused(line) => write!(f, "the PMU refused the command: {line}"),
            PdcError::TlsReply => {
                f.write_str("the PMU answered with TLS: it is a TLS server, connect with TLS")
            }
            PdcError::HttpReply => f.write_str(
                "the PMU answered with HTTP: it is a WebSocket/HTTP server: use ws://HOST:PORT/ or --ws",
            ),
            PdcError::EndedMidMessage => f.write_str(
                "the stream ended in the middle of a message (its last line is the start of one)",
            ),
            PdcError::Output(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

/// Connects to the PMU, sends the command and passes the reply to `out`
/// until the PMU closes the connection.
///
/// `buf` is the read buffer; larger reads mean fewer calls (64 KiB on a
/// host, a few hundred bytes on a board).
pub fn fetch<S, C, O>(
    stack: &mut S,
    clock: &C,
    request: Request<'_>,
    config: &PdcConfig,
    buf: &mut [u8],
    out: &mut O,
) -> Result<Summary, PdcError<S::Error, O::Error>>
where
    S: TcpClientStack + Park,
    C: Clock,
    O: PdcOutput,
{
    let mut socket = stack.socket().map_err(PdcError::Socket)?;
    let result = exchange(stack, clock, &mut socket, request, config, buf, out);
    // The exchange's outcome matters more than a failure to close.
    let _ = stack.close(socket);
    result
}

fn exchange<S, C, O>(
    stack: &mut S,
    clock: &C,
    socket: &mut S::TcpSocket,
    Request {
        remote,
        command,
        kind,
    }: Request<'_>,
    config: &PdcConfig,
    buf: &mut [u8],
    out: &mut O,
) -> Result<Summary, PdcError<S::Error, O::Error>>
where
    S: TcpClientStack + Park,
    C: Clock,
    O: PdcOutput,
{
    let deadline = clock.now() + config.connect_timeout;
    loop {
        match stack.connect(socket, remote) {
            Ok(()) => break,
            Err(nb::Error::WouldBlock) => {
                wait(stack, clock, deadline).ok_or(PdcError::ConnectTimeout)?
            }
            Err(nb::Error::Other(e)) => return Err(PdcError::Connect(e)),
        }
    }

    let mut sent = 0;
    let mut deadline = clock.now() + config.idle_timeout;
    while sent < command.len() {
        match stack.send(socket, &command[sent..]) {
            Ok(n) => {
                sent += n;
                deadline = clock.now() + config.idle_timeout;
            }
            Err(nb::Error::WouldBlock) => {
                wait(stack, clock, deadline).ok_or(PdcError::IdleTimeout(config.idle_timeout))?
            }
            Err(nb::Error::Other(e)) => return Err(PdcError::Send(e)),
        }
    }

    let mut reply = Reply::new(kind);
    let mut deadline = clock.now() + config.idle_timeout;
    loop {
        match stack.receive(socket, buf) {
            Ok(0) => break,
            Ok(n) => {
                let now = clock.now();
                deadline = now + config.idle_timeout;
                out.read(now, n).map_err(PdcError::Output)?;
                reply.feed(&buf[..n], out)?;
                out.read_done().map_err(PdcError::Output)?;
            }
            Err(nb::Error::WouldBlock) => {
                wait(stack, clock, deadline).ok_or(PdcError::IdleTimeout(config.idle_timeout))?
            }
            Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => break,
            Err(nb::Error::Other(e)) => return Err(PdcError::Receive(e)),
        }
    }
    reply.finish(out)
}

/// Parks until the stack may progress; `None` once `deadline` has passed.
fn wait<S: Park, C: Clock>(stack: &mut S, clock: &C, deadline: Instant) -> Option<()> {
    if clock.now() >= deadline {
        return None;
    }
    stack.park(Some(deadline));
    Some(())
}

/// The reply so far: its first bytes decide what it is ([`reply::classify`]).
struct Reply {
    kind: ReplyKind,
    /// The first bytes while undecided; the `ERROR:` line once refused.
    head: heapless::Vec<u8, MAX_ERROR_LINE>,
    class: Option<ReplyClass>,
    deframer: Deframer,
    summary: Summary,
}

impl Reply {
    fn new(kind: ReplyKind) -> Self {
        Reply {
            kind,
            head: heapless::Vec::new(),
            class: None,
            deframer: Deframer::new(),
            summary: Summary::default(),
        }
    }

    fn feed<N, O: PdcOutput>(
        &mut self,
        mut bytes: &[u8],
        out: &mut O,
    ) -> Result<(), PdcError<N, O::Error>> {
        self.summary.bytes += bytes.len() as u64;
        self.summary.reads += 1;
        if self.class.is_none() {
            if self.head.is_empty()
                && let Some(class) = reply::classify(bytes)
            {
                // The usual case: the first read decides on its own, and is
                // delivered whole so that offsets within it stay true.
                self.class = Some(class);
            } else {
                let take = (reply::CLASSIFY_LEN - self.head.len()).min(bytes.len());
                // Within capacity: CLASSIFY_LEN is below MAX_ERROR_LINE.
                let _ = self.head.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.head.len() < reply::CLASSIFY_LEN && reply::classify(&self.head).is_none() {
                    return Ok(());
                }
                self.decide_head(out)?;
            }
        }
        match self.class {
            None | Some(ReplyClass::Tls | ReplyClass::Http) => Ok(()),
            Some(ReplyClass::Data) => self.deliver(bytes, out),
            Some(ReplyClass::Refusal) => {
                let take = (MAX_ERROR_LINE - self.head.len()).min(bytes.len());
                let _ = self.head.extend_from_slice(&bytes[..take]);
                Ok(())
            }
        }
    }

    /// Decides from the bytes held (a reply shorter than `ERROR:` is data
    /// all the same) and delivers them if they are data.
    fn decide_head<N, O: PdcOutput>(&mut self, out: &mut O) -> Result<(), PdcError<N, O::Error>> {
        let class = reply::classify(&self.head).unwrap_or(ReplyClass::Data);
        self.class = Some(class);
        if class == ReplyClass::Data {
            let head = self.head.clone();
            self.head.clear();
            return self.deliver(&head, out);
        }
        Ok(())
    }

    fn deliver<N, O: PdcOutput>(
        &mut self,
        bytes: &[u8],
        out: &mut O,
    ) -> Result<(), PdcError<N, O::Error>> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self.kind {
            ReplyKind::Raw => out.raw(bytes).map_err(PdcError::Output),
            ReplyKind::Messages => {
                let mut result = Ok(());
                self.deframer.feed(bytes, &mut |piece| {
                    if result.is_ok() {
                        result = out.piece(piece);
                    }
                });
                result.map_err(PdcError::Output)
            }
        }
    }

    fn finish<N, O: PdcOutput>(mut self, out: &mut O) -> Result<Summary, PdcError<N, O::Error>> {
        if self.class.is_none() {
            self.decide_head(out)?;
        }
        match self.class {
            Some(ReplyClass::Refusal) => {
                let line = self.head.split(|&b| b == b'\n').next().unwrap_or(&[]);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let mut kept = heapless::Vec::new();
                // The head holds at most MAX_ERROR_LINE bytes, so the line fits.
                let _ = kept.extend_from_slice(line);
                return Err(PdcError::Refused(ErrorLine { line: kept }));
            }
            Some(ReplyClass::Tls) => return Err(PdcError::TlsReply),
            Some(ReplyClass::Http) => return Err(PdcError::HttpReply),
            Some(ReplyClass::Data) | None => {}
        }
        if self.kind == ReplyKind::Messages {
            let mut result = Ok(());
            self.deframer.finish(&mut |piece| {
                if result.is_ok() {
                    result = out.piece(piece);
                }
            });
            result.map_err(PdcError::Output)?;
            self.summary.messages = self.deframer.messages();
            if self.deframer.ended_mid_message() {
                return Err(PdcError::EndedMidMessage);
            }
        }
        Ok(self.summary)
    }
}
