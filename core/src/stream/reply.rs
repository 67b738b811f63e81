//! What a PMU's reply is, from its first bytes, and the `ERROR:` line —
//! the one copy of these wire rules for every client and server.
//!
//! A PMU answers a bad command (or a client it cannot serve) with one line
//! starting `ERROR:`. A client that reached the wrong server sees another
//! protocol's first bytes: a TLS record, or an HTTP response from a
//! WebSocket server.

/// What every refusal starts with.
pub const ERROR_MARK: &[u8] = b"ERROR:";

/// Why a full server turns a connection away.
pub const BUSY_REASON: &str = "server busy, try again later";

/// The bytes [`classify`] needs to decide.
pub const CLASSIFY_LEN: usize = ERROR_MARK.len();

/// What a reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyClass {
    /// The PMU's data: messages or the floodme text.
    Data,
    /// An `ERROR:` line: the PMU refused.
    Refusal,
    /// A TLS record: the server speaks TLS.
    Tls,
    /// An HTTP response: the server speaks WebSocket (or plain HTTP).
    Http,
}

/// Classifies a reply by its first bytes; `None` while fewer than
/// [`CLASSIFY_LEN`] have arrived and they could still be any of them.
pub fn classify(head: &[u8]) -> Option<ReplyClass> {
    if head.starts_with(ERROR_MARK) {
        return Some(ReplyClass::Refusal);
    }
    // An alert (21) or a handshake (22) of TLS 1.0–1.3, as a TLS server
    // sends to a client that spoke plain text to it.
    if matches!(head, [21 | 22, 3, 0..=4, ..]) {
        return Some(ReplyClass::Tls);
    }
    if head.starts_with(b"HTTP/") {
        return Some(ReplyClass::Http);
    }
    let undecided = head.len() < CLASSIFY_LEN
        && (ERROR_MARK.starts_with(head)
            || b"HTTP/".starts_with(head)
            || matches!(head, [21 | 22] | [21 | 22, 3]));
    match undecided {
        true => None,
        false => Some(ReplyClass::Data),
    }
}

/// Writes `ERROR: <reason>\n` at the start of `out`; returns its length,
/// cut to `out`'s.
pub fn write_error_line(reason: &str, out: &mut [u8]) -> usize {
    let mut len = 0;
    for part in [ERROR_MARK, b" ", reason.as_bytes(), b"\n"] {
        let end = (len + part.len()).min(out.len());
        out[len..end].copy_from_slice(&part[..end - len]);
        len = end;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_told_apart_by_their_first_bytes() {
        assert_eq!(
            classify(b"ERROR: unknown command"),
            Some(ReplyClass::Refusal)
        );
        assert_eq!(
            classify(b"HTTP/1.1 400 Bad Request"),
            Some(ReplyClass::Http)
        );
        assert_eq!(
            classify(&[0x15, 0x03, 0x03, 0x00, 0x02]),
            Some(ReplyClass::Tls)
        );
        assert_eq!(classify(b"This is PMU data 0"), Some(ReplyClass::Data));
        assert_eq!(classify(b"ERR"), None);
        assert_eq!(classify(b"HT"), None);
        assert_eq!(classify(b"Th"), Some(ReplyClass::Data));
        assert_eq!(classify(b""), None);
    }

    #[test]
    fn the_error_line() {
        let mut out = [0u8; 64];
        let n = write_error_line(BUSY_REASON, &mut out);
        assert_eq!(&out[..n], b"ERROR: server busy, try again later\n");
        let mut short = [0u8; 5];
        assert_eq!(write_error_line("x", &mut short), 5);
    }
}
