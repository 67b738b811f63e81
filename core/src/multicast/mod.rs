//! Lab part 4: UDP multicast.
//!
//! A datagram is a 6-byte identifier followed by UTF-8 text: the course's
//! broadcaster uses `swcmTV`, a subscriber its 6-digit student number.
//!
//! Machines, sans I/O:
//! - [`frame`]: the datagram codec, with typed errors;
//! - [`bot`]: the broadcaster's schedule.
//!
//! Drivers over embedded-nal UDP plus [`Multicast`](crate::nal::Multicast):
//! - [`server`]: the broadcaster ([`server::broadcast`]);
//! - [`client`]: a member's sockets, to send to the group and to receive.

pub mod bot;
pub mod client;
pub mod frame;
pub mod server;

use core::net::{Ipv4Addr, SocketAddrV4};

pub use frame::{Frame, FrameError, ID_LEN, Id};

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
