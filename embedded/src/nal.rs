//! embedded-nal over smoltcp.
//!
//! smoltcp and embedded-nal disagree on one thing: in smoltcp a listening
//! socket *becomes* the connection, while embedded-nal's `accept` returns a
//! new socket and the listener keeps listening. The adapter keeps a pool of
//! smoltcp TCP sockets; a listener is a port with [`LISTEN_SPARES`] pool
//! sockets listening on it, and `accept` hands out whichever of them a
//! client connected to and puts a fresh one in its place. Several spares
//! matter: a reconnect right after a close was seen reset while the only
//! listening socket was still closing.
//!
//! Waiting ([`Park`]) polls the interface and then sleeps through the
//! [`Platform`] until an interrupt or the next deadline, never spinning.

use core::net::SocketAddr;

use embedded_nal::{
    TcpClientStack, TcpError, TcpErrorKind, TcpFullStack, UdpClientStack, UdpFullStack, nb,
};
use pmulab_core::nal::{Framing, HalfClose, NoDelay, Park};
use pmulab_core::time::{Clock, Instant};
use smoltcp::iface::{Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant as SmolInstant;

/// Pool sockets kept listening on each listening port.
pub const LISTEN_SPARES: usize = 2;

/// First port for outgoing connections and unbound UDP sockets.
const EPHEMERAL_BASE: u16 = 49152;

/// The board's services to the stack: time, and sleep.
pub trait Platform {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Sleeps until an interrupt (a frame, a timer tick) or `until`.
    fn wait(&mut self, until: Option<Instant>);
}

/// Why an operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmolError {
    /// Every pool socket is in use.
    NoSocket,
    /// The operation does not fit the socket's state (e.g. `accept` on a
    /// socket that does not listen).
    InvalidState,
    /// The peer closed its sending side (end of stream).
    Closed,
    /// The connection was refused or reset.
    Reset,
    /// smoltcp refused the endpoint (port 0, unspecified address…).
    Unaddressable,
    /// The UDP buffer is full or the datagram does not fit it.
    Full,
}

impl core::fmt::Display for SmolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SmolError::NoSocket => "every socket is in use",
            SmolError::InvalidState => "the socket is not in a state for that",
            SmolError::Closed => "the peer closed the connection",
            SmolError::Reset => "the connection was refused or reset",
            SmolError::Unaddressable => "the address or port cannot be used",
            SmolError::Full => "the buffer is full",
        })
    }
}

impl TcpError for SmolError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            SmolError::Closed => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Free,
    /// Listening on a port, on behalf of the listener of that port.
    Spare(u16),
    /// Owned by a user handle.
    Owned,
    /// Closed by its owner; free again once smoltcp has finished with it.
    Releasing,
}

/// A TCP socket handle of a [`SmolStack`].
#[derive(Debug, PartialEq, Eq)]
pub struct TcpSocket(TcpKind);

#[derive(Debug, PartialEq, Eq)]
enum TcpKind {
    Fresh,
    Bound(u16),
    Listener(u16),
    Conn(usize),
}

/// A UDP socket handle of a [`SmolStack`].
#[derive(Debug, PartialEq, Eq)]
pub struct UdpSocket {
    slot: usize,
    remote: Option<SocketAddr>,
}

/// embedded-nal over a smoltcp interface; see the module documentation.
pub struct SmolStack<'a, D: Device, P: Platform, const T: usize, const U: usize> {
    iface: Interface,
    sockets: SocketSet<'a>,
    device: D,
    platform: P,
    tcp: [(SocketHandle, Role); T],
    udp: [(SocketHandle, bool); U],
    listening: [Option<u16>; T],
    next_port: u16,
}

impl<D: Device, P: Platform, const T: usize, const U: usize> core::fmt::Debug
    for SmolStack<'_, D, P, T, U>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmolStack")
            .field("tcp", &T)
            .field("udp", &U)
            .finish_non_exhaustive()
    }
}

/// The board speaks IPv4 only.
fn v4(addr: SocketAddr) -> Result<core::net::SocketAddrV4, SmolError> {
    match addr {
        SocketAddr::V4(v4) => Ok(v4),
        SocketAddr::V6(_) => Err(SmolError::Unaddressable),
    }
}

fn smol(t: Instant) -> SmolInstant {
    SmolInstant::from_micros(t.as_micros() as i64)
}

impl<'a, D: Device, P: Platform, const T: usize, const U: usize> SmolStack<'a, D, P, T, U> {
    /// A stack over `iface` and `device`, with `T` TCP and `U` UDP sockets
    /// already added to `sockets` (their handles given here).
    pub fn new(
        iface: Interface,
        sockets: SocketSet<'a>,
        device: D,
        platform: P,
        tcp: [SocketHandle; T],
        udp: [SocketHandle; U],
    ) -> Self {
        SmolStack {
            iface,
            sockets,
            device,
            platform,
            tcp: tcp.map(|h| (h, Role::Free)),
            udp: udp.map(|h| (h, false)),
            listening: [None; T],
            next_port: EPHEMERAL_BASE,
        }
    }

    /// The platform (e.g. for its clock).
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Moves packets both ways; says whether any socket may have changed.
    pub fn poll(&mut self) -> bool {
        let now = smol(self.platform.now());
        let changed = self.iface.poll(now, &mut self.device, &mut self.sockets)
            == PollResult::SocketStateChanged;
        self.tidy();
        changed
    }

    /// Frees released sockets smoltcp is done with, and keeps every
    /// listening port's spares listening.
    fn tidy(&mut self) {
        for (handle, role) in self.tcp.iter_mut() {
            if *role == Role::Releasing {
                let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
                match socket.state() {
                    // A socket in TIME-WAIT is free to reuse: smoltcp's listen
                    // and connect start afresh from it without a word, and
                    // until then it answers a retransmitted FIN as TCP asks.
                    // (Aborting it, as this did, sent the peer a reset after
                    // every clean close.)
                    tcp::State::Closed | tcp::State::TimeWait => *role = Role::Free,
                    _ => {}
                }
            }
        }
        for port in self.listening.into_iter().flatten() {
            let spares = self
                .tcp
                .iter()
                .filter(|(h, r)| {
                    *r == Role::Spare(port) && self.sockets.get::<tcp::Socket>(*h).is_listening()
                })
                .count();
            for _ in spares..LISTEN_SPARES {
                let Some(i) = self.tcp.iter().position(|(_, r)| *r == Role::Free) else {
                    break;
                };
                let socket = self.sockets.get_mut::<tcp::Socket>(self.tcp[i].0);
                if socket.listen(port).is_ok() {
                    self.tcp[i].1 = Role::Spare(port);
                }
            }
        }
    }

    fn ephemeral_port(&mut self) -> u16 {
        let port = self.next_port;
        self.next_port = if port == u16::MAX {
            EPHEMERAL_BASE
        } else {
            port + 1
        };
        port
    }

    fn conn(&mut self, socket: &TcpSocket) -> Result<&mut tcp::Socket<'a>, SmolError> {
        match socket.0 {
            TcpKind::Conn(i) => Ok(self.sockets.get_mut::<tcp::Socket>(self.tcp[i].0)),
            _ => Err(SmolError::InvalidState),
        }
    }
}

impl<D: Device, P: Platform, const T: usize, const U: usize> Clock for SmolStack<'_, D, P, T, U> {
    fn now(&self) -> Instant {
        self.platform.now()
    }
}

impl<D: Device, P: Platform, const T: usize, const U: usize> Park for SmolStack<'_, D, P, T, U> {
    fn park(&mut self, deadline: Option<Instant>) {
        loop {
            if self.poll() {
                return;
            }
            let now = self.platform.now();
            if deadline.is_some_and(|d| now >= d) {
                return;
            }
            // smoltcp's own timers (retransmission, ACK delay) count as deadlines.
            let smol_due = self
                .iface
                .poll_delay(smol(now), &self.sockets)
                .map(|d| now + core::time::Duration::from_micros(d.total_micros()));
            let until = pmulab_core::time::earliest(deadline, smol_due);
            if until.is_some_and(|u| u <= now) {
                continue;
            }
            self.platform.wait(until);
        }
    }
}

impl<D: Device, P: Platform, const T: usize, const U: usize> TcpClientStack
    for SmolStack<'_, D, P, T, U>
{
    type TcpSocket = TcpSocket;
    type Error = SmolError;

    fn socket(&mut self) -> Result<TcpSocket, SmolError> {
        Ok(TcpSocket(TcpKind::Fresh))
    }

    fn connect(&mut self, socket: &mut TcpSocket, remote: SocketAddr) -> nb::Result<(), SmolError> {
        if socket.0 == TcpKind::Fresh {
            let i = self
                .tcp
                .iter()
                .position(|(_, r)| *r == Role::Free)
                .ok_or(SmolError::NoSocket)?;
            let port = self.ephemeral_port();
            let handle = self.tcp[i].0;
            let cx = self.iface.context();
            self.sockets
                .get_mut::<tcp::Socket>(handle)
                .connect(cx, v4(remote)?, port)
                .map_err(|_| SmolError::Unaddressable)?;
            self.tcp[i].1 = Role::Owned;
            socket.0 = TcpKind::Conn(i);
        }
        self.poll();
        let conn = self.conn(socket)?;
        match conn.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Err(nb::Error::WouldBlock),
            tcp::State::Closed => Err(nb::Error::Other(SmolError::Reset)),
            _ => Ok(()),
        }
    }

    fn send(&mut self, socket: &mut TcpSocket, buffer: &[u8]) -> nb::Result<usize, SmolError> {
        let conn = self.conn(socket)?;
        if !conn.may_send() {
            return Err(nb::Error::Other(match conn.state() {
                tcp::State::Closed => SmolError::Reset,
                _ => SmolError::Closed,
            }));
        }
        match conn.send_slice(buffer) {
            Ok(0) if !buffer.is_empty() => Err(nb::Error::WouldBlock),
            Ok(n) => Ok(n),
            Err(_) => Err(nb::Error::Other(SmolError::Closed)),
        }
    }

    fn receive(
        &mut self,
        socket: &mut TcpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, SmolError> {
        let conn = self.conn(socket)?;
        if conn.can_recv() {
            return conn
                .recv_slice(buffer)
                .map_err(|_| nb::Error::Other(SmolError::Closed));
        }
        if conn.may_recv() {
            return Err(nb::Error::WouldBlock);
        }
        Err(nb::Error::Other(match conn.state() {
            // Closed without a FIN from the peer: a reset.
            tcp::State::Closed => SmolError::Reset,
            _ => SmolError::Closed,
        }))
    }

    fn close(&mut self, socket: TcpSocket) -> Result<(), SmolError> {
        match socket.0 {
            TcpKind::Conn(i) => {
                let (handle, _) = self.tcp[i];
                self.sockets.get_mut::<tcp::Socket>(handle).close();
                self.tcp[i].1 = Role::Releasing;
            }
            TcpKind::Listener(port) => {
                if let Some(slot) = self.listening.iter_mut().find(|p| **p == Some(port)) {
                    *slot = None;
                }
                for (handle, role) in self.tcp.iter_mut() {
                    if *role == Role::Spare(port) {
                        self.sockets.get_mut::<tcp::Socket>(*handle).abort();
                        *role = Role::Releasing;
                    }
                }
            }
            TcpKind::Fresh | TcpKind::Bound(_) => {}
        }
        self.tidy();
        Ok(())
    }
}

impl<D: Device, P: Platform, const T: usize, const U: usize> TcpFullStack
    for SmolStack<'_, D, P, T, U>
{
    fn bind(&mut self, socket: &mut TcpSocket, local_port: u16) -> Result<(), SmolError> {
        if socket.0 != TcpKind::Fresh || local_port == 0 {
            return Err(SmolError::InvalidState);
        }
        socket.0 = TcpKind::Bound(local_port);
        Ok(())
    }

    fn listen(&mut self, socket: &mut TcpSocket) -> Result<(), SmolError> {
        let TcpKind::Bound(port) = socket.0 else {
            return Err(SmolError::InvalidState);
        };
        let slot = self
            .listening
            .iter_mut()
            .find(|p| p.is_none())
            .ok_or(SmolError::NoSocket)?;
        *slot = Some(port);
        socket.0 = TcpKind::Listener(port);
        self.tidy();
        Ok(())
    }

    fn accept(&mut self, socket: &mut TcpSocket) -> nb::Result<(TcpSocket, SocketAddr), SmolError> {
        let TcpKind::Listener(port) = socket.0 else {
            return Err(nb::Error::Other(SmolError::InvalidState));
        };
        for i in 0..T {
            let (handle, role) = self.tcp[i];
            if role != Role::Spare(port) {
                continue;
            }
            let conn = self.sockets.get_mut::<tcp::Socket>(handle);
            let connected = !matches!(
                conn.state(),
                tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed
            );
            if let (true, Some(remote)) = (connected, conn.remote_endpoint()) {
                self.tcp[i].1 = Role::Owned;
                self.tidy();
                return Ok((TcpSocket(TcpKind::Conn(i)), SocketAddr::from(remote)));
            }
        }
        Err(nb::Error::WouldBlock)
    }
}

/// Nagle off: a C37.118 frame must not wait for the previous one's ACK.
impl<D: Device, P: Platform, const T: usize, const U: usize> NoDelay for SmolStack<'_, D, P, T, U> {
    fn set_no_delay(&mut self, socket: &mut TcpSocket) {
        if let TcpKind::Conn(i) = socket.0
            && let Some((handle, _)) = self.tcp.get(i)
        {
            self.sockets
                .get_mut::<tcp::Socket>(*handle)
                .set_nagle_enabled(false);
        }
    }
}

/// A byte stream: messages have no boundaries on the wire.
impl<D: Device, P: Platform, const T: usize, const U: usize> Framing for SmolStack<'_, D, P, T, U> {
    fn end_message(&mut self, _socket: &mut TcpSocket) -> Result<(), SmolError> {
        Ok(())
    }
}

impl<D: Device, P: Platform, const T: usize, const U: usize> HalfClose
    for SmolStack<'_, D, P, T, U>
{
    fn half_close(&mut self, socket: &mut TcpSocket) -> Result<(), SmolError> {
        // smoltcp's close is a half-close: a FIN after the queued data.
        self.conn(socket)?.close();
        Ok(())
    }
}

impl<D: Device, P: Platform, const T: usize, const U: usize> UdpClientStack
    for SmolStack<'_, D, P, T, U>
{
    type UdpSocket = UdpSocket;
    type Error = SmolError;

    fn socket(&mut self) -> Result<UdpSocket, SmolError> {
        let slot = self
            .udp
            .iter()
            .position(|(_, used)| !used)
            .ok_or(SmolError::NoSocket)?;
        self.udp[slot].1 = true;
        Ok(UdpSocket { slot, remote: None })
    }

    fn connect(&mut self, socket: &mut UdpSocket, remote: SocketAddr) -> Result<(), SmolError> {
        let port = self.ephemeral_port();
        let handle = self.udp[socket.slot].0;
        self.sockets
            .get_mut::<udp::Socket>(handle)
            .bind(port)
            .map_err(|_| SmolError::Unaddressable)?;
        socket.remote = Some(remote);
        Ok(())
    }

    fn send(&mut self, socket: &mut UdpSocket, buffer: &[u8]) -> nb::Result<(), SmolError> {
        let remote = socket.remote.ok_or(SmolError::InvalidState)?;
        self.send_to(socket, remote, buffer)
    }

    fn receive(
        &mut self,
        socket: &mut UdpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), SmolError> {
        let handle = self.udp[socket.slot].0;
        let udp = self.sockets.get_mut::<udp::Socket>(handle);
        loop {
            match udp.recv_slice(buffer) {
                Ok((n, meta)) => return Ok((n, SocketAddr::from(meta.endpoint))),
                // smoltcp drops a datagram larger than the buffer whole; try the next.
                Err(udp::RecvError::Truncated) => continue,
                Err(udp::RecvError::Exhausted) => return Err(nb::Error::WouldBlock),
            }
        }
    }

    fn close(&mut self, socket: UdpSocket) -> Result<(), SmolError> {
        let (handle, _) = self.udp[socket.slot];
        self.sockets.get_mut::<udp::Socket>(handle).close();
        self.udp[socket.slot].1 = false;
        Ok(())
    }
}

impl<D: Device, P: Platform, const T: usize, const U: usize> UdpFullStack
    for SmolStack<'_, D, P, T, U>
{
    fn bind(&mut self, socket: &mut UdpSocket, local_port: u16) -> Result<(), SmolError> {
        let handle = self.udp[socket.slot].0;
        self.sockets
            .get_mut::<udp::Socket>(handle)
            .bind(local_port)
            .map_err(|_| SmolError::Unaddressable)
    }

    fn send_to(
        &mut self,
        socket: &mut UdpSocket,
        remote: SocketAddr,
        buffer: &[u8],
    ) -> nb::Result<(), SmolError> {
        let handle = self.udp[socket.slot].0;
        let udp = self.sockets.get_mut::<udp::Socket>(handle);
        match udp.send_slice(buffer, v4(remote)?) {
            Ok(()) => Ok(()),
            Err(udp::SendError::BufferFull) => Err(nb::Error::WouldBlock),
            Err(_) => Err(nb::Error::Other(SmolError::Unaddressable)),
        }
    }
}
