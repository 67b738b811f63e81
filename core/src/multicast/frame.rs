//! The part 4 datagram: a 6-byte identifier, then UTF-8 text.

use core::fmt;

/// Length of the identifier at the start of every datagram.
pub const ID_LEN: usize = 6;

/// The largest UDP payload over IPv4.
pub const MAX_DATAGRAM: usize = 65_507;

/// The longest text that fits a datagram after the identifier.
pub const MAX_TEXT: usize = MAX_DATAGRAM - ID_LEN;

/// Why bytes are not a frame, or a frame cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A datagram shorter than the identifier.
    TooShort {
        /// Its length.
        len: usize,
    },
    /// An identifier that is not exactly [`ID_LEN`] bytes.
    IdLength {
        /// Its length in bytes.
        len: usize,
    },
    /// The text after the identifier is not UTF-8.
    NotUtf8 {
        /// Offset of the first bad byte within the text.
        at: usize,
    },
    /// The text does not fit one datagram (or the caller's buffer).
    TooLong {
        /// The text's length in bytes.
        len: usize,
        /// The most that fits.
        max: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::TooShort { len } => {
                write!(
                    f,
                    "a {len}-byte datagram is shorter than the {ID_LEN}-byte identifier"
                )
            }
            FrameError::IdLength { len } => {
                write!(f, "the identifier must be {ID_LEN} bytes, not {len}")
            }
            FrameError::NotUtf8 { at } => {
                write!(f, "the text is not UTF-8 (bad byte at offset {at})")
            }
            FrameError::TooLong { len, max } => {
                write!(
                    f,
                    "the text is {len} bytes; at most {max} fit in one datagram"
                )
            }
        }
    }
}

impl core::error::Error for FrameError {}

/// A sender's identifier: exactly six bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id([u8; ID_LEN]);

impl Id {
    /// The course's broadcaster.
    pub const BOT: Id = Id(*b"swcmTV");

    /// An identifier from exactly six bytes.
    pub fn new(bytes: &[u8]) -> Result<Id, FrameError> {
        let array: [u8; ID_LEN] = bytes
            .try_into()
            .map_err(|_| FrameError::IdLength { len: bytes.len() })?;
        Ok(Id(array))
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }
}

impl fmt::Display for Id {
    /// As text when it is UTF-8, with other bytes escaped (`\xff`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

/// A parsed datagram, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Who sent it.
    pub id: Id,
    /// What it says (may be empty).
    pub text: &'a str,
}

impl<'a> Frame<'a> {
    /// Parses a received datagram.
    pub fn parse(datagram: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        if datagram.len() < ID_LEN {
            return Err(FrameError::TooShort {
                len: datagram.len(),
            });
        }
        let (id, text) = datagram.split_at(ID_LEN);
        let text = core::str::from_utf8(text).map_err(|e| FrameError::NotUtf8 {
            at: e.valid_up_to(),
        })?;
        Ok(Frame {
            id: Id::new(id)?,
            text,
        })
    }

    /// Writes the datagram into `buf`; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, FrameError> {
        let max = buf.len().min(MAX_DATAGRAM).saturating_sub(ID_LEN);
        let len = self.text.len();
        if len > max || buf.len() < ID_LEN {
            return Err(FrameError::TooLong { len, max });
        }
        buf[..ID_LEN].copy_from_slice(self.id.as_bytes());
        buf[ID_LEN..ID_LEN + len].copy_from_slice(self.text.as_bytes());
        Ok(ID_LEN + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bare_id() {
        let mut buf = [0u8; 64];
        let frame = Frame {
            id: Id::new(b"123456").unwrap(),
            text: "Roméo ⚔",
        };
        let n = frame.encode(&mut buf).unwrap();
        assert_eq!(Frame::parse(&buf[..n]), Ok(frame));
        let bare = Frame::parse(b"swcmTV").unwrap();
        assert_eq!((bare.id, bare.text), (Id::BOT, ""));
    }

    #[test]
    fn refuses_short_frames_bad_ids_bad_text_and_overflow() {
        assert_eq!(Frame::parse(b"swcm"), Err(FrameError::TooShort { len: 4 }));
        assert_eq!(Frame::parse(b""), Err(FrameError::TooShort { len: 0 }));
        assert_eq!(
            Frame::parse(b"123456ok\xff"),
            Err(FrameError::NotUtf8 { at: 2 })
        );
        assert_eq!(Id::new(b"12345"), Err(FrameError::IdLength { len: 5 }));
        assert_eq!(
            Id::new("ääää".as_bytes()),
            Err(FrameError::IdLength { len: 8 })
        );
        let mut small = [0u8; 10];
        let frame = Frame {
            id: Id::BOT,
            text: "too long here",
        };
        assert_eq!(
            frame.encode(&mut small),
            Err(FrameError::TooLong { len: 13, max: 4 })
        );
    }

    #[test]
    fn ids_display_safely() {
        let id = Id::new(b"ab\xffc\nd").unwrap();
        let mut s = [0u8; 32];
        let mut w = crate::test_support::Writer::new(&mut s);
        fmt::write(&mut w, format_args!("{id}")).unwrap();
        assert_eq!(w.as_str(), "ab\\xffc\\nd");
    }
}
