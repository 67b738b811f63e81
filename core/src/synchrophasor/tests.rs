//! Round trips and refusals of the frame codec.

use super::Error;
extern crate std;

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

mod machines {
    extern crate std;

    use super::super::Error;
    use super::super::command::{self, Command};
    use super::super::data::Value;
    use super::super::frame::{Frame, FrameType, Timestamp};
    use super::super::pdc::{Pdc, Received};
    use super::super::pmu::{Pmu, PmuSettings};
    use super::super::signal::Signal;
    use crate::rng::SplitMix64;
    use crate::time::Instant;

    const START: u64 = 1_796_000_000_000_000; // UTC microseconds, a whole second

    fn pmu(rate: u16) -> Pmu<'static, SplitMix64> {
        let settings = PmuSettings {
            idcode: 7,
            station: "pmulab",
            rate,
            signal: Signal {
                offset_hz: 0.05,
                ..Signal::default()
            },
        };
        Pmu::new(settings, SplitMix64::new(1)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn command(cmd: Command) -> ([u8; 18], usize) {
        let mut buf = [0u8; 18];
        let n = command::emit(&mut buf, 2, 7, Timestamp::default(), cmd).unwrap_or(0);
        (buf, n)
    }

    #[test]
    fn the_pmu_answers_commands_and_streams_on_the_grid() {
        let mut pmu = pmu(50);
        let mut out = [0u8; 1024];
        let at = |micros: u64| Instant::from_micros(START + micros);
        assert_eq!(pmu.poll_timeout(), None, "silent until asked");
        let (cfg2, n) = command(Command::SendCfg2);
        assert_eq!(pmu.handle_input(at(0), &cfg2[..n]), Ok(()));
        let len = pmu
            .poll_transmit(at(0), &mut out)
            .and_then(Result::ok)
            .unwrap_or(0);
        assert!(matches!(
            Frame::parse(&out[..len]).map(|f| f.frame_type()),
            Ok(FrameType::Cfg2)
        ));
        // "On" in two pieces, at 13 ms: the first frame is at 20 ms.
        let (on, n) = command(Command::On);
        assert_eq!(pmu.handle_input(at(13_000), &on[..5]), Ok(()));
        assert!(!pmu.transmitting());
        assert_eq!(pmu.handle_input(at(13_000), &on[5..n]), Ok(()));
        assert_eq!(pmu.poll_timeout(), Some(at(20_000)));
        assert!(pmu.poll_transmit(at(19_999), &mut out).is_none());
        let mut stamps: heapless::Vec<Timestamp, 64> = heapless::Vec::new();
        let mut now = 20_000;
        while now < 1_020_000 {
            let Some(Ok(len)) = pmu.poll_transmit(at(now), &mut out) else {
                panic!("no frame at {now}");
            };
            let frame = Frame::parse(&out[..len]).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                stamps.push(frame.timestamp()).is_ok(),
                "more than 64 frames"
            );
            now = pmu.poll_timeout().map_or(0, |t| t.as_micros() - START);
        }
        assert_eq!(stamps.len(), 50);
        assert_eq!(stamps[0].fraction, 20_000);
        assert_eq!(stamps[49].fraction, 0);
        assert_eq!(stamps[49].soc, (START / 1_000_000) as u32 + 1);
        assert_eq!(pmu.skipped(), 0);
        // Late by a second and a half: on to the current frame, the rest skipped.
        assert!(pmu.poll_transmit(at(2_530_000), &mut out).is_some());
        assert_eq!(pmu.skipped(), 75);
        let (off, n) = command(Command::Off);
        assert_eq!(pmu.handle_input(at(2_540_000), &off[..n]), Ok(()));
        assert_eq!(pmu.poll_timeout(), None);
        // A broken frame ends the conversation.
        assert_eq!(
            pmu.handle_input(at(0), b"GET / HTTP/1.1"),
            Err(Error::NoSync(b'G'))
        );
    }

    #[test]
    fn the_pdc_and_the_pmu_talk_in_memory() {
        let mut pmu = pmu(10);
        let mut pdc: Pdc<2048> = Pdc::new(7);
        let mut wire = [0u8; 2048];
        let mut configs = 0;
        let mut hz: heapless::Vec<f32, 256> = heapless::Vec::new();
        let mut now = START;
        for _ in 0..200 {
            let at = Instant::from_micros(now);
            while let Some(Ok(n)) = pdc.poll_transmit(at, &mut wire) {
                assert_eq!(pmu.handle_input(at, &wire[..n]), Ok(()));
            }
            while let Some(Ok(n)) = pmu.poll_transmit(at, &mut wire) {
                // Delivered in two reads, as a stream may.
                let half = n / 2;
                let mut fed = 0;
                for piece in [&wire[..half], &wire[half..n]] {
                    fed += pdc.handle_input(piece);
                    while let Some(frame) = pdc.poll_frame() {
                        match frame {
                            Ok(Received::Config(cfg)) => {
                                configs += 1;
                                assert_eq!(cfg.data_rate(), 10);
                            }
                            Ok(Received::Data(data)) => {
                                for pmu in data.pmus() {
                                    assert_eq!(pmu.freq(), Value::Int(50));
                                    assert!(hz.push(pmu.frequency_hz()).is_ok(), "over 256 frames");
                                }
                            }
                            other => panic!("{other:?}"),
                        }
                    }
                }
                assert_eq!(fed, n);
            }
            now = pmu
                .poll_timeout()
                .map_or(now + 1000, |t| t.as_micros().max(now + 1));
        }
        assert_eq!(configs, 1);
        assert!(hz.len() > 150, "{}", hz.len());
        assert!(hz.iter().all(|f| (f - 50.05).abs() < 1e-3), "{hz:?}");
    }
}
