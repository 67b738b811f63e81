//! The PMU server over any [`TcpFullStack`] (lab part 2).
//!
//! [`PmuServer`] owns a listening socket and a fixed table of `N`
//! [`Session`]s. Each [`PmuServer::poll`] accepts what is pending, feeds
//! each session what its peer sent, sends what is due, and closes what is
//! done; [`PmuServer::poll_timeout`] says when the next timed event is
//! due. Every session keeps its own schedule, so one client's
//! `CMD_short:1` never delays another's flood.
//!
//! When the table is full, a new connection is told
//! `ERROR: server busy …` and closed; sessions in progress are unaffected.
//!
//! A finished connection — or a failed one — is half-closed ([`HalfClose`])
//! and read until the peer's FIN (at most two seconds) before it is closed,
//! so that late input never turns the close into a reset that could
//! destroy the reply (or a TLS alert, or a WebSocket close frame).
//!
//! Where each of the session's messages ends is told to the stack
//! ([`Framing`]): nothing on a byte stream, a WebSocket message each.
//!
//! The loop a platform runs:
//! ```text
//! loop {
//!     server.poll(&mut stack, clock.now(), &mut rng, &mut buf, &mut log);
//!     stack.park(server.poll_timeout());
//! }
//! ```

use core::fmt::{Debug, Display};
use core::net::SocketAddr;
use core::time::Duration;

use embedded_nal::{TcpError, TcpErrorKind, TcpFullStack, nb};

use super::command::{Command, CommandError};
use super::reply;
use super::session::{Due, Session, SessionConfig, SessionEvent};
use crate::nal::{Framing, HalfClose, canonical};
use crate::rng::Random;
use crate::slots::Slots;
use crate::time::{Instant, earliest};

/// How long to stop accepting after `accept` itself failed (out of file
/// descriptors, say), so that a pending connection does not make the
/// server spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a finished connection waits for the peer's FIN after its own
/// before it is closed regardless.
const LINGER: Duration = Duration::from_secs(2);

/// How long a session may wait for its peer to read before it is dropped:
/// a client that never reads must not hold a session slot forever.
pub const SEND_STALL: Duration = Duration::from_secs(30);

/// Reads of leftover input per poll while a connection closes.
const DRAIN_READS: usize = 4;

/// Something the PMU did, for logging.
#[derive(Clone, Copy)]
pub enum PmuEvent<'a> {
    /// A connection was accepted into a session slot.
    Accepted {
        /// The peer.
        peer: SocketAddr,
    },
    /// A session's command was accepted.
    Command {
        /// The peer.
        peer: SocketAddr,
        /// The command.
        command: Command,
        /// Messages it will get (`CMD_short`); 0 for `CMD_floodme`.
        count: u32,
    },
    /// A session's command was refused with an `ERROR:` line.
    Refused {
        /// The peer.
        peer: SocketAddr,
        /// Why.
        error: CommandError,
    },
    /// A connection was turned away because every slot was taken.
    Busy {
        /// The peer.
        peer: SocketAddr,
    },
    /// A session completed and its connection was closed.
    Finished {
        /// The peer.
        peer: SocketAddr,
        /// Bytes sent to it.
        bytes: u64,
    },
    /// A session ended early because its connection failed.
    Aborted {
        /// The peer.
        peer: SocketAddr,
        /// Bytes sent to it before the failure.
        bytes: u64,
        /// The transport's error.
        error: &'a dyn Display,
    },
    /// `accept` failed; accepting pauses briefly.
    AcceptFailed {
        /// The transport's error.
        error: &'a dyn Display,
    },
}

struct Slot<T> {
    socket: T,
    peer: SocketAddr,
    session: Session,
    sent: u64,
    /// Since when sending has made no progress (the peer is not reading).
    blocked_since: Option<Instant>,
}

impl Debug for PmuEvent<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PmuEvent::Accepted { peer } => write!(f, "Accepted({peer})"),
            PmuEvent::Command {
                peer,
                command,
                count,
            } => {
                write!(f, "Command({peer}, {command}, {count})")
            }
            PmuEvent::Refused { peer, error } => write!(f, "Refused({peer}, {error})"),
            PmuEvent::Busy { peer } => write!(f, "Busy({peer})"),
            PmuEvent::Finished { peer, bytes } => write!(f, "Finished({peer}, {bytes})"),
            PmuEvent::Aborted { peer, bytes, error } => {
                write!(f, "Aborted({peer}, {bytes}, {error})")
            }
            PmuEvent::AcceptFailed { error } => write!(f, "AcceptFailed({error})"),
        }
    }
}

/// The reason logged for a session dropped after [`SEND_STALL`].
struct StoppedReading;

impl Display for StoppedReading {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "the peer stopped reading for {} s", SEND_STALL.as_secs())
    }
}

/// What one pass over a session left it as.
enum Drive<E> {
    Running,
    Done,
    Failed(E),
    /// The peer stopped reading for [`SEND_STALL`].
    Stalled,
}

/// A connection that has sent its last byte and a FIN, and reads (and
/// discards) until the peer's FIN or the linger time is up.
struct Closing<T> {
    socket: T,
    until: Instant,
    /// The busy line is still to be sent (then the FIN). A transport with
    /// a handshake (TLS) can only take it once the peer has spoken.
    busy_line: bool,
}

/// A PMU serving up to `N` sessions at once.
pub struct PmuServer<S: TcpFullStack, const N: usize> {
    listener: S::TcpSocket,
    slots: Slots<Slot<S::TcpSocket>, N>,
    closing: Slots<Closing<S::TcpSocket>, N>,
    config: SessionConfig,
    limit: usize,
    accept_paused_until: Option<Instant>,
}

impl<S, const N: usize> Debug for PmuServer<S, N>
where
    S: TcpFullStack + HalfClose + Framing,
    S::Error: Display,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PmuServer")
            .field("sessions", &self.sessions())
            .field("capacity", &N)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, const N: usize> PmuServer<S, N>
where
    S: TcpFullStack + HalfClose + Framing,
    S::Error: Display,
{
    /// Opens a listening socket on `port` of `stack`.
    pub fn bind(stack: &mut S, port: u16, config: SessionConfig) -> Result<Self, S::Error> {
        let mut listener = stack.socket()?;
        let bound = stack
            .bind(&mut listener, port)
            .and_then(|()| stack.listen(&mut listener));
        if let Err(e) = bound {
            let _ = stack.close(listener);
            return Err(e);
        }
        Ok(Self::with_listener(listener, config))
    }

    /// Serves on a socket the platform has already made listen — e.g. one
    /// listening socket shared by a server per core.
    pub fn with_listener(listener: S::TcpSocket, config: SessionConfig) -> Self {
        PmuServer {
            listener,
            slots: Slots::new(),
            closing: Slots::new(),
            config,
            limit: N,
            accept_paused_until: None,
        }
    }

    /// Serves at most `limit` sessions at once (never more than `N`).
    pub fn set_session_limit(&mut self, limit: usize) {
        self.limit = limit.min(N);
    }

    /// The listening socket, e.g. to ask the stack which port it got.
    pub fn listener(&self) -> &S::TcpSocket {
        &self.listener
    }

    /// Sessions in progress.
    pub fn sessions(&self) -> usize {
        self.slots.len()
    }

    /// Does all the work possible at `now` without waiting. `buf` is the
    /// scratch buffer for reads and sends; its size is the largest send.
    pub fn poll(
        &mut self,
        stack: &mut S,
        now: Instant,
        rng: &mut impl Random,
        buf: &mut [u8],
        log: &mut impl FnMut(PmuEvent<'_>),
    ) {
        self.accept_pending(stack, now, log);
        for i in 0..self.slots.end() {
            let Some(active) = self.slots.get_mut(i) else {
                continue;
            };
            let outcome = drive(stack, active, now, rng, buf, log);
            if let Drive::Running = outcome {
                continue;
            }
            let Some(ended) = self.slots.remove(i) else {
                continue;
            };
            match outcome {
                Drive::Done => {
                    log(PmuEvent::Finished {
                        peer: ended.peer,
                        bytes: ended.sent,
                    });
                    start_closing(stack, &mut self.closing, ended.socket, now);
                }
                Drive::Failed(error) => {
                    log(PmuEvent::Aborted {
                        peer: ended.peer,
                        bytes: ended.sent,
                        error: &error,
                    });
                    // Still a clean close: whatever the transport owes the
                    // peer (a TLS alert, a WebSocket close frame) gets out.
                    start_closing(stack, &mut self.closing, ended.socket, now);
                }
                Drive::Stalled | Drive::Running => {
                    log(PmuEvent::Aborted {
                        peer: ended.peer,
                        bytes: ended.sent,
                        error: &StoppedReading,
                    });
                    let _ = stack.close(ended.socket);
                }
            }
        }
        self.finish_closing(stack, now, buf);
    }

    /// Lets closing connections read to the peer's FIN, and closes them.
    fn finish_closing(&mut self, stack: &mut S, now: Instant, buf: &mut [u8]) {
        for i in 0..self.closing.end() {
            let Some(closing) = self.closing.get_mut(i) else {
                continue;
            };
            let mut finished = now >= closing.until;
            // Before reading: a client that sent its command and its FIN
            // at once still gets the line.
            finished |= send_busy_line(stack, closing);
            for _ in 0..DRAIN_READS {
                match stack.receive(&mut closing.socket, buf) {
                    Ok(n) if n > 0 => {}
                    Err(nb::Error::WouldBlock) => break,
                    // The peer's FIN, or a reset: nothing more will come.
                    _ => {
                        finished = true;
                        break;
                    }
                }
            }
            // After reading too: a TLS client's handshake moves as we read.
            if !finished {
                finished = send_busy_line(stack, closing);
            }
            if finished && let Some(done) = self.closing.remove(i) {
                let _ = stack.close(done.socket);
            }
        }
    }

    fn accept_pending(&mut self, stack: &mut S, now: Instant, log: &mut impl FnMut(PmuEvent<'_>)) {
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        self.accept_paused_until = None;
        // Bounded, so a flood of connections cannot starve the sessions.
        for _ in 0..=N {
            match stack.accept(&mut self.listener) {
                Ok((socket, peer)) => {
                    let peer = canonical(peer);
                    let slot = Slot {
                        socket,
                        peer,
                        session: Session::new(now, self.config),
                        sent: 0,
                        blocked_since: None,
                    };
                    let placed = match self.slots.len() < self.limit {
                        true => self.slots.insert(slot),
                        false => Err(slot),
                    };
                    match placed {
                        Ok(_) => log(PmuEvent::Accepted { peer }),
                        Err(Slot { socket, .. }) => {
                            let refusing = self.closing.insert(Closing {
                                socket,
                                until: now + LINGER,
                                busy_line: true,
                            });
                            if let Err(Closing { socket, .. }) = refusing {
                                let _ = stack.close(socket);
                            }
                            log(PmuEvent::Busy { peer });
                        }
                    }
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(error)) => {
                    log(PmuEvent::AcceptFailed { error: &error });
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    break;
                }
            }
        }
    }

    /// When the next timed event is due (a message on a schedule, a command
    /// timeout, the end of an accept pause); `None` if only network
    /// activity can move the server.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flat_map(|slot| {
                [
                    slot.session.poll_timeout(),
                    slot.blocked_since.map(|t| t + SEND_STALL),
                ]
            })
            .chain(self.closing.iter().map(|c| Some(c.until)))
            .fold(self.accept_paused_until, earliest)
    }
}

/// Moves one session as far as it goes at `now`.
fn drive<S: TcpFullStack + Framing>(
    stack: &mut S,
    slot: &mut Slot<S::TcpSocket>,
    now: Instant,
    rng: &mut impl Random,
    buf: &mut [u8],
    log: &mut impl FnMut(PmuEvent<'_>),
) -> Drive<S::Error> {
    while slot.session.is_awaiting_command() {
        let input = match stack.receive(&mut slot.socket, buf) {
            Ok(0) => slot.session.handle_peer_closed(now, rng),
            Ok(n) => slot.session.handle_input(now, &buf[..n], rng),
            Err(nb::Error::WouldBlock) => break,
            Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => {
                slot.session.handle_peer_closed(now, rng)
            }
            Err(nb::Error::Other(e)) => return Drive::Failed(e),
        };
        report(slot.peer, input, log);
    }
    report(slot.peer, slot.session.handle_timeout(now), log);
    while let Due::Send(due) = slot.session.poll_transmit(now, buf) {
        match stack.send(&mut slot.socket, &buf[..due]) {
            Ok(n) => {
                if slot.session.handle_sent(n)
                    && let Err(e) = stack.end_message(&mut slot.socket)
                {
                    return Drive::Failed(e);
                }
                slot.sent += n as u64;
                // Progress; a short send means the peer's window is full from now on.
                slot.blocked_since = (n < due).then_some(now);
                if n < due {
                    break;
                }
            }
            Err(nb::Error::WouldBlock) => {
                slot.blocked_since.get_or_insert(now);
                break;
            }
            Err(nb::Error::Other(e)) => return Drive::Failed(e),
        }
    }
    if slot.session.is_done() {
        return Drive::Done;
    }
    match slot.blocked_since {
        Some(since) if now >= since + SEND_STALL => Drive::Stalled,
        _ => Drive::Running,
    }
}

/// Logs what an input did to a session, when it did something.
fn report(peer: SocketAddr, event: SessionEvent, log: &mut impl FnMut(PmuEvent<'_>)) {
    match event {
        SessionEvent::Accepted { command, count } => log(PmuEvent::Command {
            peer,
            command,
            count,
        }),
        SessionEvent::Refused(error) => log(PmuEvent::Refused { peer, error }),
        SessionEvent::NeedMore | SessionEvent::Abandoned | SessionEvent::Unchanged => {}
    }
}

/// Sends the busy line if it is still due, then the FIN; `true` if the
/// connection failed. Best effort, retried until the linger time is up: a
/// short line fits any fresh socket once its transport is ready for data.
fn send_busy_line<S: TcpFullStack + HalfClose + Framing>(
    stack: &mut S,
    closing: &mut Closing<S::TcpSocket>,
) -> bool {
    if !closing.busy_line {
        return false;
    }
    let mut line = [0u8; 64];
    let len = reply::write_error_line(reply::BUSY_REASON, &mut line);
    if stack.send(&mut closing.socket, &line[..len]).is_err() {
        return false;
    }
    closing.busy_line = false;
    stack.end_message(&mut closing.socket).is_err()
        || stack.half_close(&mut closing.socket).is_err()
}

/// Sends a FIN and parks the socket until the peer's FIN; with no room to
/// park it (or no FIN possible), closes at once.
fn start_closing<S: HalfClose, const N: usize>(
    stack: &mut S,
    closing: &mut Slots<Closing<S::TcpSocket>, N>,
    mut socket: S::TcpSocket,
    now: Instant,
) {
    if stack.half_close(&mut socket).is_err() {
        let _ = stack.close(socket);
        return;
    }
    let parked = closing.insert(Closing {
        socket,
        until: now + LINGER,
        busy_line: false,
    });
    if let Err(Closing { socket, .. }) = parked {
        let _ = stack.close(socket);
    }
}
