//! The hostile-client battery: the same misbehaving clients against any PMU
//! — plain TCP (`pmu`, the board), TLS (`secure-pmu`) or WebSocket
//! (`ws-pmu`) — while a well-behaved PDC keeps asking for data beside them.
//!
//! Each case says what it did and what the server answered; a case fails
//! when the server answers wrongly, stalls past its own timeouts, or stops
//! serving the well-behaved client. Memory and the servers' logs are
//! checked by the caller, who can see the server process.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pmulab_core::stream::flood::MESSAGE_PREFIX;

use conn::{Conn, Reply, upgrade};

mod cases;
mod conn;

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
    /// The link drops frames (QEMU's LAN9118 under a flood): a
    /// well-behaved PDC's command that never arrived within the server's
    /// command timeout is counted as lost on the link, not as served wrongly.
    /// On loopback that answer means the server failed to read: wrong.
    pub lossy_link: bool,
}

/// One case's result: what was done, and the outcome or the failure.
#[derive(Debug)]
pub struct Case {
    /// What the client did.
    pub what: &'static str,
    /// What the server did, or why the case failed.
    pub outcome: Result<String, String>,
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
                Err(e) if self.lossy_link && e.contains("ERROR: no complete command in time") => {
                    w.lost += 1
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
            // Behind a proxy (QEMU's slirp in front of the board) the stack's
            // reset reaches the client as a close before any data: the same
            // refusal, as the slowloris case reads it.
            (_, None) if reply.data.is_empty() && matches!(self.transport, Transport::Tcp) => {
                Err("refused: closed before any data".into())
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
    /// Commands lost on a lossy link (see [`Battery::lossy_link`]).
    pub lost: u32,
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
