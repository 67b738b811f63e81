//! `RESET:n` and `OFFSET=X`, both ways.
//!
//! Each is one UDP datagram of ASCII text; a trailing `\n` or `\r\n` is
//! tolerated on input and never written. Numbers are decimal seconds up to
//! [`MAX_SECONDS`], so no datagram of either kind exceeds [`MAX_DATAGRAM`].

use core::fmt;

/// The largest `n` (and so `X`) accepted: a day.
pub const MAX_SECONDS: u32 = 86_400;

/// The longest datagram of either kind, terminator included.
pub const MAX_DATAGRAM: usize = 16;

const RESET: &[u8] = b"RESET:";
const OFFSET: &[u8] = b"OFFSET=";

/// Why a datagram is not a `RESET:n` or `OFFSET=X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetError {
    /// Longer than any valid datagram.
    TooLong,
    /// Does not start with the expected keyword.
    Unknown,
    /// The keyword with no number.
    MissingNumber,
    /// The number is not plain decimal digits.
    BadNumber,
    /// The number is above [`MAX_SECONDS`].
    TooLarge,
}

impl ResetError {
    /// A short reason for logs.
    pub const fn reason(self) -> &'static str {
        match self {
            ResetError::TooLong => "datagram too long",
            ResetError::Unknown => "not a RESET:n / OFFSET=X datagram",
            ResetError::MissingNumber => "no number after the keyword",
            ResetError::BadNumber => "the number is not plain decimal digits",
            ResetError::TooLarge => "the number is above 86400 seconds",
        }
    }
}

impl fmt::Display for ResetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl core::error::Error for ResetError {}

/// The PDC's request: advance the clock by up to `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    /// `n` in `RESET:n`.
    pub seconds: u32,
}

/// The PMU's answer: it advanced its clock by `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    /// `X` in `OFFSET=X`.
    pub seconds: u32,
}

impl Reset {
    /// The lab's request, `RESET:20`.
    pub const LAB: Reset = Reset { seconds: 20 };

    /// Parses one datagram.
    pub fn parse(datagram: &[u8]) -> Result<Reset, ResetError> {
        parse_keyword(datagram, RESET).map(|seconds| Reset { seconds })
    }

    /// The datagram's bytes.
    pub fn encode(self) -> Wire {
        Wire::new(RESET, self.seconds)
    }
}

impl Offset {
    /// Parses one datagram.
    pub fn parse(datagram: &[u8]) -> Result<Offset, ResetError> {
        parse_keyword(datagram, OFFSET).map(|seconds| Offset { seconds })
    }

    /// The first `OFFSET=X` inside a program's printed text, read by the
    /// datagram's rule. Printed answers come wrapped (`b'OFFSET=7'`,
    /// `got OFFSET=7!`), so the keyword is searched for and only the
    /// digits after it are taken.
    pub fn find_in(text: &[u8]) -> Option<Offset> {
        let mut rest = text;
        while let Some(at) = rest.windows(OFFSET.len()).position(|w| w == OFFSET) {
            let token = &rest[at..];
            let digits = token[OFFSET.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if let Ok(offset) = Offset::parse(&token[..OFFSET.len() + digits]) {
                return Some(offset);
            }
            rest = &token[OFFSET.len()..];
        }
        None
    }

    /// The datagram's bytes.
    pub fn encode(self) -> Wire {
        Wire::new(OFFSET, self.seconds)
    }
}

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RESET:{}", self.seconds)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OFFSET={}", self.seconds)
    }
}

/// An encoded datagram, held without allocation. A fixed array rather
/// than a `heapless::Vec`: a datagram is `Copy`, as the events carrying it are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Wire {
    bytes: [u8; MAX_DATAGRAM],
    len: u8,
}

impl Wire {
    fn new(keyword: &[u8], number: u32) -> Wire {
        let mut bytes = [0u8; MAX_DATAGRAM];
        bytes[..keyword.len()].copy_from_slice(keyword);
        // Numbers above MAX_SECONDS never reach here from a parse; a caller
        // building one by hand gets it cut to fit rather than a panic.
        let n = crate::text::write_decimal(u64::from(number), &mut bytes[keyword.len()..]);
        Wire {
            bytes,
            len: (keyword.len() + n) as u8,
        }
    }

    /// The datagram.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The datagram as text (it is always ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match core::str::from_utf8(self.as_bytes()) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "{:?}", self.as_bytes()),
        }
    }
}

fn parse_keyword(datagram: &[u8], keyword: &[u8]) -> Result<u32, ResetError> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(ResetError::TooLong);
    }
    let body = crate::text::strip_line_ending(datagram);
    let digits = body.strip_prefix(keyword).ok_or(ResetError::Unknown)?;
    if digits.is_empty() {
        return Err(ResetError::MissingNumber);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(ResetError::BadNumber);
    }
    let mut value: u64 = 0;
    for d in digits {
        value = value * 10 + u64::from(d - b'0');
        if value > u64::from(MAX_SECONDS) {
            return Err(ResetError::TooLarge);
        }
    }
    Ok(value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_readable_offset_in_printed_text() {
        let found = |t: &str| Offset::find_in(t.as_bytes()).map(|o| o.seconds);
        assert_eq!(found("b'OFFSET=7'\n"), Some(7));
        assert_eq!(
            found("OFFSET=\nOFFSET=99999999999\ngot OFFSET=12!"),
            Some(12)
        );
        assert_eq!(found("OFFSET=x OFFSET"), None);
        assert_eq!(found(""), None);
    }

    #[test]
    fn round_trips() {
        for seconds in [0, 1, 9, 10, 20, 99, 86_400] {
            let r = Reset { seconds };
            assert_eq!(Reset::parse(r.encode().as_bytes()), Ok(r));
            let o = Offset { seconds };
            assert_eq!(Offset::parse(o.encode().as_bytes()), Ok(o));
        }
        assert_eq!(Reset::LAB.encode().as_bytes(), b"RESET:20");
        assert_eq!(Offset { seconds: 7 }.encode().as_bytes(), b"OFFSET=7");
    }

    #[test]
    fn tolerates_line_endings_and_refuses_the_rest() {
        assert_eq!(Reset::parse(b"RESET:20\n"), Ok(Reset::LAB));
        assert_eq!(Reset::parse(b"RESET:20\r\n"), Ok(Reset::LAB));
        assert_eq!(Reset::parse(b"RESET:007"), Ok(Reset { seconds: 7 }));
        let cases: &[(&[u8], ResetError)] = &[
            (b"", ResetError::Unknown),
            (b"reset:20", ResetError::Unknown),
            (b"OFFSET=3", ResetError::Unknown),
            (b"RESET:", ResetError::MissingNumber),
            (b"RESET:-1", ResetError::BadNumber),
            (b"RESET: 20", ResetError::BadNumber),
            (b"RESET:2x", ResetError::BadNumber),
            (b"RESET:86401", ResetError::TooLarge),
            (b"RESET:0086401", ResetError::TooLarge),
            (b"RESET:9999999999", ResetError::TooLarge),
            (b"RESET:20 and some more", ResetError::TooLong),
        ];
        for (input, error) in cases {
            assert_eq!(Reset::parse(input), Err(*error), "{input:?}");
        }
        assert_eq!(Offset::parse(b"OFFSET=x"), Err(ResetError::BadNumber));
    }
}
