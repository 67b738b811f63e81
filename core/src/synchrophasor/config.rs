//! Configuration frames (CFG-1 and CFG-2): which PMUs a stream carries, and
//! for each its channels, their names, units and the data format.

use super::Error;
use super::frame::{Frame, FrameType, MIN_LEN, Timestamp, start};
use super::write::{be16, be32};

/// FORMAT: how a PMU's values are coded in data frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Format {
    /// Phasors in polar form (magnitude, angle) rather than rectangular.
    pub polar: bool,
    /// Phasors as 32-bit floats rather than 16-bit integers.
    pub phasors_float: bool,
    /// Analog values as floats.
    pub analogs_float: bool,
    /// FREQ and DFREQ as floats.
    pub freq_float: bool,
}

impl Format {
    /// The FORMAT word.
    pub fn word(self) -> u16 {
        u16::from(self.polar)
            | (u16::from(self.phasors_float) << 1)
            | (u16::from(self.analogs_float) << 2)
            | (u16::from(self.freq_float) << 3)
    }

    /// The format a word says.
    pub fn from_word(word: u16) -> Format {
        Format {
            polar: word & 1 != 0,
            phasors_float: word & 2 != 0,
            analogs_float: word & 4 != 0,
            freq_float: word & 8 != 0,
        }
    }

    /// Bytes of one phasor, of FREQ (or DFREQ), of one analog value.
    fn sizes(self) -> (usize, usize, usize) {
        let size = |float: bool| if float { 4 } else { 2 };
        (
            2 * size(self.phasors_float),
            size(self.freq_float),
            size(self.analogs_float),
        )
    }
}

/// PHUNIT: a phasor channel's kind and, for integers, its scale in 10⁻⁵ V
/// or A per bit (24 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhasorUnit {
    /// A current rather than a voltage.
    pub current: bool,
    /// The scale.
    pub scale: u32,
}

impl PhasorUnit {
    fn word(self) -> u32 {
        (u32::from(self.current) << 24) | (self.scale & 0x00FF_FFFF)
    }
}

/// ANUNIT: an analog channel's kind (0 single point-on-wave, 1 RMS, 2 peak)
/// and its signed 24-bit scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalogUnit {
    /// The kind.
    pub kind: u8,
    /// The scale (24-bit signed).
    pub scale: i32,
}

impl AnalogUnit {
    fn word(self) -> u32 {
        (u32::from(self.kind) << 24) | (self.scale as u32 & 0x00FF_FFFF)
    }
}

/// FNOM: the nominal line frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nominal {
    /// 50 Hz.
    Hz50,
    /// 60 Hz.
    Hz60,
}

impl Nominal {
    /// In hertz.
    pub fn hz(self) -> f32 {
        match self {
            Nominal::Hz50 => 50.0,
            Nominal::Hz60 => 60.0,
        }
    }
}

/// One PMU in a configuration to write.
#[derive(Debug, Clone, Copy)]
pub struct PmuConfig<'a> {
    /// STN: the station's name (at most 16 ASCII bytes).
    pub station: &'a str,
    /// IDCODE of this PMU's data.
    pub idcode: u16,
    /// FORMAT.
    pub format: Format,
    /// Phasor channels: name and unit.
    pub phasors: &'a [(&'a str, PhasorUnit)],
    /// Analog channels: name and unit.
    pub analogs: &'a [(&'a str, AnalogUnit)],
    /// Digital status words: the 16 bit names, and DIGUNIT's normal and valid masks.
    pub digitals: &'a [([&'a str; 16], u16, u16)],
    /// FNOM.
    pub nominal: Nominal,
    /// CFGCNT: changed with every change of configuration.
    pub cfgcnt: u16,
}

impl PmuConfig<'_> {
    fn block_len(&self) -> usize {
        let names = self.phasors.len() + self.analogs.len() + 16 * self.digitals.len();
        16 + 2
            + 2
            + 6
            + 16 * names
            + 4 * (self.phasors.len() + self.analogs.len() + self.digitals.len())
            + 4
    }
}

/// A configuration to write.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    /// The frames' version: 2 (C37.118.2-2011) or 1 (C37.118-2005).
    pub version: u8,
    /// The stream's IDCODE.
    pub idcode: u16,
    /// TIME_BASE: FRACSEC's unit is 1/TIME_BASE s.
    pub time_base: u32,
    /// DATA_RATE: positive, frames per second; negative, seconds per frame.
    pub data_rate: i16,
    /// The PMUs.
    pub pmus: &'a [PmuConfig<'a>],
}

impl Config<'_> {
    /// The frame's length.
    pub fn len(&self) -> usize {
        MIN_LEN + 4 + 2 + self.pmus.iter().map(PmuConfig::block_len).sum::<usize>() + 2
    }

    /// Never: a configuration frame has a header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes it as a CFG-1 or CFG-2 frame (`kind`); the frame's length.
    pub fn emit(&self, out: &mut [u8], kind: FrameType, time: Timestamp) -> Result<usize, Error> {
        if !matches!(kind, FrameType::Cfg1 | FrameType::Cfg2) {
            return Err(Error::WrongType {
                expected: FrameType::Cfg2,
                found: kind,
            });
        }
        let count = |n: usize, what| u16::try_from(n).map_err(|_| Error::BadCount(what));
        let mut w = start(out, kind, self.version, self.len(), self.idcode, time)?;
        w.u32(self.time_base & 0x00FF_FFFF)?;
        w.u16(count(self.pmus.len(), "NUM_PMU")?)?;
        for pmu in self.pmus {
            w.name(pmu.station)?;
            w.u16(pmu.idcode)?;
            w.u16(pmu.format.word())?;
            w.u16(count(pmu.phasors.len(), "PHNMR")?)?;
            w.u16(count(pmu.analogs.len(), "ANNMR")?)?;
            w.u16(count(pmu.digitals.len(), "DGNMR")?)?;
            for (name, _) in pmu.phasors {
                w.name(name)?;
            }
            for (name, _) in pmu.analogs {
                w.name(name)?;
            }
            for (names, _, _) in pmu.digitals {
                for name in names {
                    w.name(name)?;
                }
            }
            for (_, unit) in pmu.phasors {
                w.u32(unit.word())?;
            }
            for (_, unit) in pmu.analogs {
                w.u32(unit.word())?;
            }
            for (_, normal, valid) in pmu.digitals {
                w.u16(*normal)?;
                w.u16(*valid)?;
            }
            w.u16(match pmu.nominal {
                Nominal::Hz60 => 0,
                Nominal::Hz50 => 1,
            })?;
            w.u16(pmu.cfgcnt)?;
        }
        w.i16(self.data_rate)?;
        w.finish()
    }
}

/// A checked CFG-1 or CFG-2 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigFrame<'a> {
    frame: Frame<'a>,
}

/// One PMU of a [`ConfigFrame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmuConfigView<'a> {
    block: &'a [u8],
}

impl<'a> ConfigFrame<'a> {
    /// The CFG-1 or CFG-2 frame at the start of `buf`, every PMU block's
    /// length checked against FRAMESIZE.
    pub fn parse(buf: &'a [u8]) -> Result<ConfigFrame<'a>, Error> {
        let frame = Frame::parse(buf)?;
        if !matches!(frame.frame_type(), FrameType::Cfg1 | FrameType::Cfg2) {
            return Err(Error::WrongType {
                expected: FrameType::Cfg2,
                found: frame.frame_type(),
            });
        }
        let config = ConfigFrame { frame };
        let body = frame.body();
        let mut at = 6;
        for _ in 0..config.num_pmu() {
            at += block_len(body, at)?;
        }
        if body.len() != at + 2 {
            return Err(Error::BadLength {
                what: "configuration frame",
                expected: MIN_LEN + at + 2,
                found: frame.len(),
            });
        }
        Ok(config)
    }

    /// The frame.
    pub fn frame(&self) -> &Frame<'a> {
        &self.frame
    }

    /// TIME_BASE.
    pub fn time_base(&self) -> u32 {
        be32(self.frame.body(), 0) & 0x00FF_FFFF
    }

    /// NUM_PMU.
    pub fn num_pmu(&self) -> u16 {
        be16(self.frame.body(), 4)
    }

    /// DATA_RATE.
    pub fn data_rate(&self) -> i16 {
        let body = self.frame.body();
        be16(body, body.len() - 2) as i16
    }

    /// The PMUs, in order.
    pub fn pmus(&self) -> impl Iterator<Item = PmuConfigView<'a>> + 'a {
        let body = self.frame.body();
        let mut at = 6;
        (0..self.num_pmu()).map_while(move |_| {
            let len = block_len(body, at).ok()?;
            let block = body.get(at..at + len)?;
            at += len;
            Some(PmuConfigView { block })
        })
    }

    /// The length of a data frame with this configuration.
    pub fn data_frame_len(&self) -> usize {
        MIN_LEN + self.pmus().map(|p| p.data_len()).sum::<usize>()
    }
}

/// The length of the PMU block at `at` in a configuration body.
fn block_len(body: &[u8], at: usize) -> Result<usize, Error> {
    let fixed = 16 + 2 + 2 + 6;
    let counts = body.get(at..at + fixed).ok_or(Error::BadLength {
        what: "PMU block",
        expected: at + fixed,
        found: body.len(),
    })?;
    let (ph, an, dg) = (
        usize::from(be16(counts, 20)),
        usize::from(be16(counts, 22)),
        usize::from(be16(counts, 24)),
    );
    let len = fixed + 16 * (ph + an + 16 * dg) + 4 * (ph + an + dg) + 4;
    match body.len() >= at + len + 2 {
        true => Ok(len),
        false => Err(Error::BadLength {
            what: "PMU block",
            expected: at + len + 2,
            found: body.len(),
        }),
    }
}

impl<'a> PmuConfigView<'a> {
    /// STN, without its padding.
    pub fn station(&self) -> &'a [u8] {
        trim(&self.block[..16])
    }

    /// IDCODE of this PMU's data.
    pub fn idcode(&self) -> u16 {
        be16(self.block, 16)
    }

    /// FORMAT.
    pub fn format(&self) -> Format {
        Format::from_word(be16(self.block, 18))
    }

    /// PHNMR.
    pub fn phasor_count(&self) -> usize {
        usize::from(be16(self.block, 20))
    }

    /// ANNMR.
    pub fn analog_count(&self) -> usize {
        usize::from(be16(self.block, 22))
    }

    /// DGNMR.
    pub fn digital_count(&self) -> usize {
        usize::from(be16(self.block, 24))
    }

    fn names(&self) -> usize {
        self.phasor_count() + self.analog_count() + 16 * self.digital_count()
    }

    /// Channel name `i` (phasors, then analogs, then 16 per digital word),
    /// without its padding.
    pub fn channel_name(&self, i: usize) -> Option<&'a [u8]> {
        (i < self.names()).then(|| trim(&self.block[26 + 16 * i..42 + 16 * i]))
    }

    fn units_at(&self) -> usize {
        26 + 16 * self.names()
    }

    /// PHUNIT of phasor `i`.
    pub fn phasor_unit(&self, i: usize) -> Option<PhasorUnit> {
        (i < self.phasor_count()).then(|| {
            let word = be32(self.block, self.units_at() + 4 * i);
            PhasorUnit {
                current: word >> 24 == 1,
                scale: word & 0x00FF_FFFF,
            }
        })
    }

    /// ANUNIT of analog `i`.
    pub fn analog_unit(&self, i: usize) -> Option<AnalogUnit> {
        (i < self.analog_count()).then(|| {
            let word = be32(self.block, self.units_at() + 4 * (self.phasor_count() + i));
            // Sign-extend the 24-bit scale.
            let scale = ((word << 8) as i32) >> 8;
            AnalogUnit {
                kind: (word >> 24) as u8,
                scale,
            }
        })
    }

    /// DIGUNIT of digital word `i`: the normal and valid masks.
    pub fn digital_unit(&self, i: usize) -> Option<(u16, u16)> {
        (i < self.digital_count()).then(|| {
            let at = self.units_at() + 4 * (self.phasor_count() + self.analog_count() + i);
            (be16(self.block, at), be16(self.block, at + 2))
        })
    }

    fn tail(&self) -> usize {
        self.block.len() - 4
    }

    /// FNOM.
    pub fn nominal(&self) -> Nominal {
        match be16(self.block, self.tail()) & 1 {
            1 => Nominal::Hz50,
            _ => Nominal::Hz60,
        }
    }

    /// CFGCNT.
    pub fn cfgcnt(&self) -> u16 {
        be16(self.block, self.tail() + 2)
    }

    /// The length of this PMU's part of a data frame.
    pub fn data_len(&self) -> usize {
        let (phasor, freq, analog) = self.format().sizes();
        2 + phasor * self.phasor_count()
            + 2 * freq
            + analog * self.analog_count()
            + 2 * self.digital_count()
    }
}

/// A name without its trailing spaces or NULs.
fn trim(name: &[u8]) -> &[u8] {
    let end = name
        .iter()
        .rposition(|b| *b != b' ' && *b != 0)
        .map_or(0, |i| i + 1);
    &name[..end]
}
