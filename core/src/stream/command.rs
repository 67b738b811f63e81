//! The PDC's command: `CMD_short:d` and `CMD_floodme` (lab part 2).
//!
//! A command travels as plain text with no terminator. Servers tolerate a
//! trailing `\n` or `\r\n`. Because there is no terminator, a server decides
//! that a command is complete when the bytes it has form a whole command at
//! the end of a read; a strict prefix of a command (`CMD_sh`, `CMD_short:`,
//! `CMD_short:0.`) waits for more. [`Assembler`] implements that rule.

use core::fmt;
use core::time::Duration;

/// The longest command a server accepts, terminator included. Real commands
/// are under 30 bytes; anything longer is refused rather than buffered.
pub const MAX_COMMAND_LEN: usize = 64;

/// The longest interval a server accepts in `CMD_short:d`.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

const SHORT: &[u8] = b"CMD_short:";
const FLOODME: &[u8] = b"CMD_floodme";

/// A parsed PDC command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `CMD_short:d`: `n` messages, `interval` apart.
    Short {
        /// Time between two consecutive sends at the PMU.
        interval: Duration,
    },
    /// `CMD_floodme`: one large text.
    Floodme,
}

/// Why bytes are not a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// Nothing but white space was sent.
    Empty,
    /// More than [`MAX_COMMAND_LEN`] bytes without forming a command.
    TooLong,
    /// The bytes are not UTF-8 text, or hold control characters.
    NotText,
    /// Neither `CMD_short:` nor `CMD_floodme`.
    Unknown,
    /// `CMD_short:` with no number after it.
    MissingInterval,
    /// The interval is not a plain decimal number such as `0`, `1` or `0.5`.
    BadInterval,
    /// The interval is above [`MAX_INTERVAL`].
    IntervalTooLong,
    /// The peer stopped sending before the command was complete.
    Incomplete,
    /// The peer took too long to send a complete command.
    Timeout,
}

impl CommandError {
    /// A one-line reason, as sent after `ERROR: ` to the peer.
    pub const fn reason(self) -> &'static str {
        match self {
            CommandError::Empty => "empty command",
            CommandError::TooLong => "command too long",
            CommandError::NotText => "command is not printable UTF-8 text",
            CommandError::Unknown => "unknown command, expected CMD_short:<seconds> or CMD_floodme",
            CommandError::MissingInterval => "CMD_short needs an interval, e.g. CMD_short:0",
            CommandError::BadInterval => {
                "interval must be a decimal number of seconds, e.g. 0, 1 or 0.5"
            }
            CommandError::IntervalTooLong => "interval above 60 seconds",
            CommandError::Incomplete => "connection closed before the command was complete",
            CommandError::Timeout => "no complete command in time",
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl core::error::Error for CommandError {}

impl Command {
    /// Parses one whole command; a single trailing `\n` or `\r\n` is allowed.
    pub fn parse(bytes: &[u8]) -> Result<Command, CommandError> {
        if bytes.len() > MAX_COMMAND_LEN {
            return Err(CommandError::TooLong);
        }
        let body = crate::text::strip_line_ending(bytes);
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(CommandError::Empty);
        }
        let text = core::str::from_utf8(body).map_err(|_| CommandError::NotText)?;
        if text.chars().any(char::is_control) {
            return Err(CommandError::NotText);
        }
        if body == FLOODME {
            return Ok(Command::Floodme);
        }
        match body.strip_prefix(SHORT) {
            Some([]) => Err(CommandError::MissingInterval),
            Some(number) => parse_interval(number).map(|interval| Command::Short { interval }),
            None => Err(CommandError::Unknown),
        }
    }

    /// The interval between messages, if this is `CMD_short`.
    pub fn interval(self) -> Option<Duration> {
        match self {
            Command::Short { interval } => Some(interval),
            Command::Floodme => None,
        }
    }
}

impl fmt::Display for Command {
    /// The wire form, without terminator: `CMD_short:0.5`, `CMD_floodme`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Floodme => f.write_str("CMD_floodme"),
            Command::Short { interval } => {
                write!(f, "CMD_short:{}", interval.as_secs())?;
                let nanos = interval.subsec_nanos();
                if nanos != 0 {
                    let mut digits = 9;
                    let mut frac = nanos;
                    while frac % 10 == 0 {
                        frac /= 10;
                        digits -= 1;
                    }
                    write!(f, ".{frac:0digits$}")?;
                }
                Ok(())
            }
        }
    }
}

/// `d` as decimal seconds with at most nanosecond precision: `0`, `1`, `0.5`.
fn parse_interval(text: &[u8]) -> Result<Duration, CommandError> {
    let (whole, frac) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
        None => (text, None),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if whole.is_empty() || !all_digits(whole) {
        return Err(CommandError::BadInterval);
    }
    let mut nanos: u32 = 0;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > 9 || !all_digits(frac) {
            return Err(CommandError::BadInterval);
        }
        for i in 0..9 {
            let digit = frac.get(i).map_or(0, |d| u32::from(d - b'0'));
            nanos = nanos * 10 + digit;
        }
    }
    // Leading zeros are harmless; a long run of other digits is just big.
    let significant = whole
        .iter()
        .position(|&b| b != b'0')
        .map_or(&whole[whole.len()..], |i| &whole[i..]);
    if significant.len() > 3 {
        return Err(CommandError::IntervalTooLong);
    }
    let secs = significant
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    let interval = Duration::new(secs, nanos);
    if interval > MAX_INTERVAL {
        return Err(CommandError::IntervalTooLong);
    }
    Ok(interval)
}

/// What an [`Assembler`] knows after a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assembly {
    /// The bytes so far are the start of a command; wait for more.
    Incomplete,
    /// A whole command.
    Complete(Command),
    /// Not a command, and no further byte could make it one.
    Invalid(CommandError),
}

/// Collects a command that may arrive split across several reads.
#[derive(Debug, Clone)]
pub struct Assembler {
    received: heapless::Vec<u8, MAX_COMMAND_LEN>,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Assembler {
    /// An empty assembler.
    pub const fn new() -> Self {
        Assembler {
            received: heapless::Vec::new(),
        }
    }

    /// The bytes received so far.
    pub fn received(&self) -> &[u8] {
        &self.received
    }

    /// Adds the bytes of one read and says whether the command is complete.
    ///
    /// A `\n` ends the command at once; bytes after it are ignored. Without
    /// one, a command that is whole at the end of the read is complete.
    pub fn push(&mut self, bytes: &[u8]) -> Assembly {
        let (bytes, terminated) = match bytes.iter().position(|&b| b == b'\n') {
            Some(nl) => (&bytes[..=nl], true),
            None => (bytes, false),
        };
        if self.received.extend_from_slice(bytes).is_err() {
            return Assembly::Invalid(CommandError::TooLong);
        }
        let received = self.received();
        match Command::parse(received) {
            Ok(command) => Assembly::Complete(command),
            Err(error) if terminated => Assembly::Invalid(error),
            // More digits only make an interval longer.
            Err(error @ CommandError::IntervalTooLong) => Assembly::Invalid(error),
            Err(error) => {
                if could_continue(received) {
                    Assembly::Incomplete
                } else {
                    Assembly::Invalid(error)
                }
            }
        }
    }

    /// The peer will send nothing more: whatever was received is final.
    pub fn finish(&self) -> Assembly {
        let received = self.received();
        match Command::parse(received) {
            Ok(command) => Assembly::Complete(command),
            Err(_) if !received.is_empty() && could_continue(received) => {
                Assembly::Invalid(CommandError::Incomplete)
            }
            Err(error) => Assembly::Invalid(error),
        }
    }
}

/// Whether more bytes could still turn `bytes` into a command.
fn could_continue(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if FLOODME.starts_with(bytes) || SHORT.starts_with(bytes) {
        return true;
    }
    match bytes.strip_prefix(SHORT) {
        // `CMD_short:0.` needs its fraction; digits alone were complete already.
        Some(number) => {
            let mut dots = 0;
            number.iter().all(|&b| {
                dots += usize::from(b == b'.');
                b.is_ascii_digit() || (b == b'.' && dots == 1)
            }) && number.first().is_some_and(u8::is_ascii_digit)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::Writer;

    fn short(secs: u64, nanos: u32) -> Command {
        Command::Short {
            interval: Duration::new(secs, nanos),
        }
    }

    #[test]
    fn parses_the_lab_commands_with_any_terminator() {
        for suffix in ["", "\n", "\r\n"] {
            let parse = |c: &str| {
                let mut s = [0u8; 40];
                let full = [c.as_bytes(), suffix.as_bytes()];
                let mut n = 0;
                for part in full {
                    s[n..n + part.len()].copy_from_slice(part);
                    n += part.len();
                }
                Command::parse(&s[..n])
            };
            assert_eq!(parse("CMD_short:0"), Ok(short(0, 0)));
            assert_eq!(parse("CMD_short:1"), Ok(short(1, 0)));
            assert_eq!(parse("CMD_short:0.5"), Ok(short(0, 500_000_000)));
            assert_eq!(parse("CMD_short:60"), Ok(short(60, 0)));
            assert_eq!(parse("CMD_short:007"), Ok(short(7, 0)));
            assert_eq!(parse("CMD_floodme"), Ok(Command::Floodme));
        }
    }

    #[test]
    fn refuses_everything_else_with_a_reason() {
        use CommandError::*;
        let cases: &[(&[u8], CommandError)] = &[
            (b"", Empty),
            (b"\r\n", Empty),
            (b"CMD_short:", MissingInterval),
            (b"CMD_short:-1", BadInterval),
            (b"CMD_short:1e3", BadInterval),
            (b"CMD_short:.5", BadInterval),
            (b"CMD_short:1.", BadInterval),
            (b"CMD_short:1.2.3", BadInterval),
            (b"CMD_short:0.1234567891", BadInterval),
            (b"CMD_short: 1", BadInterval),
            (b"CMD_short:60.000000001", IntervalTooLong),
            (b"CMD_short:99999999999999999999", IntervalTooLong),
            (b"CMD_floodme\n\n", NotText),
            (b"cmd_floodme", Unknown),
            (b"CMD_floodmeX", Unknown),
            (b"\xff\xfe", NotText),
            (b"CMD_short:1\0", NotText),
            (&[b'A'; 65], TooLong),
        ];
        for (input, expected) in cases {
            assert_eq!(Command::parse(input), Err(*expected), "{input:?}");
        }
    }

    #[test]
    fn display_is_the_wire_form_and_round_trips() {
        for command in [
            short(0, 0),
            short(1, 0),
            short(0, 500_000_000),
            short(2, 250_000),
            short(0, 1),
            Command::Floodme,
        ] {
            let mut buf = [0u8; 32];
            let mut w = Writer::new(&mut buf);
            fmt::write(&mut w, format_args!("{command}")).unwrap();
            assert_eq!(Command::parse(w.as_bytes()), Ok(command));
        }
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        fmt::write(&mut w, format_args!("{}", short(0, 500_000_000))).unwrap();
        assert_eq!(w.as_bytes(), b"CMD_short:0.5");
    }

    #[test]
    fn assembler_waits_for_a_prefix_and_completes_at_a_read_boundary() {
        let mut a = Assembler::new();
        assert_eq!(a.push(b"CMD_sh"), Assembly::Incomplete);
        assert_eq!(a.push(b"ort:"), Assembly::Incomplete);
        assert_eq!(a.push(b"0."), Assembly::Incomplete);
        assert_eq!(a.push(b"25"), Assembly::Complete(short(0, 250_000_000)));

        let mut a = Assembler::new();
        assert_eq!(a.push(b"CMD_flood"), Assembly::Incomplete);
        assert_eq!(a.push(b"me\r"), Assembly::Complete(Command::Floodme));

        let mut a = Assembler::new();
        assert_eq!(
            a.push(b"CMD_short:1\nCMD_floodme"),
            Assembly::Complete(short(1, 0))
        );
    }

    #[test]
    fn assembler_refuses_as_soon_as_no_byte_could_help() {
        let mut a = Assembler::new();
        assert_eq!(
            a.push(b"GET / HTTP/1.1"),
            Assembly::Invalid(CommandError::Unknown)
        );
        let mut a = Assembler::new();
        assert_eq!(
            a.push(b"CMD_short:x"),
            Assembly::Invalid(CommandError::BadInterval)
        );
        let mut a = Assembler::new();
        assert_eq!(
            a.push(b"CMD_short\n"),
            Assembly::Invalid(CommandError::Unknown)
        );
        let mut a = Assembler::new();
        assert_eq!(a.push(b"CMD_short:"), Assembly::Incomplete);
        assert_eq!(
            a.push(&[b'1'; 70]),
            Assembly::Invalid(CommandError::TooLong)
        );
    }

    #[test]
    fn assembler_finish_distinguishes_truncated_from_empty() {
        let a = Assembler::new();
        assert_eq!(a.finish(), Assembly::Invalid(CommandError::Empty));
        let mut a = Assembler::new();
        a.push(b"CMD_sh");
        assert_eq!(a.finish(), Assembly::Invalid(CommandError::Incomplete));
        let mut a = Assembler::new();
        a.push(b"CMD_short:0.");
        assert_eq!(a.finish(), Assembly::Invalid(CommandError::Incomplete));
    }
}
