//! The cases of the battery, one method each: what the client does, and
//! what it accepts as the server's answer.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::conn::{Conn, Reply};
use super::{Battery, Case, IO_LIMIT, Transport};

impl Battery {
    pub(super) fn trickled(&self) -> Case {
        self.case("sends its command one byte at a time, 30 ms apart", |b| {
            let mut conn = b.connect()?;
            let frame = conn.command_bytes(b"CMD_short:0");
            for byte in &frame {
                conn.send_raw(&[*byte]).map_err(|e| e.to_string())?;
                thread::sleep(Duration::from_millis(30));
            }
            let reply = conn.read_reply();
            b.expect_messages(&reply)?;
            Ok(format!("served in full after {} pieces", frame.len()))
        })
    }

    pub(super) fn silent(&self) -> Case {
        self.case("connects and never sends", |b| {
            // As for the slowloris below: a stack with no socket free (the
            // board's, while the well-behaved PDC beside the battery holds
            // them) ends a connection at once without a word. That is a
            // refusal by the stack, not the answer to silence: try again.
            for _ in 0..5 {
                let start = Instant::now();
                let tcp =
                    TcpStream::connect_timeout(&b.addr, IO_LIMIT).map_err(|e| e.to_string())?;
                let _ = tcp.set_read_timeout(Some(b.command_timeout + IO_LIMIT));
                let reply = Conn::Raw(tcp).read_reply();
                let waited = start.elapsed();
                if reply.text().is_empty() && waited < Duration::from_secs(1) {
                    thread::sleep(Duration::from_secs(1));
                    continue;
                }
                b.gone_in_time(waited)?;
                let said = match (&b.transport, reply.text()) {
                    (Transport::Ws, t) if t.starts_with("HTTP/1.1 400") => "HTTP 400".to_string(),
                    (Transport::Tls(_), _) => "the connection closed".to_string(),
                    (_, t) if t.starts_with("ERROR: no complete command") => format!("`{t}`"),
                    (_, t) => return Err(format!("unexpected answer {t:?}")),
                };
                return Ok(format!("{said} after {:.1} s", waited.as_secs_f64()));
            }
            Err("each of 5 connections was ended at once, without a word".into())
        })
    }

    pub(super) fn silent_after_upgrade(&self) -> Case {
        self.case("upgrades to WebSocket, then never sends", |b| {
            let start = Instant::now();
            let reply = b.connect()?.read_reply();
            b.gone_in_time(start.elapsed())?;
            match (reply.messages.first(), reply.close) {
                (Some(m), Some(1008)) if m.starts_with(b"ERROR: no complete command") => {
                    Ok(format!("`{}`, close 1008", String::from_utf8_lossy(m)))
                }
                _ => Err(format!(
                    "unexpected {:?}, close {:?}",
                    reply.text(),
                    reply.close
                )),
            }
        })
    }

    /// A slowloris: each byte comes well within any per-read timeout, but
    /// the whole command would take several command timeouts. A server that
    /// times the command as a whole answers `ERROR:` before it is complete;
    /// one that times each read serves it.
    pub(super) fn slower_than_the_timeout(&self) -> Case {
        self.case(
            "trickles its command slower than the command timeout",
            |b| {
                // A stack with no socket free (the board's, during the burst)
                // ends a connection at once without a word: that is a refusal
                // by the stack, not the answer to a slowloris, so try again.
                for _ in 0..5 {
                    match b.trickle()? {
                        Some(outcome) => return Ok(outcome),
                        None => thread::sleep(Duration::from_secs(1)),
                    }
                }
                Err("each of 5 connections was ended at once, without a word".into())
            },
        )
    }

    /// One slowloris connection: its outcome, or `None` if the connection
    /// was ended at once with nothing said.
    fn trickle(&self) -> Result<Option<String>, String> {
        let start = Instant::now();
        let mut conn = self.connect()?;
        let gap = self.command_timeout / 3;
        let frame = conn.command_bytes(b"CMD_short:0");
        // How many bytes had been sent when the server spoke (or closed).
        let mut spoke_after = frame.len();
        let mut spoke_at = Duration::ZERO;
        for (sent, byte) in frame.iter().enumerate() {
            if conn.send_raw(&[*byte]).is_err() {
                spoke_after = sent;
                spoke_at = start.elapsed();
                break;
            }
            // Waiting for the next byte's turn, see whether the server spoke.
            if conn.spoke_within(gap) {
                spoke_after = sent + 1;
                spoke_at = start.elapsed();
                break;
            }
        }
        if spoke_after == frame.len() {
            return Err(format!(
                "waited for all {} bytes ({:.1} s): the command timeout is not for the command as a whole",
                frame.len(),
                start.elapsed().as_secs_f64()
            ));
        }
        let reply = conn.read_reply();
        self.gone_in_time(start.elapsed())?;
        if reply.data.is_empty() && reply.messages.is_empty() && spoke_at < gap {
            return Ok(None);
        }
        let text = match &self.transport {
            Transport::Ws => reply
                .messages
                .first()
                .map(|m| String::from_utf8_lossy(m).to_string())
                .unwrap_or_default(),
            _ => reply.text(),
        };
        match text.starts_with("ERROR: no complete command") {
            true => Ok(Some(format!(
                "`{text}` after {:.1} s, {spoke_after} of {} bytes in",
                spoke_at.as_secs_f64(),
                frame.len()
            ))),
            false => Err(format!("unexpected answer {text:?}")),
        }
    }

    /// A silent or slow client must be dropped within its command timeout
    /// (plus slack for a busy machine), never held on.
    fn gone_in_time(&self, waited: Duration) -> Result<(), String> {
        match waited <= self.command_timeout + IO_LIMIT {
            true => Ok(()),
            false => Err(format!("held for {:.1} s", waited.as_secs_f64())),
        }
    }

    pub(super) fn oversized(&self) -> Case {
        self.case("sends a 10 kB command", |b| {
            let reply = b.exchange(&[b'A'; 10_000], |_| Ok(()))?;
            b.refused(&reply, &[1009])
        })
    }

    pub(super) fn binary(&self) -> Case {
        self.case("sends binary bytes as its command", |b| {
            // Short, so that it is refused for what it is, not for its length.
            let bytes = [0xff, 0xfe, 0x00, 0x01, 0x80, 0xc3, 0x28, 0x07];
            let reply = b.exchange(&bytes, |_| Ok(()))?;
            b.refused(&reply, &[1007, 1008])
        })
    }

    /// An `ERROR:` line (WebSocket: an error message or one of `codes`).
    fn refused(&self, reply: &Reply, codes: &[u16]) -> Result<String, String> {
        match &self.transport {
            Transport::Ws => match reply.close {
                Some(code) if codes.contains(&code) => {
                    let text = reply
                        .messages
                        .first()
                        .map(|m| format!("`{}`, ", String::from_utf8_lossy(m).trim_end()))
                        .unwrap_or_default();
                    Ok(format!("{text}close {code}"))
                }
                other => Err(format!("close {other:?} after {:?}", reply.text())),
            },
            _ => match reply.text() {
                t if t.starts_with("ERROR:") => Ok(format!("`{t}`, then close")),
                t => Err(format!("unexpected answer {t:?}")),
            },
        }
    }

    /// What a client of the wrong protocol gets.
    pub(super) fn wrong_protocol(&self) -> Case {
        match self.transport {
            Transport::Tcp => self.case("sends random bytes", |b| {
                let mut state = 0x9e37_79b9_u32;
                let noise: Vec<u8> = (0..40)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        state as u8
                    })
                    .collect();
                let reply = b.exchange(&noise, |_| Ok(()))?;
                b.refused(&reply, &[])
            }),
            Transport::Tls(_) => self.case("speaks plain text to the TLS port", |b| {
                let mut tcp =
                    TcpStream::connect_timeout(&b.addr, IO_LIMIT).map_err(|e| e.to_string())?;
                let _ = tcp.set_read_timeout(Some(IO_LIMIT));
                tcp.write_all(b"CMD_short:0").map_err(|e| e.to_string())?;
                let reply = Conn::Raw(tcp).read_reply();
                match reply.data.windows(4).any(|w| w == b"PMU ") {
                    true => Err("PMU data in clear".into()),
                    // 0x15: a TLS alert record.
                    false if reply.data.first() == Some(&0x15) => {
                        Ok("a TLS alert, then close; no data in clear".into())
                    }
                    false => Ok("closed; no data in clear".into()),
                }
            }),
            Transport::Ws => self.case("sends an unmasked frame after the upgrade", |b| {
                let mut conn = b.connect()?;
                // Text "CMD_short:0", FIN, no mask: clients must mask (RFC 6455 5.1).
                let mut frame = vec![0x81, 11];
                frame.extend_from_slice(b"CMD_short:0");
                conn.send_raw(&frame).map_err(|e| e.to_string())?;
                let reply = conn.read_reply();
                match reply.close {
                    Some(1002) => Ok("close 1002 (protocol error)".into()),
                    other => Err(format!("close {other:?}")),
                }
            }),
        }
    }

    /// Ten floods, each cut short by a reset (or a half-close) of the client.
    pub(super) fn mid_flood(&self, reset: bool) -> Case {
        let what = match reset {
            true => "resets the connection in the middle of a flood (10 times)",
            false => "half-closes, then leaves, in the middle of a flood (10 times)",
        };
        self.case(what, |b| {
            for _ in 0..10 {
                let mut conn = b.connect()?;
                conn.send_command(b"CMD_floodme")
                    .map_err(|e| e.to_string())?;
                let mut some = [0u8; 1000];
                conn.read_some(&mut some).map_err(|e| e.to_string())?;
                let tcp = conn.tcp();
                match reset {
                    true => crate::reset_on_close(tcp),
                    false => {
                        let _ = tcp.shutdown(Shutdown::Write);
                        let _ = conn.read_some(&mut some);
                    }
                }
            }
            b.well_behaved()?;
            Ok("the sessions end; the next PDC is served".into())
        })
    }

    pub(super) fn burst(&self) -> Case {
        self.case("opens many connections at once", |b| {
            let mut open = Vec::new();
            let mut refused = 0;
            for _ in 0..b.burst {
                match TcpStream::connect_timeout(&b.addr, IO_LIMIT) {
                    Ok(s) => open.push(s),
                    Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                        return Err(format!(
                            "this process ran out of descriptors after {} connections (ulimit -n)",
                            open.len()
                        ));
                    }
                    Err(_) => refused += 1,
                }
            }
            thread::sleep(Duration::from_millis(500));
            let (mut busy, mut waiting) = (0, 0);
            for s in &mut open {
                let _ = s.set_read_timeout(Some(Duration::from_millis(5)));
                let mut first = [0u8; 64];
                match s.read(&mut first) {
                    Ok(n) if first[..n].starts_with(b"ERROR: server busy") => busy += 1,
                    Ok(n) if first[..n].starts_with(b"HTTP/1.1 503") => busy += 1,
                    _ => waiting += 1,
                }
            }
            drop(open);
            // The closed connections free their slots; then service is whole.
            let deadline = Instant::now() + b.command_timeout + IO_LIMIT;
            loop {
                match b.well_behaved() {
                    Ok(()) => break,
                    Err(_) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(100));
                    }
                    Err(e) => return Err(format!("after the burst: {e}")),
                }
            }
            Ok(format!(
                "{} connections: {waiting} held a slot or waited, {busy} told busy, {refused} refused by the stack; then normal service",
                b.burst
            ))
        })
    }

    pub(super) fn udp_garbage(&self) -> Case {
        self.case("floods the reset port with 5000 garbage datagrams", |b| {
            let Some(to) = b.udp else {
                return Err("no UDP port".into());
            };
            let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            socket.connect(to).map_err(|e| e.to_string())?;
            let mut state = 0x1234_5678_u32;
            let mut datagram = [0u8; 1400];
            for i in 0..5000 {
                for byte in datagram.iter_mut() {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    *byte = state as u8;
                }
                let len = (state as usize) % datagram.len();
                // A few look almost right.
                let piece: &[u8] = match i % 50 {
                    0 => b"RESET:",
                    1 => b"RESET:-3",
                    2 => b"RESET:99999999999999999999",
                    _ => &datagram[..len],
                };
                let _ = socket.send(piece);
                if i % 100 == 0 {
                    // Bounded rate: a flood, not a benchmark of the kernel's drops.
                    thread::sleep(Duration::from_millis(1));
                }
            }
            socket
                .set_read_timeout(Some(Duration::from_millis(300)))
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 64];
            let mut answered_garbage = 0;
            while socket.recv(&mut buf).is_ok() {
                answered_garbage += 1;
            }
            if answered_garbage > 0 {
                return Err(format!("{answered_garbage} answers to garbage"));
            }
            for attempt in 1..=40 {
                socket.send(b"RESET:20").map_err(|e| e.to_string())?;
                if let Ok(n) = socket.recv(&mut buf)
                    && buf[..n].starts_with(b"OFFSET=")
                {
                    return Ok(format!(
                        "no answer to any; the next RESET:20 answered ({} after {attempt} requests)",
                        String::from_utf8_lossy(&buf[..n])
                    ));
                }
            }
            Err("no answer to RESET:20 after the flood".into())
        })
    }
}
