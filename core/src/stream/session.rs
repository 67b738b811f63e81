//! The PMU's side of one TCP connection (lab part 2), sans I/O.
//!
//! A [`Session`] is fed what the peer sends and the current time, and says
//! what to send and when it next wants to be woken. It never touches a
//! socket, so the same machine runs on a host, on a board, inside TLS and
//! under a WebSocket.
//!
//! The calls, in the vocabulary of quinn-proto's `Connection`:
//! - input: [`Session::handle_input`], [`Session::handle_peer_closed`],
//!   [`Session::handle_timeout`] (each says what it did, a refusal the same
//!   way), [`Session::handle_sent`];
//! - output: [`Session::poll_transmit`] (the bytes due now, "nothing yet",
//!   or "finished"), [`Session::poll_timeout`] (when to call again).
//!
//! A driver loops: feed input; while `poll_transmit` gives bytes, send them
//! and report how many went with `handle_sent`, which says when they ended
//! a message; close when it says `Finished`; otherwise wait for input,
//! writability, or `poll_timeout`.
//!
//! Each `poll_transmit` gives at most one `CMD_short` message (or its
//! unsent rest), so every message is its own `send()` as in the lab, and
//! consecutive messages may still be glued by TCP.

use core::time::Duration;

use super::command::{Assembler, Assembly, Command, CommandError};
use super::flood;
use super::reply;
use crate::rng::Random;
use crate::time::Instant;

/// How many messages a `CMD_short` session sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageCount {
    /// Always this many.
    Fixed(u32),
    /// A fresh uniform choice in `min..=max` for every session, so that a
    /// client cannot hard-code `n`.
    Random {
        /// Fewest messages.
        min: u32,
        /// Most messages.
        max: u32,
    },
}

impl MessageCount {
    /// The lab's usual count.
    pub const DEFAULT: MessageCount = MessageCount::Fixed(15);

    fn pick(self, rng: &mut impl Random) -> u32 {
        match self {
            MessageCount::Fixed(n) => n,
            MessageCount::Random { min, max } => {
                let (lo, hi) = (min.min(max), min.max(max));
                lo + rng.uniform_inclusive(u64::from(hi - lo)) as u32
            }
        }
    }
}

/// What every session of a PMU is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Messages per `CMD_short`.
    pub count: MessageCount,
    /// Size of the `CMD_floodme` text.
    pub flood_bytes: u64,
    /// How long a peer may take to send a complete command.
    pub command_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            count: MessageCount::DEFAULT,
            flood_bytes: flood::DEFAULT_FLOOD_BYTES,
            command_timeout: Duration::from_secs(10),
        }
    }
}

/// What an input (bytes, the peer's close, time passing) did to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// More bytes are needed for a command.
    NeedMore,
    /// A command was accepted; `count` messages (or `flood_bytes`) follow.
    Accepted {
        /// The command.
        command: Command,
        /// Messages that will be sent for `CMD_short`; 0 for `CMD_floodme`.
        count: u32,
    },
    /// The command was refused (or never came in time); an `ERROR:` line
    /// follows, then the close.
    Refused(CommandError),
    /// The peer closed without sending anything: close quietly.
    Abandoned,
    /// Nothing changed: bytes after the command, or a timeout not yet due.
    Unchanged,
}

/// What a session has to send at an instant.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// This many bytes, written into the caller's buffer, are due now.
    Send(usize),
    /// Nothing before more input or [`Session::poll_timeout`].
    Later,
    /// Everything was sent: close the connection.
    Finished,
}

#[derive(Debug, Clone)]
enum State {
    AwaitingCommand {
        assembler: Assembler,
        deadline: Instant,
    },
    Short {
        start: Instant,
        interval: Duration,
        count: u32,
        /// The message being sent, and how many of its bytes went already.
        next: u32,
        sent: usize,
    },
    Flood {
        total: u64,
        sent: u64,
    },
    Refusing {
        error: CommandError,
        sent: usize,
    },
    Done,
}

/// The PMU's side of one connection.
#[derive(Debug, Clone)]
pub struct Session {
    state: State,
    config: SessionConfig,
}

impl Session {
    /// A session whose peer connected at `now`.
    pub fn new(now: Instant, config: SessionConfig) -> Self {
        Session {
            state: State::AwaitingCommand {
                assembler: Assembler::new(),
                deadline: now + config.command_timeout,
            },
            config,
        }
    }

    /// Feeds bytes the peer sent.
    pub fn handle_input(
        &mut self,
        now: Instant,
        bytes: &[u8],
        rng: &mut impl Random,
    ) -> SessionEvent {
        let State::AwaitingCommand { assembler, .. } = &mut self.state else {
            return SessionEvent::Unchanged;
        };
        let assembly = assembler.push(bytes);
        self.apply(now, assembly, rng)
    }

    /// The peer will send nothing more (it half-closed or closed).
    ///
    /// A complete command still gets its answer: a PDC may shut down its
    /// sending side right after the command.
    pub fn handle_peer_closed(&mut self, now: Instant, rng: &mut impl Random) -> SessionEvent {
        let State::AwaitingCommand { assembler, .. } = &self.state else {
            return SessionEvent::Unchanged;
        };
        if assembler.received().is_empty() {
            self.state = State::Done;
            return SessionEvent::Abandoned;
        }
        let assembly = assembler.finish();
        self.apply(now, assembly, rng)
    }

    /// Lets the session act on time passing: a command that did not come
    /// in time is refused, as a bad one is.
    pub fn handle_timeout(&mut self, now: Instant) -> SessionEvent {
        if let State::AwaitingCommand { deadline, .. } = self.state
            && now >= deadline
        {
            self.refuse(CommandError::Timeout);
            return SessionEvent::Refused(CommandError::Timeout);
        }
        SessionEvent::Unchanged
    }

    fn apply(&mut self, now: Instant, assembly: Assembly, rng: &mut impl Random) -> SessionEvent {
        match assembly {
            Assembly::Incomplete => SessionEvent::NeedMore,
            Assembly::Invalid(error) => {
                self.refuse(error);
                SessionEvent::Refused(error)
            }
            Assembly::Complete(command) => {
                let count = match command {
                    Command::Short { interval } => {
                        let count = self.config.count.pick(rng);
                        self.state = State::Short {
                            start: now,
                            interval,
                            count,
                            next: 0,
                            sent: 0,
                        };
                        count
                    }
                    Command::Floodme => {
                        self.state = State::Flood {
                            total: self.config.flood_bytes,
                            sent: 0,
                        };
                        0
                    }
                };
                self.finish_if_nothing_left();
                SessionEvent::Accepted { command, count }
            }
        }
    }

    fn refuse(&mut self, error: CommandError) {
        self.state = State::Refusing { error, sent: 0 };
    }

    /// Writes into `buf` the bytes due at `now` (at most one message, or
    /// its unsent rest), or says why there are none. Nothing is consumed
    /// until [`Session::handle_sent`].
    pub fn poll_transmit(&self, now: Instant, buf: &mut [u8]) -> Due {
        let n = match &self.state {
            State::AwaitingCommand { .. } => return Due::Later,
            State::Done => return Due::Finished,
            State::Short {
                start,
                interval,
                next,
                sent,
                ..
            } => {
                if *sent == 0 && now < due(*start, *interval, *next) {
                    return Due::Later;
                }
                let mut text = [0u8; flood::MAX_MESSAGE_LEN];
                let len = flood::message(*next, &mut text);
                copy_rest(&text[..len], *sent, buf)
            }
            State::Flood { total, sent } => {
                let n = usize::try_from(total - sent)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                flood::fill(*sent, &mut buf[..n]);
                n
            }
            State::Refusing { error, sent } => {
                let mut line = [0u8; ERROR_LINE_CAPACITY];
                let len = reply::write_error_line(error.reason(), &mut line);
                copy_rest(&line[..len], *sent, buf)
            }
        };
        match n {
            // An empty buffer cannot take anything; the bytes are still due.
            0 => Due::Later,
            n => Due::Send(n),
        }
    }

    /// Reports that the first `n` bytes of the last `poll_transmit` were
    /// accepted by the transport; `true` when they ended a message (a
    /// `This is PMU data i`, the floodme text, the `ERROR:` line), which a
    /// transport that keeps message boundaries must know.
    pub fn handle_sent(&mut self, n: usize) -> bool {
        let ended = match &mut self.state {
            State::AwaitingCommand { .. } | State::Done => false,
            State::Short { next, sent, .. } => {
                *sent += n;
                let mut text = [0u8; flood::MAX_MESSAGE_LEN];
                let ended = *sent >= flood::message(*next, &mut text);
                if ended {
                    *next += 1;
                    *sent = 0;
                }
                ended
            }
            State::Flood { sent, total } => {
                *sent += n as u64;
                *sent >= *total
            }
            State::Refusing { error, sent } => {
                *sent += n;
                let mut line = [0u8; ERROR_LINE_CAPACITY];
                let ended = *sent >= reply::write_error_line(error.reason(), &mut line);
                if ended {
                    self.state = State::Done;
                }
                ended
            }
        };
        self.finish_if_nothing_left();
        ended
    }

    fn finish_if_nothing_left(&mut self) {
        let finished = match self.state {
            State::Short { next, count, .. } => next >= count,
            State::Flood { total, sent } => sent >= total,
            _ => false,
        };
        if finished {
            self.state = State::Done;
        }
    }

    /// When the session next needs [`Session::handle_timeout`] or
    /// [`Session::poll_transmit`] without any new input; `None` if only
    /// input or writability can move it.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::AwaitingCommand { deadline, .. } => Some(*deadline),
            State::Short {
                start,
                interval,
                next,
                sent: 0,
                ..
            } => Some(due(*start, *interval, *next)),
            _ => None,
        }
    }

    /// Whether the session has sent everything and the connection should
    /// be closed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether the session is still waiting for its command.
    pub fn is_awaiting_command(&self) -> bool {
        matches!(self.state, State::AwaitingCommand { .. })
    }
}

/// Message `i` is due `i` intervals after the command: the schedule is
/// anchored to the command, so delays never accumulate into drift.
fn due(start: Instant, interval: Duration, index: u32) -> Instant {
    start + interval.saturating_mul(index)
}

fn copy_rest(whole: &[u8], sent: usize, buf: &mut [u8]) -> usize {
    let rest = whole.get(sent..).unwrap_or(&[]);
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    n
}

/// Room for an `ERROR:` line: the mark and the longest reason.
const ERROR_LINE_CAPACITY: usize = 128;
