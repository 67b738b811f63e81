//! The socket traits core's drivers run over: embedded-nal 0.9's stacks,
//! and the few abilities it lacks, which a platform implements next to them.
//!
//! - [`HalfClose`]: a FIN without closing (TCP);
//! - [`Park`]: waiting until a socket may progress or a deadline passes;
//! - [`Framing`]: where a message ends, on a transport that keeps message
//!   boundaries (WebSocket); a byte stream ignores it;
//! - [`Multicast`]: group membership and multicast options (UDP).

use core::net::{Ipv4Addr, SocketAddr};

pub use embedded_nal::{
    TcpClientStack, TcpError, TcpErrorKind, TcpFullStack, UdpClientStack, UdpFullStack, nb,
};

use crate::time::Instant;

/// Closing only the sending direction of a TCP connection (a FIN), so the
/// socket can still read until the peer closes too.
///
/// A server that closes first with unread input makes its kernel answer
/// with a reset, and a reset can destroy the reply the peer has not read
/// yet. Half-closing, then reading until the peer's FIN, closes cleanly.
/// (smoltcp's `close` is exactly this; on a host it is `shutdown(SHUT_WR)`.)
pub trait HalfClose: TcpClientStack {
    /// Sends a FIN after whatever is queued; reads remain possible.
    fn half_close(&mut self, socket: &mut Self::TcpSocket) -> Result<(), Self::Error>;
}

impl<T: HalfClose> HalfClose for &mut T {
    fn half_close(&mut self, socket: &mut Self::TcpSocket) -> Result<(), Self::Error> {
        T::half_close(self, socket)
    }
}

/// Message boundaries on a connection's output.
///
/// The PMU's session says where each of its messages ends (a `This is PMU
/// data i`, the floodme text, an `ERROR:` line). A byte stream has no
/// boundaries, so TCP and TLS do nothing; WebSocket makes everything sent
/// since the last boundary one message. Drivers call it after the message's
/// last byte was accepted by `send`.
pub trait Framing: TcpClientStack {
    /// The bytes sent on `socket` since the last boundary are one message.
    fn end_message(&mut self, socket: &mut Self::TcpSocket) -> Result<(), Self::Error>;
}

impl<T: Framing> Framing for &mut T {
    fn end_message(&mut self, socket: &mut Self::TcpSocket) -> Result<(), Self::Error> {
        T::end_message(self, socket)
    }
}

/// Waits until some socket of a stack may make progress, or a deadline
/// passes, whichever is first — without spinning.
///
/// A stack that implements this keeps track of which of its sockets last
/// answered "would block" (or took only part of a send) and in which
/// direction, and waits for exactly those: poll(2) on a host, WFI until an
/// interrupt on a board. Returning early is always allowed — a platform
/// whose wait fails or is interrupted just returns — because drivers treat
/// a wake-up as a hint and poll their machines again.
pub trait Park {
    /// Blocks until progress may be possible or `deadline` (if any) passes.
    fn park(&mut self, deadline: Option<Instant>);
}

impl<T: Park + ?Sized> Park for &mut T {
    fn park(&mut self, deadline: Option<Instant>) {
        T::park(self, deadline)
    }
}

/// Small writes that must leave at once: Nagle's algorithm off for a
/// socket, so a frame sent on its timestamp is not held for the previous
/// one's acknowledgement (C37.118's data frames). embedded-nal has no
/// socket options.
pub trait NoDelay: TcpClientStack {
    /// Sends each write as soon as it is made, on `socket`.
    fn set_no_delay(&mut self, socket: &mut Self::TcpSocket);
}

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

/// An address as people and logs expect it: an IPv4 peer of a dual-stack
/// socket shows as `[::ffff:a.b.c.d]`, which is `a.b.c.d`.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}
