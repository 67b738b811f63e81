//! The C37.118.2 PMU over UDP (port 4713 by default), over any
//! [`UdpFullStack`]: one socket, a table of `N` PDCs by address, each with
//! its own [`Pmu`] machine.
//!
//! A PDC's command datagram (one command frame) makes it known; the
//! frames it asks for go back to the address it came from, one frame per
//! datagram. UDP has no end of a session: a PDC is forgotten when it turns
//! transmission off after streaming and is owed nothing more, and when the table is full
//! a new PDC takes the place of the one heard from longest ago, so a PDC
//! that vanished while streaming costs a slot only until someone needs it.
//! A datagram that is not a command frame is dropped and logged.

use core::fmt::Display;
use core::net::SocketAddr;

use embedded_nal::{UdpFullStack, nb};

use super::command::CommandFrame;
use super::pmu::{Pmu, PmuSettings};
use super::server::FRAME_BUFFER;
use crate::nal::canonical;
use crate::rng::SplitMix64;
use crate::time::{Instant, earliest};

/// C37.118's UDP port.
pub const C37_UDP_PORT: u16 = 4713;

/// Something the UDP server did, for logging.
#[derive(Clone, Copy)]
pub enum C37UdpEvent<'a> {
    /// A PDC was heard from for the first time (or again, after it was forgotten).
    Known {
        /// The PDC.
        peer: SocketAddr,
    },
    /// A PDC was forgotten to make room for `peer`.
    Evicted {
        /// The PDC forgotten.
        forgotten: SocketAddr,
        /// The PDC that took its place.
        peer: SocketAddr,
    },
    /// A datagram that is not a good command frame.
    Dropped {
        /// Its source.
        peer: SocketAddr,
        /// Why.
        error: &'a dyn Display,
    },
    /// Sending to a PDC failed.
    SendFailed {
        /// The PDC.
        peer: SocketAddr,
    },
}

impl core::fmt::Debug for C37UdpEvent<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            C37UdpEvent::Known { peer } => write!(f, "{peer} (UDP) known"),
            C37UdpEvent::Evicted { forgotten, peer } => {
                write!(f, "{forgotten} (UDP) forgotten to make room for {peer}")
            }
            C37UdpEvent::Dropped { peer, error } => {
                write!(f, "{peer} (UDP) sent a datagram that was dropped: {error}")
            }
            C37UdpEvent::SendFailed { peer } => {
                write!(f, "{peer} (UDP): a frame could not be sent")
            }
        }
    }
}

struct Peer<'a> {
    addr: SocketAddr,
    pmu: Pmu<'a, SplitMix64>,
    heard: Instant,
    /// Transmission has been on.
    streamed: bool,
}

/// The PMU's UDP server: `N` PDCs at once.
pub struct C37UdpServer<'a, S: UdpFullStack, const N: usize> {
    socket: S::UdpSocket,
    settings: PmuSettings<'a>,
    seed: u64,
    known: u64,
    peers: [Option<Peer<'a>>; N],
}

impl<S: UdpFullStack, const N: usize> core::fmt::Debug for C37UdpServer<'_, S, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("C37UdpServer")
            .field("peers", &self.peers.iter().flatten().count())
            .finish_non_exhaustive()
    }
}

impl<'a, S: UdpFullStack, const N: usize> C37UdpServer<'a, S, N> {
    /// Binds `port`; every PMU has `settings`, its noise seeded from `seed`.
    pub fn bind(
        stack: &mut S,
        port: u16,
        settings: PmuSettings<'a>,
        seed: u64,
    ) -> Result<Self, S::Error> {
        let mut socket = stack.socket()?;
        stack.bind(&mut socket, port)?;
        Ok(C37UdpServer {
            socket,
            settings,
            seed,
            known: 0,
            peers: core::array::from_fn(|_| None),
        })
    }

    /// The socket (to read its port).
    pub fn socket(&self) -> &S::UdpSocket {
        &self.socket
    }

    /// Reads every waiting command, then sends what is due at `now` (UTC).
    pub fn poll(&mut self, stack: &mut S, now: Instant, log: &mut dyn FnMut(C37UdpEvent<'_>)) {
        let mut datagram = [0u8; FRAME_BUFFER];
        while let Ok((n, from)) = stack.receive(&mut self.socket, &mut datagram) {
            let from = canonical(from);
            self.handle(&datagram[..n.min(FRAME_BUFFER)], from, now, log);
        }
        let mut out = [0u8; FRAME_BUFFER];
        for slot in &mut self.peers {
            let Some(peer) = slot else { continue };
            while let Some(frame) = peer.pmu.poll_transmit(now, &mut out) {
                let Ok(n) = frame else { break };
                match stack.send_to(&mut self.socket, peer.addr, &out[..n]) {
                    Ok(()) => {}
                    // A full send queue: this frame is lost, as UDP may lose it.
                    Err(nb::Error::WouldBlock) => break,
                    Err(nb::Error::Other(_)) => {
                        log(C37UdpEvent::SendFailed { peer: peer.addr });
                        break;
                    }
                }
            }
            // Turned off after streaming, and owed nothing: a PDC that has finished.
            peer.streamed |= peer.pmu.transmitting();
            if peer.streamed && !peer.pmu.transmitting() && peer.pmu.poll_timeout().is_none() {
                *slot = None;
            }
        }
    }

    fn handle(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
        log: &mut dyn FnMut(C37UdpEvent<'_>),
    ) {
        // Checked before it may take anyone's place in the table.
        if let Err(error) = CommandFrame::parse(datagram) {
            log(C37UdpEvent::Dropped {
                peer: from,
                error: &error,
            });
            return;
        }
        if N == 0 {
            return;
        }
        let index = match self
            .peers
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.addr == from))
        {
            Some(i) => i,
            None => {
                self.known += 1;
                let rng =
                    SplitMix64::new(self.seed ^ self.known.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let Ok(pmu) = Pmu::new(self.settings, rng) else {
                    return;
                };
                let i = self.free_or_oldest();
                if let Some(old) = &self.peers[i] {
                    log(C37UdpEvent::Evicted {
                        forgotten: old.addr,
                        peer: from,
                    });
                }
                log(C37UdpEvent::Known { peer: from });
                self.peers[i] = Some(Peer {
                    addr: from,
                    pmu,
                    heard: now,
                    streamed: false,
                });
                i
            }
        };
        let Some(peer) = &mut self.peers[index] else {
            return;
        };
        peer.heard = now;
        // One datagram, one frame (checked above); a machine that still
        // rejects it starts afresh.
        if let Err(error) = peer.pmu.handle_input(now, datagram) {
            log(C37UdpEvent::Dropped {
                peer: from,
                error: &error,
            });
            self.peers[index] = None;
        }
    }

    /// A free slot, or the one heard from longest ago.
    fn free_or_oldest(&self) -> usize {
        self.peers
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                (0..N)
                    .min_by_key(|&i| self.peers[i].as_ref().map_or(Instant::ZERO, |p| p.heard))
                    .unwrap_or(0)
            })
    }

    /// When the next frame of any PDC is due (UTC).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers
            .iter()
            .flatten()
            .fold(None, |due, p| earliest(due, p.pmu.poll_timeout()))
    }
}
