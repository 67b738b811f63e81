//! Part 6 in the bytes of a connection: the HTTP upgrade (httparse) and
//! its key headers, then WebSocket frames (tungstenite's frame header
//! parser) — FIN, opcode, mask, length — which frames make which message,
//! and close codes.

use std::io::Cursor;

use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use super::Record;
use super::stream::{Chunk, InOrder};
use super::text::quoted;

/// The longest frame payload held to read (a close code, a message's text).
const HELD_PAYLOAD: u64 = 1 << 20;

/// One direction of a WebSocket connection.
#[derive(Debug, Default)]
struct Direction {
    stream: InOrder,
    /// The HTTP head was read; frames follow.
    upgraded: bool,
    /// Frames of the message being sent so far.
    frames_in_message: u32,
    bytes_in_message: u64,
    /// A frame whose payload is being skipped (too big to hold).
    skipping: u64,
}

/// The reader of a WebSocket connection. Index 0: the client, 1: the server.
#[derive(Debug, Default)]
pub struct WsReader {
    sides: [Direction; 2],
    pub request: Option<String>,
    pub status: Option<u16>,
    /// Per direction: frames per complete message, in order.
    pub frames_per_message: [Vec<u32>; 2],
    pub close_codes: [Option<u16>; 2],
    pub frames: [u64; 2],
    pub masked: [u64; 2],
}

impl WsReader {
    pub fn handle(&mut self, chunk: &Chunk<'_>, record: &mut Record) {
        let dir = chunk.side.index();
        if !self.sides[dir].stream.push(chunk, "WebSocket", record) {
            return;
        }
        if !self.sides[dir].upgraded && !self.read_head(dir, record) {
            return;
        }
        self.read_frames(dir, record);
    }

    /// Reads the HTTP request or response; true once it is complete.
    fn read_head(&mut self, dir: usize, record: &mut Record) -> bool {
        let side = &mut self.sides[dir];
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let (parsed, text) = if dir == 0 {
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&side.stream.bytes) {
                Ok(httparse::Status::Complete(n)) => {
                    let line = format!(
                        "HTTP upgrade request: {} {}{}",
                        request.method.unwrap_or("?"),
                        request.path.unwrap_or("?"),
                        key_headers(
                            request.headers,
                            &["Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version"]
                        )
                    );
                    self.request = Some(line.clone());
                    (Some(n), line)
                }
                Ok(httparse::Status::Partial) => (None, "part of an HTTP request".into()),
                Err(e) => (
                    Some(side.stream.bytes.len()),
                    format!("not an HTTP request ({e})"),
                ),
            }
        } else {
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&side.stream.bytes) {
                Ok(httparse::Status::Complete(n)) => {
                    self.status = response.code;
                    (
                        Some(n),
                        format!(
                            "HTTP {} {}{}",
                            response.code.unwrap_or(0),
                            response.reason.unwrap_or(""),
                            key_headers(response.headers, &["Upgrade", "Sec-WebSocket-Accept"])
                        ),
                    )
                }
                Ok(httparse::Status::Partial) => (None, "part of an HTTP response".into()),
                Err(e) => (
                    Some(side.stream.bytes.len()),
                    format!("not an HTTP response ({e})"),
                ),
            }
        };
        record.meaning.push(text);
        match parsed {
            Some(n) => {
                side.stream.bytes.drain(..n.min(side.stream.bytes.len()));
                side.upgraded = true;
                true
            }
            None => false,
        }
    }

    fn read_frames(&mut self, dir: usize, record: &mut Record) {
        loop {
            let side = &mut self.sides[dir];
            if side.skipping > 0 {
                let n = side.skipping.min(side.stream.bytes.len() as u64);
                side.stream.bytes.drain(..n as usize);
                side.skipping -= n;
                if side.skipping > 0 {
                    record.meaning.push("part of a frame's payload".into());
                    return;
                }
                continue;
            }
            if side.stream.bytes.is_empty() {
                return;
            }
            let mut cursor = Cursor::new(side.stream.bytes.as_slice());
            let (header, len) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => {
                    record.meaning.push("part of a frame header".into());
                    return;
                }
                Err(e) => {
                    record.meaning.push(format!("not a WebSocket frame: {e}"));
                    side.stream.lost = true;
                    return;
                }
            };
            let head_len = cursor.position() as usize;
            let held = side.stream.bytes.len() - head_len;
            if len > HELD_PAYLOAD {
                // Told at once; its payload is skipped as it arrives.
                side.stream.bytes.drain(..head_len);
                side.skipping = len;
                self.frame(dir, &header, len, None, record);
                continue;
            }
            if (held as u64) < len {
                record.meaning.push(format!(
                    "part of a frame ({} of {} payload bytes)",
                    held, len
                ));
                return;
            }
            let mut payload = side.stream.bytes[head_len..head_len + len as usize].to_vec();
            side.stream.bytes.drain(..head_len + len as usize);
            if let Some(mask) = header.mask {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
            }
            self.frame(dir, &header, len, Some(&payload), record);
        }
    }

    /// Tells one frame, and the message it ends.
    fn frame(
        &mut self,
        dir: usize,
        header: &FrameHeader,
        len: u64,
        payload: Option<&[u8]>,
        record: &mut Record,
    ) {
        let opcode = u8::from(header.opcode);
        record.ws_opcodes.push(opcode);
        self.frames[dir] += 1;
        if header.mask.is_some() {
            self.masked[dir] += 1;
        }
        let name = match header.opcode {
            OpCode::Data(Data::Continue) => "continuation",
            OpCode::Data(Data::Text) => "text",
            OpCode::Data(Data::Binary) => "binary",
            OpCode::Control(Control::Close) => "close",
            OpCode::Control(Control::Ping) => "ping",
            OpCode::Control(Control::Pong) => "pong",
            _ => "reserved opcode",
        };
        let mut text = format!(
            "frame: {name}, {}, {}, {len} bytes",
            if header.is_final { "FIN" } else { "not FIN" },
            if header.mask.is_some() {
                "masked"
            } else {
                "unmasked"
            },
        );
        match header.opcode {
            OpCode::Control(Control::Close) => {
                let code = payload
                    .and_then(|p| p.get(..2))
                    .map(|c| u16::from_be_bytes([c[0], c[1]]));
                self.close_codes[dir] = self.close_codes[dir].or(code);
                if let Some(code) = code {
                    text.push_str(&format!(", close code {code} ({})", close_meaning(code)));
                }
            }
            OpCode::Data(_) => {
                let side = &mut self.sides[dir];
                side.frames_in_message += 1;
                side.bytes_in_message += len;
                if let Some(p) = payload
                    .filter(|p| !p.is_empty() && header.is_final && side.frames_in_message == 1)
                {
                    text.push_str(&format!(": {}", quoted(p)));
                }
                if header.is_final {
                    let frames = side.frames_in_message;
                    if frames > 1 {
                        text.push_str(&format!(
                            "; ends a message of {frames} frames, {} bytes",
                            side.bytes_in_message
                        ));
                    }
                    self.frames_per_message[dir].push(frames);
                    side.frames_in_message = 0;
                    side.bytes_in_message = 0;
                }
            }
            OpCode::Control(_) => {}
        }
        record.meaning.push(text);
    }
}

/// The named headers present, as `; Name: value`.
fn key_headers(headers: &[httparse::Header<'_>], names: &[&str]) -> String {
    let mut out = String::new();
    for name in names {
        if let Some(h) = headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)) {
            out.push_str(&format!(
                "; {}: {}",
                h.name,
                String::from_utf8_lossy(h.value)
            ));
        }
    }
    out
}

/// RFC 6455 §7.4.1.
fn close_meaning(code: u16) -> &'static str {
    match code {
        1000 => "normal",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unacceptable data",
        1007 => "invalid data",
        1008 => "policy",
        1009 => "message too big",
        1011 => "server error",
        _ => "other",
    }
}
