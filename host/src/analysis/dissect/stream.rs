//! What a reader of a connection's part is given, and one direction's
//! bytes put back in order for readers that parse records or frames
//! across segments (TLS, WebSocket).

use super::{Record, Side};

/// One data segment, as a reader of the connection's part sees it.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    pub side: Side,
    /// Stream offset of the first byte, when the handshake was seen.
    pub offset: Option<u64>,
    pub bytes: &'a [u8],
    /// These bytes were seen before.
    pub retransmission: bool,
}

/// One direction's bytes not yet parsed, in stream order.
#[derive(Debug, Default)]
pub struct InOrder {
    pub bytes: Vec<u8>,
    /// The stream offset just past what was received.
    next: Option<u64>,
    /// Bytes went missing from the capture: nothing after can be parsed.
    pub lost: bool,
}

impl InOrder {
    /// Adds a chunk's new bytes; false (and why, in `record`) if the
    /// direction cannot be followed (`what` names the protocol).
    pub fn push(&mut self, chunk: &Chunk<'_>, what: &str, record: &mut Record) -> bool {
        if chunk.retransmission {
            record.meaning.push(format!("{what} bytes sent again"));
            return false;
        }
        if self.lost {
            record.meaning.push(format!(
                "{} bytes ({what}, not followed)",
                chunk.bytes.len()
            ));
            return false;
        }
        let len = chunk.bytes.len() as u64;
        match (chunk.offset, self.next) {
            (Some(at), Some(next)) if at > next => {
                self.lost = true;
                record.meaning.push(format!(
                    "{} bytes missing from the capture: {what} not followed",
                    at - next
                ));
                return false;
            }
            (Some(at), Some(next)) if at < next => {
                let skip = usize::try_from(next - at).unwrap_or(usize::MAX);
                self.bytes
                    .extend_from_slice(chunk.bytes.get(skip..).unwrap_or_default());
            }
            _ => self.bytes.extend_from_slice(chunk.bytes),
        }
        self.next = match (chunk.offset, self.next) {
            (Some(at), Some(next)) => Some(next.max(at + len)),
            (Some(at), None) => Some(at + len),
            (None, next) => next.map(|n| n + len),
        };
        true
    }
}
