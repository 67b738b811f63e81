//! Part 6 in a real browser: `ws-pmu` serves its PDC page, and Debian's
//! Chromium (headless, through chromedriver, driven by selenium in
//! `tests/peers/browser_pdc.py`) loads it, presses its buttons and reads
//! what it shows. Everything stays on loopback.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pmulab_tests::{Server, peer, pmulab_cmd, python, run};
use serde_json::Value;

fn ws_pmu(extra: &[&str]) -> Server {
    let mut cmd = pmulab_cmd(["ws-pmu", "--port", "0", "-v"]);
    cmd.args(extra);
    Server::start(cmd, false)
}

/// The raw HTTP answer to a plain GET.
fn get(port: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn lines(run: &Value) -> Vec<&str> {
    run["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect()
}

#[test]
fn the_page_works_in_chromium_and_other_origins_are_refused() {
    // The page is one response under a strict policy.
    let main = ws_pmu(&[]);
    let page = get(&main.port(), "/");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(
        page.contains("Content-Security-Policy: default-src 'none'; script-src 'sha256-"),
        "{page}"
    );
    assert!(page.contains(&format!(
        "connect-src 'self' ws://127.0.0.1:{};",
        main.port()
    )));
    assert!(get(&main.port(), "/nothing").starts_with("HTTP/1.1 404"));

    let slow = ws_pmu(&["--count", "3", "--max-sessions", "2"]);
    let shot = std::env::temp_dir().join(format!("pmulab-page-{}.png", std::process::id()));
    let mut browser = Command::new(python());
    browser
        .arg(peer("browser_pdc.py"))
        .arg(format!("http://127.0.0.1:{}/", main.port()))
        .arg(format!("http://127.0.0.1:{}/", slow.port()))
        .arg(&shot);
    let out = run(browser, Duration::from_secs(120));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let result: Value = serde_json::from_str(&out.stdout).unwrap();

    assert_eq!(result["title"], "pmulab — the PMU over WebSocket");
    let short0 = &result["short0"];
    let expected: Vec<String> = (0..15).map(|i| format!("This is PMU data {i}")).collect();
    assert_eq!(lines(short0), expected, "{short0}");
    assert_eq!(short0["kind"], "done");
    assert_eq!(short0["close"], "1000");
    assert_eq!(short0["messages"], "15");

    let flood = &result["floodme"];
    assert_eq!(flood["lines"][0]["size"], 57344, "{flood}");
    assert!(
        lines(flood)[0].starts_with("one binary message of 57,344 bytes, whole"),
        "{flood}"
    );
    assert_eq!(flood["bytes"], "57,344");

    let refused = &result["refused"];
    assert_eq!(refused["kind"], "error");
    assert!(
        refused["state"]
            .as_str()
            .unwrap()
            .starts_with("The PMU refused the command: ERROR: unknown command"),
        "{refused}"
    );
    assert!(refused["close"].as_str().unwrap().starts_with("1008"));

    let busy = &result["busy"];
    assert_eq!(busy["kind"], "error", "{busy}");
    assert!(
        busy["state"].as_str().unwrap().contains("every session"),
        "{busy}"
    );
    assert_eq!(busy["close"], "1006");

    // CMD_short:1: the messages arrive a second apart.
    let short1 = &result["short1"];
    assert_eq!(lines(short1).len(), 3, "{short1}");
    let times: Vec<f64> = short1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["time"].as_f64().unwrap())
        .collect();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((0.9..1.5).contains(&gap), "gaps {times:?}");
    }

    // A page of another origin got no WebSocket, and the PMU says why.
    let cross = &result["cross_origin"];
    assert_eq!(cross["title"], "closed 1006", "{cross}");
    let origin = cross["origin"].as_str().unwrap();
    let said = main
        .wait_for_log(
            &format!("a page from {origin} may not drive this PMU"),
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("no refusal logged: {:?}", main.log_lines()));
    assert!(said.contains("answered HTTP 403"), "{said}");

    // The screenshot is a real PNG of the page.
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        png.len()
    );
    if let Ok(keep) = std::env::var("PMULAB_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, Path::new(&keep)).unwrap();
    }
    let _ = std::fs::remove_file(&shot);
}

#[test]
fn an_allowed_origin_is_served_and_programs_without_one_always_are() {
    let pmu = ws_pmu(&["--allow-origin", "http://127.0.0.1:8000"]);
    let script = "import sys, websocket\n\
ws = websocket.create_connection(sys.argv[1], origin=sys.argv[2] if len(sys.argv) > 2 else None, suppress_origin=len(sys.argv) == 2)\n\
ws.send('CMD_short:0'); print(ws.recv())\n";
    let url = format!("ws://127.0.0.1:{}/", pmu.port());
    for origin in [None, Some("http://127.0.0.1:8000")] {
        let mut client = Command::new(python());
        client.args(["-c", script, &url]).args(origin);
        let out = run(client, Duration::from_secs(20));
        assert_eq!(out.code(), 0, "{origin:?}: {}", out.stderr);
        assert!(out.stdout.contains("This is PMU data 0"), "{}", out.stdout);
    }
    let mut client = Command::new(python());
    client.args(["-c", script, &url, "http://evil.example"]);
    let out = run(client, Duration::from_secs(20));
    assert_ne!(out.code(), 0);
    assert!(out.stderr.contains("403"), "{}", out.stderr);
    // A bad --allow-origin is refused before anything listens.
    let bad = run(
        pmulab_cmd(["ws-pmu", "--port", "0", "--allow-origin", "127.0.0.1:8000"]),
        Duration::from_secs(10),
    );
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr.contains("is not an origin"), "{}", bad.stderr);
}
