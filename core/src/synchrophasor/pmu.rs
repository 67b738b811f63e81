//! The PMU's side of a C37.118.2 connection, sans I/O: it answers command
//! frames (transmission on and off, send CFG-1, CFG-2 or the header) and,
//! while transmission is on, streams data frames at its rate, each
//! timestamped on the rate's grid of the UTC second.
//!
//! Time is UTC: `now` is microseconds since the UNIX epoch (SOC counts
//! from there). The machine keeps the schedule; the driver feeds input
//! ([`Pmu::handle_input`]), sends what [`Pmu::poll_transmit`] writes, and
//! sleeps until [`Pmu::poll_timeout`].

use heapless::{Deque, Vec};

use super::Error;
use super::command::{Command, CommandFrame};
use super::config::{Config, Format, Nominal, PhasorUnit, PmuConfig};
use super::data::{self, Phasor, PmuData, Value};
use super::frame::{FrameType, Timestamp, VERSION, frame_len};
use super::header;
use super::signal::Signal;
use crate::rng::Random;
use crate::time::Instant;

/// TIME_BASE: FRACSEC in microseconds.
pub const TIME_BASE: u32 = 1_000_000;
/// The longest command frame read (a plain command is 18 bytes).
pub const MAX_COMMAND: usize = 64;

const VOLTS: PhasorUnit = PhasorUnit {
    current: false,
    scale: 0,
};
const AMPS: PhasorUnit = PhasorUnit {
    current: true,
    scale: 0,
};
/// `x` to the nearest integer, saturating at the ends of i16 (no libm).
fn rounded(x: f32) -> i16 {
    match x >= 0.0 {
        true => (x + 0.5) as i16,
        false => (x - 0.5) as i16,
    }
}

/// The six phasor channels, polar floats.
pub const PHASORS: [(&str, PhasorUnit); 6] = [
    ("VA", VOLTS),
    ("VB", VOLTS),
    ("VC", VOLTS),
    ("IA", AMPS),
    ("IB", AMPS),
    ("IC", AMPS),
];

/// What the PMU is.
#[derive(Debug, Clone, Copy)]
pub struct PmuSettings<'a> {
    /// IDCODE.
    pub idcode: u16,
    /// STN (at most 16 ASCII bytes).
    pub station: &'a str,
    /// Data frames per second (10, 25, 50, 60, …).
    pub rate: u16,
    /// What it measures.
    pub signal: Signal,
}

/// A reply owed to the PDC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    Cfg(FrameType),
    Header,
}

/// One connection's PMU.
#[derive(Debug)]
pub struct Pmu<'a, R: Random> {
    settings: PmuSettings<'a>,
    config: PmuConfig<'a>,
    rng: R,
    input: Vec<u8, MAX_COMMAND>,
    owed: Deque<Owed, 4>,
    /// The index (since the epoch, at `rate` per second) of the next data
    /// frame, while transmission is on.
    next: Option<u64>,
    /// Frames skipped because the driver was late.
    skipped: u64,
    /// Where the signal's time starts (UTC microseconds, a whole second).
    origin: Option<u64>,
}

impl<'a, R: Random> Pmu<'a, R> {
    /// A PMU with these settings; `rng` feeds the signal's noise.
    pub fn new(settings: PmuSettings<'a>, rng: R) -> Result<Self, Error> {
        if settings.rate == 0 {
            return Err(Error::BadCount("data rate"));
        }
        if settings.station.len() > 16 || !settings.station.is_ascii() {
            return Err(Error::BadName);
        }
        let nominal = match settings.signal.nominal_hz < 55.0 {
            true => Nominal::Hz50,
            false => Nominal::Hz60,
        };
        let config = PmuConfig {
            station: settings.station,
            idcode: settings.idcode,
            // FREQ and DFREQ as integers (mHz from nominal, ROCOF × 100):
            // the standard makes a float FREQ the actual frequency, but
            // some PDCs (pyc37) read it as a deviation; integers mean the
            // same to every reader, to 1 mHz.
            format: Format {
                polar: true,
                phasors_float: true,
                analogs_float: true,
                freq_float: false,
            },
            phasors: &PHASORS,
            analogs: &[],
            digitals: &[],
            nominal,
            cfgcnt: 1,
        };
        Ok(Pmu {
            settings,
            config,
            rng,
            input: Vec::new(),
            owed: Deque::new(),
            next: None,
            skipped: 0,
            origin: None,
        })
    }

    fn cfg(&self) -> Config<'_> {
        Config {
            version: VERSION,
            idcode: self.settings.idcode,
            time_base: TIME_BASE,
            data_rate: i16::try_from(self.settings.rate).unwrap_or(i16::MAX),
            pmus: core::slice::from_ref(&self.config),
        }
    }

    /// Whether data frames are being sent.
    pub fn transmitting(&self) -> bool {
        self.next.is_some()
    }

    /// Data frames skipped because the driver was late.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Feeds bytes from the PDC; acts on each whole command frame. An
    /// error (a broken frame, one too long) ends the connection.
    pub fn handle_input(&mut self, now: Instant, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            let room = MAX_COMMAND - self.input.len();
            let take = room.min(bytes.len());
            // Cannot fail: `take` fits the room.
            let _ = self.input.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            while let Some(len) = frame_len(&self.input)? {
                if len > MAX_COMMAND {
                    return Err(Error::BadLength {
                        what: "command frame",
                        expected: MAX_COMMAND,
                        found: len,
                    });
                }
                if self.input.len() < len {
                    break;
                }
                let command = CommandFrame::parse(&self.input[..len])?.command();
                self.act(now, command);
                let rest = self.input.len() - len;
                self.input.copy_within(len.., 0);
                self.input.truncate(rest);
            }
        }
        Ok(())
    }

    fn act(&mut self, now: Instant, command: Command) {
        let rate = u64::from(self.settings.rate);
        match command {
            // The first frame on the grid at or after now.
            Command::On if self.next.is_none() => {
                self.next = Some((now.as_micros() * rate).div_ceil(1_000_000));
            }
            Command::Off => self.next = None,
            Command::SendCfg1 => self.owe(Owed::Cfg(FrameType::Cfg1)),
            Command::SendCfg2 | Command::SendCfg3 => self.owe(Owed::Cfg(FrameType::Cfg2)),
            Command::SendHeader => self.owe(Owed::Header),
            _ => {}
        }
    }

    fn owe(&mut self, owed: Owed) {
        if !self.owed.iter().any(|o| *o == owed) {
            let _ = self.owed.push_back(owed);
        }
    }

    /// The instant data frame `index` stands for.
    fn frame_time(&self, index: u64) -> (Instant, Timestamp) {
        let rate = u64::from(self.settings.rate);
        let soc = index / rate;
        let fraction = ((index % rate) * u64::from(TIME_BASE)) / rate;
        let micros = soc * 1_000_000 + fraction;
        (
            Instant::from_micros(micros),
            Timestamp {
                soc: soc as u32,
                fraction: fraction as u32,
                quality: 0,
            },
        )
    }

    /// Writes into `out` what is due at `now` (a reply first, then a data
    /// frame whose time has come); `None` when nothing is.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut [u8]) -> Option<Result<usize, Error>> {
        let stamp = Timestamp {
            soc: (now.as_micros() / 1_000_000) as u32,
            fraction: (now.as_micros() % 1_000_000) as u32,
            quality: 0,
        };
        if let Some(owed) = self.owed.pop_front() {
            return Some(match owed {
                Owed::Cfg(kind) => self.cfg().emit(out, kind, stamp),
                Owed::Header => {
                    let text = "pmulab PMU: VA VB VC IA IB IC, polar floats, from a signal model";
                    header::emit(out, VERSION, self.settings.idcode, stamp, text)
                }
            });
        }
        let index = self.next?;
        let (due, _) = self.frame_time(index);
        if due > now {
            return None;
        }
        // Late by more than a frame: the ones in between are skipped, so
        // frames stay on the grid and near their timestamps.
        let current = (now.as_micros() * u64::from(self.settings.rate)) / 1_000_000;
        let index = index.max(current);
        self.skipped += index - self.next.unwrap_or(index);
        self.next = Some(index + 1);
        let (at, time) = self.frame_time(index);
        // The signal's time counts from the second the PMU first saw.
        let origin = *self
            .origin
            .get_or_insert(at.as_micros() / 1_000_000 * 1_000_000);
        let t = at.as_micros().saturating_sub(origin) as f64 / 1e6;
        let m = self.settings.signal.measure(t, &mut self.rng);
        let phasors: [Phasor; 6] =
            core::array::from_fn(|i| Phasor::Float(m.phasors[i].0, m.phasors[i].1));
        let values = [PmuData {
            stat: 0,
            phasors: &phasors,
            freq: Value::Int(rounded((m.hz - self.nominal_hz()) * 1000.0)),
            dfreq: Value::Int(rounded(m.rocof * 100.0)),
            analogs: &[],
            digitals: &[],
        }];
        Some(data::emit(out, &self.cfg(), time, &values))
    }

    fn nominal_hz(&self) -> f32 {
        self.config.nominal.hz()
    }

    /// When [`Pmu::poll_transmit`] next has something, without new input:
    /// now if a reply is owed, the next frame's time while transmitting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.owed.is_empty() {
            return Some(Instant::ZERO);
        }
        self.next.map(|index| self.frame_time(index).0)
    }
}
