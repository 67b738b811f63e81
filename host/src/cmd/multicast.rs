//! Part 4: `receiver`, `sender` and `bot`, core's multicast codec and
//! broadcaster over the host stack.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::net::{IpAddr, SocketAddrV4};

use embedded_nal::{UdpClientStack, nb};
use pmulab_core::multicast::Group;
use pmulab_core::multicast::bot::{Bot, BotOutput};
use pmulab_core::multicast::client::{open_receiver, open_sender};
use pmulab_core::multicast::frame::{MAX_DATAGRAM, MAX_TEXT};
use pmulab_core::multicast::server::{BotEvent, broadcast};
use pmulab_core::multicast::{Frame, Id};
use pmulab_core::nal::Park;

use crate::cli::{BotArgs, ReceiverArgs, SenderArgs};
use crate::net::{HostClock, StdStack};
use crate::ui::failure::Failure;
use crate::ui::log::Log;

/// The bot's own text, used when no file is given.
const BUILT_IN_TEXT: &str = include_str!("bot_text.txt");

fn group(
    address: std::net::Ipv4Addr,
    port: u16,
    iface: std::net::Ipv4Addr,
    ttl: u8,
) -> Result<Group, Failure> {
    if !address.is_multicast() {
        return Err(Failure::usage(format!(
            "{address} is not a multicast group (224.0.0.0 to 239.255.255.255)"
        )));
    }
    Ok(Group {
        addr: SocketAddrV4::new(address, port),
        interface: iface,
        ttl,
    })
}

/// Joins the group and prints every message until killed (or `--count`).
pub fn receiver(args: ReceiverArgs, log: &Log) -> Result<(), Failure> {
    let group = group(
        args.group,
        args.port,
        args.multicast.iface,
        args.multicast.ttl,
    )?;
    let clock = HostClock::new();
    // The receiving socket binds the group address itself, so it hears that group only.
    let mut stack = StdStack::new(IpAddr::V4(args.group), clock);
    let mut socket = open_receiver(&mut stack, &group).map_err(|e| {
        Failure::runtime(format!(
            "cannot join {} on {}: {e}",
            group.addr, group.interface
        ))
    })?;
    log.always(format_args!(
        "listening on {} (joined on {})",
        group.addr, group.interface
    ));
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut stdout = std::io::stdout().lock();
    let mut line = String::new();
    let mut printed = 0u64;
    while args.max_messages.is_none_or(|n| printed < n) {
        let (len, from) = match UdpClientStack::receive(&mut stack, &mut socket, &mut buf) {
            Ok(got) => got,
            Err(nb::Error::WouldBlock) => {
                stack.park(None);
                continue;
            }
            Err(nb::Error::Other(e)) => {
                return Err(Failure::runtime(format!("receive failed: {e}")));
            }
        };
        let frame = match Frame::parse(&buf[..len]) {
            Ok(frame) => frame,
            Err(e) => {
                log.always(format_args!("{from}: malformed datagram ignored: {e}"));
                continue;
            }
        };
        line.clear();
        if args.show_address {
            let _ = write!(line, "{from} ");
        }
        if !args.plain {
            let _ = write!(line, "{}: ", frame.id);
        }
        escape_controls(frame.text, &mut line);
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(Failure::output)?;
        printed += 1;
    }
    Ok(())
}

/// One message, one line: control characters (a newline, a terminal
/// escape) from the network are shown escaped, never obeyed.
fn escape_controls(text: &str, out: &mut String) {
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

/// Sends each line of standard input to the group.
pub fn sender(args: SenderArgs, log: &Log) -> Result<(), Failure> {
    let id = Id::new(args.sciper.as_bytes()).map_err(|e| {
        Failure::usage(format!(
            "{:?} cannot be the identifier: {e} (a 6-digit student number such as 123456)",
            args.sciper
        ))
    })?;
    let group = group(
        args.group,
        args.port,
        args.multicast.iface,
        args.multicast.ttl,
    )?;
    let clock = HostClock::new();
    // Datagrams leave from the interface's own address (see StdStack::connect).
    let mut stack = StdStack::new(IpAddr::V4(group.interface), clock);
    let mut socket = open_sender(&mut stack, &group).map_err(|e| {
        Failure::runtime(format!(
            "cannot send to {} via {}: {e}",
            group.addr, group.interface
        ))
    })?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut raw = Vec::new();
    let mut line_no = 0u64;
    loop {
        raw.clear();
        let n = input
            .read_until(b'\n', &mut raw)
            .map_err(|e| Failure::runtime(format!("cannot read standard input: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        let body = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let Ok(text) = std::str::from_utf8(body) else {
            log.always(format_args!("line {line_no} is not UTF-8 text: not sent"));
            continue;
        };
        if text.len() > MAX_TEXT {
            log.always(format_args!(
                "line {line_no} is {} bytes; at most {MAX_TEXT} fit in one datagram: not sent",
                text.len()
            ));
            continue;
        }
        let len = Frame { id, text }
            .encode(&mut buf)
            .map_err(|e| Failure::runtime(format!("line {line_no}: {e}")))?;
        loop {
            match UdpClientStack::send(&mut stack, &mut socket, &buf[..len]) {
                Ok(()) => break,
                Err(nb::Error::WouldBlock) => stack.park(None),
                Err(nb::Error::Other(e)) => {
                    return Err(Failure::runtime(format!("cannot send line {line_no}: {e}")));
                }
            }
        }
        log.info(format_args!("sent line {line_no} ({len} bytes)"));
    }
}

/// Broadcasts the text forever (or once).
pub fn bot(args: BotArgs, log: &Log) -> Result<(), Failure> {
    let interval = args.interval;
    let group = group(args.group, args.port, args.iface, args.ttl)?;
    let owned;
    let (text, name) = match args.file.as_deref().and_then(|p| p.to_str()) {
        None | Some("builtin") => (BUILT_IN_TEXT, "pmulab's built-in play".to_string()),
        Some(_) => {
            let path = args.file.as_deref().unwrap_or(std::path::Path::new("-"));
            let bytes = match path.to_str() {
                Some("-") => {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map_err(|e| {
                        Failure::runtime(format!("cannot read standard input: {e}"))
                    })?;
                    bytes
                }
                _ => std::fs::read(path).map_err(|e| {
                    Failure::runtime(format!("cannot read {}: {e}", path.display()))
                })?,
            };
            owned = String::from_utf8(bytes).map_err(|e| {
                Failure::runtime(format!("{} is not UTF-8 text: {e}", path.display()))
            })?;
            (owned.as_str(), path.display().to_string())
        }
    };
    let clock = HostClock::new();
    // Datagrams leave from the interface's own address (see StdStack::connect).
    let mut stack = StdStack::new(IpAddr::V4(group.interface), clock);
    let mut socket = open_sender(&mut stack, &group).map_err(|e| {
        Failure::runtime(format!(
            "cannot send to {} via {}: {e}",
            group.addr, group.interface
        ))
    })?;
    log.always(format_args!(
        "pmulab bot sending {name} ({} lines) to {} via {}, one line every {} s, TTL {}",
        text.lines().count(),
        group.addr,
        group.interface,
        interval.as_secs_f64(),
        group.ttl
    ));
    let mut bot = Bot::new(text, interval, args.once);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    // Shared by the event log (which sets it) and the stop check (which reads it).
    let failure = std::cell::RefCell::new(None);
    broadcast(
        &mut stack,
        &clock,
        &mut bot,
        &mut socket,
        &mut buf,
        &mut |event: BotEvent<'_, _>| {
            let BotEvent::Output {
                output,
                datagram,
                sent,
            } = event;
            match (output, sent) {
                (BotOutput::Skipped { line, error }, _) => {
                    log.always(format_args!("line {line} skipped: {error}"))
                }
                (_, Err(nb::Error::Other(e))) => {
                    *failure.borrow_mut() = Some(format!("cannot send: {e}"))
                }
                (_, Err(nb::Error::WouldBlock)) => {
                    log.always(format_args!("send buffer full: a datagram was dropped"))
                }
                (BotOutput::Rewind { .. }, Ok(())) => {
                    log.info(format_args!("end of text: rewind marker sent"))
                }
                (BotOutput::Line { line, .. }, Ok(())) => log.info(format_args!(
                    "line {line}: {}",
                    String::from_utf8_lossy(datagram)
                )),
            }
        },
        &mut || failure.borrow().is_none(),
    );
    match failure.into_inner() {
        Some(message) => Err(Failure::runtime(message)),
        None => Ok(()),
    }
}
