//! Parts 1 and 2 in the bytes of a connection: the PDC's command, then
//! the PMU's messages or floodme, told segment by segment — which messages
//! a segment carries, glued or split, and where a split falls. The wire
//! rules are core's: `Command::parse`, `flood::message`, `flood::fill`.

use pmulab_core::stream::command::{Command, MAX_COMMAND_LEN};
use pmulab_core::stream::flood::{self, MAX_MESSAGE_LEN, MESSAGE_PREFIX};

use super::stream::Chunk;
use super::text::{preview, thousands};
use super::{Record, Side};

/// What the PMU's side of the connection should hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The command is not complete yet (or never was).
    Nothing,
    Messages,
    Floodme,
}

/// The reader of a PMU connection (or part 1's echo).
#[derive(Debug, Default)]
pub struct PmuReader {
    echo: bool,
    command_bytes: Vec<u8>,
    pub command: Option<Command>,
    /// Message `i` starts at `starts[i]` in the PMU's stream.
    starts: Vec<u64>,
    /// Per PMU data segment: how many messages it touched (whole or in part).
    pub messages_per_segment: Vec<u32>,
    /// Messages seen to their last byte.
    pub messages_complete: u32,
    /// Segments that held floodme bytes.
    pub flood_segments: u64,
    pub flood_bytes: u64,
    /// Bytes that were not what the command asks for (an `ERROR:` line, …).
    pub other: Option<String>,
}

impl PmuReader {
    pub fn new(echo: bool) -> PmuReader {
        PmuReader {
            echo,
            ..PmuReader::default()
        }
    }

    pub fn is_echo(&self) -> bool {
        self.echo
    }

    fn expect(&self) -> Expect {
        match self.command {
            Some(Command::Short { .. }) => Expect::Messages,
            Some(Command::Floodme) => Expect::Floodme,
            None => Expect::Nothing,
        }
    }

    pub fn handle(&mut self, chunk: &Chunk<'_>, record: &mut Record) {
        let data = chunk.bytes;
        if self.echo {
            let who = match chunk.side {
                Side::Client => "the client sends",
                Side::Server => "the server echoes",
            };
            record.meaning.push(format!("{who} {}", preview(data)));
            return;
        }
        match chunk.side {
            Side::Client => self.client_data(data, chunk.retransmission, record),
            Side::Server => self.server_data(chunk.offset, data, chunk.retransmission, record),
        }
    }

    fn client_data(&mut self, data: &[u8], retransmission: bool, record: &mut Record) {
        if retransmission {
            return;
        }
        if self.command.is_some() || self.command_bytes.len() > MAX_COMMAND_LEN {
            record
                .meaning
                .push(format!("more from the PDC: {}", preview(data)));
            return;
        }
        self.command_bytes.extend_from_slice(data);
        match Command::parse(&self.command_bytes) {
            Ok(command) => {
                self.command = Some(command);
                record.meaning.push(format!(
                    "command {}",
                    String::from_utf8_lossy(pmulab_core::text::strip_line_ending(
                        &self.command_bytes
                    ))
                ));
            }
            Err(_) => record.meaning.push(format!(
                "command bytes so far: {}",
                preview(&self.command_bytes)
            )),
        }
    }

    fn server_data(
        &mut self,
        offset: Option<u64>,
        data: &[u8],
        retransmission: bool,
        record: &mut Record,
    ) {
        if data.starts_with(b"ERROR:") || (offset == Some(0) && self.expect() == Expect::Nothing) {
            let line = preview(data);
            if !retransmission {
                self.other.get_or_insert_with(|| line.clone());
            }
            record.meaning.push(line);
            return;
        }
        let Some(offset) = offset else {
            record.meaning.push(preview(data));
            return;
        };
        match self.expect() {
            Expect::Messages => {
                let (text, touched) = self.messages_in(offset, data);
                if !retransmission && touched > 0 {
                    self.messages_per_segment.push(touched);
                }
                record.meaning.push(text);
            }
            Expect::Floodme => {
                let end = offset + data.len() as u64;
                let text = match flood::first_mismatch(offset, data) {
                    None => format!("floodme bytes {}–{}", thousands(offset), thousands(end - 1)),
                    Some(at) => format!(
                        "{} bytes, not the floodme text from byte {}",
                        data.len(),
                        thousands(at)
                    ),
                };
                if !retransmission {
                    self.flood_segments += 1;
                    self.flood_bytes = self.flood_bytes.max(end);
                }
                record.meaning.push(text);
            }
            Expect::Nothing => record.meaning.push(preview(data)),
        }
    }

    /// Start of message `i` in the PMU's stream (message lengths are core's).
    fn start_of(&mut self, i: usize) -> u64 {
        while self.starts.len() <= i {
            let n = self.starts.len();
            let start = match n {
                0 => 0,
                _ => self.starts[n - 1] + message_len(n as u32 - 1) as u64,
            };
            self.starts.push(start);
        }
        self.starts[i]
    }

    /// The message that holds stream byte `at`.
    fn message_at(&mut self, at: u64) -> usize {
        let mut i = self.starts.len().saturating_sub(1);
        // Walk forward (streams are read in order), or back for a retransmission.
        while self.start_of(i) > at && i > 0 {
            i -= 1;
        }
        while self.start_of(i + 1) <= at {
            i += 1;
        }
        i
    }

    /// Describes stream bytes `offset..offset+len` as messages; how many it touched.
    fn messages_in(&mut self, offset: u64, data: &[u8]) -> (String, u32) {
        let end = offset + data.len() as u64;
        // The bytes must be the messages' bytes, or this is something else.
        let first = self.message_at(offset);
        let last = self.message_at(end - 1);
        let mut expected = Vec::with_capacity(data.len() + MAX_MESSAGE_LEN);
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        for i in first..=last {
            let n = flood::message(i as u32, &mut buf);
            expected.extend_from_slice(&buf[..n]);
        }
        let skip = (offset - self.start_of(first)) as usize;
        if expected.get(skip..skip + data.len()) != Some(data) {
            return (
                format!(
                    "{} bytes, not the messages expected here: {}",
                    data.len(),
                    preview(data)
                ),
                0,
            );
        }
        let whole_first = offset == self.start_of(first);
        let whole_last = end == self.start_of(last + 1);
        if whole_last {
            self.messages_complete = self.messages_complete.max(last as u32 + 1);
        } else if last > 0 {
            self.messages_complete = self.messages_complete.max(last as u32);
        }
        let touched = (last - first + 1) as u32;
        if first == last && !whole_first && !whole_last {
            let inner = offset - self.start_of(first);
            return (
                format!(
                    "middle of message {first} (bytes {inner}–{})",
                    inner + data.len() as u64 - 1
                ),
                1,
            );
        }
        let mut parts = Vec::new();
        if !whole_first {
            parts.push(format!("end of message {first}"));
        }
        let full_from = if whole_first { first } else { first + 1 };
        let full_to = if whole_last {
            Some(last)
        } else {
            last.checked_sub(1)
        };
        if let Some(to) = full_to.filter(|&to| to >= full_from) {
            parts.push(match to - full_from {
                0 => format!("message {full_from}"),
                _ => format!("messages {full_from}–{to}, glued"),
            });
        }
        if !whole_last {
            let into = end - self.start_of(last);
            let where_ = match into <= MESSAGE_PREFIX.len() as u64 {
                true => "split in the prefix",
                false => "split in the number",
            };
            parts.push(format!("start of message {last} ({where_})"));
        }
        (parts.join(" + "), touched)
    }
}

/// Length of message `i`.
fn message_len(i: u32) -> usize {
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    flood::message(i, &mut buf)
}
