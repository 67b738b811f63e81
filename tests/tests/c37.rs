//! IEEE C37.118.2 frames against independent implementations: pyc37's
//! Annex D sample frames decode in pmulab's core and encode back byte for
//! byte, and Wireshark's `synphasor` dissector reads pmulab's frames with
//! no malformed or bad-checksum packet.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use pmulab_core::synchrophasor::command::{self, Command as Cmd, CommandFrame};
use pmulab_core::synchrophasor::config::{
    AnalogUnit, Config, ConfigFrame, Format, Nominal, PhasorUnit, PmuConfig,
};
use pmulab_core::synchrophasor::data::{self, DataFrame, Phasor, PmuData, Value};
use pmulab_core::synchrophasor::frame::{FrameType, Timestamp};
use pmulab_core::synchrophasor::header::{self, HeaderFrame};
use pmulab_tests::{peer, python, run, tshark};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn vectors() -> HashMap<String, Vec<u8>> {
    let mut cmd = Command::new(python());
    cmd.arg(peer("c37_vectors.py"));
    let out = run(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let json: HashMap<String, String> = serde_json::from_str(&out.stdout).unwrap();
    json.into_iter().map(|(k, v)| (k, hex(&v))).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn pyc37_s_annex_d_frames_decode_and_encode_back_byte_for_byte() {
    let v = vectors();
    let cfg_bytes = &v["cfg2"];
    let cfg = ConfigFrame::parse(cfg_bytes).unwrap();
    let time = cfg.frame().timestamp();
    assert_eq!(
        time,
        Timestamp {
            soc: 1_149_577_200,
            fraction: 463_000,
            quality: 0
        }
    );
    assert_eq!(cfg.frame().frame_type(), FrameType::Cfg2);
    assert_eq!(
        (cfg.time_base(), cfg.num_pmu(), cfg.data_rate()),
        (1_000_000, 1, 30)
    );
    let pmu = cfg.pmus().next().unwrap();
    assert_eq!(pmu.station(), b"Station A");
    assert_eq!(pmu.idcode(), 7734);
    assert_eq!(
        pmu.format(),
        Format {
            analogs_float: true,
            ..Format::default()
        }
    );
    assert_eq!(
        (pmu.phasor_count(), pmu.analog_count(), pmu.digital_count()),
        (4, 3, 1)
    );
    assert_eq!(pmu.channel_name(3), Some(&b"I1"[..]));
    assert_eq!(pmu.channel_name(22), Some(&b"BREAKER G STATUS"[..]));
    assert_eq!(
        pmu.phasor_unit(3),
        Some(PhasorUnit {
            current: true,
            scale: 45776
        })
    );
    assert_eq!(pmu.analog_unit(2), Some(AnalogUnit { kind: 2, scale: 1 }));
    assert_eq!(pmu.digital_unit(0), Some((0x0000, 0xFFFF)));
    assert_eq!((pmu.nominal(), pmu.cfgcnt()), (Nominal::Hz60, 22));

    // Rebuilt from what was read, it is the same frame.
    let names: Vec<String> = (0..23)
        .map(|i| text(pmu.channel_name(i).unwrap()))
        .collect();
    let phasors: Vec<(&str, PhasorUnit)> = (0..4)
        .map(|i| (names[i].as_str(), pmu.phasor_unit(i).unwrap()))
        .collect();
    let analogs: Vec<(&str, AnalogUnit)> = (0..3)
        .map(|i| (names[4 + i].as_str(), pmu.analog_unit(i).unwrap()))
        .collect();
    let bits: [&str; 16] = std::array::from_fn(|i| names[7 + i].as_str());
    let (normal, valid) = pmu.digital_unit(0).unwrap();
    let digitals = [(bits, normal, valid)];
    let station = text(pmu.station());
    let pmus = [PmuConfig {
        station: &station,
        idcode: pmu.idcode(),
        format: pmu.format(),
        phasors: &phasors,
        analogs: &analogs,
        digitals: &digitals,
        nominal: pmu.nominal(),
        cfgcnt: pmu.cfgcnt(),
    }];
    let config = Config {
        version: cfg.frame().version(),
        idcode: cfg.frame().idcode(),
        time_base: cfg.time_base(),
        data_rate: cfg.data_rate(),
        pmus: &pmus,
    };
    let mut out = vec![0u8; config.len()];
    let n = config.emit(&mut out, FrameType::Cfg2, time).unwrap();
    assert_eq!(&out[..n], &cfg_bytes[..], "CFG-2 re-encoded");

    // The data frame, read with that configuration.
    let data_bytes = &v["data"];
    let frame = DataFrame::parse(data_bytes, cfg).unwrap();
    let block = frame.pmus().next().unwrap();
    assert_eq!(block.stat(), 0);
    assert_eq!(block.phasor(0), Some(Phasor::Int(14635, 0)));
    assert_eq!(block.phasor(1), Some(Phasor::Int(-7318, -12676)));
    assert_eq!(block.phasor(3), Some(Phasor::Int(1092, 0)));
    assert_eq!(block.freq(), Value::Int(2500));
    assert!((block.frequency_hz() - 62.5).abs() < 1e-4);
    assert_eq!(block.analog(2), Some(Value::Float(10000.0)));
    assert_eq!(block.digital(0), Some(0x3C12));
    let phasors: Vec<Phasor> = (0..4).map(|i| block.phasor(i).unwrap()).collect();
    let analogs: Vec<Value> = (0..3).map(|i| block.analog(i).unwrap()).collect();
    let values = [PmuData {
        stat: block.stat(),
        phasors: &phasors,
        freq: block.freq(),
        dfreq: block.dfreq(),
        analogs: &analogs,
        digitals: &[block.digital(0).unwrap()],
    }];
    let mut out = vec![0u8; 128];
    let n = data::emit(&mut out, &config, frame.frame().timestamp(), &values).unwrap();
    assert_eq!(&out[..n], &data_bytes[..], "data frame re-encoded");

    // The command and header frames.
    let command = CommandFrame::parse(&v["command"]).unwrap();
    assert_eq!(command.command(), Cmd::On);
    let n = command::emit(&mut out, 1, 7734, time, Cmd::On).unwrap();
    assert_eq!(&out[..n], &v["command"][..]);
    let said = HeaderFrame::parse(&v["header"]).unwrap();
    assert_eq!(said.text(), b"Hello I'm a PMU from pyc37");
    let n = header::emit(&mut out, 1, 7734, time, "Hello I'm a PMU from pyc37").unwrap();
    assert_eq!(&out[..n], &v["header"][..]);
}

#[test]
fn wireshark_reads_pmulab_s_frames_without_a_complaint() {
    // A CFG-2, two data frames and a command, as one TCP stream on 4712.
    let unit = |current, scale| PhasorUnit { current, scale };
    let digitals = [(["S"; 16], 0, 0xFFFF)];
    let pmus = [PmuConfig {
        station: "pmulab",
        idcode: 4712,
        format: Format {
            polar: true,
            phasors_float: true,
            analogs_float: true,
            freq_float: true,
        },
        phasors: &[("VA", unit(false, 0)), ("IA", unit(true, 0))],
        analogs: &[("P", AnalogUnit { kind: 1, scale: 1 })],
        digitals: &digitals,
        nominal: Nominal::Hz50,
        cfgcnt: 1,
    }];
    let config = Config {
        version: 2,
        idcode: 4712,
        time_base: 1_000_000,
        data_rate: 50,
        pmus: &pmus,
    };
    let time = |fraction| Timestamp {
        soc: 1_796_000_000,
        fraction,
        quality: 0,
    };
    let mut stream = Vec::new();
    let mut buf = vec![0u8; 2048];
    let n = config.emit(&mut buf, FrameType::Cfg2, time(0)).unwrap();
    stream.push(buf[..n].to_vec());
    for (i, hz) in [49.98f32, 50.01].into_iter().enumerate() {
        let values = [PmuData {
            stat: 0,
            phasors: &[Phasor::Float(230.0, 0.1), Phasor::Float(10.0, -0.4)],
            freq: Value::Float(hz),
            dfreq: Value::Float(0.05),
            analogs: &[Value::Float(2300.0)],
            digitals: &[0x0001],
        }];
        let n = data::emit(&mut buf, &config, time(20_000 * i as u32), &values).unwrap();
        stream.push(buf[..n].to_vec());
    }
    let n = command::emit(&mut buf, 2, 4712, time(0), Cmd::SendCfg2).unwrap();
    stream.push(buf[..n].to_vec());

    // text2pcap wraps each frame in a TCP segment to port 4712.
    let dir = std::env::temp_dir().join(format!("pmulab-c37-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dump: String = stream
        .iter()
        .map(|frame| {
            let bytes: Vec<String> = frame.iter().map(|b| format!("{b:02x}")).collect();
            format!("000000 {}\n", bytes.join(" "))
        })
        .collect();
    std::fs::write(dir.join("frames.txt"), dump).unwrap();
    let pcap = dir.join("frames.pcap");
    let made = run(
        {
            let mut c = Command::new("text2pcap");
            c.args(["-q", "-T", "40000,4712"])
                .arg(dir.join("frames.txt"))
                .arg(&pcap);
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(made.code(), 0, "{}", made.stderr);
    let frames = tshark::fields_without_complaint(
        &pcap,
        &[
            "synphasor.frtype",
            "synphasor.idcode_stream_source",
            "synphasor.conf.numpmu",
            "synphasor.actual_frequency_value",
            "synphasor.command",
        ],
        &["-d", "tcp.port==4712,synphasor"],
    );
    assert_eq!(frames.len(), 4, "{frames:?}");
    for frame in &frames {
        assert_eq!(frame[1], "4712", "{frame:?}");
    }
    assert_eq!(frames[0][0], "0x0003", "CFG-2 first: {:?}", frames[0]);
    assert_eq!(frames[0][2], "1");
    let freq: f32 = frames[1][3].parse().unwrap();
    assert!((freq - 49.98).abs() < 1e-3, "{:?}", frames[1]);
    assert_eq!(frames[3][0], "0x0004", "{:?}", frames[3]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pyc37_s_pdc_reads_pmulab_s_pmu() {
    let mut cmd = pmulab_tests::pmulab_cmd(["c37-pmu", "--port", "0", "--offset", "0.05", "-v"]);
    cmd.args(["--id", "21", "--station", "Lab PMU"]);
    let pmu = pmulab_tests::Server::start(cmd, false);
    let mut pdc = Command::new(python());
    pdc.arg(peer("pyc37_pdc.py"))
        .args([pmu.port().as_str(), "21", "20"]);
    let out = run(pdc, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        got["header"].as_str().unwrap().contains("pmulab PMU"),
        "{got}"
    );
    assert_eq!(got["station"].as_str().unwrap().trim(), "Lab PMU");
    let channels: Vec<&str> = got["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().trim())
        .collect();
    assert_eq!(channels, ["VA", "VB", "VC", "IA", "IB", "IC"]);
    assert_eq!(got["data_rate"], 50);
    assert_eq!(got["nominal"], 50);
    let data = got["data"].as_array().unwrap();
    assert_eq!(data.len(), 20);
    let mut last = 0.0;
    for frame in data {
        assert!(
            (frame["frequency"].as_f64().unwrap() - 50.05).abs() < 1e-6,
            "{frame}"
        );
        // On the 50-per-second grid, one after another.
        let time = frame["time"].as_f64().unwrap();
        let step = time - last;
        assert!(last == 0.0 || (step - 0.02).abs() < 1e-3, "{last} → {time}");
        last = time;
        let phasors = frame["phasors"].as_array().unwrap();
        let (va, vb, ia) = (&phasors[0], &phasors[1], &phasors[3]);
        assert_eq!(va[0], 230.0);
        assert_eq!(ia[0], 100.0);
        let spread = |a: &serde_json::Value, b: &serde_json::Value| {
            let d = a[1].as_f64().unwrap() - b[1].as_f64().unwrap();
            (d + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI
        };
        assert!((spread(va, vb) - 2.0944).abs() < 1e-3, "{phasors:?}");
        assert!(
            (spread(va, ia) - std::f64::consts::FRAC_PI_6).abs() < 1e-3,
            "{phasors:?}"
        );
    }
}

#[test]
fn pmulab_s_pdc_reads_pyc37_s_pmu_and_many_pdcs_read_one_pmu() {
    // pyc37's PMU sends the standard's Annex D configuration and data.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut py = Command::new(python());
    py.arg(peer("pyc37_pmu.py")).arg(&port);
    let _pyc37 = pmulab_tests::Server::start(py, true);
    let out = run(
        pmulab_tests::pmulab_cmd([
            "c37-pdc",
            "127.0.0.1",
            &port,
            "--id",
            "7734",
            "--frames",
            "5",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("PMU 7734 \"Station A\": 4 phasors (VA VB VC I1), 3 analog, 1 digital words, nominal 60 Hz"),
        "{}",
        out.stderr
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    for line in &lines {
        assert!(line.contains("f=62.5000 Hz"), "{line}");
        // Annex D: VA = 14635 × 915527 × 10⁻⁵ V, at 0°.
        assert!(line.contains("VA=133987.38∠0.00°"), "{line}");
        assert!(line.contains("I1=499.87∠0.00°"), "{line}");
    }

    // pmulab's PMU, 24 PDCs at once, each 25 frames.
    let pmu =
        pmulab_tests::Server::start(pmulab_tests::pmulab_cmd(["c37-pmu", "--port", "0"]), false);
    let pdcs: Vec<_> = (0..24)
        .map(|_| {
            let mut c = pmulab_tests::pmulab_cmd([
                "c37-pdc",
                "127.0.0.1",
                &pmu.port(),
                "--frames",
                "25",
                "--csv",
            ]);
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for child in pdcs {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let csv = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(csv.lines().count(), 26, "{csv}");
        assert!(csv.starts_with("time,pmu,freq_hz,rocof_hz_per_s,VA_magnitude,VA_angle_deg,"));
    }
}

#[test]
fn a_server_that_is_not_a_c37_pmu_is_said_to_be_one() {
    let lab = pmulab_tests::start_pmu(&[]);
    let out = run(
        pmulab_tests::pmulab_cmd(["c37-pdc", "127.0.0.1", &lab.port(), "--frames", "1"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .contains("does not speak C37.118 (it answered \"ERROR:"),
        "{}",
        out.stderr
    );
    let bad = run(
        pmulab_tests::pmulab_cmd(["c37-pmu", "--station", "a name far too long for C37"]),
        Duration::from_secs(10),
    );
    assert_eq!(bad.code(), 2);
    assert!(
        bad.stderr.contains("is not a station name"),
        "{}",
        bad.stderr
    );
}

/// C37.118.2 over UDP: a PDC made of pyc37's frames sends its commands by
/// UDP; every datagram back is one frame pyc37 decodes, the data on the
/// 50-per-second grid, nothing after "turn off"; tshark's dissector reads
/// the datagrams as they came; garbage is dropped and logged.
#[test]
fn pmulab_s_pmu_serves_pdcs_over_udp() {
    let mut cmd = pmulab_tests::pmulab_cmd(["c37-pmu", "--port", "0", "-v"]);
    cmd.args(["--id", "9", "--station", "UDP PMU"]);
    let pmu = pmulab_tests::Server::start(cmd, false);
    let banner = pmu.banner();
    let udp_port = banner
        .split(" (UDP)")
        .next()
        .and_then(|before| before.rsplit(':').next())
        .unwrap_or_else(|| panic!("no UDP port in {banner}"))
        .to_string();
    // Garbage first: dropped, logged, and no harm to the PDC after it.
    let garbage = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    garbage
        .send_to(b"CMD_short:0", format!("127.0.0.1:{udp_port}"))
        .unwrap();
    let mut pdc = Command::new(python());
    pdc.arg(peer("pyc37_udp_pdc.py"))
        .args([&udp_port, "9", "25"]);
    let out = run(pdc, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got["station"].as_str().unwrap().trim(), "UDP PMU");
    assert_eq!(got["data_rate"], 50);
    assert_eq!(got["after_stop"], 0, "frames after turn-off: {got}");
    let data = got["data"].as_array().unwrap();
    assert_eq!(data.len(), 25);
    for pair in data.windows(2) {
        let step = pair[1]["time"].as_f64().unwrap() - pair[0]["time"].as_f64().unwrap();
        assert!((step - 0.02).abs() < 1e-3, "{pair:?}");
        assert_eq!(pair[1]["phasors"][0][0], 230.0);
    }
    assert!(
        pmu.wait_for_log(
            "sent a datagram that was dropped: no sync byte",
            Duration::from_secs(5)
        )
        .is_some(),
        "the garbage was not logged"
    );

    // The same datagrams through tshark, as UDP to port 4713.
    let dir = std::env::temp_dir().join(format!("pmulab-c37-udp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dump: String = got["raw"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hex| {
            let hex = hex.as_str().unwrap();
            let bytes: Vec<&str> = (0..hex.len()).step_by(2).map(|i| &hex[i..i + 2]).collect();
            format!("000000 {}\n", bytes.join(" "))
        })
        .collect();
    std::fs::write(dir.join("datagrams.txt"), dump).unwrap();
    let pcap = dir.join("datagrams.pcap");
    let mut text2pcap = Command::new("text2pcap");
    text2pcap
        .args(["-q", "-u", "4713,40000"])
        .arg(dir.join("datagrams.txt"))
        .arg(&pcap);
    let made = run(text2pcap, Duration::from_secs(30));
    assert_eq!(made.code(), 0, "{}", made.stderr);
    let frames = tshark::fields_without_complaint(
        &pcap,
        &["synphasor.frtype", "synphasor.idcode_stream_source"],
        &["-d", "udp.port==4713,synphasor"],
    );
    assert_eq!(frames.len(), 4, "{frames:?}");
    assert_eq!(frames[0][0], "0x0003", "CFG-2 first: {:?}", frames[0]);
    for frame in &frames {
        assert_eq!(frame[1], "9", "{frame:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
