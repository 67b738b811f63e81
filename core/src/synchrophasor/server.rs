//! The C37.118.2 PMU over any [`TcpFullStack`]: a listening socket and a
//! fixed table of `N` connections, each with its own [`Pmu`] machine.
//!
//! Each [`C37Server::poll`] accepts what is pending (turning away what does
//! not fit the table), feeds each machine what its PDC sent, and sends what
//! is due; [`C37Server::poll_timeout`] says when the next frame is. A frame
//! the socket cannot take at once waits in the connection's buffer, and the
//! next frames wait behind it (late frames are skipped by the machine, so
//! a slow PDC never delays another). Time is UTC microseconds since the
//! epoch, as the machine takes it; the caller converts for its park.
//!
//! ```text
//! loop {
//!     server.poll(&mut stack, utc_now(), &mut log);
//!     stack.park(deadline_for(server.poll_timeout()));
//! }
//! ```

use core::fmt::Display;
use core::net::SocketAddr;

use embedded_nal::{TcpError, TcpErrorKind, TcpFullStack, nb};

use super::pmu::{Pmu, PmuSettings};
use crate::nal::{NoDelay, canonical};
use crate::rng::SplitMix64;
use crate::time::{Instant, earliest};

/// The largest frame the PMU writes (its CFG-2 is about 200 bytes).
pub const FRAME_BUFFER: usize = 512;

/// Something the server did, for logging.
#[derive(Clone, Copy)]
pub enum C37Event<'a> {
    /// A PDC connected.
    Accepted {
        /// The PDC.
        peer: SocketAddr,
    },
    /// A PDC was turned away: every connection slot is taken.
    Busy {
        /// The PDC.
        peer: SocketAddr,
    },
    /// A PDC closed its connection.
    Closed {
        /// The PDC.
        peer: SocketAddr,
    },
    /// A connection ended on a bad frame or a network error.
    Ended {
        /// The PDC.
        peer: SocketAddr,
        /// Why.
        error: &'a dyn Display,
    },
}

struct Conn<'a, T> {
    socket: T,
    peer: SocketAddr,
    pmu: Pmu<'a, SplitMix64>,
    out: [u8; FRAME_BUFFER],
    /// `out[sent..len]` is still to go.
    sent: usize,
    len: usize,
}

/// The PMU's server: `N` connections at once.
pub struct C37Server<'a, S: TcpFullStack + NoDelay, const N: usize> {
    listener: S::TcpSocket,
    settings: PmuSettings<'a>,
    seed: u64,
    accepted: u64,
    /// Connections served at once (at most `N`).
    limit: usize,
    conns: [Option<Conn<'a, S::TcpSocket>>; N],
}

impl<'a, S: TcpFullStack + NoDelay, const N: usize> C37Server<'a, S, N> {
    /// Listens on `port` for at most `limit` (≤ `N`) PDCs at once; every
    /// PMU has `settings`, its noise seeded from `seed`.
    pub fn bind(
        stack: &mut S,
        port: u16,
        settings: PmuSettings<'a>,
        seed: u64,
        limit: usize,
    ) -> Result<Self, S::Error> {
        let mut listener = stack.socket()?;
        stack.bind(&mut listener, port)?;
        stack.listen(&mut listener)?;
        Ok(C37Server {
            listener,
            settings,
            seed,
            accepted: 0,
            limit: limit.min(N),
            conns: core::array::from_fn(|_| None),
        })
    }

    /// The listening socket (to read its port).
    pub fn listener(&self) -> &S::TcpSocket {
        &self.listener
    }

    /// Accepts, reads, sends: everything due at `now` (UTC).
    pub fn poll(&mut self, stack: &mut S, now: Instant, log: &mut dyn FnMut(C37Event<'_>)) {
        self.accept(stack, log);
        for slot in &mut self.conns {
            let Some(conn) = slot else { continue };
            match serve(stack, conn, now) {
                Ok(true) => {}
                Ok(false) => {
                    log(C37Event::Closed { peer: conn.peer });
                    close(stack, slot);
                }
                Err(error) => {
                    log(C37Event::Ended {
                        peer: conn.peer,
                        error: &error,
                    });
                    close(stack, slot);
                }
            }
        }
    }

    fn accept(&mut self, stack: &mut S, log: &mut dyn FnMut(C37Event<'_>)) {
        loop {
            let (mut socket, peer) = match stack.accept(&mut self.listener) {
                Ok(pair) => pair,
                Err(nb::Error::WouldBlock) => return,
                Err(nb::Error::Other(error)) => {
                    log(C37Event::Ended {
                        peer: SocketAddr::new(core::net::Ipv4Addr::UNSPECIFIED.into(), 0),
                        error: &Kind(error.kind()),
                    });
                    return;
                }
            };
            let peer = canonical(peer);
            let full = self.conns.iter().flatten().count() >= self.limit;
            let free = self.conns.iter_mut().find(|c| c.is_none());
            let (false, Some(slot)) = (full, free) else {
                log(C37Event::Busy { peer });
                let _ = stack.close(socket);
                continue;
            };
            self.accepted += 1;
            let rng =
                SplitMix64::new(self.seed ^ self.accepted.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let Ok(pmu) = Pmu::new(self.settings, rng) else {
                let _ = stack.close(socket);
                continue;
            };
            // A frame leaves on its timestamp, not after the last one's ACK.
            stack.set_no_delay(&mut socket);
            log(C37Event::Accepted { peer });
            *slot = Some(Conn {
                socket,
                peer,
                pmu,
                out: [0; FRAME_BUFFER],
                sent: 0,
                len: 0,
            });
        }
    }

    /// When the next frame of any connection is due (UTC); `None` while
    /// only input, or a socket becoming writable, can move anything.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .iter()
            .flatten()
            .filter(|c| c.sent == c.len)
            .fold(None, |due, c| earliest(due, c.pmu.poll_timeout()))
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.conns.iter().flatten().count()
    }
}

impl core::fmt::Debug for C37Event<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            C37Event::Accepted { peer } => write!(f, "{peer} connected"),
            C37Event::Busy { peer } => {
                write!(f, "{peer} turned away: every connection slot is taken")
            }
            C37Event::Closed { peer } => write!(f, "{peer} closed by the PDC"),
            C37Event::Ended { peer, error } => write!(f, "{peer} ended: {error}"),
        }
    }
}

impl<S: TcpFullStack + NoDelay, const N: usize> core::fmt::Debug for C37Server<'_, S, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("C37Server")
            .field("connections", &self.connections())
            .field("settings", &self.settings)
            .finish()
    }
}

/// A transport error's kind, shown.
struct Kind(TcpErrorKind);

impl Display for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Why a connection ended badly.
enum Failure {
    Frame(super::Error),
    Net(TcpErrorKind),
}

impl Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Frame(e) => write!(f, "{e}"),
            Failure::Net(kind) => write!(f, "{kind:?}"),
        }
    }
}

/// One connection's turn: read, then send. `Ok(false)` when the PDC closed.
fn serve<S: TcpFullStack>(
    stack: &mut S,
    conn: &mut Conn<'_, S::TcpSocket>,
    now: Instant,
) -> Result<bool, Failure> {
    let mut input = [0u8; 64];
    loop {
        match stack.receive(&mut conn.socket, &mut input) {
            Ok(0) => return Ok(false),
            Ok(n) => conn
                .pmu
                .handle_input(now, &input[..n])
                .map_err(Failure::Frame)?,
            Err(nb::Error::WouldBlock) => break,
            Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => return Ok(false),
            Err(nb::Error::Other(e)) => return Err(Failure::Net(e.kind())),
        }
    }
    loop {
        if conn.sent == conn.len {
            match conn.pmu.poll_transmit(now, &mut conn.out) {
                None => return Ok(true),
                Some(Err(e)) => return Err(Failure::Frame(e)),
                Some(Ok(n)) => {
                    conn.sent = 0;
                    conn.len = n;
                }
            }
        }
        match stack.send(&mut conn.socket, &conn.out[conn.sent..conn.len]) {
            Ok(n) => conn.sent += n,
            Err(nb::Error::WouldBlock) => return Ok(true),
            Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => return Ok(false),
            Err(nb::Error::Other(e)) => return Err(Failure::Net(e.kind())),
        }
    }
}

fn close<S: TcpFullStack>(stack: &mut S, slot: &mut Option<Conn<'_, S::TcpSocket>>) {
    if let Some(conn) = slot.take() {
        let _ = stack.close(conn.socket);
    }
}
