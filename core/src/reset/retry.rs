//! The PDC's side of the reset: one round sends the request to every
//! address family of the server, then waits up to a timeout for an answer
//! from either; no answer starts the next round. Sans I/O.
//!
//! Calls: [`ResetClient::poll_transmit`] gives each datagram to send;
//! [`ResetClient::handle_datagram`] takes what arrived;
//! [`ResetClient::handle_timeout`] moves to the next round (or gives up);
//! [`ResetClient::poll_timeout`] says when; [`ResetClient::outcome`] says
//! how it ended.

use core::net::SocketAddr;
use core::time::Duration;

use super::codec::{Offset, Reset, ResetError, Wire};
use crate::nal::canonical;
use crate::time::Instant;

/// How long to wait and how often to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Wait per round for an answer (1 s in the lab).
    pub timeout: Duration,
    /// Give up after this many rounds; `None` tries until answered, as the lab does.
    pub max_rounds: Option<u32>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(1),
            max_rounds: None,
        }
    }
}

/// The server's addresses: at most one per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Targets {
    /// Where to send over IPv4.
    pub v4: Option<SocketAddr>,
    /// Where to send over IPv6.
    pub v6: Option<SocketAddr>,
}

impl Targets {
    /// The first address of each family among `addrs`.
    pub fn first_of_each_family(addrs: impl IntoIterator<Item = SocketAddr>) -> Targets {
        let mut targets = Targets::default();
        for addr in addrs {
            let addr = canonical(addr);
            match addr {
                SocketAddr::V4(_) if targets.v4.is_none() => targets.v4 = Some(addr),
                SocketAddr::V6(_) if targets.v6.is_none() => targets.v6 = Some(addr),
                _ => {}
            }
        }
        targets
    }

    /// The addresses in sending order (IPv4 first), as `(index, address)`.
    pub fn iter(&self) -> impl Iterator<Item = (usize, SocketAddr)> + '_ {
        [self.v4, self.v6]
            .into_iter()
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i, a)))
    }

    /// Whether there is no address at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_none() && self.v6.is_none()
    }

    fn get(&self, index: usize) -> Option<SocketAddr> {
        [self.v4, self.v6].get(index).copied().flatten()
    }

    fn contains(&self, addr: SocketAddr) -> bool {
        let addr = canonical(addr);
        self.v4 == Some(addr) || self.v6 == Some(addr)
    }
}

/// One datagram to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// 0 for the IPv4 target, 1 for the IPv6 one.
    pub target: usize,
    /// Its address.
    pub to: SocketAddr,
    /// The round it belongs to (1 for the first).
    pub round: u32,
    /// The request's bytes.
    pub payload: Wire,
}

/// What became of a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// The answer: the exchange is complete.
    Answer(Offset),
    /// From an address the client did not ask: ignored.
    NotAsked,
    /// Not an `OFFSET=X`: ignored.
    Malformed(ResetError),
    /// `X` above the requested `n`: ignored.
    OutOfRange(Offset),
    /// Arrived after the exchange ended (a duplicate or a late answer): ignored.
    AfterEnd,
}

/// How an exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered after `rounds` rounds of requests.
    Answered {
        /// The answer.
        offset: Offset,
        /// Who answered.
        from: SocketAddr,
        /// Rounds sent; one round counts as one request, whatever the families.
        rounds: u32,
        /// When the answer arrived.
        at: Instant,
    },
    /// No answer after the allowed rounds.
    GaveUp {
        /// Rounds sent.
        rounds: u32,
    },
}

#[derive(Debug, Clone, Copy)]
enum State {
    NotStarted,
    Round {
        round: u32,
        next_target: usize,
        deadline: Instant,
    },
    Ended(Outcome),
}

/// The PDC's retry machine; see the module documentation.
#[derive(Debug, Clone)]
pub struct ResetClient {
    targets: Targets,
    request: Reset,
    config: ClientConfig,
    state: State,
}

impl ResetClient {
    /// A client that will ask `targets` with `request`.
    pub fn new(targets: Targets, request: Reset, config: ClientConfig) -> Self {
        ResetClient {
            targets,
            request,
            config,
            state: State::NotStarted,
        }
    }

    /// The next datagram due at `now`, if any. Each is handed out once;
    /// the caller must send it (a failed send still counts in the round).
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let State::NotStarted = self.state {
            if self.targets.is_empty() {
                self.state = State::Ended(Outcome::GaveUp { rounds: 0 });
                return None;
            }
            self.state = State::Round {
                round: 1,
                next_target: 0,
                deadline: now + self.config.timeout,
            };
        }
        let State::Round {
            round, next_target, ..
        } = &mut self.state
        else {
            return None;
        };
        while *next_target < 2 {
            let index = *next_target;
            *next_target += 1;
            if let Some(to) = self.targets.get(index) {
                return Some(Transmit {
                    target: index,
                    to,
                    round: *round,
                    payload: self.request.encode(),
                });
            }
        }
        None
    }

    /// Takes a datagram that arrived from `from` at `now`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Received {
        let round = match self.state {
            State::Ended(_) => return Received::AfterEnd,
            State::NotStarted => return Received::NotAsked,
            State::Round { round, .. } => round,
        };
        if !self.targets.contains(from) {
            return Received::NotAsked;
        }
        let offset = match Offset::parse(datagram) {
            Ok(offset) => offset,
            Err(e) => return Received::Malformed(e),
        };
        if offset.seconds > self.request.seconds {
            return Received::OutOfRange(offset);
        }
        self.state = State::Ended(Outcome::Answered {
            offset,
            from: canonical(from),
            rounds: round,
            at: now,
        });
        Received::Answer(offset)
    }

    /// Ends the round if its wait is over: starts the next, or gives up.
    pub fn handle_timeout(&mut self, now: Instant) {
        let State::Round {
            round, deadline, ..
        } = self.state
        else {
            return;
        };
        if now < deadline {
            return;
        }
        if self.config.max_rounds.is_some_and(|max| round >= max) {
            self.state = State::Ended(Outcome::GaveUp { rounds: round });
            return;
        }
        self.state = State::Round {
            round: round + 1,
            next_target: 0,
            deadline: now + self.config.timeout,
        };
    }

    /// When the current round's wait ends.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Round { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    /// How the exchange ended, once it has.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.state {
            State::Ended(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// The target at `index` (0: IPv4, 1: IPv6), if any.
    pub fn target(&self, index: usize) -> Option<SocketAddr> {
        self.targets.get(index)
    }

    /// Rounds started so far.
    pub fn rounds(&self) -> u32 {
        match self.state {
            State::NotStarted => 0,
            State::Round { round, .. } => round,
            State::Ended(Outcome::Answered { rounds, .. } | Outcome::GaveUp { rounds }) => rounds,
        }
    }
}
