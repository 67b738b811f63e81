//! `pmulab load`: many concurrent PDC sessions against a PMU, bounded in
//! count and time, with throughput, latency percentiles and errors by kind —
//! "how many PDCs can my board serve?".

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pmulab_core::reset::codec::Offset;
use pmulab_core::stream::deframer::{Deframer, Piece};

use pmulab_core::reset::Reset;
use pmulab_core::stream::reply::{self, ReplyClass};

use crate::cli::LoadArgs;
use crate::cli::values::Protocol;
use crate::net::resolve::ipv4_first;
use crate::net::tls::config as tls;
use crate::ui::failure::Failure;
use crate::ui::output::{say, write_json};

/// What one session measured.
#[derive(Default)]
struct Sample {
    connect: Duration,
    first: Option<Duration>,
    complete: Duration,
    messages: u64,
    bytes: u64,
}

#[derive(Default)]
struct Totals {
    samples: Vec<Sample>,
    errors: BTreeMap<String, u64>,
}

/// How to reach the server.
#[derive(Clone)]
enum Target {
    Tcp,
    Tls(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    ),
    Ws,
    Udp,
}

/// Runs the load and prints the report.
pub fn run(args: LoadArgs) -> Result<(), Failure> {
    let addr = ipv4_first(&args.server, args.port)?;
    let duration = args.duration;
    let target = match args.protocol {
        Protocol::Tls => {
            let ca = args
                .ca
                .as_deref()
                .ok_or_else(|| Failure::usage("--protocol tls needs --ca FILE"))?;
            let (config, name) = tls::client(ca, args.server_name.as_deref(), addr.ip())?;
            Target::Tls(config, name)
        }
        Protocol::Ws => Target::Ws,
        Protocol::Udp => Target::Udp,
        Protocol::Tcp => Target::Tcp,
    };
    let command = match (&target, &args.command) {
        (Target::Udp, None) => Reset::LAB.to_string(),
        (_, None) => "CMD_short:0".to_string(),
        (_, Some(c)) => c.clone(),
    };
    let started = AtomicU64::new(0);
    let totals = Mutex::new(Totals::default());
    let deadline = Instant::now() + duration;
    let begin = Instant::now();
    // Ctrl-C ends the load early; the report of what was done still comes.
    let interrupted = Arc::new(AtomicBool::new(false));
    let on_interrupt = Arc::clone(&interrupted);
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..args.concurrency {
            scope.spawn(|| {
                let mut udp = None;
                while Instant::now() < deadline
                    && !stop.load(Ordering::Relaxed)
                    && !interrupted.load(Ordering::Relaxed)
                    && started.fetch_add(1, Ordering::Relaxed) < args.sessions
                {
                    let result = session(&target, addr, &command, &mut udp);
                    let mut t = totals
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    match result {
                        Ok(sample) => t.samples.push(sample),
                        Err(kind) => *t.errors.entry(kind).or_default() += 1,
                    }
                    // Nothing listens: no point in thousands more attempts.
                    if t.samples.is_empty()
                        && t.errors.get(REFUSED).copied().unwrap_or(0) >= GIVE_UP_AFTER_REFUSALS
                    {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let elapsed = begin.elapsed();
    let totals = totals
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    report(&args, addr, &command, &totals, elapsed)?;
    if interrupted.load(Ordering::Relaxed) {
        return Err(Failure::interrupted());
    }
    if stop.load(Ordering::Relaxed) {
        return Err(Failure::runtime(format!(
            "stopped after {GIVE_UP_AFTER_REFUSALS} refused connections and no session: nothing listens on {addr}"
        )));
    }
    match totals.samples.is_empty() {
        true => Err(Failure::runtime("no session completed")),
        false => Ok(()),
    }
}

/// The error kind of a refused connection.
const REFUSED: &str = "connection refused";
/// Refused connections, with no session done, after which the load stops.
const GIVE_UP_AFTER_REFUSALS: u64 = 200;

fn kind(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => REFUSED.into(),
        std::io::ErrorKind::ConnectionReset => "connection reset".into(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timeout".into(),
        other => format!("{other}"),
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn session(
    target: &Target,
    addr: SocketAddr,
    command: &str,
    udp: &mut Option<UdpSocket>,
) -> Result<Sample, String> {
    let start = Instant::now();
    if let Target::Udp = target {
        return reset_exchange(addr, command, udp, start);
    }
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| kind(&e))?;
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let mut sample = Sample {
        connect: start.elapsed(),
        ..Sample::default()
    };
    match target {
        Target::Tcp => read_stream(stream, command, start, &mut sample)?,
        Target::Tls(config, name) => {
            let conn = rustls::ClientConnection::new(config.clone(), name.clone())
                .map_err(|e| format!("TLS: {e}"))?;
            let _ = stream.set_nodelay(true);
            let tls = rustls::StreamOwned::new(conn, stream);
            read_stream(tls, command, start, &mut sample)?;
        }
        Target::Ws => ws_session(stream, addr, command, start, &mut sample)?,
        Target::Udp => {}
    }
    sample.complete = start.elapsed();
    Ok(sample)
}

fn read_stream(
    mut stream: impl Read + Write,
    command: &str,
    start: Instant,
    sample: &mut Sample,
) -> Result<(), String> {
    stream.write_all(command.as_bytes()).map_err(|e| kind(&e))?;
    let mut deframer = Deframer::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            // A TLS peer that closes without close_notify still delivered its data.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(kind(&e)),
        };
        if sample.first.is_none() {
            sample.first = Some(start.elapsed());
            if reply::classify(&buf[..n]) == Some(ReplyClass::Refusal) {
                return Err("refused (ERROR:)".into());
            }
        }
        sample.bytes += n as u64;
        deframer.feed(&buf[..n], &mut |p| {
            if p == Piece::End {
                sample.messages += 1;
            }
        });
    }
    deframer.finish(&mut |p| {
        if p == Piece::End {
            sample.messages += 1;
        }
    });
    Ok(())
}

fn ws_session(
    stream: TcpStream,
    addr: SocketAddr,
    command: &str,
    start: Instant,
    sample: &mut Sample,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let url = format!("ws://{addr}/");
    let (mut ws, _) = tungstenite::client::client(url.as_str(), stream)
        .map_err(|e| format!("WebSocket upgrade: {e}"))?;
    ws.send(tungstenite::Message::text(command.to_string()))
        .map_err(|e| format!("WebSocket: {e}"))?;
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                sample.first.get_or_insert(start.elapsed());
                sample.messages += 1;
                sample.bytes += t.len() as u64;
            }
            Ok(tungstenite::Message::Binary(b)) => {
                sample.first.get_or_insert(start.elapsed());
                sample.messages += 1;
                sample.bytes += b.len() as u64;
            }
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            )) => {
                return Err("closed without a close handshake".into());
            }
            Err(e) => return Err(format!("WebSocket: {e}")),
        }
    }
}

/// One reset: the request again every second until answered (at most 10).
fn reset_exchange(
    addr: SocketAddr,
    command: &str,
    udp: &mut Option<UdpSocket>,
    start: Instant,
) -> Result<Sample, String> {
    if udp.is_none() {
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(|_| "address".to_string())?;
        let socket = UdpSocket::bind(local).map_err(|e| kind(&e))?;
        socket.connect(addr).map_err(|e| kind(&e))?;
        socket
            .set_read_timeout(Some(Duration::from_secs(1)))
            .map_err(|e| kind(&e))?;
        *udp = Some(socket);
    }
    let socket = udp.as_ref().ok_or("no socket")?;
    let mut buf = [0u8; 64];
    for _ in 0..10 {
        socket.send(command.as_bytes()).map_err(|e| kind(&e))?;
        match socket.recv(&mut buf) {
            Ok(n) => {
                let elapsed = start.elapsed();
                Offset::parse(&buf[..n]).map_err(|e| format!("a bad answer: {e}"))?;
                return Ok(Sample {
                    connect: Duration::ZERO,
                    first: Some(elapsed),
                    complete: elapsed,
                    messages: 1,
                    bytes: n as u64,
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(kind(&e)),
        }
    }
    Err("no answer after 10 requests".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn report(
    args: &LoadArgs,
    addr: SocketAddr,
    command: &str,
    t: &Totals,
    elapsed: Duration,
) -> Result<(), Failure> {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let done = t.samples.len() as u64;
    let failed: u64 = t.errors.values().sum();
    let messages: u64 = t.samples.iter().map(|s| s.messages).sum();
    let bytes: u64 = t.samples.iter().map(|s| s.bytes).sum();
    say!(
        "pmulab load: {} {} sessions of {command} against {addr}, {} at once, for {:.2} s",
        done + failed,
        args.protocol.name(),
        args.concurrency,
        secs
    )?;
    say!(
        "  sessions   {done:>10} done, {failed} failed   {:>12.1} /s",
        done as f64 / secs
    )?;
    say!(
        "  messages   {messages:>10}               {:>12.1} /s",
        messages as f64 / secs
    )?;
    say!(
        "  bytes      {bytes:>10}               {:>12.1} MB/s",
        bytes as f64 / secs / 1e6
    )?;
    let mut latencies: [(&str, Vec<Duration>); 3] = [
        ("connect", t.samples.iter().map(|s| s.connect).collect()),
        ("first", t.samples.iter().filter_map(|s| s.first).collect()),
        ("complete", t.samples.iter().map(|s| s.complete).collect()),
    ];
    say!(
        "  latency    {:>12} {:>12} {:>12} {:>12}",
        "p50",
        "p90",
        "p99",
        "max"
    )?;
    for (name, values) in &mut latencies {
        values.sort();
        if values.is_empty() {
            say!(
                "    {name:<8} {:>12} {:>12} {:>12} {:>12}",
                "-",
                "-",
                "-",
                "-"
            )?;
            continue;
        }
        say!(
            "    {name:<8} {:>12} {:>12} {:>12} {:>12}",
            ms(percentile(values, 0.5)),
            ms(percentile(values, 0.9)),
            ms(percentile(values, 0.99)),
            ms(values.last().copied().unwrap_or_default())
        )?;
    }
    match t.errors.is_empty() {
        true => say!("  errors     none")?,
        false => {
            for (kind, n) in &t.errors {
                say!("  errors     {n} × {kind}")?;
            }
        }
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "server": addr.to_string(),
            "protocol": args.protocol.name(),
            "command": command,
            "sessions": done,
            "failed": failed,
            "seconds": secs,
            "sessions_per_second": done as f64 / secs,
            "messages_per_second": messages as f64 / secs,
            "bytes_per_second": bytes as f64 / secs,
            "complete_p50_ms": percentile(&latencies[2].1, 0.5).as_secs_f64() * 1000.0,
            "complete_p99_ms": percentile(&latencies[2].1, 0.99).as_secs_f64() * 1000.0,
            "errors": t.errors,
        });
        write_json(path, &json)?;
    }
    Ok(())
}
