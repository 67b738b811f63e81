//! `pmulab capture`: the analysis half of the lab. Captures the lab's
//! traffic live (or reads a saved capture), prints what each packet means
//! in the lab's terms, and sums up; `-w` keeps a pcapng with the TLS
//! secrets of pmulab's own sessions in it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::analysis::dissect::{Dissector, Ports, Record};
use crate::analysis::file::{self, FileError};
use crate::analysis::live::LiveCapture;
use crate::analysis::packet::{self, LinkType};
use crate::analysis::pcapng::{PcapngWriter, SNAP_LEN};
use crate::cli::CaptureArgs;
use crate::lab::launch::spawn_watched;
use crate::ui::failure::Failure;
use crate::ui::output::{say, tell};

/// After the command ends, the last ACKs and FINs still arrive.
const GRACE: Duration = Duration::from_millis(300);

/// How records are printed.
#[derive(Clone, Copy)]
enum Shown {
    Lines,
    Json,
    SummaryOnly,
}

pub fn run(args: CaptureArgs) -> Result<(), Failure> {
    let ports = match args.ports.is_empty() {
        true => Ports::lab(),
        false => Ports::only(&args.ports),
    };
    let shown = match (args.json, args.summary) {
        (true, _) => Shown::Json,
        (false, true) => Shown::SummaryOnly,
        (false, false) => Shown::Lines,
    };
    let dissector = Dissector::new(ports);
    match &args.read {
        Some(path) => read_file(path, dissector, shown),
        None => capture_live(&args, dissector, shown),
    }
}

fn show(record: &Record, shown: Shown) -> Result<(), Failure> {
    match shown {
        Shown::Lines => say!("{record}"),
        Shown::Json => say!("{}", record.to_json()),
        Shown::SummaryOnly => Ok(()),
    }
}

fn finish(dissector: &Dissector, shown: Shown, drops: Option<u64>) -> Result<(), Failure> {
    let summary = dissector.summary();
    let drops = match drops {
        Some(0) => "; none dropped".to_string(),
        Some(n) => {
            format!("; {n} DROPPED by the kernel (its buffer was full): the figures miss them")
        }
        None => String::new(),
    };
    match shown {
        Shown::Json => {
            for line in summary.to_string().lines() {
                tell!("{line}");
            }
            if !drops.is_empty() {
                tell!("capture{drops}");
            }
            Ok(())
        }
        _ => {
            if matches!(shown, Shown::Lines) {
                say!("")?;
            }
            let text = summary.to_string();
            let mut lines = text.lines();
            if let Some(head) = lines.next() {
                say!("{head}{drops}")?;
            }
            for line in lines {
                say!("{line}")?;
            }
            Ok(())
        }
    }
}

fn read_file(path: &Path, mut dissector: Dissector, shown: Shown) -> Result<(), Failure> {
    let capture = file::read(path).map_err(|e| match e {
        FileError::Io(e) => Failure::runtime(format!("cannot read {}: {e}", path.display())),
        other => Failure::runtime(format!("{}: {other}", path.display())),
    })?;
    if !capture.unread_links.is_empty() {
        tell!(
            "pmulab capture: {} frames of a link type pmulab does not read (LINKTYPE {}) were skipped",
            capture.unread_links.len(),
            capture.unread_links[0]
        );
    }
    if !capture.tls_secrets.is_empty() {
        let lines = capture
            .tls_secrets
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        tell!(
            "pmulab capture: the file carries TLS secrets ({lines} key log lines): Wireshark decrypts its sessions"
        );
    }
    for frame in &capture.frames {
        match packet::decode(frame.link, frame.time, &frame.data, frame.wire_len) {
            Ok(Some(packet)) => {
                if let Some(record) = dissector.handle_packet(&packet) {
                    show(&record, shown)?;
                }
            }
            Ok(None) => dissector.handle_other(),
            Err(_) => dissector.handle_malformed(),
        }
    }
    finish(&dissector, shown, None)?;
    match capture.problem {
        Some(problem) => Err(Failure::runtime(format!(
            "{}: {problem}; the packets before it are shown",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// Ctrl-C ends a live capture with its summary.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let on_interrupt = flag.clone();
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    flag
}

/// The key log a command's TLS sessions write to.
struct KeyLog {
    path: PathBuf,
    /// Made for this capture: removed at the end.
    ours: bool,
}

impl KeyLog {
    fn for_command() -> KeyLog {
        match std::env::var_os("SSLKEYLOGFILE") {
            Some(path) if !path.is_empty() => KeyLog {
                path: PathBuf::from(path),
                ours: false,
            },
            _ => KeyLog {
                path: std::env::temp_dir()
                    .join(format!("pmulab-keylog-{}.txt", std::process::id())),
                ours: true,
            },
        }
    }

    fn take(self) -> Vec<u8> {
        let bytes = std::fs::read(&self.path).unwrap_or_default();
        if self.ours {
            let _ = std::fs::remove_file(&self.path);
        }
        bytes
    }
}

fn capture_live(args: &CaptureArgs, mut dissector: Dissector, shown: Shown) -> Result<(), Failure> {
    let mut live = LiveCapture::open(&args.iface, SNAP_LEN as usize).map_err(|e| {
        Failure::runtime(match e.advice() {
            Some(advice) => format!("{e}: {advice}"),
            None => e.to_string(),
        })
    })?;
    let mut writer = match &args.write {
        Some(path) => Some(
            PcapngWriter::create(path)
                .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let interrupted = interrupt_flag();
    let keylog = (!args.command.is_empty()).then(KeyLog::for_command);
    let mut child = match &keylog {
        Some(keylog) => Some(spawn_watched(
            &args.command,
            &[("SSLKEYLOGFILE", keylog.path.as_os_str())],
        )?),
        None => {
            tell!(
                "pmulab capture: capturing on {} (ports {}); Ctrl-C stops",
                args.iface,
                match args.ports.is_empty() {
                    true => Ports::lab().list(),
                    false => Ports::only(&args.ports).list(),
                }
            );
            None
        }
    };
    let started = Instant::now();
    let mut child_status = None;
    let mut ended_at: Option<Instant> = None;
    let mut failure = None;
    loop {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        if let Some(limit) = args.duration
            && started.elapsed() >= limit
        {
            break;
        }
        if let Some(c) = child.as_mut()
            && child_status.is_none()
            && let Ok(Some(status)) = c.try_wait()
        {
            child_status = Some(status);
            ended_at = Some(Instant::now());
        }
        if ended_at.is_some_and(|t| t.elapsed() >= GRACE) {
            break;
        }
        let frame = match live.next(Duration::from_millis(50)) {
            Ok(Some(frame)) => frame,
            Ok(None) => continue,
            Err(e) => {
                failure = Some(Failure::runtime(format!("capture on {}: {e}", args.iface)));
                break;
            }
        };
        let packet =
            match packet::decode(LinkType::Ethernet, frame.time, &frame.data, frame.wire_len) {
                Ok(Some(packet)) if dissector.is_lab(&packet) => packet,
                // Not the lab's: neither kept nor numbered.
                _ => continue,
            };
        if let Some(w) = writer.as_mut()
            && let Err(e) = w.write_frame(frame.time, &frame.data, frame.wire_len)
        {
            failure = Some(Failure::runtime(format!("cannot write the capture: {e}")));
            break;
        }
        if let Some(record) = dissector.handle_packet(&packet)
            && let Err(f) = show(&record, shown)
        {
            failure = Some(f);
            break;
        }
    }
    if let Some(mut c) = child.take()
        && child_status.is_none()
    {
        // Interrupted or out of time: the command ends with the capture.
        let _ = c.kill();
        child_status = c.wait().ok();
    }
    let drops = live.drops();
    let mut secrets = keylog.map(KeyLog::take).unwrap_or_default();
    if let Some(path) = &args.keylog {
        let extra = std::fs::read(path).map_err(|e| {
            Failure::runtime(format!("cannot read the key log {}: {e}", path.display()))
        })?;
        secrets.extend_from_slice(&extra);
    }
    if let (Some(w), Some(path)) = (writer, &args.write) {
        let frames = w
            .finish(&args.iface, &secrets)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
        let with_secrets = match secrets.is_empty() {
            true => String::new(),
            false => " and the TLS secrets of its sessions".to_string(),
        };
        tell!(
            "pmulab capture: {frames} packets{with_secrets} written to {}",
            path.display()
        );
    }
    if let Some(f) = failure {
        return Err(f);
    }
    let _ = std::io::stdout().flush();
    finish(&dissector, shown, Some(drops))?;
    if interrupted.load(Ordering::Relaxed) {
        return Err(Failure::interrupted());
    }
    match child_status.and_then(|s| s.code()) {
        Some(0) | None => Ok(()),
        Some(code) => Err(Failure {
            code: u8::try_from(code).unwrap_or(1),
            message: format!("the command exited with status {code}"),
        }),
    }
}
