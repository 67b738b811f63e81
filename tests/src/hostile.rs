//! The hostile-client battery: the same misbehaving clients against any PMU
//! — plain TCP (`pmu`, the board), TLS (`secure-pmu`) or WebSocket
//! (`ws-pmu`) — while a well-behaved PDC keeps asking for data beside them.
//!
//! Each case says what it did and what the server answered; a case fails
//! when the server answers wrongly, stalls past its own timeouts, or stops
//! serving the well-behaved client. Memory and the servers' logs are
//! checked by the caller, who can see the server process.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pmulab_core::flood::MESSAGE_PREFIX;

/// How the battery reaches the server.
#[derive(Clone)]
pub enum Transport {
    /// Plain TCP: `pmu`, the board.
    Tcp,
    /// TLS with this client configuration, checking the name `localhost`.
    Tls(Arc<rustls::ClientConfig>),
    /// WebSocket at path `/`.
    Ws,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Tls(_) => "tls",
            Transport::Ws => "ws",
        })
    }
}

/// What to run and what to expect.
#[derive(Debug, Clone)]
pub struct Battery {
    /// The server's TCP address.
    pub addr: SocketAddr,
    /// Its transport.
    pub transport: Transport,
    /// Messages per `CMD_short` (the server's fixed count).
    pub count: usize,
    /// The server's command timeout: silent clients must be gone soon after.
    pub command_timeout: Duration,
    /// Connections opened at once in the burst case.
    pub burst: usize,
    /// The UDP reset port, for the garbage flood (none: case skipped).
    pub udp: Option<SocketAddr>,
}

/// One case's result: what was done, and the outcome or the failure.
#[derive(Debug)]
pub struct Case {
    /// What the client did.
    pub what: &'static str,
    /// What the server did, or why the case failed.
    pub outcome: Result<String, String>,
}

/// What the server sent back to one connection.
#[derive(Debug, Default)]
struct Reply {
    /// The bytes (TCP, TLS) or the messages' payloads joined (WebSocket).
    data: Vec<u8>,
    /// WebSocket messages, one entry each.
    messages: Vec<Vec<u8>>,
    /// WebSocket close code, if the server sent a close frame.
    close: Option<u16>,
    /// How the connection ended, if not with a clean end of stream.
    error: Option<io::Error>,
}

impl Reply {
    fn text(&self) -> String {
        let shown = &self.data[..self.data.len().min(80)];
        String::from_utf8_lossy(shown).trim_end().to_string()
    }
}

const IO_LIMIT: Duration = Duration::from_secs(15);

impl Battery {
    /// Runs every case with the well-behaved client running beside them.
    pub fn run(&self) -> (Vec<Case>, Watch) {
        let stop = Arc::new(AtomicBool::new(false));
        let watch = Arc::new(Mutex::new(Watch::default()));
        // The slow cases wait out the command timeout; they run beside the rest.
        let mut slow_cases: Vec<fn(&Battery) -> Case> =
            vec![Battery::silent, Battery::slower_than_the_timeout];
        if let Transport::Ws = self.transport {
            slow_cases.insert(1, Battery::silent_after_upgrade);
        }
        let slow: Vec<_> = slow_cases
            .into_iter()
            .map(|case| {
                let b = self.clone();
                thread::spawn(move || case(&b))
            })
            .collect();
        let watcher = {
            let (b, stop, watch) = (self.clone(), stop.clone(), watch.clone());
            thread::spawn(move || b.watch(&stop, &watch))
        };
        // Let the slow cases take their slots before the rest competes (a
        // board has four).
        thread::sleep(Duration::from_millis(300));
        let mut cases = vec![
            self.trickled(),
            self.oversized(),
            self.binary(),
            self.wrong_protocol(),
            self.mid_flood(false),
            self.mid_flood(true),
        ];
        if self.udp.is_some() {
            cases.push(self.udp_garbage());
        }
        for handle in slow {
            match handle.join() {
                Ok(case) => cases.push(case),
                Err(_) => cases.push(Case {
                    what: "a slow case",
                    outcome: Err("its thread panicked".into()),
                }),
            }
        }
        // Last, as it may hold every slot for a while.
        cases.push(self.burst());
        // Once the burst and the slow cases are over, service must be whole.
        cases.push(self.case("a well-behaved PDC after everything", |b| {
            b.well_behaved().map(|()| "served in full".to_string())
        }));
        stop.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        let watch = std::mem::take(&mut *watch.lock().unwrap_or_else(|p| p.into_inner()));
        (cases, watch)
    }

    fn case(&self, what: &'static str, f: impl FnOnce(&Battery) -> Result<String, String>) -> Case {
        Case {
            what,
            outcome: f(self),
        }
    }

    /// The well-behaved PDC, over and over until told to stop.
    fn watch(&self, stop: &AtomicBool, watch: &Mutex<Watch>) {
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let result = self.well_behaved();
            let mut w = watch.lock().unwrap_or_else(|p| p.into_inner());
            match result {
                Ok(()) => w.served += 1,
                // HTTP 503: the WebSocket server's "busy".
                Err(e) if e.contains("busy") || e.contains(" 503 ") => w.busy += 1,
                Err(e) if e.starts_with("refused") || e.contains("Connection refused") => {
                    w.refused += 1
                }
                Err(e) => w
                    .failures
                    .push(format!("at {:.1} s: {e}", start.elapsed().as_secs_f64())),
            }
            drop(w);
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// One normal `CMD_short:0` session, checked message by message.
    pub fn well_behaved(&self) -> Result<(), String> {
        let reply = self.exchange(b"CMD_short:0", |_| Ok(()))?;
        self.expect_messages(&reply)
    }

    fn expect_messages(&self, reply: &Reply) -> Result<(), String> {
        if reply.data.starts_with(b"ERROR: server busy") || reply.data.starts_with(b"HTTP/1.1 503")
        {
            return Err("told the server is busy".into());
        }
        let expected: Vec<Vec<u8>> = (0..self.count)
            .map(|i| format!("{MESSAGE_PREFIX}{i}").into_bytes())
            .collect();
        let joined = expected.concat();
        let whole = match self.transport {
            Transport::Ws => reply.messages == expected && reply.close == Some(1000),
            _ => reply.data == joined,
        };
        match (whole, &reply.error) {
            (true, None) => Ok(()),
            // A stack with no socket free answers a connection with a reset.
            (_, Some(e)) if e.kind() == io::ErrorKind::ConnectionReset && reply.data.is_empty() => {
                Err("refused: reset before any data".into())
            }
            (_, Some(e)) => Err(format!("{e} after {:?}", reply.text())),
            (false, None) => Err(format!("wrong reply {:?}", reply.text())),
        }
    }

    /// Connects (and upgrades, for WebSocket); the stream the command goes on.
    fn connect(&self) -> Result<Conn, String> {
        let tcp = TcpStream::connect_timeout(&self.addr, IO_LIMIT)
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_read_timeout(Some(IO_LIMIT + self.command_timeout));
        let _ = tcp.set_write_timeout(Some(IO_LIMIT));
        let _ = tcp.set_nodelay(true);
        match &self.transport {
            Transport::Tcp => Ok(Conn::Tcp(tcp)),
            Transport::Tls(config) => {
                let name = rustls::pki_types::ServerName::try_from("localhost")
                    .map_err(|e| e.to_string())?;
                let client = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| e.to_string())?;
                let mut tls = rustls::StreamOwned::new(client, tcp);
                while tls.conn.is_handshaking() {
                    tls.conn
                        .complete_io(&mut tls.sock)
                        .map_err(|e| format!("TLS handshake: {e}"))?;
                }
                Ok(Conn::Tls(Box::new(tls)))
            }
            Transport::Ws => {
                let mut tcp = tcp;
                let status = upgrade(&mut tcp)?;
                match status.starts_with("HTTP/1.1 101") {
                    true => Ok(Conn::Ws(tcp)),
                    false => Err(format!("upgrade refused: {status}")),
                }
            }
        }
    }

    /// Sends `command` (after `before` had its way with the connection) and
    /// reads the whole reply.
    fn exchange(
        &self,
        command: &[u8],
        before: impl FnOnce(&mut Conn) -> io::Result<()>,
    ) -> Result<Reply, String> {
        let mut conn = self.connect()?;
        before(&mut conn).map_err(|e| e.to_string())?;
        conn.send_command(command)
            .map_err(|e| format!("sending: {e}"))?;
        Ok(conn.read_reply())
    }

    fn trickled(&self) -> Case {
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

    fn silent(&self) -> Case {
        self.case("connects and never sends", |b| {
            let start = Instant::now();
            let tcp = TcpStream::connect_timeout(&b.addr, IO_LIMIT).map_err(|e| e.to_string())?;
            let _ = tcp.set_read_timeout(Some(b.command_timeout + IO_LIMIT));
            let reply = Conn::Raw(tcp).read_reply();
            let waited = start.elapsed();
            b.gone_in_time(waited)?;
            let said = match (&b.transport, reply.text()) {
                (Transport::Ws, t) if t.starts_with("HTTP/1.1 400") => "HTTP 400".to_string(),
                (Transport::Tls(_), _) => "the connection closed".to_string(),
                (_, t) if t.starts_with("ERROR: no complete command") => format!("`{t}`"),
                (_, t) => return Err(format!("unexpected answer {t:?}")),
            };
            Ok(format!("{said} after {:.1} s", waited.as_secs_f64()))
        })
    }

    fn silent_after_upgrade(&self) -> Case {
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
    fn slower_than_the_timeout(&self) -> Case {
        self.case("trickles its command slower than the command timeout", |b| {
            let start = Instant::now();
            let mut conn = b.connect()?;
            let gap = b.command_timeout / 3;
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
                let _ = conn.tcp().set_read_timeout(Some(gap));
                let spoke = conn.tcp().peek(&mut [0u8; 1]).is_ok();
                let _ = conn.tcp().set_read_timeout(Some(IO_LIMIT));
                if spoke {
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
            b.gone_in_time(start.elapsed())?;
            let text = match &b.transport {
                Transport::Ws => reply
                    .messages
                    .first()
                    .map(|m| String::from_utf8_lossy(m).to_string())
                    .unwrap_or_default(),
                _ => reply.text(),
            };
            match text.starts_with("ERROR: no complete command") {
                true => Ok(format!(
                    "`{text}` after {:.1} s, {spoke_after} of {} bytes in",
                    spoke_at.as_secs_f64(),
                    frame.len()
                )),
                false => Err(format!("unexpected answer {text:?}")),
            }
        })
    }

    /// A silent or slow client must be dropped within its command timeout
    /// (plus slack for a busy machine), never held on.
    fn gone_in_time(&self, waited: Duration) -> Result<(), String> {
        match waited <= self.command_timeout + IO_LIMIT {
            true => Ok(()),
            false => Err(format!("held for {:.1} s", waited.as_secs_f64())),
        }
    }

    fn oversized(&self) -> Case {
        self.case("sends a 10 kB command", |b| {
            let reply = b.exchange(&[b'A'; 10_000], |_| Ok(()))?;
            b.refused(&reply, &[1009])
        })
    }

    fn binary(&self) -> Case {
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
    fn wrong_protocol(&self) -> Case {
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
    fn mid_flood(&self, reset: bool) -> Case {
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

    fn burst(&self) -> Case {
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

    fn udp_garbage(&self) -> Case {
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

/// What the well-behaved PDC saw during the battery.
#[derive(Debug, Default)]
pub struct Watch {
    /// Sessions served in full.
    pub served: u32,
    /// Sessions turned away with a busy answer (fair while a burst holds every slot).
    pub busy: u32,
    /// Connections the stack refused or reset before any data (a board
    /// with every socket taken).
    pub refused: u32,
    /// Sessions that went wrong.
    pub failures: Vec<String>,
}

/// Lets this process (and what it starts) hold a few thousand sockets:
/// the soft limit on open files goes up to 8192, within the hard limit.
pub fn raise_open_file_limit() {
    // SAFETY: plain getrlimit/setrlimit on this process, with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < 8192 {
            limit.rlim_cur = limit.rlim_max.min(8192);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Sends a WebSocket upgrade request and returns the response's status line.
fn upgrade(tcp: &mut TcpStream) -> Result<String, String> {
    let request = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    tcp.write_all(request.as_bytes())
        .map_err(|e| format!("upgrade: {e}"))?;
    // Byte by byte, so that no frame after the response is read here.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => break,
            Err(e) => return Err(format!("upgrade: {e}")),
        }
        if head.len() > 4096 {
            return Err("upgrade: an endless response".into());
        }
    }
    let head = String::from_utf8_lossy(&head);
    Ok(head.lines().next().unwrap_or_default().to_string())
}

/// A connection in the battery.
enum Conn {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Ws(TcpStream),
    /// A TCP connection read as it is, whatever the server speaks.
    Raw(TcpStream),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Tcp(s) | Conn::Ws(s) | Conn::Raw(s) => s,
            Conn::Tls(t) => &t.sock,
        }
    }

    /// The bytes that carry `command` on this connection.
    fn command_bytes(&self, command: &[u8]) -> Vec<u8> {
        match self {
            Conn::Ws(_) => ws_frame(
                if std::str::from_utf8(command).is_ok() {
                    0x1
                } else {
                    0x2
                },
                command,
            ),
            _ => command.to_vec(),
        }
    }

    fn send_command(&mut self, command: &[u8]) -> io::Result<()> {
        let bytes = self.command_bytes(command);
        self.send_raw(&bytes)
    }

    /// Writes `bytes` as they are (over TLS: as one record).
    fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) | Conn::Ws(s) | Conn::Raw(s) => s.write_all(bytes),
            Conn::Tls(t) => {
                t.write_all(bytes)?;
                t.flush()
            }
        }
    }

    /// Reads at least one byte of the reply (a frame's bytes, for WebSocket).
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) | Conn::Ws(s) | Conn::Raw(s) => s.read(buf),
            Conn::Tls(t) => t.read(buf),
        }
    }

    /// Reads until the server closes.
    fn read_reply(mut self) -> Reply {
        let mut reply = Reply::default();
        if let Conn::Ws(s) = &mut self {
            read_ws_reply(s, &mut reply);
            return reply;
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.read_some(&mut buf) {
                Ok(0) => break,
                Ok(n) => reply.data.extend_from_slice(&buf[..n]),
                // A TLS server that closes without close_notify still said all it had.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => {
                    reply.error = Some(e);
                    break;
                }
            }
        }
        reply
    }
}

/// A masked client frame, FIN set.
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// Reads frames until the server's close frame (answered) or the end.
fn read_ws_reply(s: &mut TcpStream, reply: &mut Reply) {
    let mut message = Vec::new();
    loop {
        let mut head = [0u8; 2];
        if let Err(e) = s.read_exact(&mut head) {
            if e.kind() != io::ErrorKind::UnexpectedEof {
                reply.error = Some(e);
            }
            return;
        }
        let (fin, opcode) = (head[0] & 0x80 != 0, head[0] & 0x0f);
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                if s.read_exact(&mut b).is_err() {
                    return;
                }
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                if s.read_exact(&mut b).is_err() {
                    return;
                }
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mut payload = Vec::new();
        if let Err(e) = s.take(len).read_to_end(&mut payload) {
            reply.error = Some(e);
            return;
        }
        match opcode {
            0x8 => {
                reply.close = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                // Answer the close, as RFC 6455 asks, and read to the end.
                let _ = s.write_all(&ws_frame(0x8, payload.get(..2).unwrap_or_default()));
                let _ = s.read_to_end(&mut Vec::new());
                return;
            }
            0x0..=0x2 => {
                message.extend_from_slice(&payload);
                if fin {
                    reply.data.extend_from_slice(&message);
                    reply.messages.push(std::mem::take(&mut message));
                }
            }
            _ => {}
        }
    }
}
