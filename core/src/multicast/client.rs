//! A member of the group over embedded-nal UDP plus [`Multicast`]: a
//! socket to send to the group (the sender), a socket joined to it (the
//! receiver).

use core::net::SocketAddr;

use embedded_nal::{UdpClientStack, UdpFullStack};

use super::Group;
use crate::nal::Multicast;

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
