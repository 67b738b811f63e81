//! The course's broadcaster ("p4bot") as a sans-I/O schedule.
//!
//! It sends a text one line per datagram, `interval` apart, each as
//! `swcmTV` + the line with trailing white space stripped (an empty line is
//! a bare 6-byte datagram). After the last line it sends the rewind marker
//! `swcmTVRWND`, waits three intervals, and starts over — forever, or once.
//!
//! Calls: [`Bot::poll_transmit`] writes the datagram due at `now` into a
//! buffer; [`Bot::poll_timeout`] says when the next one is due;
//! [`Bot::is_done`] is true after a single pass with `once`.

use core::time::Duration;

use super::frame::{Frame, FrameError, Id};
use crate::time::Instant;

/// Text of the rewind marker, after the identifier.
pub const REWIND: &str = "RWND";

/// Intervals of silence after the rewind marker.
pub const PAUSE_INTERVALS: u32 = 3;

/// What [`Bot::poll_transmit`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotOutput {
    /// A line's datagram of `len` bytes; `line` counts from 1.
    Line {
        /// Datagram length.
        len: usize,
        /// Line number in the text.
        line: u32,
    },
    /// The rewind marker, `len` bytes.
    Rewind {
        /// Datagram length.
        len: usize,
    },
    /// The line did not fit a datagram and was skipped.
    Skipped {
        /// Line number in the text.
        line: u32,
        /// Why.
        error: FrameError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Sending lines; the next starts at byte `pos` of the text.
    Lines {
        pos: usize,
        line: u32,
    },
    /// The rewind marker is due next.
    Rewind,
    Done,
}

/// The broadcaster's schedule over a text.
#[derive(Debug, Clone)]
pub struct Bot<'a> {
    text: &'a str,
    id: Id,
    interval: Duration,
    once: bool,
    due: Option<Instant>,
    state: State,
    passes: u32,
}

impl<'a> Bot<'a> {
    /// A bot that will send `text` line by line, `interval` apart.
    pub fn new(text: &'a str, interval: Duration, once: bool) -> Self {
        Bot {
            text,
            id: Id::BOT,
            interval,
            once,
            due: None,
            // A text without lines is just the marker and the pause.
            state: match text.is_empty() {
                true => State::Rewind,
                false => State::Lines { pos: 0, line: 1 },
            },
            passes: 0,
        }
    }

    /// Completed passes over the text.
    pub fn passes(&self) -> u32 {
        self.passes
    }

    /// Writes the datagram due at `now` into `buf`, if one is due.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<BotOutput> {
        let due = *self.due.get_or_insert(now);
        if now < due {
            return None;
        }
        match self.state {
            State::Done => None,
            State::Lines { pos, line } => {
                let rest = &self.text[pos..];
                let (raw, next) = match rest.find('\n') {
                    Some(nl) => (&rest[..nl], pos + nl + 1),
                    None => (rest, self.text.len()),
                };
                self.state = match next >= self.text.len() {
                    true => State::Rewind,
                    false => State::Lines {
                        pos: next,
                        line: line + 1,
                    },
                };
                self.due = Some(due + self.interval);
                let frame = Frame {
                    id: self.id,
                    text: raw.trim_end(),
                };
                Some(match frame.encode(buf) {
                    Ok(len) => BotOutput::Line { len, line },
                    Err(error) => BotOutput::Skipped { line, error },
                })
            }
            State::Rewind => {
                self.passes += 1;
                self.state = match (self.once, self.text.is_empty()) {
                    (true, _) => State::Done,
                    (false, true) => State::Rewind,
                    (false, false) => State::Lines { pos: 0, line: 1 },
                };
                self.due = Some(due + self.interval.saturating_mul(PAUSE_INTERVALS));
                let frame = Frame {
                    id: self.id,
                    text: REWIND,
                };
                frame.encode(buf).ok().map(|len| BotOutput::Rewind { len })
            }
        }
    }

    /// When the next datagram is due; `None` once done (or before the
    /// first `poll_transmit`, which sends at once).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Done => None,
            _ => self.due,
        }
    }

    /// Whether a single pass (`once`) has ended.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }
}
