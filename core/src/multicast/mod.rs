//! Lab part 4: UDP multicast.
//!
//! A datagram is a 6-byte identifier followed by UTF-8 text: the course's
//! broadcaster uses `swcmTV`, a subscriber its 6-digit student number.
//!
//! - [`frame`]: the datagram codec, with typed errors;
//! - [`bot`]: the broadcaster's schedule, sans I/O;
//! - [`driver`]: the bot and a receiver over embedded-nal UDP plus
//!   [`Multicast`], the group membership and options embedded-nal lacks.

pub mod bot;
pub mod driver;
pub mod frame;

use core::net::Ipv4Addr;

use embedded_nal::UdpClientStack;

pub use frame::{Frame, FrameError, ID_LEN, Id};

/// Multicast membership and options for a stack's UDP sockets (IPv4).
///
/// `interface` is the address of the local interface to use: the lab's
/// tests and examples use 127.0.0.1, which keeps every datagram on the
/// machine.
pub trait Multicast: UdpClientStack {
    /// Receives the group's datagrams on `interface`.
    fn join(
        &mut self,
        socket: &mut Self::UdpSocket,
        group: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(), Self::Error>;

    /// Stops receiving the group's datagrams on `interface`.
    fn leave(
        &mut self,
        socket: &mut Self::UdpSocket,
        group: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(), Self::Error>;

    /// Sends the socket's multicast datagrams out of `interface`.
    fn set_multicast_interface(
        &mut self,
        socket: &mut Self::UdpSocket,
        interface: Ipv4Addr,
    ) -> Result<(), Self::Error>;

    /// How many routers the socket's multicast datagrams may cross.
    fn set_multicast_ttl(
        &mut self,
        socket: &mut Self::UdpSocket,
        ttl: u8,
    ) -> Result<(), Self::Error>;

    /// Whether the socket's multicast datagrams also reach this host's own members.
    fn set_multicast_loop(
        &mut self,
        socket: &mut Self::UdpSocket,
        on: bool,
    ) -> Result<(), Self::Error>;
}
