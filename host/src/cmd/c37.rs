//! `pmulab c37-pmu` and `pmulab c37-pdc`: IEEE C37.118.2, the protocol of
//! real PMUs and PDCs, with core's machines over std TCP.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pmulab_core::rng::Random;
use pmulab_core::synchrophasor::client::{ClientError, Flow};
use pmulab_core::synchrophasor::config::ConfigFrame;
use pmulab_core::synchrophasor::data::{DataFrame, Phasor};
use pmulab_core::synchrophasor::pdc::Received;
use pmulab_core::synchrophasor::pmu::PmuSettings;
use pmulab_core::synchrophasor::signal::Signal;
use pmulab_core::synchrophasor::udp::C37_UDP_PORT;
use pmulab_core::time::Instant;

use crate::cli::{C37PdcArgs, C37PmuArgs};
use crate::net::resolve::ipv4_first;
use crate::net::rng::seeded_or_random;
use crate::net::synchrophasor::{MAX_PDCS, run_pdc, serve_pmu};
use crate::ui::failure::Failure;
use crate::ui::log::Log;
use crate::ui::output::{say, tell};

/// Serves C37.118.2 until killed.
pub fn pmu(args: C37PmuArgs, log: &Log) -> Result<(), Failure> {
    let signal = Signal {
        nominal_hz: f64::from(args.nominal),
        offset_hz: args.offset,
        ramp_hz_per_s: args.ramp,
        noise: args.noise,
        ..Signal::default()
    };
    let settings = PmuSettings {
        idcode: args.id,
        station: &args.station,
        rate: args.rate,
        signal,
    };
    let seed = seeded_or_random(args.seed).next_u64();
    let started = |tcp, udp| {
        log.always(format_args!(
            "pmulab c37-pmu listening on {tcp} (TCP) and {udp} (UDP) (IEEE C37.118.2, IDCODE {}, station {:?}, \
{} frames/s, {} Hz nominal {:+} Hz, ramp {} Hz/s; phasors VA VB VC IA IB IC)",
            args.id, args.station, args.rate, args.nominal, args.offset, args.ramp
        ));
    };
    let limit = usize::try_from(args.max_connections).unwrap_or(MAX_PDCS);
    let udp_port = args.udp_port.unwrap_or(match args.port {
        0 => 0,
        _ => C37_UDP_PORT,
    });
    serve_pmu(
        args.bind,
        (args.port, udp_port),
        settings,
        seed,
        limit,
        started,
        &mut |event| log.info(format_args!("{event:?}")),
    )
    .map_err(|e| {
        Failure::runtime(format!(
            "cannot serve on {} (TCP {}, UDP {udp_port}): {e}{}",
            args.bind,
            args.port,
            e.advice()
                .map(|a| format!(" ({a}; the UDP port is chosen with --udp-port)"))
                .unwrap_or_default()
        ))
    })
}

/// Asks a PMU for its configuration and data, and prints them.
pub fn pdc(args: C37PdcArgs) -> Result<(), Failure> {
    let addr = ipv4_first(&args.server, args.port).map_err(|e| Failure::runtime(e.to_string()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let on_interrupt = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    let mut printer = Printer::new(args.csv);
    let mut printed: Result<(), Failure> = Ok(());
    let outcome = run_pdc(addr, args.id, args.timeout, &stop, |frame, arrived| {
        let step = match frame {
            Received::Config(cfg) => printer.config(&cfg),
            Received::Data(data) => printer.data(&data, arrived),
            Received::Header(header) => printer.header(header.text()),
            Received::Other(_) => Ok(()),
        };
        match step {
            Err(e) => {
                printed = Err(e);
                Flow::Stop
            }
            Ok(()) if args.frames > 0 && printer.frames >= args.frames => Flow::Stop,
            Ok(()) => Flow::More,
        }
    });
    printed?;
    printer.summary();
    match outcome {
        Ok(_) if stop.load(Ordering::Relaxed) => Err(Failure::interrupted()),
        Ok(_) => Ok(()),
        Err(ClientError::Connect(e) | ClientError::Socket(e)) => Err(Failure::runtime(format!(
            "cannot connect to {addr}: {e}{}",
            e.advice().map(|a| format!(" ({a})")).unwrap_or_default()
        ))),
        Err(ClientError::Frame(e)) => {
            Err(Failure::runtime(format!("the PMU sent a bad frame: {e}")))
        }
        Err(ClientError::NotC37(said)) => Err(Failure::runtime(format!(
            "{}:{} does not speak C37.118 (it answered {:?}); the lab's PMU is read with `pmulab pdc`",
            args.server,
            args.port,
            String::from_utf8_lossy(&said)
        ))),
        Err(ClientError::Silent(t)) if printer.frames == 0 && !printer.configured() => {
            Err(Failure::runtime(format!(
                "no configuration from {addr} in {} s: is it a C37.118 PMU, and is the IDCODE right (--id)?",
                t.as_secs_f64()
            )))
        }
        Err(ClientError::Silent(t)) => Err(Failure::runtime(format!(
            "the PMU sent nothing for {} s after {} data frames",
            t.as_secs_f64(),
            printer.frames
        ))),
        Err(ClientError::Closed) => Err(Failure::runtime(format!(
            "the PMU closed the connection after {} data frames",
            printer.frames
        ))),
        Err(ClientError::Send(e) | ClientError::Receive(e)) => {
            Err(Failure::runtime(format!("the connection failed: {e}")))
        }
    }
}

/// Prints what arrives: lines for people, or CSV.
struct Printer {
    csv: bool,
    configured: bool,
    frames: u64,
    names: Vec<String>,
    /// Arrival minus timestamp, milliseconds.
    lateness: Vec<f64>,
}

impl Printer {
    fn new(csv: bool) -> Printer {
        Printer {
            csv,
            configured: false,
            frames: 0,
            names: Vec::new(),
            lateness: Vec::new(),
        }
    }

    /// Whether a configuration has come.
    fn configured(&self) -> bool {
        self.configured
    }

    fn config(&mut self, cfg: &ConfigFrame<'_>) -> Result<(), Failure> {
        self.configured = true;
        self.names.clear();
        let mut about = Vec::new();
        for pmu in cfg.pmus() {
            let station = String::from_utf8_lossy(pmu.station()).into_owned();
            let names: Vec<String> = (0..pmu.phasor_count())
                .filter_map(|i| pmu.channel_name(i))
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            about.push(format!(
                "PMU {} {station:?}: {} phasors ({}), {} analog, {} digital words, nominal {} Hz",
                pmu.idcode(),
                pmu.phasor_count(),
                names.join(" "),
                pmu.analog_count(),
                pmu.digital_count(),
                pmu.nominal().hz()
            ));
            self.names.extend(names);
        }
        let rate = match cfg.data_rate() {
            r if r >= 0 => format!("{r} frames/s"),
            r => format!("a frame every {} s", -i32::from(r)),
        };
        tell!(
            "pmulab c37-pdc: configuration: {rate}; {}",
            about.join("; ")
        );
        if self.csv {
            let mut header = String::from("time,pmu,freq_hz,rocof_hz_per_s");
            for name in &self.names {
                let _ = write!(header, ",{name}_magnitude,{name}_angle_deg");
            }
            say!("{header}")?;
        }
        Ok(())
    }

    fn header(&mut self, text: &[u8]) -> Result<(), Failure> {
        tell!("pmulab c37-pdc: header: {}", String::from_utf8_lossy(text));
        Ok(())
    }

    fn data(&mut self, data: &DataFrame<'_, '_>, arrived: Instant) -> Result<(), Failure> {
        let time = data.frame().timestamp();
        let stamp = u64::from(time.soc) * 1_000_000 + u64::from(time.fraction);
        self.lateness
            .push(arrived.as_micros().saturating_sub(stamp) as f64 / 1000.0);
        self.frames += 1;
        let when = utc(time.soc, time.fraction);
        for pmu in data.pmus() {
            let phasors: Vec<(f64, f64)> = (0..pmu.config().phasor_count())
                .filter_map(|i| {
                    pmu.phasor(i)
                        .map(|p| polar(p, pmu.config().phasor_unit(i), pmu.config().format().polar))
                })
                .collect();
            let line = match self.csv {
                true => {
                    let mut line = format!(
                        "{when},{},{:.4},{:.4}",
                        pmu.config().idcode(),
                        pmu.frequency_hz(),
                        pmu.rocof()
                    );
                    for (m, a) in &phasors {
                        let _ = write!(line, ",{m:.3},{a:.3}");
                    }
                    line
                }
                false => {
                    let mut line = format!(
                        "{when}  f={:.4} Hz  rocof={:+.4} Hz/s",
                        pmu.frequency_hz(),
                        pmu.rocof()
                    );
                    for (name, (m, a)) in self.names.iter().zip(&phasors) {
                        let _ = write!(line, "  {name}={m:.2}∠{a:.2}°");
                    }
                    line
                }
            };
            say!("{line}")?;
        }
        Ok(())
    }

    fn summary(&self) {
        if self.lateness.is_empty() {
            return;
        }
        let mut sorted = self.lateness.clone();
        sorted.sort_by(f64::total_cmp);
        tell!(
            "pmulab c37-pdc: {} data frames; arrival after their timestamps: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.frames,
            percentile(&sorted, 50.0),
            percentile(&sorted, 99.0),
            sorted.last().copied().unwrap_or(0.0)
        );
    }
}

/// The `p`-th percentile of sorted values (nearest rank).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// (magnitude, angle in degrees) of a phasor as coded: integers scaled by
/// PHUNIT (10⁻⁵ per bit) and, in polar form, angles in 10⁻⁴ rad.
fn polar(
    phasor: Phasor,
    unit: Option<pmulab_core::synchrophasor::config::PhasorUnit>,
    polar: bool,
) -> (f64, f64) {
    let scale = unit.map_or(1.0, |u| f64::from(u.scale) * 1e-5);
    let (a, b) = match phasor {
        Phasor::Float(a, b) => (f64::from(a), f64::from(b)),
        Phasor::Int(a, b) if polar => (f64::from(a) * scale, f64::from(b) * 1e-4),
        Phasor::Int(a, b) => (f64::from(a) * scale, f64::from(b) * scale),
    };
    match polar {
        true => (a, b.to_degrees()),
        false => (a.hypot(b), b.atan2(a).to_degrees()),
    }
}

/// `2026-12-03T07:12:00.020000Z`.
fn utc(soc: u32, micros: u32) -> String {
    let nanos = i128::from(soc) * 1_000_000_000 + i128::from(micros) * 1000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        ),
        Err(_) => format!("{soc}.{micros:06}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_phasors_read_as_people_read_them() {
        assert_eq!(utc(1_149_577_200, 463_000), "2006-06-06T07:00:00.463000Z");
        let (m, a) = polar(Phasor::Float(230.0, -0.5), None, true);
        assert!((m - 230.0).abs() < 1e-4 && (a + 28.6479).abs() < 1e-3);
        let unit = pmulab_core::synchrophasor::config::PhasorUnit {
            current: false,
            scale: 915_527,
        };
        // Annex D: VA = 14635 × 915527 × 10⁻⁵ V ≈ 134 kV, at 0°.
        let (m, a) = polar(Phasor::Int(14635, 0), Some(unit), false);
        assert!((m - 133_987.4).abs() < 1.0 && a.abs() < 1e-9, "{m} {a}");
    }
}
