//! Header frames: free text about the PMU and its data.

use super::Error;
use super::frame::{Frame, FrameType, MIN_LEN, Timestamp, start};

/// A checked header frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderFrame<'a> {
    frame: Frame<'a>,
}

impl<'a> HeaderFrame<'a> {
    /// The header frame at the start of `buf`.
    pub fn parse(buf: &'a [u8]) -> Result<HeaderFrame<'a>, Error> {
        Ok(HeaderFrame {
            frame: Frame::parse_as(buf, FrameType::Header)?,
        })
    }

    /// The text's bytes (ASCII by the standard).
    pub fn text(&self) -> &'a [u8] {
        self.frame.body()
    }
}

/// Writes a header frame (of `version`, 1 or 2) carrying `text`; its length.
pub fn emit(
    out: &mut [u8],
    version: u8,
    idcode: u16,
    time: Timestamp,
    text: &str,
) -> Result<usize, Error> {
    let mut w = start(
        out,
        FrameType::Header,
        version,
        MIN_LEN + text.len(),
        idcode,
        time,
    )?;
    w.bytes(text.as_bytes())?;
    w.finish()
}
