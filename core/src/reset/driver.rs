//! The reset client and responder over embedded-nal's UDP stacks.

use core::fmt::Debug;
use core::net::SocketAddr;

use embedded_nal::{UdpClientStack, UdpFullStack, nb};

use super::client::{ClientConfig, Outcome, Received, ResetClient, Targets, Transmit};
use super::codec::Reset;
use super::responder::{Decision, ResponderConfig, decide};
use crate::rng::Random;
use crate::time::{Clock, Instant, Park};

/// Something the client did, for logging.
#[derive(Debug, Clone, Copy)]
pub enum ClientEvent<'a> {
    /// A request went out.
    Sent(Transmit),
    /// A request could not be sent (the round goes on with the other family).
    SendFailed {
        /// The datagram.
        transmit: Transmit,
        /// The stack's error.
        error: &'a dyn Debug,
    },
    /// A datagram arrived, and what became of it.
    Received {
        /// Its source.
        from: SocketAddr,
        /// Its fate.
        what: Received,
    },
    /// Receiving on one family's socket failed, typically because the
    /// server's host said nothing listens there (ICMP port unreachable).
    ReceiveFailed {
        /// The family's target.
        target: SocketAddr,
        /// The stack's error.
        error: &'a dyn Debug,
    },
}

/// Why the client could not run at all.
#[derive(Debug)]
pub enum ClientError<E> {
    /// The server has no address.
    NoTargets,
    /// No socket could be opened or connected for any family.
    Socket(E),
}

/// Runs one reset exchange to its [`Outcome`]: opens one UDP socket per
/// family, sends each round, waits in [`Park`] between events.
pub fn request<S, C>(
    stack: &mut S,
    clock: &C,
    targets: Targets,
    reset: Reset,
    config: ClientConfig,
    buf: &mut [u8],
    log: &mut impl FnMut(ClientEvent<'_>),
) -> Result<Outcome, ClientError<S::Error>>
where
    S: UdpClientStack + Park,
    C: Clock,
{
    if targets.is_empty() {
        return Err(ClientError::NoTargets);
    }
    // One connected socket per family; a family that cannot get one is dropped.
    let mut sockets: [Option<S::UdpSocket>; 2] = [None, None];
    let mut usable = Targets::default();
    let mut last_error = None;
    for (index, addr) in targets.iter() {
        match open(stack, addr) {
            Ok(socket) => {
                sockets[index] = Some(socket);
                match index {
                    0 => usable.v4 = Some(addr),
                    _ => usable.v6 = Some(addr),
                }
            }
            Err(e) => last_error = Some(e),
        }
    }
    if usable.is_empty() {
        return Err(match last_error {
            Some(e) => ClientError::Socket(e),
            None => ClientError::NoTargets,
        });
    }

    let mut client = ResetClient::new(usable, reset, config);
    let outcome = run(stack, clock, &mut client, &mut sockets, buf, log);
    for socket in sockets.into_iter().flatten() {
        let _ = stack.close(socket);
    }
    Ok(outcome)
}

fn open<S: UdpClientStack>(stack: &mut S, addr: SocketAddr) -> Result<S::UdpSocket, S::Error> {
    let mut socket = stack.socket()?;
    match stack.connect(&mut socket, addr) {
        Ok(()) => Ok(socket),
        Err(e) => {
            let _ = stack.close(socket);
            Err(e)
        }
    }
}

fn run<S, C>(
    stack: &mut S,
    clock: &C,
    client: &mut ResetClient,
    sockets: &mut [Option<S::UdpSocket>; 2],
    buf: &mut [u8],
    log: &mut impl FnMut(ClientEvent<'_>),
) -> Outcome
where
    S: UdpClientStack + Park,
    C: Clock,
{
    loop {
        let now = clock.now();
        // A round that has timed out gives way to the next before sending.
        client.handle_timeout(now);
        if let Some(outcome) = client.outcome() {
            return outcome;
        }
        while let Some(transmit) = client.poll_transmit(now) {
            let Some(socket) = sockets[transmit.target].as_mut() else {
                continue;
            };
            match stack.send(socket, transmit.payload.as_bytes()) {
                Ok(()) => log(ClientEvent::Sent(transmit)),
                Err(nb::Error::WouldBlock) => log(ClientEvent::SendFailed {
                    transmit,
                    error: &"the socket's send buffer is full",
                }),
                Err(nb::Error::Other(error)) => log(ClientEvent::SendFailed {
                    transmit,
                    error: &error,
                }),
            }
        }
        for (index, slot) in sockets.iter_mut().enumerate() {
            let Some(socket) = slot.as_mut() else {
                continue;
            };
            // Bounded: a flood of junk cannot keep the client from its timeout.
            for _ in 0..64 {
                match stack.receive(socket, buf) {
                    Ok((n, from)) => {
                        let what = client.handle_datagram(clock.now(), from, &buf[..n]);
                        log(ClientEvent::Received { from, what });
                        if client.outcome().is_some() {
                            break;
                        }
                    }
                    Err(nb::Error::WouldBlock) => break,
                    Err(nb::Error::Other(error)) => {
                        if let Some(target) = client.target(index) {
                            log(ClientEvent::ReceiveFailed {
                                target,
                                error: &error,
                            });
                        }
                        break;
                    }
                }
            }
            if client.outcome().is_some() {
                break;
            }
        }
        if let Some(outcome) = client.outcome() {
            return outcome;
        }
        stack.park(client.poll_timeout());
    }
}

/// Something the responder did, for logging.
#[derive(Debug, Clone, Copy)]
pub enum ServerEvent<'a> {
    /// A request and what was decided for it.
    Request {
        /// Its source.
        from: SocketAddr,
        /// The decision (an answer is sent unless `send_error` says otherwise).
        decision: Decision,
        /// Why the answer could not be sent, if it could not.
        send_error: Option<&'a dyn Debug>,
    },
    /// Receiving failed on one socket.
    ReceiveFailed {
        /// The stack's error.
        error: &'a dyn Debug,
    },
}

/// The UDP PMU: answers `RESET:n` on up to `K` bound sockets (one per
/// family on a host, one on a board).
pub struct ResetServer<S: UdpFullStack, const K: usize> {
    sockets: [Option<S::UdpSocket>; K],
    config: ResponderConfig,
}

impl<S: UdpFullStack, const K: usize> Debug for ResetServer<S, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResetServer")
            .field("sockets", &K)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: UdpFullStack> ResetServer<S, 1> {
    /// Opens one socket on `port` of `stack`.
    pub fn bind(stack: &mut S, port: u16, config: ResponderConfig) -> Result<Self, S::Error> {
        let mut socket = stack.socket()?;
        if let Err(e) = stack.bind(&mut socket, port) {
            let _ = stack.close(socket);
            return Err(e);
        }
        Ok(ResetServer {
            sockets: [Some(socket)],
            config,
        })
    }
}

impl<S: UdpFullStack, const K: usize> ResetServer<S, K> {
    /// Serves on sockets the platform has bound already (e.g. one on
    /// 127.0.0.1 and one on ::1); `None` entries are unused.
    pub fn from_sockets(sockets: [Option<S::UdpSocket>; K], config: ResponderConfig) -> Self {
        ResetServer { sockets, config }
    }

    /// The bound sockets, e.g. to ask the stack for their addresses.
    pub fn sockets(&self) -> impl Iterator<Item = &S::UdpSocket> {
        self.sockets.iter().flatten()
    }

    /// The responder's settings.
    pub fn config(&self) -> &ResponderConfig {
        &self.config
    }

    /// Answers every request waiting at `now`. `buf` receives datagrams;
    /// anything longer than a request is refused as malformed.
    pub fn poll(
        &mut self,
        stack: &mut S,
        now: Instant,
        rng: &mut impl Random,
        buf: &mut [u8],
        log: &mut impl FnMut(ServerEvent<'_>),
    ) {
        for socket in self.sockets.iter_mut().flatten() {
            // Bounded per socket, so one family's flood cannot starve the other.
            for _ in 0..256 {
                let (n, from) = match stack.receive(socket, buf) {
                    Ok(got) => got,
                    Err(nb::Error::WouldBlock) => break,
                    Err(nb::Error::Other(error)) => {
                        log(ServerEvent::ReceiveFailed { error: &error });
                        break;
                    }
                };
                let decision = decide(&self.config, now, from, &buf[..n], rng);
                let sent = match decision {
                    Decision::Answer { reply, .. } => {
                        match stack.send_to(socket, from, reply.as_bytes()) {
                            Ok(()) => Ok(()),
                            Err(nb::Error::WouldBlock) => Err(SendError::Full),
                            Err(nb::Error::Other(e)) => Err(SendError::Stack(e)),
                        }
                    }
                    _ => Ok(()),
                };
                match &sent {
                    Ok(()) => log(ServerEvent::Request {
                        from,
                        decision,
                        send_error: None,
                    }),
                    Err(e) => log(ServerEvent::Request {
                        from,
                        decision,
                        send_error: Some(e),
                    }),
                }
            }
        }
    }

    /// When the family schedule next changes (for a log line); the
    /// responder itself never needs waking.
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.config.schedule.next_change(now)
    }
}

#[derive(Debug)]
enum SendError<E> {
    Full,
    Stack(E),
}
