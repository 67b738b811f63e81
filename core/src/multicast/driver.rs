//! The broadcaster and a receiver over embedded-nal UDP plus [`Multicast`].

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use embedded_nal::{UdpClientStack, UdpFullStack, nb};

use super::Multicast;
use super::bot::{Bot, BotOutput};
use crate::time::{Clock, Park};

/// Where multicast goes and how far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// The group address and port, e.g. 224.1.1.1:10505.
    pub addr: SocketAddrV4,
    /// The local interface's address (127.0.0.1 keeps it on this machine).
    pub interface: Ipv4Addr,
    /// Hops a datagram may travel (the course's bot used 10).
    pub ttl: u8,
}

/// A socket that sends to `group`: connected to it, leaving by `interface`,
/// with `ttl`, looped back to this host's own members.
pub fn open_sender<S: UdpClientStack + Multicast>(
    stack: &mut S,
    group: &Group,
) -> Result<S::UdpSocket, S::Error> {
    let mut socket = stack.socket()?;
    let configured = stack
        .connect(&mut socket, SocketAddr::V4(group.addr))
        .and_then(|()| stack.set_multicast_interface(&mut socket, group.interface))
        .and_then(|()| stack.set_multicast_ttl(&mut socket, group.ttl))
        .and_then(|()| stack.set_multicast_loop(&mut socket, true));
    match configured {
        Ok(()) => Ok(socket),
        Err(e) => {
            let _ = stack.close(socket);
            Err(e)
        }
    }
}

/// A socket bound to the group's port and joined to it on `interface`.
///
/// Which local address `bind` uses is the stack's business; a host binds
/// the group address itself, with address reuse, so that several receivers
/// on one machine all get every datagram.
pub fn open_receiver<S: UdpFullStack + Multicast>(
    stack: &mut S,
    group: &Group,
) -> Result<S::UdpSocket, S::Error> {
    let mut socket = stack.socket()?;
    let joined = stack
        .bind(&mut socket, group.addr.port())
        .and_then(|()| stack.join(&mut socket, *group.addr.ip(), group.interface));
    match joined {
        Ok(()) => Ok(socket),
        Err(e) => {
            let _ = stack.close(socket);
            Err(e)
        }
    }
}

/// Something the broadcaster did, for logging.
#[derive(Debug)]
pub enum BotEvent<'a, E> {
    /// A datagram went out (or was skipped, or failed: see `sent`).
    Output {
        /// What the schedule produced.
        output: BotOutput,
        /// The datagram's bytes (empty when skipped).
        datagram: &'a [u8],
        /// The send's result.
        sent: Result<(), nb::Error<E>>,
    },
}

/// Runs `bot` until it is done (forever unless it was made with `once`),
/// sending through `socket` and waiting in [`Park`] between datagrams.
/// `keep_going` is asked before each wait; returning false stops early.
pub fn broadcast<S, C>(
    stack: &mut S,
    clock: &C,
    bot: &mut Bot<'_>,
    socket: &mut S::UdpSocket,
    buf: &mut [u8],
    log: &mut impl FnMut(BotEvent<'_, S::Error>),
    keep_going: &mut impl FnMut() -> bool,
) where
    S: UdpClientStack + Park,
    C: Clock,
{
    while !bot.is_done() {
        while let Some(output) = bot.poll_transmit(clock.now(), buf) {
            let len = match output {
                BotOutput::Line { len, .. } | BotOutput::Rewind { len } => len,
                BotOutput::Skipped { .. } => 0,
            };
            let sent = match len {
                0 => Ok(()),
                _ => stack.send(socket, &buf[..len]),
            };
            log(BotEvent::Output {
                output,
                datagram: &buf[..len],
                sent,
            });
        }
        if !keep_going() {
            return;
        }
        if let Some(due) = bot.poll_timeout() {
            stack.park(Some(due));
        }
    }
}
