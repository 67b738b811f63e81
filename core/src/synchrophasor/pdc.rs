//! The PDC's side of a C37.118.2 connection, sans I/O: it asks for CFG-2,
//! turns transmission on once the configuration has come, and reads data
//! frames with that configuration.
//!
//! The driver sends what [`Pdc::poll_transmit`] writes, feeds what arrives
//! ([`Pdc::handle_input`]) and takes frames one at a time with
//! [`Pdc::poll_frame`], which lends a view of each (no copy, no allocation;
//! `N` bounds the largest frame kept).

use heapless::Vec;

use super::Error;
use super::command::{self, Command};
use super::config::ConfigFrame;
use super::data::DataFrame;
use super::frame::{Frame, FrameType, Timestamp, VERSION, frame_len};
use super::header::HeaderFrame;
use crate::time::Instant;

/// Where the conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    AskConfig,
    AwaitConfig,
    TurnOn,
    Streaming,
}

/// A frame from the PMU, lent to the caller.
#[derive(Debug)]
pub enum Received<'a> {
    /// The configuration (kept: data frames are read with it).
    Config(ConfigFrame<'a>),
    /// A data frame, read with the configuration.
    Data(DataFrame<'a, 'a>),
    /// A header frame.
    Header(HeaderFrame<'a>),
    /// Another frame (a command, a data frame before any configuration).
    Other(Frame<'a>),
}

/// One connection's PDC; frames of up to `N` bytes.
#[derive(Debug)]
pub struct Pdc<const N: usize> {
    idcode: u16,
    step: Step,
    input: Vec<u8, N>,
    config: Vec<u8, N>,
    /// Bytes of `input` lent by the last `poll_frame`, dropped at the next.
    lent: usize,
}

impl<const N: usize> Pdc<N> {
    /// A PDC that will speak to the PMU stream `idcode`.
    pub fn new(idcode: u16) -> Self {
        Pdc {
            idcode,
            step: Step::AskConfig,
            input: Vec::new(),
            config: Vec::new(),
            lent: 0,
        }
    }

    /// Writes the next command, if one is due: "send CFG-2", then, once
    /// the configuration came, "turn on transmission".
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<Result<usize, Error>> {
        let command = match self.step {
            Step::AskConfig => Command::SendCfg2,
            Step::TurnOn => Command::On,
            Step::AwaitConfig | Step::Streaming => return None,
        };
        self.step = match self.step {
            Step::AskConfig => Step::AwaitConfig,
            _ => Step::Streaming,
        };
        Some(command::emit(
            out,
            VERSION,
            self.idcode,
            Timestamp::at(now),
            command,
        ))
    }

    /// Takes as many of `bytes` as fit; how many. Call [`Pdc::poll_frame`]
    /// until it gives `None`, then feed the rest.
    pub fn handle_input(&mut self, bytes: &[u8]) -> usize {
        self.release();
        let take = (N - self.input.len()).min(bytes.len());
        // Cannot fail: `take` fits the room.
        let _ = self.input.extend_from_slice(&bytes[..take]);
        take
    }

    fn release(&mut self) {
        if self.lent > 0 {
            let rest = self.input.len() - self.lent;
            self.input.copy_within(self.lent.., 0);
            self.input.truncate(rest);
            self.lent = 0;
        }
    }

    /// The next whole frame, if there is one. A frame larger than `N`, a
    /// broken frame or a data frame that does not fit the configuration is
    /// an error that ends the connection.
    pub fn poll_frame(&mut self) -> Option<Result<Received<'_>, Error>> {
        self.release();
        let len = match frame_len(&self.input) {
            Ok(Some(len)) => len,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        if len > N {
            return Some(Err(Error::BadLength {
                what: "frame larger than this PDC keeps",
                expected: N,
                found: len,
            }));
        }
        if self.input.len() < len {
            return None;
        }
        let kind = match Frame::parse(&self.input[..len]) {
            Ok(frame) => frame.frame_type(),
            Err(e) => return Some(Err(e)),
        };
        if matches!(kind, FrameType::Cfg1 | FrameType::Cfg2) {
            if let Err(e) = ConfigFrame::parse(&self.input[..len]) {
                return Some(Err(e));
            }
            self.config.clear();
            // Cannot fail: `len` ≤ N.
            let _ = self.config.extend_from_slice(&self.input[..len]);
            if self.step == Step::AwaitConfig {
                self.step = Step::TurnOn;
            }
        }
        self.lent = len;
        let bytes = &self.input[..len];
        Some(match kind {
            FrameType::Cfg1 | FrameType::Cfg2 => {
                ConfigFrame::parse(&self.config).map(Received::Config)
            }
            FrameType::Data if !self.config.is_empty() => ConfigFrame::parse(&self.config)
                .and_then(|cfg| DataFrame::parse(bytes, cfg).map(Received::Data)),
            FrameType::Header => HeaderFrame::parse(bytes).map(Received::Header),
            _ => Frame::parse(bytes).map(Received::Other),
        })
    }
}
