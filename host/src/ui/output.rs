//! Where the PDC's reply goes: stdout, buffered, plus an optional trace of
//! every read on stderr.

use std::io::{self, BufWriter, StdoutLock, Write};

use super::failure::Failure;

use pmulab_core::stream::client::PdcOutput;
use pmulab_core::stream::deframer::Piece;
use pmulab_core::time::Instant;

/// `println!` that returns a failed write instead of panicking; a reader
/// that went away (`| head`) ends the command quietly.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::ui::output::say_line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// `eprintln!` that never panics: a closed or full stderr loses the line,
/// as it would lose any diagnostic, and the command carries on.
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::ui::output::tell_line(format_args!($($arg)*))
    };
}
pub(crate) use tell;

/// One line on stderr; see [`tell!`]. Colour is kept only on a terminal
/// and without `NO_COLOR`.
pub fn tell_line(line: std::fmt::Arguments<'_>) {
    let mut err = anstream::stderr().lock();
    let _ = err.write_fmt(line).and_then(|()| err.write_all(b"\n"));
}

/// Styles for the words that matter at a glance.
pub mod style {
    use anstyle::{AnsiColor, Style};

    /// `error:`.
    pub const ERROR: Style = Style::new()
        .bold()
        .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
    /// A check that passed.
    pub const PASS: Style = Style::new()
        .bold()
        .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
    /// A check that failed.
    pub const FAIL: Style = ERROR;
    /// A remark.
    pub const NOTE: Style = Style::new()
        .bold()
        .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
}

/// Writes `json` and a newline to `path`: every `--json` of pmulab is one
/// flat object, written this way.
pub fn write_json(path: &std::path::Path, json: &serde_json::Value) -> Result<(), Failure> {
    std::fs::write(path, format!("{json}\n"))
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))
}

/// `text` in `style`; the escape codes are dropped where colour is off.
pub fn paint(style: anstyle::Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// `error:`, in red where colour is on.
pub fn error_label() -> String {
    paint(style::ERROR, "error:")
}

/// One line on stdout; see [`say!`].
pub fn say_line(line: std::fmt::Arguments<'_>) -> Result<(), Failure> {
    let mut out = anstream::stdout().lock();
    out.write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(Failure::output)
}

/// The reply on stdout: one line per message, or the raw text.
pub struct StdoutReply {
    out: BufWriter<StdoutLock<'static>>,
    trace: Option<Trace>,
}

/// What the trace knows about the read being delivered.
struct Trace {
    start: Option<Instant>,
    reads: u64,
    messages: u64,
    current: Option<ReadTrace>,
}

struct ReadTrace {
    index: u64,
    len: usize,
    at: Instant,
    continues: Option<u64>,
    starts: Vec<(u64, Option<usize>)>,
}

impl StdoutReply {
    /// Stdout with a 64 KiB buffer; with `trace`, reads are described on stderr.
    pub fn new(trace: bool) -> Self {
        StdoutReply {
            out: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            trace: trace.then_some(Trace {
                start: None,
                reads: 0,
                messages: 0,
                current: None,
            }),
        }
    }

    /// Flushes stdout.
    pub fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Trace {
    fn flush_line(&mut self) {
        let Some(read) = self.current.take() else {
            return;
        };
        let since = read
            .at
            .saturating_duration_since(self.start.unwrap_or(read.at))
            .as_secs_f64();
        let mut line = format!("read {}: {} bytes at +{since:.6} s", read.index, read.len);
        if let Some(m) = read.continues {
            line += &format!(" | continues message {m}");
        }
        let mut starts = read.starts.iter().peekable();
        if let Some((m, None)) = starts.peek() {
            line += &format!(" | message {m} began in an earlier read, its prefix split");
            starts.next();
        }
        let here: Vec<&(u64, Option<usize>)> = starts.collect();
        if let (Some((first, _)), Some((last, _))) = (here.first(), here.last()) {
            let offsets: Vec<String> = here
                .iter()
                .filter_map(|(_, at)| at.map(|a| a.to_string()))
                .collect();
            let which = match first == last {
                true => format!("message {first} starts"),
                false => format!("messages {first}-{last} start"),
            };
            let bytes = if offsets.len() == 1 { "byte" } else { "bytes" };
            line += &format!(" | {which} at {bytes} {}", offsets.join(", "));
        }
        tell!("trace: {line}");
    }
}

impl PdcOutput for StdoutReply {
    type Error = io::Error;

    fn read(&mut self, now: Instant, len: usize) -> io::Result<()> {
        if let Some(trace) = &mut self.trace {
            trace.start.get_or_insert(now);
            trace.reads += 1;
            // A read that does not start a message continues the open one.
            let open = trace.messages.checked_sub(1);
            trace.current = Some(ReadTrace {
                index: trace.reads,
                len,
                at: now,
                continues: open,
                starts: Vec::new(),
            });
        }
        Ok(())
    }

    fn read_done(&mut self) -> io::Result<()> {
        match &mut self.trace {
            // Show what arrived at once, even a message not known to be
            // complete yet: its line ends when the next one starts.
            None => self.out.flush(),
            // Tracing, stdout gets whole lines only, so that on a terminal
            // each trace line stands on its own.
            Some(trace) => {
                trace.flush_line();
                Ok(())
            }
        }
    }

    fn piece(&mut self, piece: Piece<'_>) -> io::Result<()> {
        match piece {
            Piece::Start { at } => {
                if let Some(trace) = &mut self.trace {
                    if let Some(read) = &mut trace.current {
                        if at == Some(0) || (at.is_none() && read.starts.is_empty()) {
                            read.continues = None;
                        }
                        read.starts.push((trace.messages, at));
                    }
                    trace.messages += 1;
                }
                Ok(())
            }
            Piece::Text(text) => self.out.write_all(text),
            Piece::End => {
                self.out.write_all(b"\n")?;
                match self.trace {
                    Some(_) => self.out.flush(),
                    None => Ok(()),
                }
            }
        }
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.out.flush()
    }
}

/// `bad certificate` from rustls's `BadCertificate`, `unknown CA` from `UnknownCA`.
pub fn words(camel: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut previous_lower = false;
    for c in camel.chars() {
        if c.is_ascii_uppercase() && previous_lower || words.is_empty() {
            words.push(String::new());
        }
        if let Some(word) = words.last_mut() {
            word.push(c);
        }
        previous_lower = c.is_ascii_lowercase();
    }
    let spoken: Vec<String> = words
        .into_iter()
        .map(
            |w| match w.chars().filter(char::is_ascii_uppercase).count() > 1 {
                true => w,
                false => w.to_ascii_lowercase(),
            },
        )
        .collect();
    spoken.join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_read_as_words() {
        assert_eq!(super::words("BadCertificate"), "bad certificate");
        assert_eq!(super::words("UnknownCA"), "unknown CA");
        assert_eq!(super::words("HandshakeFailure"), "handshake failure");
    }
}
