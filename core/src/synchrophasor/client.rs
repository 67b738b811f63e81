//! The C37.118.2 PDC over any [`TcpClientStack`]: core's [`Pdc`] machine
//! driven through one socket, so the host's `c37-pdc` and a board read a
//! PMU with the same code.
//!
//! [`C37Client::poll`] connects (without blocking), sends the commands the
//! machine owes, reads what has come and hands each frame to the caller
//! with its arrival time; [`C37Client::poll_timeout`] says when the PMU has
//! been silent too long. [`stream`] is the loop for a stack that can
//! [`Park`]. Two clocks: the stack's (for waiting) and UTC (the commands'
//! timestamps and the frames' arrival), which a board may only know as an
//! offset from its own.

use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

use embedded_nal::{TcpClientStack, TcpError, TcpErrorKind, nb};

use super::Error;
use super::command::{self, Command};
use super::frame::{Timestamp, VERSION};
use super::pdc::{Pdc, Received};
use crate::nal::Park;
use crate::time::{Clock, Instant};

/// What the caller wants after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    More,
    /// Turn transmission off and close.
    Stop,
}

/// The first bytes of a reply that is not C37.118 at all, kept to show.
pub const NOT_C37_SHOWN: usize = 80;

/// Why a PDC session ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError<E> {
    /// No socket.
    Socket(E),
    /// The connection was refused or failed.
    Connect(E),
    /// Sending a command failed.
    Send(E),
    /// Reading failed.
    Receive(E),
    /// The PMU sent a frame that does not decode.
    Frame(Error),
    /// What came first is not C37.118 (its first bytes).
    NotC37(heapless::Vec<u8, NOT_C37_SHOWN>),
    /// Nothing came (or no connection) for this long.
    Silent(Duration),
    /// The PMU closed the connection.
    Closed,
}

impl<E: fmt::Debug> fmt::Display for ClientError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Socket(e) => write!(f, "no socket: {e:?}"),
            ClientError::Connect(e) => write!(f, "cannot connect: {e:?}"),
            ClientError::Send(e) => write!(f, "cannot send a command: {e:?}"),
            ClientError::Receive(e) => write!(f, "cannot read: {e:?}"),
            ClientError::Frame(e) => write!(f, "a bad frame: {e}"),
            ClientError::NotC37(first) => write!(
                f,
                "not a C37.118 PMU: it answered {:?}",
                core::str::from_utf8(first).unwrap_or("(bytes that are not text)")
            ),
            ClientError::Silent(d) => write!(f, "the PMU said nothing for {} s", d.as_secs_f32()),
            ClientError::Closed => f.write_str("the PMU closed the connection"),
        }
    }
}

/// The largest command the PDC sends.
const COMMAND_BUFFER: usize = 32;

/// A PDC reading one PMU stream; frames of up to `N` bytes.
pub struct C37Client<S: TcpClientStack, const N: usize> {
    socket: S::TcpSocket,
    remote: SocketAddr,
    idcode: u16,
    pdc: Pdc<N>,
    connected: bool,
    /// A command partly sent: `out[sent..len]` is still to go.
    out: [u8; COMMAND_BUFFER],
    sent: usize,
    len: usize,
    frames: u64,
    silence: Duration,
    /// When the PMU was last heard from (or the session began), stack time.
    heard: Instant,
}

impl<S: TcpClientStack, const N: usize> fmt::Debug for C37Client<S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("C37Client")
            .field("remote", &self.remote)
            .field("connected", &self.connected)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl<S: TcpClientStack, const N: usize> C37Client<S, N> {
    /// A PDC for the stream `idcode` of the PMU at `remote`, giving up
    /// after `silence` without a connection or a byte; `now` on the
    /// stack's clock.
    pub fn new(
        stack: &mut S,
        remote: SocketAddr,
        idcode: u16,
        silence: Duration,
        now: Instant,
    ) -> Result<Self, ClientError<S::Error>> {
        Ok(C37Client {
            socket: stack.socket().map_err(ClientError::Socket)?,
            remote,
            idcode,
            pdc: Pdc::new(idcode),
            connected: false,
            out: [0; COMMAND_BUFFER],
            sent: 0,
            len: 0,
            frames: 0,
            silence,
            heard: now,
        })
    }

    /// Frames read so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// One turn: connects, sends what is owed, reads what has come (each
    /// frame to `on_frame` with `utc` as its arrival). `Ok(Flow::Stop)` once
    /// `on_frame` says so. `buf` is the read buffer.
    pub fn poll(
        &mut self,
        stack: &mut S,
        now: Instant,
        utc: Instant,
        buf: &mut [u8],
        on_frame: &mut dyn FnMut(Received<'_>, Instant) -> Flow,
    ) -> Result<Flow, ClientError<S::Error>> {
        if !self.connected {
            match stack.connect(&mut self.socket, self.remote) {
                Ok(()) => {
                    self.connected = true;
                    self.heard = now;
                }
                Err(nb::Error::WouldBlock) => return self.still_waiting(now),
                Err(nb::Error::Other(e)) => return Err(ClientError::Connect(e)),
            }
        }
        self.send(stack, utc)?;
        loop {
            let n = match stack.receive(&mut self.socket, buf) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => n,
                Err(nb::Error::WouldBlock) => return self.still_waiting(now),
                Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => {
                    return Err(ClientError::Closed);
                }
                Err(nb::Error::Other(e)) => return Err(ClientError::Receive(e)),
            };
            self.heard = now;
            if self.feed(&buf[..n], utc, on_frame)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
            // The configuration may have come: "turn on" is owed now.
            self.send(stack, utc)?;
        }
    }

    fn still_waiting(&self, now: Instant) -> Result<Flow, ClientError<S::Error>> {
        match now.saturating_duration_since(self.heard) > self.silence {
            true => Err(ClientError::Silent(self.silence)),
            false => Ok(Flow::More),
        }
    }

    fn feed(
        &mut self,
        bytes: &[u8],
        utc: Instant,
        on_frame: &mut dyn FnMut(Received<'_>, Instant) -> Flow,
    ) -> Result<Flow, ClientError<S::Error>> {
        let mut fed = 0;
        while fed < bytes.len() {
            fed += self.pdc.handle_input(&bytes[fed..]);
            while let Some(frame) = self.pdc.poll_frame() {
                match frame {
                    Ok(frame) => {
                        self.frames += 1;
                        if on_frame(frame, utc) == Flow::Stop {
                            return Ok(Flow::Stop);
                        }
                    }
                    Err(Error::NoSync(_)) if self.frames == 0 => {
                        let shown = &bytes[..bytes.len().min(NOT_C37_SHOWN)];
                        let text = shown.trim_ascii_end();
                        // Cannot fail: at most NOT_C37_SHOWN bytes.
                        let first = heapless::Vec::from_slice(text).unwrap_or_default();
                        return Err(ClientError::NotC37(first));
                    }
                    Err(e) => return Err(ClientError::Frame(e)),
                }
            }
        }
        Ok(Flow::More)
    }

    /// Sends the rest of a command, then each command the machine owes.
    fn send(&mut self, stack: &mut S, utc: Instant) -> Result<(), ClientError<S::Error>> {
        loop {
            while self.sent < self.len {
                match stack.send(&mut self.socket, &self.out[self.sent..self.len]) {
                    Ok(n) => self.sent += n,
                    Err(nb::Error::WouldBlock) => return Ok(()),
                    Err(nb::Error::Other(e)) => return Err(ClientError::Send(e)),
                }
            }
            match self.pdc.poll_transmit(utc, &mut self.out) {
                None => return Ok(()),
                Some(written) => {
                    self.len = written.map_err(ClientError::Frame)?;
                    self.sent = 0;
                }
            }
        }
    }

    /// When the PMU will have been silent too long, on the stack's clock.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.heard + self.silence)
    }

    /// Turns transmission off (as far as the socket takes it at once) and
    /// closes the connection.
    pub fn finish(mut self, stack: &mut S, utc: Instant) {
        if self.connected {
            let time = Timestamp::at(utc);
            if let Ok(n) = command::emit(&mut self.out, VERSION, self.idcode, time, Command::Off) {
                let _ = stack.send(&mut self.socket, &self.out[..n]);
            }
        }
        let _ = stack.close(self.socket);
    }
}

/// Reads the PMU at `remote` until `on_frame` says stop (then turns
/// transmission off), `stop` says so, or the session fails. `clock` is the
/// stack's, `utc` gives UTC.
#[allow(clippy::too_many_arguments)] // the session's parts, each needed
pub fn stream<S, C, U, const N: usize>(
    stack: &mut S,
    clock: &C,
    utc: &U,
    remote: SocketAddr,
    idcode: u16,
    silence: Duration,
    buf: &mut [u8],
    stop: &mut dyn FnMut() -> bool,
    on_frame: &mut dyn FnMut(Received<'_>, Instant) -> Flow,
) -> Result<u64, ClientError<S::Error>>
where
    S: TcpClientStack + Park,
    C: Clock,
    U: Clock,
{
    let mut client: C37Client<S, N> = C37Client::new(stack, remote, idcode, silence, clock.now())?;
    /// How often `stop` is asked while the PMU is quiet.
    const CHECK_STOP: Duration = Duration::from_millis(200);
    let result = loop {
        if stop() {
            break Ok(client.frames());
        }
        match client.poll(stack, clock.now(), utc.now(), buf, on_frame) {
            Ok(Flow::Stop) => break Ok(client.frames()),
            Ok(Flow::More) => {}
            Err(e) => break Err(e),
        }
        let check = clock.now() + CHECK_STOP;
        stack.park(Some(client.poll_timeout().map_or(check, |t| t.min(check))));
    };
    client.finish(stack, utc.now());
    result
}
