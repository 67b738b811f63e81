//! Data frames: each PMU's status, phasors, frequency, rate of change of
//! frequency, analog values and digital words, coded as its configuration
//! says.

use super::Error;
use super::config::{Config, ConfigFrame, PmuConfigView};
use super::frame::{Frame, FrameType, MIN_LEN, Timestamp, start};
use super::write::{be16, be32};

/// A phasor as coded: two 16-bit integers or two floats, rectangular
/// (real, imaginary) or polar (magnitude, angle in radians; ×10⁴ as integers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phasor {
    /// 16-bit integers.
    Int(i16, i16),
    /// 32-bit floats.
    Float(f32, f32),
}

/// FREQ, DFREQ or an analog value as coded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A 16-bit integer (FREQ: mHz from nominal; DFREQ: ROCOF × 100).
    Int(i16),
    /// A float (FREQ in Hz; DFREQ in Hz/s).
    Float(f32),
}

/// One PMU's measurements, to write.
#[derive(Debug, Clone, Copy)]
pub struct PmuData<'a> {
    /// STAT.
    pub stat: u16,
    /// The phasors, one per configured channel.
    pub phasors: &'a [Phasor],
    /// FREQ.
    pub freq: Value,
    /// DFREQ.
    pub dfreq: Value,
    /// The analog values, one per channel.
    pub analogs: &'a [Value],
    /// The digital words.
    pub digitals: &'a [u16],
}

/// Writes a data frame for `config` with one [`PmuData`] per PMU; its length.
pub fn emit(
    out: &mut [u8],
    config: &Config<'_>,
    time: Timestamp,
    pmus: &[PmuData<'_>],
) -> Result<usize, Error> {
    if pmus.len() != config.pmus.len() {
        return Err(Error::BadCount("PMU blocks"));
    }
    let mut size = MIN_LEN;
    for (data, pmu) in pmus.iter().zip(config.pmus) {
        if data.phasors.len() != pmu.phasors.len() {
            return Err(Error::BadCount("phasors"));
        }
        if data.analogs.len() != pmu.analogs.len() {
            return Err(Error::BadCount("analog values"));
        }
        if data.digitals.len() != pmu.digitals.len() {
            return Err(Error::BadCount("digital words"));
        }
        let float = |f: bool| if f { 4 } else { 2 };
        size += 2
            + 2 * float(pmu.format.phasors_float) * data.phasors.len()
            + 2 * float(pmu.format.freq_float)
            + float(pmu.format.analogs_float) * data.analogs.len()
            + 2 * data.digitals.len();
    }
    let mut w = start(
        out,
        FrameType::Data,
        config.version,
        size,
        config.idcode,
        time,
    )?;
    for (data, pmu) in pmus.iter().zip(config.pmus) {
        let format = pmu.format;
        w.u16(data.stat)?;
        for phasor in data.phasors {
            match (phasor, format.phasors_float) {
                (Phasor::Int(a, b), false) => {
                    w.i16(*a)?;
                    w.i16(*b)?;
                }
                (Phasor::Float(a, b), true) => {
                    w.f32(*a)?;
                    w.f32(*b)?;
                }
                _ => return Err(Error::FormatMismatch("a phasor")),
            }
        }
        for (value, float, what) in [
            (data.freq, format.freq_float, "FREQ"),
            (data.dfreq, format.freq_float, "DFREQ"),
        ] {
            write_value(&mut w, value, float, what)?;
        }
        for value in data.analogs {
            write_value(&mut w, *value, format.analogs_float, "an analog value")?;
        }
        for word in data.digitals {
            w.u16(*word)?;
        }
    }
    w.finish()
}

fn write_value(
    w: &mut super::write::Writer<'_>,
    value: Value,
    float: bool,
    what: &'static str,
) -> Result<(), Error> {
    match (value, float) {
        (Value::Int(v), false) => w.i16(v),
        (Value::Float(v), true) => w.f32(v),
        _ => Err(Error::FormatMismatch(what)),
    }
}

/// A checked data frame, read with its configuration.
#[derive(Debug, Clone, Copy)]
pub struct DataFrame<'a, 'c> {
    frame: Frame<'a>,
    config: ConfigFrame<'c>,
}

/// One PMU's block of a [`DataFrame`].
#[derive(Debug, Clone, Copy)]
pub struct PmuDataView<'a, 'c> {
    block: &'a [u8],
    config: PmuConfigView<'c>,
}

impl<'a, 'c> DataFrame<'a, 'c> {
    /// The data frame at the start of `buf`, its length checked against
    /// what `config` says it must be.
    pub fn parse(buf: &'a [u8], config: ConfigFrame<'c>) -> Result<DataFrame<'a, 'c>, Error> {
        let frame = Frame::parse_as(buf, FrameType::Data)?;
        let expected = config.data_frame_len();
        if frame.len() != expected {
            return Err(Error::BadLength {
                what: "data frame for this configuration",
                expected,
                found: frame.len(),
            });
        }
        Ok(DataFrame { frame, config })
    }

    /// The frame.
    pub fn frame(&self) -> &Frame<'a> {
        &self.frame
    }

    /// Each PMU's block, in the configuration's order.
    pub fn pmus(&self) -> impl Iterator<Item = PmuDataView<'a, 'c>> + 'a
    where
        'c: 'a,
    {
        let body = self.frame.body();
        let mut at = 0;
        self.config.pmus().map_while(move |config| {
            let len = config.data_len();
            let block = body.get(at..at + len)?;
            at += len;
            Some(PmuDataView { block, config })
        })
    }
}

impl PmuDataView<'_, '_> {
    /// STAT.
    pub fn stat(&self) -> u16 {
        be16(self.block, 0)
    }

    fn value(&self, at: usize, float: bool) -> Value {
        match float {
            true => Value::Float(f32::from_bits(be32(self.block, at))),
            false => Value::Int(be16(self.block, at) as i16),
        }
    }

    /// Phasor `i`.
    pub fn phasor(&self, i: usize) -> Option<Phasor> {
        if i >= self.config.phasor_count() {
            return None;
        }
        Some(match self.config.format().phasors_float {
            true => {
                let at = 2 + 8 * i;
                Phasor::Float(
                    f32::from_bits(be32(self.block, at)),
                    f32::from_bits(be32(self.block, at + 4)),
                )
            }
            false => {
                let at = 2 + 4 * i;
                Phasor::Int(be16(self.block, at) as i16, be16(self.block, at + 2) as i16)
            }
        })
    }

    fn after_phasors(&self) -> usize {
        let each = if self.config.format().phasors_float {
            8
        } else {
            4
        };
        2 + each * self.config.phasor_count()
    }

    fn freq_size(&self) -> usize {
        if self.config.format().freq_float {
            4
        } else {
            2
        }
    }

    /// FREQ as coded.
    pub fn freq(&self) -> Value {
        self.value(self.after_phasors(), self.config.format().freq_float)
    }

    /// DFREQ as coded.
    pub fn dfreq(&self) -> Value {
        self.value(
            self.after_phasors() + self.freq_size(),
            self.config.format().freq_float,
        )
    }

    /// The frequency in Hz.
    pub fn frequency_hz(&self) -> f32 {
        match self.freq() {
            Value::Float(hz) => hz,
            Value::Int(mhz) => self.config.nominal().hz() + f32::from(mhz) / 1000.0,
        }
    }

    /// The rate of change of frequency in Hz/s.
    pub fn rocof(&self) -> f32 {
        match self.dfreq() {
            Value::Float(v) => v,
            Value::Int(v) => f32::from(v) / 100.0,
        }
    }

    /// Analog value `i` as coded.
    pub fn analog(&self, i: usize) -> Option<Value> {
        let float = self.config.format().analogs_float;
        let each = if float { 4 } else { 2 };
        let at = self.after_phasors() + 2 * self.freq_size() + each * i;
        (i < self.config.analog_count()).then(|| self.value(at, float))
    }

    /// Digital word `i`.
    pub fn digital(&self, i: usize) -> Option<u16> {
        let float = self.config.format().analogs_float;
        let each = if float { 4 } else { 2 };
        let at =
            self.after_phasors() + 2 * self.freq_size() + each * self.config.analog_count() + 2 * i;
        (i < self.config.digital_count()).then(|| be16(self.block, at))
    }

    /// This PMU's configuration.
    pub fn config(&self) -> &PmuConfigView<'_> {
        &self.config
    }
}
