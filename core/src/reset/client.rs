//! The reset client (the PDC) over embedded-nal's UDP stacks: one socket
//! per family, the retry machine's rounds, waiting in [`Park`] between them.

use core::fmt::{Debug, Display};
use core::net::SocketAddr;

use embedded_nal::{UdpClientStack, nb};

use super::codec::Reset;
use super::retry::{ClientConfig, Outcome, Received, ResetClient, Targets, Transmit};
use crate::nal::Park;
use crate::time::Clock;

/// Something the client did, for logging.
#[derive(Clone, Copy)]
pub enum ClientEvent<'a> {
    /// A request went out.
    Sent(Transmit),
    /// A request could not be sent (the round goes on with the other family).
    SendFailed {
        /// The datagram.
        transmit: Transmit,
        /// The stack's error.
        error: &'a dyn Display,
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
        error: &'a dyn Display,
    },
}

impl Debug for ClientEvent<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientEvent::Sent(t) => write!(f, "Sent({t:?})"),
            ClientEvent::SendFailed { transmit, error } => {
                write!(f, "SendFailed({transmit:?}, {error})")
            }
            ClientEvent::Received { from, what } => write!(f, "Received({from}, {what:?})"),
            ClientEvent::ReceiveFailed { target, error } => {
                write!(f, "ReceiveFailed({target}, {error})")
            }
        }
    }
}

/// Why the client could not run at all.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError<E> {
    /// The server has no address.
    NoTargets,
    /// No socket could be opened or connected for any family.
    Socket(E),
}

impl<E: Display> Display for ClientError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::NoTargets => f.write_str("the server name has no address"),
            ClientError::Socket(e) => write!(f, "cannot open a UDP socket: {e}"),
        }
    }
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
    S::Error: Display,
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
    S::Error: Display,
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
