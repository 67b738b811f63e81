//! The common frame: SYNC, FRAMESIZE, IDCODE, SOC, FRACSEC … CHK.

use super::Error;
use super::crc::crc_ccitt;
use super::write::{Writer, be16, be32};

/// The first byte of every frame.
pub const SYNC: u8 = 0xAA;
/// SYNC to FRACSEC.
pub const HEADER_LEN: usize = 14;
/// The smallest frame: the header and CHK.
pub const MIN_LEN: usize = HEADER_LEN + 2;
/// The version of IEEE C37.118.2-2011 (C37.118-2005 is 1).
pub const VERSION: u8 = 2;

/// The kind of a frame (bits 6–4 of the second byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    /// Measurements.
    Data,
    /// Free text about the PMU.
    Header,
    /// Configuration 1: what the PMU can send.
    Cfg1,
    /// Configuration 2: what it sends.
    Cfg2,
    /// A command from a PDC.
    Command,
    /// Configuration 3 (2011): extended.
    Cfg3,
}

impl FrameType {
    fn from_bits(bits: u8) -> Result<FrameType, Error> {
        Ok(match bits {
            0 => FrameType::Data,
            1 => FrameType::Header,
            2 => FrameType::Cfg1,
            3 => FrameType::Cfg2,
            4 => FrameType::Command,
            5 => FrameType::Cfg3,
            other => return Err(Error::UnknownType(other)),
        })
    }

    fn bits(self) -> u8 {
        match self {
            FrameType::Data => 0,
            FrameType::Header => 1,
            FrameType::Cfg1 => 2,
            FrameType::Cfg2 => 3,
            FrameType::Command => 4,
            FrameType::Cfg3 => 5,
        }
    }
}

/// A frame's time: SOC (seconds of the UNIX epoch), and FRACSEC: the
/// time-quality byte and a 24-bit fraction of the second in units of the
/// configuration's TIME_BASE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp {
    /// Second of century.
    pub soc: u32,
    /// The fraction of the second, in TIME_BASE units (24 bits).
    pub fraction: u32,
    /// The time-quality flags (FRACSEC's top byte): leap second bits and
    /// the time-quality code.
    pub quality: u8,
}

impl Timestamp {
    /// `utc` (microseconds since the epoch) with TIME_BASE 1,000,000 and
    /// no time-quality flags: how a PDC stamps its commands.
    pub fn at(utc: crate::time::Instant) -> Timestamp {
        let micros = utc.as_micros();
        Timestamp {
            soc: u32::try_from(micros / 1_000_000).unwrap_or(u32::MAX),
            fraction: (micros % 1_000_000) as u32,
            quality: 0,
        }
    }

    fn fracsec(self) -> u32 {
        (u32::from(self.quality) << 24) | (self.fraction & 0x00FF_FFFF)
    }
}

/// A whole frame whose header, size and checksum were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    bytes: &'a [u8],
}

/// How long the frame at the start of `buf` is, once its first four bytes
/// are there (`None` before): a stream reader needs this to cut frames.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, Error> {
    if let Some(&first) = buf.first()
        && first != SYNC
    {
        return Err(Error::NoSync(first));
    }
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = usize::from(be16(buf, 2));
    match size >= MIN_LEN {
        true => Ok(Some(size)),
        false => Err(Error::BadSize(size)),
    }
}

impl<'a> Frame<'a> {
    /// The frame at the start of `buf` (which may hold more after it).
    pub fn parse(buf: &'a [u8]) -> Result<Frame<'a>, Error> {
        let Some(size) = frame_len(buf)? else {
            return Err(Error::Truncated {
                needed: MIN_LEN,
                got: buf.len(),
            });
        };
        let bytes = buf.get(..size).ok_or(Error::Truncated {
            needed: size,
            got: buf.len(),
        })?;
        FrameType::from_bits((bytes[1] >> 4) & 0x07)?;
        let version = bytes[1] & 0x0F;
        if !(1..=2).contains(&version) {
            return Err(Error::UnsupportedVersion(version));
        }
        let computed = crc_ccitt(&bytes[..size - 2]);
        let found = be16(bytes, size - 2);
        if computed != found {
            return Err(Error::BadChecksum { computed, found });
        }
        Ok(Frame { bytes })
    }

    /// The frame, checked to be of `kind`.
    pub fn parse_as(buf: &'a [u8], kind: FrameType) -> Result<Frame<'a>, Error> {
        let frame = Frame::parse(buf)?;
        match frame.frame_type() {
            found if found == kind => Ok(frame),
            found => Err(Error::WrongType {
                expected: kind,
                found,
            }),
        }
    }

    /// Its kind.
    pub fn frame_type(&self) -> FrameType {
        // Checked in `parse`.
        FrameType::from_bits((self.bytes[1] >> 4) & 0x07).unwrap_or(FrameType::Data)
    }

    /// 1 (C37.118-2005) or 2 (C37.118.2-2011).
    pub fn version(&self) -> u8 {
        self.bytes[1] & 0x0F
    }

    /// FRAMESIZE: the whole frame's length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Never: a frame has at least a header and CHK.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// IDCODE: the stream's source (a PMU or PDC), or the destination of a command.
    pub fn idcode(&self) -> u16 {
        be16(self.bytes, 4)
    }

    /// SOC and FRACSEC.
    pub fn timestamp(&self) -> Timestamp {
        let fracsec = be32(self.bytes, 10);
        Timestamp {
            soc: be32(self.bytes, 6),
            fraction: fracsec & 0x00FF_FFFF,
            quality: (fracsec >> 24) as u8,
        }
    }

    /// What lies between FRACSEC and CHK.
    pub fn body(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..self.bytes.len() - 2]
    }

    /// The frame's bytes, CHK included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Starts a frame of `kind` and `size` bytes in `out`: the header written,
/// the body and CHK to follow ([`Writer::finish`]).
pub(super) fn start<'b>(
    out: &'b mut [u8],
    kind: FrameType,
    version: u8,
    size: usize,
    idcode: u16,
    time: Timestamp,
) -> Result<Writer<'b>, Error> {
    if !(1..=2).contains(&version) {
        return Err(Error::UnsupportedVersion(version));
    }
    let framesize = u16::try_from(size).map_err(|_| Error::BadCount("FRAMESIZE over 65535"))?;
    let mut w = Writer::new(out, size)?;
    w.u8(SYNC)?;
    w.u8((kind.bits() << 4) | version)?;
    w.u16(framesize)?;
    w.u16(idcode)?;
    w.u32(time.soc)?;
    w.u32(time.fracsec())?;
    Ok(w)
}
