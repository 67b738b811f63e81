//! Round trips and refusals of the frame codec.

use super::Error;
use super::command::{self, Command, CommandFrame};
use super::config::{AnalogUnit, Config, ConfigFrame, Format, Nominal, PhasorUnit, PmuConfig};
use super::data::{self, DataFrame, Phasor, PmuData, Value};
use super::frame::{Frame, FrameType, Timestamp, frame_len};
use super::header::{self, HeaderFrame};

const TIME: Timestamp = Timestamp {
    soc: 1_149_577_200,
    fraction: 463_000,
    quality: 0,
};

const V: PhasorUnit = PhasorUnit {
    current: false,
    scale: 915_527,
};
const I: PhasorUnit = PhasorUnit {
    current: true,
    scale: 45_776,
};

fn breakers() -> [&'static str; 16] {
    [
        "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B13", "B14",
        "B15", "B16",
    ]
}

/// Two PMUs: integers in rectangular form, and floats in polar form.
fn pmus<'a>(digital: &'a [([&'static str; 16], u16, u16)]) -> [PmuConfig<'a>; 2] {
    [
        PmuConfig {
            station: "Station A",
            idcode: 7734,
            format: Format::default(),
            phasors: &[("VA", V), ("IA", I)],
            analogs: &[("ANALOG1", AnalogUnit { kind: 1, scale: -5 })],
            digitals: digital,
            nominal: Nominal::Hz60,
            cfgcnt: 22,
        },
        PmuConfig {
            station: "Station B",
            idcode: 7735,
            format: Format {
                polar: true,
                phasors_float: true,
                analogs_float: true,
                freq_float: true,
            },
            phasors: &[("VA", V), ("VB", V), ("VC", V)],
            analogs: &[],
            digitals: &[],
            nominal: Nominal::Hz50,
            cfgcnt: 1,
        },
    ]
}

#[test]
fn a_configuration_reads_back_as_written() {
    let digital = [(breakers(), 0x0000, 0xFFFF)];
    let pmus = pmus(&digital);
    let config = Config {
        version: 2,
        idcode: 7734,
        time_base: 1_000_000,
        data_rate: 30,
        pmus: &pmus,
    };
    let mut buf = [0u8; 1024];
    let len = config.emit(&mut buf, FrameType::Cfg2, TIME).unwrap_or(0);
    assert_eq!(len, config.len());
    assert_eq!(frame_len(&buf[..4]), Ok(Some(len)));
    let Ok(cfg) = ConfigFrame::parse(&buf[..len]) else {
        panic!("{:?}", ConfigFrame::parse(&buf[..len]));
    };
    assert_eq!(cfg.frame().timestamp(), TIME);
    assert_eq!(cfg.frame().version(), 2);
    assert_eq!(
        (cfg.time_base(), cfg.num_pmu(), cfg.data_rate()),
        (1_000_000, 2, 30)
    );
    let read: heapless::Vec<_, 2> = cfg.pmus().collect();
    assert_eq!(read[0].station(), b"Station A");
    assert_eq!(read[0].channel_name(1), Some(&b"IA"[..]));
    assert_eq!(read[0].channel_name(3 + 15), Some(&b"B16"[..]));
    assert_eq!(read[0].channel_name(3 + 16), None);
    assert_eq!(read[0].phasor_unit(1), Some(I));
    assert_eq!(
        read[0].analog_unit(0),
        Some(AnalogUnit { kind: 1, scale: -5 })
    );
    assert_eq!(read[0].digital_unit(0), Some((0, 0xFFFF)));
    assert_eq!((read[0].nominal(), read[0].cfgcnt()), (Nominal::Hz60, 22));
    assert_eq!(read[1].format(), pmus[1].format);
    assert_eq!(read[1].nominal(), Nominal::Hz50);
    assert_eq!(read[1].phasor_count(), 3);
}

#[test]
fn data_reads_back_with_its_configuration() {
    let digital = [(breakers(), 0, 0xFFFF)];
    let pmus = pmus(&digital);
    let config = Config {
        version: 2,
        idcode: 7734,
        time_base: 1_000_000,
        data_rate: 30,
        pmus: &pmus,
    };
    let mut cfg_buf = [0u8; 1024];
    let cfg_len = config
        .emit(&mut cfg_buf, FrameType::Cfg2, TIME)
        .unwrap_or(0);
    let Ok(cfg) = ConfigFrame::parse(&cfg_buf[..cfg_len]) else {
        panic!("configuration");
    };
    let values = [
        PmuData {
            stat: 0,
            phasors: &[Phasor::Int(14635, 0), Phasor::Int(-7318, -12676)],
            freq: Value::Int(-25),
            dfreq: Value::Int(150),
            analogs: &[Value::Int(100)],
            digitals: &[0x3C12],
        },
        PmuData {
            stat: 0x8000,
            phasors: &[
                Phasor::Float(230.0, 0.0),
                Phasor::Float(230.0, -2.094),
                Phasor::Float(230.0, 2.094),
            ],
            freq: Value::Float(49.98),
            dfreq: Value::Float(-0.02),
            analogs: &[],
            digitals: &[],
        },
    ];
    let mut buf = [0u8; 256];
    let len = data::emit(&mut buf, &config, TIME, &values).unwrap_or(0);
    assert_eq!(len, cfg.data_frame_len());
    let Ok(frame) = DataFrame::parse(&buf[..len], cfg) else {
        panic!("{:?}", DataFrame::parse(&buf[..len], cfg).err());
    };
    let read: heapless::Vec<_, 2> = frame.pmus().collect();
    assert_eq!(read[0].phasor(1), Some(Phasor::Int(-7318, -12676)));
    assert_eq!(read[0].phasor(2), None);
    assert!((read[0].frequency_hz() - 59.975).abs() < 1e-4);
    assert!((read[0].rocof() - 1.5).abs() < 1e-6);
    assert_eq!(read[0].analog(0), Some(Value::Int(100)));
    assert_eq!(read[0].digital(0), Some(0x3C12));
    assert_eq!(read[1].stat(), 0x8000);
    assert_eq!(read[1].phasor(2), Some(Phasor::Float(230.0, 2.094)));
    assert_eq!(read[1].frequency_hz(), 49.98);
    assert_eq!(read[1].rocof(), -0.02);
}

#[test]
fn commands_and_headers_read_back() {
    let mut buf = [0u8; 64];
    let len = command::emit(&mut buf, 2, 7734, TIME, Command::SendCfg2).unwrap_or(0);
    assert_eq!(len, 18);
    assert_eq!(
        CommandFrame::parse(&buf[..len]).map(|c| c.command()),
        Ok(Command::SendCfg2)
    );
    for code in 0..10 {
        assert_eq!(Command::from_code(code).code(), code);
    }
    let len = header::emit(&mut buf, 2, 7734, TIME, "pmulab PMU").unwrap_or(0);
    assert_eq!(
        HeaderFrame::parse(&buf[..len]).map(|h| h.text()),
        Ok(&b"pmulab PMU"[..])
    );
}

#[test]
fn bad_frames_are_refused_with_the_reason() {
    let mut buf = [0u8; 64];
    let len = command::emit(&mut buf, 2, 7734, TIME, Command::On).unwrap_or(0);
    let good = buf;
    assert!(Frame::parse(&good[..len]).is_ok());
    // Every single changed byte is caught.
    for at in 0..len {
        let mut bad = good;
        bad[at] ^= 0x10;
        assert!(
            Frame::parse(&bad[..len]).is_err(),
            "byte {at} changed unnoticed"
        );
    }
    assert_eq!(
        Frame::parse(&good[..len - 1]),
        Err(Error::Truncated {
            needed: len,
            got: len - 1
        })
    );
    assert_eq!(
        Frame::parse(&good[..3]),
        Err(Error::Truncated { needed: 16, got: 3 })
    );
    assert_eq!(Frame::parse(&[0x55, 0x31]), Err(Error::NoSync(0x55)));
    let mut small = good;
    small[3] = 10;
    assert_eq!(Frame::parse(&small[..len]), Err(Error::BadSize(10)));
    assert!(matches!(
        ConfigFrame::parse(&good[..len]),
        Err(Error::WrongType {
            found: FrameType::Command,
            ..
        })
    ));
    // A configuration claiming a PMU it does not carry.
    let mut cfg = [0u8; 64];
    let len = header::emit(&mut cfg, 2, 1, TIME, "").unwrap_or(0);
    assert_eq!(len, 16);
    let empty = Config {
        version: 2,
        idcode: 1,
        time_base: 1000,
        data_rate: 10,
        pmus: &[],
    };
    let len = empty.emit(&mut cfg, FrameType::Cfg2, TIME).unwrap_or(0);
    let mut lying = cfg;
    lying[19] = 1; // NUM_PMU = 1
    let crc = super::crc::crc_ccitt(&lying[..len - 2]).to_be_bytes();
    lying[len - 2..len].copy_from_slice(&crc);
    assert!(matches!(
        ConfigFrame::parse(&lying[..len]),
        Err(Error::BadLength {
            what: "PMU block",
            ..
        })
    ));
}

#[test]
fn what_cannot_be_written_is_refused() {
    let long = [PmuConfig {
        station: "a station name that is too long",
        ..pmus(&[])[1]
    }];
    let config = Config {
        version: 2,
        idcode: 1,
        time_base: 1000,
        data_rate: 10,
        pmus: &long,
    };
    let mut buf = [0u8; 512];
    assert_eq!(
        config.emit(&mut buf, FrameType::Cfg2, TIME),
        Err(Error::BadName)
    );
    assert!(matches!(
        config.emit(&mut buf[..20], FrameType::Cfg2, TIME),
        Err(Error::NoRoom { .. })
    ));
    let floats = [pmus(&[])[1]];
    let config = Config {
        pmus: &floats,
        ..config
    };
    let wrong = [PmuData {
        stat: 0,
        phasors: &[Phasor::Int(1, 2), Phasor::Int(1, 2), Phasor::Int(1, 2)],
        freq: Value::Float(50.0),
        dfreq: Value::Float(0.0),
        analogs: &[],
        digitals: &[],
    }];
    assert_eq!(
        data::emit(&mut buf, &config, TIME, &wrong),
        Err(Error::FormatMismatch("a phasor"))
    );
    assert_eq!(
        data::emit(&mut buf, &config, TIME, &[]),
        Err(Error::BadCount("PMU blocks"))
    );
    assert_eq!(
        command::emit(&mut buf, 3, 1, TIME, Command::On),
        Err(Error::UnsupportedVersion(3))
    );
}
