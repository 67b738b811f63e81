//! `pmulab pdc <server> <port> <command>` (part 2, and part 5 with `--tls`)
//! and `pmulab secure-pdc <command> <ca-certificate>` (part 5): core's PDC
//! client over the host stack, or over TLS on it.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use embedded_nal::TcpClientStack;
use pmulab_core::nal::Park;
use pmulab_core::stream::client::{PdcConfig, PdcError, ReplyKind, Request, fetch};
use pmulab_core::stream::command::Command;

use crate::cli::{PdcArgs, PdcOptions, SecurePdcArgs};
use crate::net::resolve::ipv4_first;
use crate::net::tls::{Role, TlsStack, config};
use crate::net::ws::client::{self, WsFetch, WsTarget};
use crate::net::{HostClock, StdStack};
use crate::ui::failure::{EXIT_FAILURE, EXIT_REFUSED, Failure};
use crate::ui::log::Log;
use crate::ui::output::{StdoutReply, tell, write_json};

/// Extra patience beyond a command's own interval before calling the PMU silent.
const GRACE: Duration = Duration::from_secs(10);
/// The low-water mark for a flood: a reader woken per 256 KiB rather than
/// per segment (see `StdStack::set_bulk_receive`).
const BULK_RECEIVE: u32 = 256 * 1024;

/// How to reach the PMU over TLS.
struct TlsTarget<'a> {
    ca: &'a Path,
    server_name: Option<&'a str>,
}

/// An error of a stack that may know what to do about it.
pub trait Advice {
    /// One sentence on what to do, if there is one.
    fn advice(&self) -> Option<&'static str>;
}

impl Advice for crate::net::stack::NetError {
    fn advice(&self) -> Option<&'static str> {
        self.advice()
    }
}

impl Advice for crate::net::tls::TlsNetError {
    fn advice(&self) -> Option<&'static str> {
        self.advice()
    }
}

/// `pmulab pdc`.
pub fn run(args: PdcArgs, log: &Log) -> Result<(), Failure> {
    // `pdc ws://host:port/path COMMAND` has no separate port.
    if args.server.starts_with("ws://") || args.server.starts_with("wss://") {
        if args.command.is_some() || args.tls.tls || args.tls.ca.is_some() {
            return Err(Failure::usage(
                "with a ws:// URL, give only the command: pmulab pdc ws://HOST:PORT/ COMMAND",
            ));
        }
        let target = WsTarget::parse_url(&args.server)?;
        return fetch_ws(&target, &args.port, &args.options, args.trace, log);
    }
    let port = parse_port(&args.server, &args.port)?;
    let command = args
        .command
        .as_deref()
        .ok_or_else(|| Failure::usage("the command is missing: pmulab pdc SERVER PORT COMMAND"))?;
    if args.ws {
        let target = WsTarget {
            host: args.server.clone(),
            port,
            path: "/".into(),
        };
        return fetch_ws(&target, command, &args.options, args.trace, log);
    }
    let remote = ipv4_first(&args.server, port)?;
    // --ca alone means TLS: nobody gives a CA to a plaintext exchange.
    let tls = args.tls.ca.as_deref().map(|ca| TlsTarget {
        ca,
        server_name: args.tls.server_name.as_deref(),
    });
    fetch_and_print(command, remote, tls, &args.options, args.trace, log, "pdc")
}

/// The PORT argument; the mistakes people make with it get a sentence each.
fn parse_port(server: &str, port: &str) -> Result<u16, Failure> {
    match port.parse::<u16>() {
        Ok(0) => Err(Failure::usage(
            "port 0 cannot be connected to: it means \"any free port\" only when listening",
        )),
        Ok(port) => Ok(port),
        Err(_) if server.parse::<SocketAddr>().is_ok() => Err(Failure::usage(format!(
            "put a space between the address and the port: pmulab pdc {} {} {port}",
            server.rsplit_once(':').map_or(server, |(host, _)| host),
            server.rsplit_once(':').map_or("", |(_, p)| p),
        ))),
        Err(_) => Err(Failure::usage(format!(
            "PORT must be a number from 1 to 65535, not {port:?}"
        ))),
    }
}

/// The WebSocket PDC (part 6).
fn fetch_ws(
    target: &WsTarget,
    command: &str,
    options: &PdcOptions,
    trace: bool,
    log: &Log,
) -> Result<(), Failure> {
    if Command::parse(command.as_bytes()).is_err() && !options.raw {
        let e = Command::parse(command.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(Failure::usage(format!(
            "{command:?} is not a lab command: {e} (use --raw to send it anyway)"
        )));
    }
    let idle_timeout = idle_timeout(command, options);
    let remote = ipv4_first(&target.host, target.port)?;
    log.info(format_args!("connecting to ws://{remote}{}", target.path));
    let how = WsFetch {
        connect_timeout: options.connect_timeout,
        idle_timeout,
        trace,
        raw: matches!(Command::parse(command.as_bytes()), Ok(Command::Floodme)),
    };
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let fetched = client::fetch(target, remote, command, how, &mut out);
    let flushed = std::io::Write::flush(&mut out);
    let summary = fetched?;
    flushed.map_err(Failure::output)?;
    if options.stats {
        tell!(
            "{} in {}, {}",
            plural(summary.messages, "message"),
            plural(summary.frames, "frame"),
            plural(summary.bytes, "byte")
        );
    }
    if let Some(path) = &options.json {
        let json = serde_json::json!({
            "server": remote.to_string(),
            "protocol": "ws",
            "command": command,
            "bytes": summary.bytes,
            "frames": summary.frames,
            "messages": summary.messages,
        });
        write_json(path, &json)?;
    }
    Ok(())
}

fn plural(n: u64, word: &str) -> String {
    match n {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    }
}

/// How long the PMU may be silent: `--timeout`, or the command's own
/// interval and some patience.
fn idle_timeout(command: &str, options: &PdcOptions) -> Duration {
    options.timeout.unwrap_or_else(|| {
        Command::parse(command.as_bytes())
            .ok()
            .and_then(Command::interval)
            .unwrap_or_default()
            + GRACE
    })
}

/// `pmulab secure-pdc`: the course's TLS client prototype.
pub fn run_secure(args: SecurePdcArgs, log: &Log) -> Result<(), Failure> {
    let remote = ipv4_first(&args.host, args.port)?;
    let tls = TlsTarget {
        ca: &args.ca_certificate,
        server_name: args.server_name.as_deref(),
    };
    fetch_and_print(
        &args.command,
        remote,
        Some(tls),
        &args.options,
        args.trace,
        log,
        "secure-pdc",
    )
}

fn fetch_and_print(
    command: &str,
    remote: SocketAddr,
    tls: Option<TlsTarget<'_>>,
    options: &PdcOptions,
    trace: bool,
    log: &Log,
    program: &str,
) -> Result<(), Failure> {
    let kind = match Command::parse(command.as_bytes()) {
        Ok(Command::Floodme) => ReplyKind::Raw,
        Ok(Command::Short { .. }) => ReplyKind::Messages,
        Err(_) if options.raw => ReplyKind::Messages,
        Err(e) => {
            return Err(Failure::usage(format!(
                "{command:?} is not a lab command: {e} (use --raw to send it anyway)"
            )));
        }
    };
    let config = PdcConfig {
        connect_timeout: options.connect_timeout,
        idle_timeout: idle_timeout(command, options),
    };
    let request = Request {
        remote,
        command: command.as_bytes(),
        kind,
    };
    log.info(format_args!("connecting to {remote}"));
    let clock = HostClock::new();
    let mut plain = StdStack::new(std::net::Ipv4Addr::UNSPECIFIED.into(), clock);
    if kind == ReplyKind::Raw {
        plain.set_bulk_receive(BULK_RECEIVE);
    }
    match tls {
        None => exchange(plain, clock, request, &config, options, trace, "tcp"),
        Some(target) => {
            let (client, name) = config::client(target.ca, target.server_name, remote.ip())?;
            if target.server_name.is_none() {
                tell!(
                    "pmulab {program}: note: verifying the PMU's certificate chain against {} only, \
not its name (add --server-name NAME to check the name too)",
                    target.ca.display()
                );
            }
            exchange(
                TlsStack::new(plain, Role::Client(client, name)),
                clock,
                request,
                &config,
                options,
                trace,
                "tls",
            )
        }
    }
}

fn exchange<S>(
    mut stack: S,
    clock: HostClock,
    request: Request<'_>,
    config: &PdcConfig,
    options: &PdcOptions,
    trace: bool,
    protocol: &str,
) -> Result<(), Failure>
where
    S: TcpClientStack + Park,
    S::Error: std::fmt::Display + Advice,
{
    let mut out = StdoutReply::new(trace);
    let mut buf = vec![0u8; options.read_size as usize];
    let result = fetch(&mut stack, &clock, request, config, &mut buf, &mut out);
    let flushed = out.finish();
    // Output closed early (`| head`): the reader has what it wanted; stop quietly.
    let broken_pipe = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    if matches!(&result, Err(PdcError::Output(e)) if broken_pipe(e))
        || flushed.as_ref().is_err_and(broken_pipe)
    {
        return Ok(());
    }
    let summary = result.map_err(|e| failure(e, request.remote))?;
    flushed.map_err(|e| Failure::runtime(format!("cannot write the output: {e}")))?;
    if let Some(path) = &options.json {
        let json = serde_json::json!({
            "server": request.remote.to_string(),
            "protocol": protocol,
            "command": String::from_utf8_lossy(request.command),
            "bytes": summary.bytes,
            "reads": summary.reads,
            "messages": summary.messages,
        });
        write_json(path, &json)?;
    }
    if options.stats {
        let mut line = format!(
            "{} in {}",
            plural(summary.bytes, "byte"),
            plural(summary.reads, "read")
        );
        if request.kind == ReplyKind::Messages {
            line += &format!(", {}", plural(summary.messages, "message"));
        }
        tell!("{line}");
    }
    Ok(())
}

fn failure<N: Debug + std::fmt::Display + Advice>(
    e: PdcError<N, std::io::Error>,
    remote: SocketAddr,
) -> Failure {
    let code = match e {
        PdcError::Refused(_) => EXIT_REFUSED,
        _ => EXIT_FAILURE,
    };
    let with_advice = |text: String, n: &N| match n.advice() {
        Some(advice) => format!("{text}: {advice}"),
        None => text,
    };
    let message = match &e {
        PdcError::Connect(n) => with_advice(format!("{remote}: cannot connect: {n}"), n),
        PdcError::ConnectTimeout => format!("{remote}: {e}"),
        PdcError::Receive(n) => format!("connection broken while receiving: {n}"),
        PdcError::Send(n) => format!("sending the command failed: {n}"),
        PdcError::HttpReply => format!(
            "{remote} answered with HTTP: it is a WebSocket/HTTP server: use ws://{remote}/ or --ws"
        ),
        _ => e.to_string(),
    };
    Failure { code, message }
}
