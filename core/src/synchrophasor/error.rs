//! Why a frame could not be read or written.

use core::fmt;

use super::frame::FrameType;

/// A frame that cannot be decoded, or a frame that cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than the frame needs.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes there.
        got: usize,
    },
    /// The first byte is not the sync byte 0xAA.
    NoSync(u8),
    /// The frame type bits name no frame.
    UnknownType(u8),
    /// A version other than 1 (2005) or 2 (2011).
    UnsupportedVersion(u8),
    /// FRAMESIZE is smaller than a frame can be.
    BadSize(usize),
    /// CHK does not match the frame.
    BadChecksum {
        /// What the frame's bytes give.
        computed: u16,
        /// What CHK says.
        found: u16,
    },
    /// Another kind of frame than expected.
    WrongType {
        /// Expected.
        expected: FrameType,
        /// Found.
        found: FrameType,
    },
    /// A length inside the frame disagrees with FRAMESIZE or the configuration.
    BadLength {
        /// What was being read.
        what: &'static str,
        /// The length the frame's fields imply.
        expected: usize,
        /// The length there is.
        found: usize,
    },
    /// A name longer than 16 bytes, or not ASCII.
    BadName,
    /// A value does not match the configured format (integer or float).
    FormatMismatch(&'static str),
    /// A count does not fit its field, or does not match the configuration.
    BadCount(&'static str),
    /// The output buffer is too small.
    NoRoom {
        /// Bytes the frame needs.
        needed: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { needed, got } => {
                write!(f, "truncated frame: {got} bytes of {needed}")
            }
            Error::NoSync(byte) => write!(f, "no sync byte (0xAA) but 0x{byte:02X}"),
            Error::UnknownType(bits) => write!(f, "unknown frame type {bits}"),
            Error::UnsupportedVersion(v) => {
                write!(f, "unsupported version {v} (1 and 2 are known)")
            }
            Error::BadSize(size) => write!(f, "FRAMESIZE {size} is too small for a frame"),
            Error::BadChecksum { computed, found } => write!(
                f,
                "bad checksum: CHK is 0x{found:04X}, the frame gives 0x{computed:04X}"
            ),
            Error::WrongType { expected, found } => {
                write!(
                    f,
                    "a {found:?} frame where a {expected:?} frame was expected"
                )
            }
            Error::BadLength {
                what,
                expected,
                found,
            } => write!(f, "{what}: {expected} bytes expected, {found} there"),
            Error::BadName => f.write_str("a name longer than 16 bytes or not ASCII"),
            Error::FormatMismatch(what) => {
                write!(f, "{what} does not match the configured format")
            }
            Error::BadCount(what) => write!(f, "{what}: wrong count"),
            Error::NoRoom { needed } => write!(f, "the buffer is too small: {needed} bytes needed"),
        }
    }
}
