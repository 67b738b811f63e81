//! `pmulab capture` against Wireshark's own dissector: real sessions of
//! every part, pmulab's and Python's, captured on loopback by pmulab, then
//! read by tshark from the same pcapng — frame counts, TCP flags, relative
//! sequence numbers, lengths, windows, TLS handshake types and WebSocket
//! opcodes must agree. Capturing needs root or CAP_NET_RAW (CI runs as
//! root); each test captures only its own servers' ports.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pmulab_tests::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn require_capture() {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "capture tests need root (a packet socket); CI runs them as root"
    );
    let found = Command::new("sh")
        .args(["-c", "command -v tshark"])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "tshark is missing: apt-get install tshark"
    );
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("pmulab-capture-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `pmulab capture --port P -w FILE --json -- COMMAND…`: the records.
fn capture(port: &str, file: &Path, command: Command) -> Vec<Value> {
    let mut cmd = pmulab_cmd(["capture", "--port", port, "--json", "-w"]);
    cmd.arg(file)
        .arg("--")
        .arg(command.get_program())
        .args(command.get_args());
    for (k, v) in command.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("packets"), "{}", out.stderr);
    records(&out.stdout)
}

fn records(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `pmulab capture -r FILE --port P --json`: the records read back from the file.
fn read_back(file: &Path, port: &str) -> Vec<Value> {
    let mut cmd = pmulab_cmd(["capture", "--json", "--port", port, "-r"]);
    cmd.arg(file);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    records(&out.stdout)
}

/// A JSON array of numbers as strings.
fn listed(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().map(Value::to_string).collect())
        .unwrap_or_default()
}

/// tshark's aggregated field as a list.
fn split(field: &str) -> Vec<String> {
    field
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
        None => s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}")),
    }
}

/// Every TCP header field pmulab shows is the one tshark reads.
fn tcp_agrees(file: &Path, port: &str, ours: &[Value]) {
    let theirs = tshark::fields(
        file,
        &[
            "frame.number",
            "tcp.flags",
            "tcp.len",
            "tcp.seq",
            "tcp.ack",
            "tcp.window_size",
        ],
        &[],
    );
    assert_eq!(theirs.len(), ours.len(), "frames in the file");
    for (row, record) in theirs.iter().zip(ours) {
        let tcp = &record["tcp"];
        let at = &row[0];
        assert_eq!(record["number"].as_u64(), Some(num(at)), "frame {at}");
        assert_eq!(
            tcp["flags"].as_u64(),
            Some(num(&row[1]) & 0x1f),
            "flags, frame {at}"
        );
        assert_eq!(tcp["len"].as_u64(), Some(num(&row[2])), "len, frame {at}");
        assert_eq!(tcp["seq"].as_u64(), Some(num(&row[3])), "seq, frame {at}");
        assert_eq!(tcp["ack"].as_u64(), Some(num(&row[4])), "ack, frame {at}");
        assert_eq!(
            tcp["window"].as_u64(),
            Some(num(&row[5])),
            "window, frame {at}"
        );
    }
    // And the file reads back as it was captured.
    let again = read_back(file, port);
    assert_eq!(again.len(), ours.len());
    for (a, b) in again.iter().zip(ours) {
        assert_eq!(a["tcp"], b["tcp"]);
        assert_eq!(a["meaning"], b["meaning"]);
    }
}

fn meanings(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .flat_map(|r| r["meaning"].as_array().cloned().unwrap_or_default())
        .map(|m| m.as_str().unwrap_or_default().to_string())
        .collect()
}

fn summary(file: &Path, port: &str) -> String {
    let mut cmd = pmulab_cmd(["capture", "--summary", "--port", port, "-r"]);
    cmd.arg(file);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{out:?}");
    out.stdout
}

#[test]
fn part_2_segments_agree_with_tshark_for_the_course_s_pmu_and_pmulab_s() {
    require_capture();
    let scratch = Scratch::new("part2");
    // The course's PMU (Python), pmulab's PDC, d = 0.
    let mut py = Command::new(python());
    py.arg(peer("course_pmu.py"))
        .args(["--port", "0", "--count", "15"]);
    let course = Server::start(py, true);
    let file = scratch.path("short0.pcapng");
    let ours = capture(
        &course.port(),
        &file,
        pmulab_cmd(["pdc", "127.0.0.1", &course.port(), "CMD_short:0"]),
    );
    tcp_agrees(&file, &course.port(), &ours);
    let said = meanings(&ours);
    assert!(said.iter().any(|m| m == "command CMD_short:0"), "{said:?}");
    assert!(said.iter().any(|m| m == "handshake 3/3: ACK"), "{said:?}");
    let text = summary(&file, &course.port());
    assert!(text.contains("15 messages in"), "{text}");

    // pmulab's PMU, a student's Python PDC, d = 1 (three messages): one a segment.
    let pmu = start_pmu(&["--count", "3"]);
    let file = scratch.path("short1.pcapng");
    let mut student = Command::new(python());
    student
        .arg(peer("student_pdc.py"))
        .args(["127.0.0.1", &pmu.port(), "CMD_short:1"]);
    let ours = capture(&pmu.port(), &file, student);
    tcp_agrees(&file, &pmu.port(), &ours);
    let text = summary(&file, &pmu.port());
    assert!(
        text.contains("3 messages in 3 data segments (messages per segment: 1 ×3)"),
        "{text}"
    );
    let server_data = tshark::fields(
        &file,
        &["tcp.len"],
        &["-Y", &format!("tcp.srcport=={} && tcp.len>0", pmu.port())],
    );
    assert_eq!(
        server_data.len(),
        3,
        "tshark counts 3 data segments from the PMU"
    );

    // floodme: byte ranges that add up, in as many segments as tshark counts.
    let pmu = start_pmu(&["--flood-bytes", "300000"]);
    let file = scratch.path("flood.pcapng");
    let ours = capture(
        &pmu.port(),
        &file,
        pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_floodme"]),
    );
    tcp_agrees(&file, &pmu.port(), &ours);
    let segments = tshark::fields(
        &file,
        &["tcp.len"],
        &["-Y", &format!("tcp.srcport=={} && tcp.len>0", pmu.port())],
    );
    let text = summary(&file, &pmu.port());
    assert!(
        text.contains(&format!(
            "floodme: 300,000 bytes in {} data segments",
            segments.len()
        )),
        "{text} (tshark: {} segments)",
        segments.len()
    );
    let said = meanings(&ours);
    assert!(
        said.iter().any(|m| m.starts_with("floodme bytes 0–")),
        "{said:?}"
    );
    assert!(said.iter().any(|m| m.ends_with("–299,999")), "{said:?}");
}

fn tls_material(scratch: &Scratch) -> (String, String, String) {
    let dir = &scratch.0;
    let run_in = |args: &[&str]| {
        let mut cmd = pmulab_cmd(args);
        cmd.current_dir(dir);
        let out = run(cmd, LIMIT);
        assert_eq!(out.code(), 0, "{out:?}");
    };
    run_in(&["ca", "init", "ca"]);
    run_in(&["ca", "request", ".", "--cn", "localhost", "--rsa"]);
    run_in(&[
        "ca",
        "sign",
        "localhost.csr",
        "--ca",
        "ca",
        "--out",
        "localhost.crt",
        "--course",
    ]);
    let p = |f: &str| dir.join(f).display().to_string();
    (p("ca/ca.crt"), p("localhost.crt"), p("localhost_key.pem"))
}

#[test]
fn part_5_handshakes_agree_with_tshark_and_pmulab_s_sessions_decrypt_in_it() {
    require_capture();
    let scratch = Scratch::new("part5");
    let (ca, cert, key) = tls_material(&scratch);
    let pmu = Server::start(
        pmulab_cmd(["secure-pmu", "0", &cert, &key, "--count", "3"]),
        false,
    );

    // TLS 1.2 with openssl's client: the certificate travels in clear.
    let file = scratch.path("tls12.pcapng");
    let mut client = Command::new("sh");
    client.args([
        "-c",
        &format!(
            "printf CMD_short:0 | openssl s_client -tls1_2 -connect 127.0.0.1:{} -CAfile {ca} -quiet",
            pmu.port()
        ),
    ]);
    let ours = capture(&pmu.port(), &file, client);
    tcp_agrees(&file, &pmu.port(), &ours);
    let theirs = tshark::fields(
        &file,
        &["frame.number", "tls.handshake.type"],
        &["-o", "tls.keylog_file:"],
    );
    for (row, record) in theirs.iter().zip(&ours) {
        assert_eq!(
            listed(&record["tls_handshake"]),
            split(&row[1]),
            "handshake types, frame {}",
            row[0]
        );
    }
    let text = summary(&file, &pmu.port());
    assert!(text.contains("TLS: TLS 1.2 with"), "{text}");
    assert!(
        text.contains("certificate 1: CN=localhost (X.509 v1, RSA 2048 bits) issued by CN="),
        "{text}"
    );
    let subjects = tshark::fields(
        &file,
        &["x509sat.printableString", "x509sat.uTF8String"],
        &["-Y", "tls.handshake.type==11"],
    );
    assert!(
        subjects.iter().flatten().any(|s| s.contains("localhost")),
        "{subjects:?}"
    );

    // TLS 1.3 with pmulab's client: its secrets go into the file, and tshark
    // finds the encrypted certificate and the messages with them.
    let file = scratch.path("tls13.pcapng");
    let ours = capture(
        &pmu.port(),
        &file,
        pmulab_cmd(["secure-pdc", "CMD_short:0", &ca, "--port", &pmu.port()]),
    );
    tcp_agrees(&file, &pmu.port(), &ours);
    let decrypted = tshark::fields(&file, &["tls.handshake.type"], &["-Y", "tls"]);
    assert!(
        decrypted
            .iter()
            .flatten()
            .any(|t| t.split(',').any(|x| x == "11")),
        "tshark decrypts the Certificate with the secrets in the file: {decrypted:?}"
    );
    let text = summary(&file, &pmu.port());
    assert!(text.contains("TLS: TLS 1.3 with TLS"), "{text}");
    // Without the secrets, tshark's record types are the ones pmulab read.
    let bare = scratch.path("bare.pcapng");
    let out = run(
        {
            let mut c = Command::new("editcap");
            c.arg("--discard-all-secrets").arg(&file).arg(&bare);
            c
        },
        LIMIT,
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let theirs = tshark::fields(
        &bare,
        &["tls.record.content_type", "tls.record.opaque_type"],
        &[],
    );
    for (row, record) in theirs.iter().zip(&ours) {
        let mut types: Vec<String> = row.iter().flat_map(|f| split(f)).collect();
        types.sort();
        let mut ours = listed(&record["tls_records"]);
        ours.sort();
        assert_eq!(ours, types, "record types, frame {}", record["number"]);
    }
}

#[test]
fn part_6_frames_agree_with_tshark() {
    require_capture();
    let scratch = Scratch::new("part6");
    let pmu = Server::start(
        pmulab_cmd([
            "ws-pmu",
            "--port",
            "0",
            "--fragment",
            "4096",
            "--flood-bytes",
            "20000",
        ]),
        false,
    );
    let file = scratch.path("ws.pcapng");
    let ours = capture(
        &pmu.port(),
        &file,
        pmulab_cmd(["pdc", "--ws", "127.0.0.1", &pmu.port(), "CMD_floodme"]),
    );
    tcp_agrees(&file, &pmu.port(), &ours);
    let decode = format!("tcp.port=={},http", pmu.port());
    let theirs = tshark::fields(
        &file,
        &["frame.number", "websocket.opcode"],
        &["-d", &decode],
    );
    for (row, record) in theirs.iter().zip(&ours) {
        let ours = listed(&record["ws_opcodes"]);
        let theirs: Vec<String> = split(&row[1]).iter().map(|s| num(s).to_string()).collect();
        assert_eq!(ours, theirs, "opcodes, frame {}", row[0]);
    }
    let text = summary(&file, &pmu.port());
    assert!(text.contains("upgrade answered: HTTP 101"), "{text}");
    assert!(
        text.contains(
            "PMU: 1 message in 6 frames (0 masked); frames per message: 5; close code 1000"
        ),
        "{text}"
    );

    // The course's Python server and a student's client.
    let mut py = Command::new(python());
    py.arg(peer("course_ws_pmu.py"))
        .args(["--port", "0", "--count", "4"]);
    let course = Server::start(py, true);
    let file = scratch.path("course.pcapng");
    let mut student = Command::new(python());
    student
        .arg(peer("student_ws_pdc.py"))
        .args(["127.0.0.1", &course.port(), "CMD_short:0"]);
    let ours = capture(&course.port(), &file, student);
    tcp_agrees(&file, &course.port(), &ours);
    let text = summary(&file, &course.port());
    assert!(text.contains("PMU: 4 messages in"), "{text}");
    assert!(text.contains("PDC: 1 message in"), "{text}");
}

#[test]
fn parts_3_and_4_datagrams_agree_with_tshark() {
    require_capture();
    let scratch = Scratch::new("udp");
    let pmu = Server::start(
        pmulab_cmd([
            "reset-pmu",
            "--port",
            "0",
            "--family",
            "4",
            "--loss",
            "0.5",
            "--seed",
            "7",
        ]),
        false,
    );
    let file = scratch.path("reset.pcapng");
    let ours = capture(
        &pmu.port(),
        &file,
        pmulab_cmd([
            "reset",
            "127.0.0.1",
            &pmu.port(),
            "--timeout",
            "0.2",
            "--max-attempts",
            "8",
        ]),
    );
    let theirs = tshark::fields(&file, &["frame.number", "udp.length", "ip.ttl"], &[]);
    assert_eq!(theirs.len(), ours.len());
    for (row, record) in theirs.iter().zip(&ours) {
        assert_eq!(
            record["udp_len"].as_u64(),
            Some(num(&row[1]) - 8),
            "frame {}",
            row[0]
        );
    }
    let said = meanings(&ours);
    let requests = said
        .iter()
        .filter(|m| m.starts_with("RESET:20 request #"))
        .count();
    let answers = said.iter().filter(|m| m.starts_with("OFFSET=")).count();
    assert!(requests >= 1 && answers == 1, "{said:?}");
    let text = summary(&file, &pmu.port());
    assert!(
        text.contains(&format!(
            "{} without an answer before the next",
            requests - 1
        )),
        "{text}"
    );

    // Multicast on loopback, with a TTL the sender chose.
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port().to_string()
    };
    let file = scratch.path("multicast.pcapng");
    let mut sender = Command::new("sh");
    sender.args([
        "-c",
        &format!(
            "printf 'Hello, group\\nsecond\\n' | {} sender 224.1.1.1 {port} 123456 --ttl 3",
            pmulab().display()
        ),
    ]);
    let ours = capture(&port, &file, sender);
    let theirs = tshark::fields(&file, &["ip.ttl", "ip.dst"], &[]);
    assert_eq!(theirs.len(), 2);
    assert!(
        theirs.iter().all(|r| r[0] == "3" && r[1] == "224.1.1.1"),
        "{theirs:?}"
    );
    assert!(ours.iter().all(|r| r["ttl"] == 3));
    let said = meanings(&ours);
    assert!(
        said[0].contains("id 123456, text 12 bytes: \"Hello, group\""),
        "{said:?}"
    );
}

/// A pcapng's Enhanced Packet Blocks' frames.
fn frames_of(pcapng: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 12 <= pcapng.len() {
        let kind = u32::from_le_bytes(pcapng[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(pcapng[at + 4..at + 8].try_into().unwrap()) as usize;
        if kind == 6 {
            let caplen = u32::from_le_bytes(pcapng[at + 20..at + 24].try_into().unwrap()) as usize;
            frames.push(pcapng[at + 28..at + 28 + caplen].to_vec());
        }
        at += len;
    }
    frames
}

/// A classic pcap of Ethernet frames, a millisecond apart.
fn legacy_pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&(i as u32 * 1000).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[test]
fn a_planted_retransmission_and_reset_and_damaged_files() {
    require_capture();
    let scratch = Scratch::new("planted");
    let pmu = start_pmu(&["--count", "2"]);
    let file = scratch.path("real.pcapng");
    capture(
        &pmu.port(),
        &file,
        pmulab_cmd(["pdc", "127.0.0.1", &pmu.port(), "CMD_short:1"]),
    );
    let mut frames = frames_of(&std::fs::read(&file).unwrap());
    // The PMU's first message again, and a reset from the PDC at the end.
    let data = theirs_first_data(&file, &pmu.port());
    let copy = frames[data - 1].clone();
    frames.insert(data + 1, copy);
    let mut rst = frames[2].clone(); // the handshake's ACK, from the PDC
    rst[14 + 20 + 13] = 0x04; // flags: RST only
    frames.push(rst);
    let planted = scratch.path("planted.pcap");
    std::fs::write(&planted, legacy_pcap(&frames)).unwrap();
    let ours = read_back(&planted, &pmu.port());
    let flagged = tshark::fields(
        &planted,
        &["frame.number"],
        &["-Y", "tcp.analysis.retransmission"],
    );
    let ours_flagged: Vec<u64> = ours
        .iter()
        .filter(|r| {
            meanings(std::slice::from_ref(r))
                .iter()
                .any(|m| m == "retransmission")
        })
        .map(|r| r["number"].as_u64().unwrap())
        .collect();
    let theirs_flagged: Vec<u64> = flagged.iter().map(|r| num(&r[0])).collect();
    assert_eq!(ours_flagged, theirs_flagged, "retransmissions");
    let last = ours.last().unwrap();
    assert_eq!(last["tcp"]["flags"], 4);
    assert!(
        meanings(std::slice::from_ref(last))[0].starts_with("reset by the PDC"),
        "{last}"
    );

    // Cut short, damaged, not a capture: a clear error, never a panic.
    let bytes = std::fs::read(&planted).unwrap();
    let cut = scratch.path("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let mut cmd = pmulab_cmd(["capture", "--port", &pmu.port(), "-r"]);
    cmd.arg(&cut);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("the file is cut short"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.lines().count() > 3,
        "the packets before it are shown"
    );
    let text = scratch.path("text.pcap");
    std::fs::write(&text, "not a capture\n").unwrap();
    let mut cmd = pmulab_cmd(["capture", "-r"]);
    cmd.arg(&text);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("not a capture file"), "{}", out.stderr);
}

/// The frame number of the PMU's first data segment.
fn theirs_first_data(file: &Path, port: &str) -> usize {
    let rows = tshark::fields(
        file,
        &["frame.number"],
        &["-Y", &format!("tcp.srcport=={port} && tcp.len>0")],
    );
    num(&rows[0][0]) as usize
}

#[test]
fn without_the_capability_it_says_both_remedies() {
    require_capture();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(pmulab())
    .args(["capture", "--duration", "1"]);
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("needs root or the CAP_NET_RAW capability"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("sudo") && out.stderr.contains("setcap cap_net_raw+ep"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_demo_shows_each_part_s_packets() {
    require_capture();
    let out = run(pmulab_cmd(["demo", "--packets"]), Duration::from_secs(120));
    assert_eq!(out.code(), 0, "{out:?}");
    for seen in [
        "the client sends 48 bytes",
        "command CMD_short:0",
        "RESET:20 request #1 over IPv4",
        "multicast to group 239.255.7.7",
        "ClientHello: offers TLS 1.3, TLS 1.2",
        "frame: continuation, FIN, unmasked",
        "7 of 7 parts worked.",
    ] {
        assert!(out.stdout.contains(seen), "{seen:?} in:\n{}", out.stdout);
    }
}
