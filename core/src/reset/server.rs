//! The UDP PMU (the responder) over embedded-nal's UDP stacks.

use core::fmt::{Debug, Display};
use core::net::SocketAddr;

use embedded_nal::{UdpFullStack, nb};

use super::responder::{Decision, ResponderConfig, decide};
use crate::rng::Random;
use crate::time::Instant;

/// Something the responder did, for logging.
#[derive(Clone, Copy)]
pub enum ResponderEvent<'a> {
    /// A request and what was decided for it.
    Request {
        /// Its source.
        from: SocketAddr,
        /// The decision (an answer is sent unless `send_error` says otherwise).
        decision: Decision,
        /// Why the answer could not be sent, if it could not.
        send_error: Option<&'a dyn Display>,
    },
    /// Receiving failed on one socket.
    ReceiveFailed {
        /// The stack's error.
        error: &'a dyn Display,
    },
}

impl Debug for ResponderEvent<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResponderEvent::Request {
                from,
                decision,
                send_error: None,
            } => write!(f, "Request({from}, {decision:?})"),
            ResponderEvent::Request {
                from,
                decision,
                send_error: Some(e),
            } => write!(f, "Request({from}, {decision:?}, not sent: {e})"),
            ResponderEvent::ReceiveFailed { error } => write!(f, "ReceiveFailed({error})"),
        }
    }
}

/// The UDP PMU: answers `RESET:n` on up to `K` bound sockets (one per
/// family on a host, one on a board).
pub struct ResetServer<S: UdpFullStack, const K: usize> {
    sockets: [Option<S::UdpSocket>; K],
    config: ResponderConfig,
    /// When the family schedule next changes, as of the last poll.
    next_change: Option<Instant>,
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
            next_change: None,
        })
    }
}

impl<S, const K: usize> ResetServer<S, K>
where
    S: UdpFullStack,
    S::Error: Display,
{
    /// Serves on sockets the platform has bound already (e.g. one on
    /// 127.0.0.1 and one on ::1); `None` entries are unused.
    pub fn from_sockets(sockets: [Option<S::UdpSocket>; K], config: ResponderConfig) -> Self {
        ResetServer {
            sockets,
            config,
            next_change: None,
        }
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
        log: &mut impl FnMut(ResponderEvent<'_>),
    ) {
        self.next_change = self.config.schedule.next_change(now);
        for socket in self.sockets.iter_mut().flatten() {
            // Bounded per socket, so one family's flood cannot starve the other.
            for _ in 0..256 {
                let (n, from) = match stack.receive(socket, buf) {
                    Ok(got) => got,
                    Err(nb::Error::WouldBlock) => break,
                    Err(nb::Error::Other(error)) => {
                        log(ResponderEvent::ReceiveFailed { error: &error });
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
                    Ok(()) => log(ResponderEvent::Request {
                        from,
                        decision,
                        send_error: None,
                    }),
                    Err(e) => log(ResponderEvent::Request {
                        from,
                        decision,
                        send_error: Some(e),
                    }),
                }
            }
        }
    }

    /// When the family schedule next changes (for a log line), as of the
    /// last poll; the responder itself never needs waking.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_change
    }
}

enum SendError<E> {
    Full,
    Stack(E),
}

impl<E: Display> Display for SendError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SendError::Full => f.write_str("the socket's send buffer is full"),
            SendError::Stack(e) => e.fmt(f),
        }
    }
}
