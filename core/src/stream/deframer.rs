//! The PDC's deframer for `CMD_short` (lab part 2).
//!
//! The PMU sends `This is PMU data 0`, `This is PMU data 1`, … with no
//! separator, and TCP delivers them glued together and split anywhere:
//! inside the prefix, inside a number, inside a multi-byte character. The
//! deframer turns that stream back into messages: a message starts at each
//! occurrence of [`MESSAGE_PREFIX`] and runs until the next one or the end
//! of the stream.
//!
//! It streams: text is handed on as soon as it is certain to belong to the
//! current message, and only the bytes that might be the start of the next
//! prefix (at most its length) and a message's trailing white space (at
//! most 8 bytes) are held back. Memory is constant however long a message
//! is, and no byte is ever copied into a buffer of the deframer's.

use super::flood::MESSAGE_PREFIX;

const PREFIX: &[u8] = MESSAGE_PREFIX.as_bytes();
const WS_CAPACITY: usize = 8;

// The fallback after a mismatch below is only right when the prefix's first
// byte occurs nowhere else in it (no partial self-overlap).
const _: () = {
    let mut i = 1;
    while i < PREFIX.len() {
        assert!(PREFIX[i] != PREFIX[0]);
        i += 1;
    }
};

/// One piece of the deframed stream. Each message is one `Start`, any
/// number of `Text`, and one `End`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A message begins. `at` is where in the current input it began, or
    /// `None` if it began in an earlier input (its prefix was split).
    Start {
        /// Offset of the message's first byte in this input.
        at: Option<usize>,
    },
    /// Bytes of the current message, in order. Concatenated, they are the
    /// message without its trailing white space. A piece may end inside a
    /// multi-byte character; the next piece continues it.
    Text(&'a [u8]),
    /// The current message is complete.
    End,
}

/// Splits a glued stream of messages; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Deframer {
    /// Bytes of the prefix matched at the end of the input so far.
    matched: usize,
    /// How many of those came from earlier inputs (and are held back).
    held: usize,
    in_message: bool,
    /// A message's trailing white space, held until more text follows.
    ws: heapless::Vec<u8, WS_CAPACITY>,
    messages: u64,
    /// The open message is a prefix with nothing after it yet.
    bare: bool,
    /// The stream ended inside a message's prefix (or right after it).
    cut: bool,
}

impl Deframer {
    /// A deframer at the start of a stream.
    pub const fn new() -> Self {
        Deframer {
            matched: 0,
            held: 0,
            in_message: false,
            ws: heapless::Vec::new(),
            messages: 0,
            bare: false,
            cut: false,
        }
    }

    /// Whether the stream ended in the middle of a message: inside the
    /// prefix of the next one, or right after it. Known after [`Deframer::finish`].
    pub fn ended_mid_message(&self) -> bool {
        self.cut
    }

    /// Messages completed so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Feeds the bytes of one read; `sink` receives the pieces they make.
    pub fn feed<'a>(&mut self, input: &'a [u8], sink: &mut impl FnMut(Piece<'a>)) {
        // The matched bytes of an earlier input are held, not yet emitted.
        self.held = self.matched;
        let mut text_start = 0;
        for (i, &byte) in input.iter().enumerate() {
            if byte == PREFIX[self.matched] {
                self.matched += 1;
                if self.matched < PREFIX.len() {
                    continue;
                }
                // A whole prefix ends at `i`: a new message begins.
                let from_input = PREFIX.len() - self.held;
                let start = i + 1 - from_input;
                self.text(&input[text_start..start], Some(text_start), sink);
                self.end(sink);
                sink(Piece::Start {
                    at: (self.held == 0).then_some(start),
                });
                self.in_message = true;
                self.bare = true;
                sink(Piece::Text(PREFIX));
                self.matched = 0;
                self.held = 0;
                text_start = i + 1;
            } else if self.matched > 0 {
                // The candidate was text after all. Bytes of it that came
                // from an earlier input go out first, from the prefix itself.
                if self.held > 0 {
                    self.text(&PREFIX[..self.held], Some(0), sink);
                    self.held = 0;
                }
                self.matched = usize::from(byte == PREFIX[0]);
            }
        }
        // Keep back what may be the start of the next prefix.
        let keep = self.matched - self.held;
        let end = input.len() - keep;
        self.text(&input[text_start..end], Some(text_start), sink);
    }

    /// The stream ended: completes the last message. A trailing part of a
    /// prefix is the start of a message the stream cut short: it is a
    /// message of its own, never glued to the one before, and
    /// [`Deframer::ended_mid_message`] says so.
    pub fn finish<'a>(&mut self, sink: &mut impl FnMut(Piece<'a>)) {
        if self.matched > 0 {
            self.cut = true;
            self.end(sink);
            self.text(&PREFIX[..self.matched], None, sink);
            self.matched = 0;
            self.held = 0;
        } else if self.in_message && self.bare {
            self.cut = true;
        }
        self.end(sink);
    }

    /// Emits `text` as part of the current message (opening one if none is
    /// open and the text is more than white space), holding back trailing
    /// white space.
    fn text<'a>(&mut self, text: &'a [u8], at: Option<usize>, sink: &mut impl FnMut(Piece<'a>)) {
        // White space before any message is not part of one, however the
        // reads fell.
        let text = match self.in_message {
            true => text,
            false => {
                let lead = text.iter().take_while(|b| b.is_ascii_whitespace()).count();
                &text[lead..]
            }
        };
        if text.is_empty() {
            return;
        }
        let body_len = text.len()
            - text
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        let (body, trailing) = text.split_at(body_len);
        if !self.in_message {
            // White space alone before any message is not a message.
            if body.is_empty() {
                return;
            }
            sink(Piece::Start { at });
            self.in_message = true;
        }
        if !body.is_empty() {
            self.flush_ws(sink);
            self.bare = false;
            sink(Piece::Text(body));
        }
        for &b in trailing {
            if self.ws.is_full() {
                // Too much white space to be a message's ending: it is text.
                self.flush_ws(sink);
            }
            // Room was just made.
            let _ = self.ws.push(b);
        }
    }

    fn flush_ws<'a>(&mut self, sink: &mut impl FnMut(Piece<'a>)) {
        for &b in &self.ws {
            sink(Piece::Text(ws_byte(b)));
        }
        self.ws.clear();
    }

    fn end<'a>(&mut self, sink: &mut impl FnMut(Piece<'a>)) {
        if self.in_message {
            self.ws.clear();
            self.in_message = false;
            self.bare = false;
            self.messages += 1;
            sink(Piece::End);
        }
    }
}

/// A `'static` one-byte slice for a held white-space byte.
fn ws_byte(b: u8) -> &'static [u8] {
    match b {
        b' ' => b" ",
        b'\t' => b"\t",
        b'\n' => b"\n",
        b'\r' => b"\r",
        _ => b"\x0c",
    }
}
