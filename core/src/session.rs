//! The PMU's side of one TCP connection (lab part 2), sans I/O.
//!
//! A [`Session`] is fed what the peer sends and the current time, and says
//! what to send and when it next wants to be woken. It never touches a
//! socket, so the same machine runs on a host, on a board, inside TLS and
//! under a WebSocket.
//!
//! The calls, in the vocabulary of quinn-proto's `Connection`:
//! - input: [`Session::handle_input`], [`Session::handle_peer_closed`],
//!   [`Session::handle_timeout`], [`Session::handle_sent`];
//! - output: [`Session::poll_transmit`] (the bytes due now),
//!   [`Session::poll_timeout`] (when to call again), [`Session::is_done`].
//!
//! A driver loops: feed input; while `poll_transmit` gives bytes, send them
//! and report how many went with `handle_sent`; close when `is_done`;
//! otherwise wait for input, writability, or `poll_timeout`.
//!
//! Each `poll_transmit` gives at most one `CMD_short` message (or its
//! unsent rest), so every message is its own `send()` as in the lab, and
//! consecutive messages may still be glued by TCP.

use core::time::Duration;

use crate::command::{Assembler, Assembly, Command, CommandError};
use crate::flood;
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

/// What one piece of input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// More bytes are needed for a command.
    NeedMore,
    /// A command was accepted; `count` messages (or `flood_bytes`) follow.
    Accepted {
        /// The command.
        command: Command,
        /// Messages that will be sent for `CMD_short`; 0 for `CMD_floodme`.
        count: u32,
    },
    /// The command was refused; an `ERROR:` line follows, then the close.
    Refused(CommandError),
    /// The peer closed without sending anything: close quietly.
    Abandoned,
    /// The bytes came after the command and were discarded.
    Ignored,
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

const ERROR_PREFIX: &[u8] = b"ERROR: ";

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
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8], rng: &mut impl Random) -> Input {
        let State::AwaitingCommand { assembler, .. } = &mut self.state else {
            return Input::Ignored;
        };
        let assembly = assembler.push(bytes);
        self.apply(now, assembly, rng)
    }

    /// The peer will send nothing more (it half-closed or closed).
    ///
    /// A complete command still gets its answer: a PDC may shut down its
    /// sending side right after the command.
    pub fn handle_peer_closed(&mut self, now: Instant, rng: &mut impl Random) -> Input {
        let State::AwaitingCommand { assembler, .. } = &self.state else {
            return Input::Ignored;
        };
        if assembler.received().is_empty() {
            self.state = State::Done;
            return Input::Abandoned;
        }
        let assembly = assembler.finish();
        self.apply(now, assembly, rng)
    }

    /// Lets the session act on time passing (a command that never came).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<CommandError> {
        if let State::AwaitingCommand { deadline, .. } = self.state
            && now >= deadline
        {
            self.refuse(CommandError::Timeout);
            return Some(CommandError::Timeout);
        }
        None
    }

    fn apply(&mut self, now: Instant, assembly: Assembly, rng: &mut impl Random) -> Input {
        match assembly {
            Assembly::Incomplete => Input::NeedMore,
            Assembly::Invalid(error) => {
                self.refuse(error);
                Input::Refused(error)
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
                Input::Accepted { command, count }
            }
        }
    }

    fn refuse(&mut self, error: CommandError) {
        self.state = State::Refusing { error, sent: 0 };
    }

    /// Writes into `buf` the bytes due at `now` and returns how many; 0
    /// means nothing is due yet (see [`Session::poll_timeout`]) or the
    /// session is done. Nothing is consumed until [`Session::handle_sent`].
    pub fn poll_transmit(&self, now: Instant, buf: &mut [u8]) -> usize {
        match &self.state {
            State::AwaitingCommand { .. } | State::Done => 0,
            State::Short {
                start,
                interval,
                next,
                sent,
                ..
            } => {
                if *sent == 0 && now < due(*start, *interval, *next) {
                    return 0;
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
                let mut line = [0u8; 128];
                let len = error_line(*error, &mut line);
                copy_rest(&line[..len], *sent, buf)
            }
        }
    }

    /// Reports that the first `n` bytes of the last `poll_transmit` were
    /// accepted by the transport.
    pub fn handle_sent(&mut self, n: usize) {
        match &mut self.state {
            State::AwaitingCommand { .. } | State::Done => {}
            State::Short { next, sent, .. } => {
                *sent += n;
                let mut text = [0u8; flood::MAX_MESSAGE_LEN];
                if *sent >= flood::message(*next, &mut text) {
                    *next += 1;
                    *sent = 0;
                }
            }
            State::Flood { sent, .. } => *sent += n as u64,
            State::Refusing { error, sent } => {
                *sent += n;
                let mut line = [0u8; 128];
                if *sent >= error_line(*error, &mut line) {
                    self.state = State::Done;
                }
            }
        }
        self.finish_if_nothing_left();
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

/// `ERROR: <reason>\n` into `line`; returns its length.
fn error_line(error: CommandError, line: &mut [u8; 128]) -> usize {
    let reason = error.reason().as_bytes();
    let mut len = 0;
    for part in [ERROR_PREFIX, reason, b"\n"] {
        let end = (len + part.len()).min(line.len());
        line[len..end].copy_from_slice(&part[..end - len]);
        len = end;
    }
    len
}
