//! The server's side of the WebSocket opening handshake (RFC 6455, 4.2):
//! an HTTP/1.1 `GET` with the upgrade headers, answered `101 Switching
//! Protocols` — or the HTTP error that says why not.

use tungstenite::handshake::derive_accept_key;

/// The longest upgrade request read; a client that sends more is refused.
pub const MAX_REQUEST: usize = 8 * 1024;

/// What a request (so far) is.
#[derive(Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// More bytes are needed.
    Partial,
    /// A valid upgrade to `/`: the `101` answer, and how many bytes of the
    /// input the request took (what follows is WebSocket frames).
    Accept {
        /// The `101 Switching Protocols` response.
        response: Vec<u8>,
        /// The request's length.
        consumed: usize,
    },
    /// Not a valid upgrade: the HTTP error response and why, for the log.
    Refuse {
        /// The response.
        response: Vec<u8>,
        /// Why, in a few words.
        reason: String,
        /// The response's status.
        status: u16,
    },
}

/// Reads `request` (the bytes received so far) as an upgrade request.
pub fn upgrade(request: &[u8]) -> Upgrade {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    let consumed = match parsed.parse(request) {
        Ok(httparse::Status::Complete(consumed)) => consumed,
        Ok(httparse::Status::Partial) if request.len() < MAX_REQUEST => return Upgrade::Partial,
        Ok(httparse::Status::Partial) => {
            return refuse(
                431,
                "Request Header Fields Too Large",
                "the request is too long",
            );
        }
        Err(e) => return refuse(400, "Bad Request", &format!("not an HTTP request ({e})")),
    };
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if parsed.method != Some("GET")
        || !has_token("Upgrade", "websocket")
        || !has_token("Connection", "upgrade")
    {
        return refuse(400, "Bad Request", "not a WebSocket upgrade request");
    }
    if header("Sec-WebSocket-Version").as_deref().map(str::trim) != Some("13") {
        return refuse(400, "Bad Request", "not WebSocket version 13");
    }
    let Some(key) = header("Sec-WebSocket-Key") else {
        return refuse(400, "Bad Request", "no Sec-WebSocket-Key");
    };
    let path = parsed.path.unwrap_or("");
    if path.split('?').next() != Some("/") {
        return refuse(404, "Not Found", "the PMU is at path /");
    }
    let accept = derive_accept_key(key.trim().as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    Upgrade::Accept {
        response: response.into_bytes(),
        consumed,
    }
}

/// An HTTP error response that closes the connection, with `body` as text.
pub fn error_response(status: u16, phrase: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn refuse(status: u16, phrase: &str, reason: &str) -> Upgrade {
    Upgrade::Refuse {
        response: error_response(status, phrase, reason),
        reason: reason.to_string(),
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn the_rfc_s_example_is_accepted_with_its_key() {
        let mut input = REQUEST.as_bytes().to_vec();
        input.extend_from_slice(b"\x81\x85");
        let Upgrade::Accept { response, consumed } = upgrade(&input) else {
            panic!("refused");
        };
        assert_eq!(consumed, REQUEST.len());
        let text = String::from_utf8(response).unwrap_or_default();
        assert!(text.starts_with("HTTP/1.1 101"), "{text}");
        // RFC 6455, section 1.3.
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn partial_wrong_and_odd_requests() {
        assert_eq!(upgrade(&REQUEST.as_bytes()[..20]), Upgrade::Partial);
        let status = |r: &str| match upgrade(r.as_bytes()) {
            Upgrade::Refuse { status, .. } => status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status("hello there\r\n\r\n"), 400);
        assert_eq!(status(&REQUEST.replace("GET / ", "GET /other ")), 404);
        assert_eq!(status(&REQUEST.replace("Upgrade: websocket\r\n", "")), 400);
        assert_eq!(status(&REQUEST.replace("Version: 13", "Version: 8")), 400);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_REQUEST));
        assert_eq!(status(&long), 431);
    }
}
