//! The server's side of the WebSocket opening handshake (RFC 6455, 4.2):
//! an HTTP/1.1 `GET` with the upgrade headers, answered `101 Switching
//! Protocols` — or the HTTP error that says why not. A plain `GET` (no
//! upgrade) gets the PDC page. An upgrade from a browser page of another
//! origin is refused unless allowed (RFC 6455, 10.2): a website open in the
//! student's browser must not be able to drive the PMU.

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
    /// A plain request for the page (or one of its files): the response.
    Page {
        /// The response.
        response: Vec<u8>,
        /// Its status.
        status: u16,
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

/// Which browser pages may open a WebSocket to the PMU, besides its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    /// Any page (`--allow-origin '*'`).
    pub any: bool,
    /// These origins (`http://host:port`, as browsers send them).
    pub allowed: Vec<String>,
}

impl Origins {
    /// Whether a request with `origin` to `host` may upgrade: no Origin (not
    /// a browser), the page's own origin, or an allowed one.
    fn admit(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin.map(str::trim) else {
            return true;
        };
        let own =
            host.is_some_and(|h| origin.eq_ignore_ascii_case(&format!("http://{}", h.trim())));
        own || self.any || self.allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
    }
}

/// Reads `request` (the bytes received so far) as an upgrade request.
pub fn upgrade(request: &[u8], origins: &Origins) -> Upgrade {
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
    let path = parsed.path.unwrap_or("");
    if matches!(parsed.method, Some("GET" | "HEAD")) && header("Upgrade").is_none() {
        let (mut response, status) = super::page::respond(path, header("Host").as_deref());
        if parsed.method == Some("HEAD") {
            let head = response.windows(4).position(|w| w == b"\r\n\r\n");
            response.truncate(head.map_or(response.len(), |at| at + 4));
        }
        return Upgrade::Page { response, status };
    }
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
    if path.split('?').next() != Some("/") {
        return refuse(404, "Not Found", "the PMU is at path /");
    }
    let origin = header("Origin");
    if !origins.admit(origin.as_deref(), header("Host").as_deref()) {
        let origin = origin.unwrap_or_default();
        return refuse(
            403,
            "Forbidden",
            &format!(
                "a page from {} may not drive this PMU (only its own page may; ws-pmu --allow-origin {} allows it)",
                origin.trim(),
                origin.trim()
            ),
        );
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
        let Upgrade::Accept { response, consumed } = upgrade(&input, &Origins::default()) else {
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
        assert_eq!(
            upgrade(&REQUEST.as_bytes()[..20], &Origins::default()),
            Upgrade::Partial
        );
        let status = |r: &str| match upgrade(r.as_bytes(), &Origins::default()) {
            Upgrade::Refuse { status, .. } | Upgrade::Page { status, .. } => status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status("hello there\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
        assert_eq!(status("POST / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
        let Upgrade::Page { response, .. } =
            upgrade(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", &Origins::default())
        else {
            panic!("HEAD / is not the page");
        };
        assert!(response.starts_with(b"HTTP/1.1 200 OK") && response.ends_with(b"\r\n\r\n"));
        assert_eq!(status(&REQUEST.replace("GET / ", "GET /other ")), 404);
        // Without Upgrade it is a browser asking for the page.
        assert_eq!(status(&REQUEST.replace("Upgrade: websocket\r\n", "")), 200);
        assert_eq!(
            status(&REQUEST.replace("Upgrade: websocket", "Upgrade: h2c")),
            400
        );
        assert_eq!(status(&REQUEST.replace("Version: 13", "Version: 8")), 400);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_REQUEST));
        assert_eq!(status(&long), 431);
    }
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    fn status(origin: Option<&str>, origins: &Origins) -> u16 {
        let mut request = String::from(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:5006\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        );
        if let Some(origin) = origin {
            request.push_str(&format!("Origin: {origin}\r\n"));
        }
        request.push_str("\r\n");
        match upgrade(request.as_bytes(), origins) {
            Upgrade::Accept { .. } => 101,
            Upgrade::Refuse { status, .. } | Upgrade::Page { status, .. } => status,
            Upgrade::Partial => 0,
        }
    }

    #[test]
    fn only_the_pmu_s_own_page_and_clients_without_origin_are_served() {
        let none = Origins::default();
        assert_eq!(status(None, &none), 101, "a program, not a browser");
        assert_eq!(
            status(Some("http://127.0.0.1:5006"), &none),
            101,
            "its own page"
        );
        assert_eq!(status(Some("http://evil.example"), &none), 403);
        assert_eq!(
            status(Some("http://127.0.0.1:8000"), &none),
            403,
            "another port is another origin"
        );
        assert_eq!(status(Some("null"), &none), 403, "a file:// page");
        let listed = Origins {
            any: false,
            allowed: vec!["http://127.0.0.1:8000".into()],
        };
        assert_eq!(status(Some("http://127.0.0.1:8000"), &listed), 101);
        assert_eq!(status(Some("http://evil.example"), &listed), 403);
        let any = Origins {
            any: true,
            allowed: Vec::new(),
        };
        assert_eq!(status(Some("http://evil.example"), &any), 101);
    }
}
