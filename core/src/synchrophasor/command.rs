//! Command frames: what a PDC asks of a PMU.

use super::Error;
use super::frame::{Frame, FrameType, MIN_LEN, Timestamp, start};
use super::write::be16;

/// CMD: the command word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Turn off transmission of data frames.
    Off,
    /// Turn on transmission of data frames.
    On,
    /// Send the header frame.
    SendHeader,
    /// Send CFG-1.
    SendCfg1,
    /// Send CFG-2.
    SendCfg2,
    /// Send CFG-3.
    SendCfg3,
    /// An extended frame follows.
    Extended,
    /// Any other (user-designated or reserved) code.
    Other(u16),
}

impl Command {
    /// The command word.
    pub fn code(self) -> u16 {
        match self {
            Command::Off => 1,
            Command::On => 2,
            Command::SendHeader => 3,
            Command::SendCfg1 => 4,
            Command::SendCfg2 => 5,
            Command::SendCfg3 => 6,
            Command::Extended => 8,
            Command::Other(code) => code,
        }
    }

    /// The command a word means.
    pub fn from_code(code: u16) -> Command {
        match code {
            1 => Command::Off,
            2 => Command::On,
            3 => Command::SendHeader,
            4 => Command::SendCfg1,
            5 => Command::SendCfg2,
            6 => Command::SendCfg3,
            8 => Command::Extended,
            other => Command::Other(other),
        }
    }
}

/// A checked command frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandFrame<'a> {
    frame: Frame<'a>,
}

impl<'a> CommandFrame<'a> {
    /// The command frame at the start of `buf`.
    pub fn parse(buf: &'a [u8]) -> Result<CommandFrame<'a>, Error> {
        let frame = Frame::parse_as(buf, FrameType::Command)?;
        if frame.body().len() < 2 {
            return Err(Error::BadLength {
                what: "CMD",
                expected: 2,
                found: frame.body().len(),
            });
        }
        Ok(CommandFrame { frame })
    }

    /// The frame.
    pub fn frame(&self) -> &Frame<'a> {
        &self.frame
    }

    /// CMD.
    pub fn command(&self) -> Command {
        Command::from_code(be16(self.frame.body(), 0))
    }

    /// EXTFRAME: what follows CMD (empty unless extended).
    pub fn extended(&self) -> &'a [u8] {
        &self.frame.body()[2..]
    }
}

/// Writes a command frame (of `version`, 1 or 2) to the PMU or PDC
/// `idcode`; its length.
pub fn emit(
    out: &mut [u8],
    version: u8,
    idcode: u16,
    time: Timestamp,
    command: Command,
) -> Result<usize, Error> {
    let mut w = start(out, FrameType::Command, version, MIN_LEN + 2, idcode, time)?;
    w.u16(command.code())?;
    w.finish()
}
