//! The PMU on the emulated Cortex-M4 board: build the firmware, boot it in
//! QEMU (inside a network namespace of its own, via embedded/board.sh),
//! and talk to it with pmulab's PDC and reset client from the host side.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pmulab_core::stream::flood;
use pmulab_tests::*;

/// One board at a time: QEMU emulates the CPU, and two boards plus their
/// clients on two cores would test the machine's load, not the firmware.
static ONE_BOARD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn require_tools() {
    for tool in ["qemu-system-arm", "arm-none-eabi-size", "unshare", "tshark"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "{tool} is missing: apt-get install qemu-system-arm binutils-arm-none-eabi tshark"
        );
    }
}

fn board_sh() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../embedded/board.sh")
}

#[test]
fn the_board_serves_pdcs_one_after_another_and_at_once_and_answers_resets() {
    let _board = ONE_BOARD.lock().unwrap_or_else(|p| p.into_inner());
    require_tools();
    let dir = std::env::temp_dir().join(format!("pmulab-board-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pmulab = pmulab();
    let script = format!(
        r#"set -e
cd "{dir}"
P="{pmulab}"
for i in 1 2 3; do "$P" pdc 127.0.0.1 15003 CMD_short:0 > seq$i.txt; done
"$P" pdc 127.0.0.1 15003 CMD_short:0.1 > par1.txt 2> par1.err &
"$P" pdc 127.0.0.1 15003 CMD_short:0.1 > par2.txt 2> par2.err &
"$P" pdc 127.0.0.1 15003 CMD_short:0.1 > par3.txt 2> par3.err &
wait
"$P" pdc 127.0.0.1 15003 CMD_floodme > flood.txt
"$P" reset 127.0.0.1 15004 --timeout 0.5 --max-attempts 40 > reset.txt
# A hostile client: garbage gets one ERROR line and a close.
"$P" pdc 127.0.0.1 15003 HELLO --raw 2> garbage.txt || test $? = 3
"$P" pdc 127.0.0.1 15003 CMD_short:0 > after.txt
"#,
        dir = dir.display(),
        pmulab = pmulab.display()
    );
    let pcap = dir.join("board.pcap");
    let mut cmd = Command::new(board_sh());
    cmd.args(["--exit-after", "25", "--pcap"])
        .arg(&pcap)
        .args(["--", "sh", "-c", &script]);
    let out = run(cmd, Duration::from_secs(600));
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("pmulab board ready"), "{}", out.stderr);

    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    for name in [
        "seq1.txt", "seq2.txt", "seq3.txt", "par1.txt", "par2.txt", "par3.txt",
    ] {
        let errors = std::fs::read_to_string(dir.join(name.replace(".txt", ".err")));
        assert_eq!(
            read(name).lines().collect::<Vec<_>>(),
            expected_messages(15),
            "{name}: {}",
            errors.unwrap_or_default()
        );
    }
    let flood_text = std::fs::read(dir.join("flood.txt")).unwrap();
    assert_eq!(flood_text.len() as u64, flood::DEFAULT_FLOOD_BYTES);
    assert_eq!(flood::first_mismatch(0, &flood_text), None);
    let reset = read("reset.txt");
    assert!(reset.starts_with("OFFSET="), "{reset}");
    let garbage = read("garbage.txt");
    assert!(
        garbage.contains("refused the command: ERROR: unknown command"),
        "{garbage}"
    );
    assert_eq!(
        read("after.txt").lines().collect::<Vec<_>>(),
        expected_messages(15)
    );

    // The board says how it went when --exit-after stops it.
    assert!(
        out.stderr
            .contains("stopping after 9 sessions (0 aborted, 1 refused)"),
        "{}",
        out.stderr
    );
    let pcap_bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(&pcap_bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "a pcap file");
    assert!(
        pcap_bytes.len() > 60_000,
        "the capture holds the traffic, flood included"
    );
    // `pmulab capture` reads the board's pcap: as many TCP and UDP packets
    // of the lab's ports as tshark finds, every segment's length agreeing.
    let mut cmd = pmulab_cmd(["capture", "--json", "-r"]);
    cmd.arg(&pcap);
    let ours = run(cmd, Duration::from_secs(60));
    assert_eq!(ours.code(), 0, "{ours:?}");
    let ours: Vec<serde_json::Value> = ours
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let theirs: Vec<(u64, String)> = tshark::fields(
        &pcap,
        &["frame.number", "tcp.len"],
        &["-Y", "tcp.port==5003 || udp.port==5004"],
    )
    .into_iter()
    .map(|row| {
        (
            row[0].parse().unwrap(),
            row.get(1).cloned().unwrap_or_default(),
        )
    })
    .collect();
    assert_eq!(ours.len(), theirs.len(), "lab packets in the board's pcap");
    for (record, (number, len)) in ours.iter().zip(&theirs) {
        assert_eq!(record["number"].as_u64(), Some(*number));
        if let Some(ours_len) = record["tcp"]["len"].as_u64() {
            assert_eq!(ours_len.to_string(), *len, "frame {number}");
        }
    }
    let meanings: Vec<String> = ours
        .iter()
        .flat_map(|r| r["meaning"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    assert!(
        meanings.iter().any(|m| m == "command CMD_floodme"),
        "{meanings:?}"
    );
    assert!(
        meanings.iter().any(|m| m.starts_with("OFFSET=")),
        "{meanings:?}"
    );
    // Every session ended cleanly: the board sent no reset (it used to,
    // after each close, when it freed its sockets in TIME-WAIT).
    let resets = tshark::fields(
        &pcap,
        &["frame.number"],
        &["-Y", "ip.src==10.0.2.15 && tcp.flags.reset==1"],
    );
    assert!(
        resets.is_empty(),
        "resets from the board in frames {resets:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The hostile-client battery against the firmware (four sessions, seven
/// TCP sockets, a 10 s command timeout): every case answered as on the
/// host, a well-behaved PDC never served wrongly, and the board's summary
/// counts what it aborted and refused. A board with every socket taken
/// resets new connections, and its NIC drops frames under the UDP flood;
/// the battery counts refusals and commands lost on the link apart.
#[test]
fn the_board_withstands_the_hostile_battery() {
    let _board = ONE_BOARD.lock().unwrap_or_else(|p| p.into_inner());
    require_tools();
    let mut cmd = Command::new(board_sh());
    cmd.args(["--exit-after", "50", "--"])
        .arg(env!("CARGO_BIN_EXE_hostile"))
        .args([
            "tcp",
            "127.0.0.1:15003",
            "--udp",
            "127.0.0.1:15004",
            "--command-timeout",
            "10",
            "--burst",
            "16",
            // QEMU's LAN9118 drops frames under the UDP flood.
            "--lossy-link",
        ]);
    let out = run(cmd, Duration::from_secs(600));
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("FAILED"), "{}", out.stdout);
    assert!(out.stdout.contains(", 0 wrong."), "{}", out.stdout);
    let summary = out
        .stderr
        .lines()
        .find(|l| l.contains("pmulab board: stopping after"))
        .unwrap_or_else(|| panic!("no summary in {}", out.stderr));
    let count = |label: &str| -> u32 {
        summary
            .split(label)
            .next()
            .and_then(|before| before.split_whitespace().last())
            .and_then(|n| n.trim_start_matches('(').parse().ok())
            .unwrap_or_else(|| panic!("no {label:?} count in {summary}"))
    };
    // Floods cut short count as aborted unless slirp had already taken the
    // whole 56 KiB; the refusals are certain: three bad commands, two timeouts.
    assert!(
        count(" aborted") > 0,
        "the cut floods are counted: {summary}"
    );
    assert!(
        count(" refused") >= 5,
        "the refused commands are counted: {summary}"
    );
}

/// The c37 image: the lab's PMU as before, and core's C37.118.2 PMU on
/// 4712 read by pmulab's PDC and pyc37's at once, then on UDP 4713 by a
/// PDC of pyc37's frames; tshark's `synphasor`
/// dissector reads every frame on the board's own capture without a
/// complaint.
#[test]
fn the_c37_image_streams_to_pmulab_s_and_pyc37_s_pdcs() {
    let _board = ONE_BOARD.lock().unwrap_or_else(|p| p.into_inner());
    require_tools();
    let dir = std::env::temp_dir().join(format!("pmulab-board-c37-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        r#"set -e
cd "{dir}"
"{pmulab}" c37-pdc 127.0.0.1 14712 --frames 100 --csv > ours.csv 2> ours.err &
"{python}" "{pyc37}" 14712 7 50 > theirs.json 2> theirs.err &
wait
"{python}" "{pyc37_udp}" 14713 7 25 > udp.json 2> udp.err
"{pmulab}" pdc 127.0.0.1 15003 CMD_short:0 > lab.txt
"#,
        dir = dir.display(),
        pmulab = pmulab().display(),
        python = python().display(),
        pyc37 = peer("pyc37_pdc.py").display(),
        pyc37_udp = peer("pyc37_udp_pdc.py").display(),
    );
    let pcap = dir.join("board.pcap");
    let mut cmd = Command::new(board_sh());
    cmd.args(["--image", "c37", "--exit-after", "15", "--pcap"])
        .arg(&pcap)
        .args(["--", "sh", "-c", &script]);
    let out = run(cmd, Duration::from_secs(600));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    assert_eq!(
        out.code(),
        0,
        "{out:?}\nours: {}\ntheirs: {}\nudp: {}",
        read("ours.err"),
        read("theirs.err"),
        read("udp.err")
    );
    assert!(
        out.stderr.contains("C37.118 PMU on :4712"),
        "{}",
        out.stderr
    );

    // pmulab's PDC: a header row, then 100 frames 20 ms apart of a 50 Hz grid.
    let ours = read("ours.csv");
    let mut rows = ours.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(header[0], "time", "{ours}");
    let frames: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(frames.len(), 100, "{ours}");
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (freq, va) = (column("freq_hz"), column("VA_magnitude"));
    for row in &frames {
        assert_eq!(row[freq], "50.0000", "{row:?}");
        assert_eq!(row[va], "230.000", "{row:?}");
    }
    assert!(
        read("ours.err").contains("100 data frames; arrival after their timestamps"),
        "{}",
        read("ours.err")
    );

    // pyc37's PDC: the board's configuration and 50 frames on the grid.
    let theirs: serde_json::Value = serde_json::from_str(&read("theirs.json"))
        .unwrap_or_else(|e| panic!("{e}: {}", read("theirs.err")));
    assert_eq!(theirs["station"].as_str().unwrap().trim(), "pmulab board");
    assert_eq!(theirs["data_rate"], 50);
    let data = theirs["data"].as_array().unwrap();
    assert_eq!(data.len(), 50);
    for pair in data.windows(2) {
        let step = pair[1]["time"].as_f64().unwrap() - pair[0]["time"].as_f64().unwrap();
        assert!((step - 0.02).abs() < 1e-3, "{pair:?}");
        assert_eq!(pair[1]["frequency"], 50.0);
    }

    // Over UDP (4713): pyc37's frames, one per datagram, nothing after "off".
    let udp: serde_json::Value = serde_json::from_str(&read("udp.json"))
        .unwrap_or_else(|e| panic!("{e}: {}", read("udp.err")));
    assert_eq!(udp["data"].as_array().unwrap().len(), 25, "{udp}");
    assert_eq!(udp["after_stop"], 0, "{udp}");

    // The lab's PMU on the same board, unchanged.
    assert_eq!(
        read("lab.txt").lines().collect::<Vec<_>>(),
        expected_messages(15)
    );
    assert!(
        out.stderr
            .contains("2 C37 PDCs (0 turned away, 0 ended on an error)"),
        "{}",
        out.stderr
    );

    // Wireshark's dissector on what crossed the board's wire.
    let frames = tshark::fields_without_complaint(
        &pcap,
        &["synphasor.frtype"],
        &["-d", "tcp.port==4712,synphasor", "-Y", "synphasor"],
    );
    let data_frames = frames.iter().filter(|f| f[0] == "0x0000").count();
    assert!(data_frames >= 150, "{} data frames", data_frames);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pmulab ca` makes a CA (ECDSA P-256) in `dir/name` and a certificate
/// for `cn` it signed, in `dir/name-pmu`: (CA certificate, PMU certificate, key).
fn ca_and_pmu(dir: &Path, name: &str, cn: &str) -> (String, String, String) {
    let pmulab = pmulab();
    let ca = dir.join(name);
    let pmu = dir.join(format!("{name}-pmu"));
    let certificate = pmu.join(format!("{cn}.crt"));
    let steps: [Vec<std::ffi::OsString>; 3] = [
        vec!["ca".into(), "init".into(), ca.clone().into()],
        vec![
            "ca".into(),
            "request".into(),
            pmu.clone().into(),
            "--cn".into(),
            cn.into(),
        ],
        vec![
            "ca".into(),
            "sign".into(),
            pmu.join(format!("{cn}.csr")).into(),
            "--ca".into(),
            ca.clone().into(),
            "--out".into(),
            certificate.clone().into(),
        ],
    ];
    for args in steps {
        let mut cmd = Command::new(&pmulab);
        cmd.args(&args);
        let out = run(cmd, Duration::from_secs(60));
        assert_eq!(out.code(), 0, "pmulab {args:?}: {out:?}");
    }
    let text = |p: std::path::PathBuf| p.display().to_string();
    (
        text(ca.join("ca.crt")),
        text(certificate),
        text(pmu.join(format!("{cn}_key.pem"))),
    )
}

/// The TLS PDC image (core's PDC inside embedded-tls over the smoltcp
/// adapter) against `pmulab secure-pmu` on the host: the CA and the name
/// built in, 15 messages; tshark reads TLS 1.3 with the name in the
/// ClientHello on the board's wire; a PMU certified by another CA is refused.
#[test]
fn the_tls_pdc_image_verifies_the_pmu_and_reads_its_15_messages() {
    let _board = ONE_BOARD.lock().unwrap_or_else(|p| p.into_inner());
    require_tools();
    let dir = std::env::temp_dir().join(format!("pmulab-board-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, certificate, key) = ca_and_pmu(&dir, "course-ca", "localhost");
    let (_, foreign_certificate, foreign_key) = ca_and_pmu(&dir, "other-ca", "localhost");
    let log = dir.join("pmu.log");
    let board = |certificate: &str, key: &str, pcap: Option<&Path>| {
        let mut cmd = Command::new(board_sh());
        cmd.args(["--image", "pdc-tls", "--ca", &ca]);
        if let Some(pcap) = pcap {
            cmd.arg("--pcap").arg(pcap);
        }
        let pmu = format!(
            "exec '{}' secure-pmu 5443 '{certificate}' '{key}' -v 2>> '{}'",
            pmulab().display(),
            log.display()
        );
        cmd.args(["--", "sh", "-c", &pmu]);
        run(cmd, Duration::from_secs(900))
    };

    let pcap = dir.join("tls.pcap");
    let out = board(&certificate, &key, Some(&pcap));
    assert_eq!(out.code(), 0, "{out:?}");
    let messages: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("This is PMU data"))
        .collect();
    assert_eq!(messages, expected_messages(15), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("pmulab board: 15 messages from 10.0.2.2:5443 over TLS 1.3"),
        "{}",
        out.stdout
    );
    let pmu_log = std::fs::read_to_string(&log).unwrap();
    assert!(pmu_log.contains("CMD_short:0: 15 messages"), "{pmu_log}");
    assert!(!pmu_log.contains("panicked"), "{pmu_log}");

    // tshark: a TLS 1.3 ClientHello naming the PMU, the PMU's answer, nothing malformed.
    let records = tshark::fields(
        &pcap,
        &[
            "tls.handshake.type",
            "tls.handshake.extensions.supported_version",
            "tls.handshake.extensions_server_name",
            "_ws.malformed",
        ],
        &["-d", "tcp.port==5443,tls", "-Y", "tls"],
    );
    let has_type = |row: &Vec<String>, t: &str| row[0].split(',').any(|x| x == t);
    let hello = records
        .iter()
        .find(|r| has_type(r, "1"))
        .unwrap_or_else(|| panic!("no ClientHello: {records:?}"));
    assert!(hello[1].contains("0x0304"), "TLS 1.3 offered: {hello:?}");
    assert_eq!(hello[2], "localhost", "{hello:?}");
    assert!(
        records.iter().any(|r| has_type(r, "2")),
        "no ServerHello: {records:?}"
    );
    for row in &records {
        assert!(
            row.get(3).is_none_or(String::is_empty),
            "malformed: {row:?}"
        );
    }

    // Another CA's certificate for the same name: refused before any command.
    std::fs::write(&log, "").unwrap();
    let refused = board(&foreign_certificate, &foreign_key, None);
    assert_eq!(refused.code(), 1, "{refused:?}");
    assert!(
        refused.stdout.contains(
            "the PMU's certificate is refused: it is not signed by the CA built into this image"
        ),
        "{}",
        refused.stdout
    );
    assert!(
        !refused.stdout.contains("This is PMU data"),
        "{}",
        refused.stdout
    );
    let pmu_log = std::fs::read_to_string(&log).unwrap();
    assert!(!pmu_log.contains("CMD_short"), "{pmu_log}");
    assert!(!pmu_log.contains("panicked"), "{pmu_log}");
}
