//! The PDC page `ws-pmu` serves to a plain `GET /`: one HTML response
//! with its CSS and JavaScript inline, built into the binary (no build
//! step, no external URL). One request, so the page loads even when the
//! PMU has a single session free. A Content-Security-Policy allows exactly
//! that style and that script (by their SHA-256) and a connection only to
//! the PMU that served it.

use std::sync::OnceLock;

const TEMPLATE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("pmu.js");
const STYLE: &str = include_str!("pmu.css");

/// The page, and the policy's sources for its inline style and script.
struct Page {
    html: String,
    style_hash: String,
    script_hash: String,
}

fn page() -> &'static Page {
    static PAGE: OnceLock<Page> = OnceLock::new();
    PAGE.get_or_init(|| {
        let hash = |text: &str| {
            let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
            format!("'sha256-{}'", data_encoding::BASE64.encode(digest.as_ref()))
        };
        Page {
            html: TEMPLATE
                .replace("/*STYLE*/", STYLE)
                .replace("/*SCRIPT*/", SCRIPT),
            style_hash: hash(STYLE),
            script_hash: hash(SCRIPT),
        }
    })
}

/// The HTTP response to a `GET` of `path` that is not an upgrade, and its
/// status. `host` is the request's Host header, if it is a plain
/// `name:port` (it goes into the policy's `connect-src`).
pub fn respond(path: &str, host: Option<&str>) -> (Vec<u8>, u16) {
    match path.split('?').next().unwrap_or(path) {
        "/" | "/index.html" => {}
        "/favicon.ico" => return (plain(204, "No Content", ""), 204),
        _ => {
            let body = "Not found: the PDC page is at /, the WebSocket PMU at ws://…/";
            return (plain(404, "Not Found", body), 404);
        }
    }
    let page = page();
    // 'self' covers ws: of the same host on current browsers; the explicit
    // source covers older ones.
    let connect = match host.filter(|h| is_plain_host(h)) {
        Some(host) => format!("'self' ws://{host}"),
        None => "'self'".to_string(),
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
Content-Security-Policy: default-src 'none'; script-src {}; style-src {}; connect-src {connect}; \
img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n\
X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nCache-Control: no-store\r\n\
Connection: close\r\n\r\n{}",
        page.html.len(),
        page.script_hash,
        page.style_hash,
        page.html
    );
    (response.into_bytes(), 200)
}

/// `name:port`, `1.2.3.4:port` or `[::1]:port`: nothing that could change
/// the policy's meaning.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

fn plain(status: u16, phrase: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(path: &str, host: Option<&str>) -> (String, u16) {
        let (bytes, status) = respond(path, host);
        (String::from_utf8_lossy(&bytes).into_owned(), status)
    }

    #[test]
    fn the_page_and_its_files_come_with_a_strict_policy() {
        let (page, status) = text("/", Some("127.0.0.1:5006"));
        assert_eq!(status, 200);
        assert!(page.contains("Content-Type: text/html"));
        assert!(page.contains("Content-Security-Policy: default-src 'none'; script-src 'sha256-"));
        assert!(page.contains("connect-src 'self' ws://127.0.0.1:5006;"));
        // Exactly one script and one style, the ones hashed; nothing from elsewhere.
        assert_eq!(page.matches("<script>").count(), 1);
        assert_eq!(page.matches("<style>").count(), 1);
        assert!(page.contains(SCRIPT) && page.contains(STYLE));
        assert!(!page.contains("/*SCRIPT*/") && !page.contains("https://"));
        let digest = ring::digest::digest(&ring::digest::SHA256, SCRIPT.as_bytes());
        let source = format!(
            "script-src 'sha256-{}'",
            data_encoding::BASE64.encode(digest.as_ref())
        );
        assert!(page.contains(&source), "{source}");
        assert_eq!(text("/pmu.js", None).1, 404);
        assert_eq!(text("/other", None).1, 404);
    }

    #[test]
    fn a_strange_host_stays_out_of_the_policy() {
        let (page, _) = text("/", Some("evil.example; script-src *"));
        assert!(page.contains("connect-src 'self';"), "{page}");
        assert!(!page.contains("evil"));
    }
}
