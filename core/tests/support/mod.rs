//! A mock embedded-nal stack with scripted peers and a manual clock.
//!
//! Everything is in memory and in virtual time: a test decides exactly when
//! each byte arrives and how much each send may take, then checks what the
//! driver sent and when.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.
#![allow(dead_code)] // Each test file uses a different part of the mock.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use pmulab_core::embedded_nal::{
    TcpClientStack, TcpError, TcpErrorKind, TcpFullStack, UdpClientStack, UdpFullStack, nb,
};
use pmulab_core::nal::{Framing, HalfClose, Multicast, Park};
use pmulab_core::time::{Clock, Instant};

/// A clock that moves only when told.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Rc<Cell<Instant>>);

impl ManualClock {
    pub fn set(&self, t: Instant) {
        assert!(t >= self.0.get(), "time went backwards");
        self.0.set(t);
    }
    pub fn advance(&self, d: Duration) {
        self.0.set(self.0.get() + d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.0.get()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockError {
    Refused,
    Reset,
    Closed,
    NoSuchSocket,
    AddrInUse,
}

impl std::fmt::Display for MockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl TcpError for MockError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            MockError::Closed => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

/// A handle to a socket of the mock stack.
#[derive(Debug, PartialEq, Eq)]
pub struct MockSocket(usize);

/// One connection between a stack socket and a test-controlled peer.
#[derive(Debug, Default)]
struct Conn {
    peer: Option<SocketAddr>,
    /// What the peer sent, each chunk delivered by one receive, from its instant on.
    to_stack: VecDeque<(Instant, Vec<u8>)>,
    peer_fin_at: Option<Instant>,
    peer_reset_at: Option<Instant>,
    /// What the stack sent: one entry per successful send call.
    from_stack: Vec<(Instant, Vec<u8>)>,
    /// Where the stack said its messages end: bytes sent so far at each call.
    message_ends: Vec<usize>,
    stack_fin: bool,
    stack_closed: bool,
    /// Bytes the stack may still send before sends would block.
    window: Option<usize>,
}

#[derive(Debug)]
enum Sock {
    Fresh,
    Udp {
        local: SocketAddr,
        remote: Option<SocketAddr>,
    },
    Bound(u16),
    Listening(u16),
    Connected(usize),
    Closed,
}

/// A scripted UDP server: given the instant and a request, the datagrams it
/// sends back, each after a delay and from a source address.
pub type UdpScript = Box<dyn FnMut(Instant, &[u8]) -> Vec<(Duration, SocketAddr, Vec<u8>)>>;

#[derive(Default)]
struct Net {
    socks: Vec<Sock>,
    /// Datagrams waiting at each UDP socket: (arrival, source, bytes).
    udp_inbox: HashMap<usize, VecDeque<(Instant, SocketAddr, Vec<u8>)>>,
    /// Every datagram the stack sent: (instant, from, to, bytes).
    udp_sent: Vec<(Instant, SocketAddr, SocketAddr, Vec<u8>)>,
    udp_scripts: HashMap<SocketAddr, UdpScript>,
    next_local_port: u16,
    /// Multicast settings made, in order, as readable lines.
    multicast_log: Vec<String>,
    conns: Vec<Conn>,
    backlog: HashMap<u16, VecDeque<usize>>,
    scripts: HashMap<SocketAddr, Script>,
    next_peer_port: u16,
    max_send: Option<usize>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("socks", &self.socks)
            .finish_non_exhaustive()
    }
}

/// What a scripted server does when the stack connects to it.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Chunks it sends and when (relative to the connection).
    pub chunks: Vec<(Duration, Vec<u8>)>,
    /// When it closes (relative to the connection); `None`: never.
    pub close_after: Option<Duration>,
    /// Reset the connection instead of closing.
    pub reset: bool,
}

/// The mock network: the stack side (embedded-nal traits) and the peer side
/// (methods for the test).
#[derive(Debug, Clone, Default)]
pub struct MockNet {
    net: Rc<RefCell<Net>>,
    pub clock: ManualClock,
}

/// A connection as seen by its test-controlled peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerId(usize);

impl MockNet {
    pub fn new() -> Self {
        let net = MockNet::default();
        net.net.borrow_mut().next_peer_port = 40000;
        net.net.borrow_mut().next_local_port = 50000;
        net
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Caps every send call at `n` bytes.
    pub fn set_max_send(&self, n: usize) {
        self.net.borrow_mut().max_send = Some(n);
    }

    // ---- the peer side, for server tests ----

    /// A peer connects to `port`; fails if nothing listens there.
    pub fn connect(&self, port: u16) -> Result<PeerId, MockError> {
        let mut net = self.net.borrow_mut();
        let listening = net
            .socks
            .iter()
            .any(|s| matches!(s, Sock::Listening(p) if *p == port));
        if !listening {
            return Err(MockError::Refused);
        }
        let peer_port = net.next_peer_port;
        net.next_peer_port += 1;
        net.conns.push(Conn {
            peer: Some(SocketAddr::from(([127, 0, 0, 1], peer_port))),
            ..Conn::default()
        });
        let id = net.conns.len() - 1;
        net.backlog.entry(port).or_default().push_back(id);
        Ok(PeerId(id))
    }

    pub fn send(&self, peer: PeerId, bytes: &[u8]) {
        let now = self.now();
        self.net.borrow_mut().conns[peer.0]
            .to_stack
            .push_back((now, bytes.to_vec()));
    }

    pub fn fin(&self, peer: PeerId) {
        let now = self.now();
        self.net.borrow_mut().conns[peer.0].peer_fin_at = Some(now);
    }

    pub fn reset(&self, peer: PeerId) {
        let now = self.now();
        self.net.borrow_mut().conns[peer.0].peer_reset_at = Some(now);
    }

    /// Limits what the stack may send to `peer` from now on (a full window).
    pub fn set_window(&self, peer: PeerId, bytes: Option<usize>) {
        self.net.borrow_mut().conns[peer.0].window = bytes;
    }

    /// Everything the stack sent to `peer`, concatenated.
    pub fn received(&self, peer: PeerId) -> Vec<u8> {
        self.net.borrow().conns[peer.0]
            .from_stack
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    /// Each send call the stack made to `peer`, with its instant.
    pub fn sends(&self, peer: PeerId) -> Vec<(Instant, Vec<u8>)> {
        self.net.borrow().conns[peer.0].from_stack.clone()
    }

    /// Whether the stack sent its FIN (half-closed or closed).
    pub fn closed_by_stack(&self, peer: PeerId) -> bool {
        let net = self.net.borrow();
        net.conns[peer.0].stack_fin || net.conns[peer.0].stack_closed
    }

    /// Whether the stack released the socket entirely.
    pub fn released_by_stack(&self, peer: PeerId) -> bool {
        self.net.borrow().conns[peer.0].stack_closed
    }

    /// Sockets the stack has open (not closed), listeners included.
    pub fn open_sockets(&self) -> usize {
        self.net
            .borrow()
            .socks
            .iter()
            .filter(|s| !matches!(s, Sock::Closed))
            .count()
    }

    // ---- scripted servers, for client tests ----

    pub fn script(&self, addr: SocketAddr, script: Script) {
        self.net.borrow_mut().scripts.insert(addr, script);
    }

    /// What the stack sent on its `i`-th connection.
    pub fn sent_on_connection(&self, i: usize) -> Vec<u8> {
        self.net.borrow().conns[i]
            .from_stack
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    /// What the stack sent on its `i`-th connection, cut where it said its
    /// messages end ([`Framing`]); bytes after the last end are not a message.
    pub fn messages_on_connection(&self, i: usize) -> Vec<Vec<u8>> {
        let bytes = self.sent_on_connection(i);
        let ends = self.net.borrow().conns[i].message_ends.clone();
        let mut start = 0;
        ends.into_iter()
            .map(|end| {
                let message = bytes[start..end].to_vec();
                start = end;
                message
            })
            .collect()
    }

    fn conn_of(&self, socket: &MockSocket) -> Result<usize, MockError> {
        match self.net.borrow().socks.get(socket.0) {
            Some(Sock::Connected(c)) => Ok(*c),
            _ => Err(MockError::NoSuchSocket),
        }
    }

    // ---- UDP ----

    /// A scripted UDP server at `addr`.
    pub fn udp_script(&self, addr: SocketAddr, script: UdpScript) {
        self.net.borrow_mut().udp_scripts.insert(addr, script);
    }

    /// A peer sends a datagram to the stack's UDP socket bound on `port` of
    /// the family of `from`.
    pub fn udp_deliver(&self, from: SocketAddr, port: u16, bytes: &[u8]) {
        let now = self.now();
        let mut net = self.net.borrow_mut();
        let target = net.socks.iter().position(|s| {
            matches!(s, Sock::Udp { local, remote: None }
                if local.port() == port && local.is_ipv4() == from.is_ipv4())
        });
        if let Some(id) = target {
            net.udp_inbox
                .entry(id)
                .or_default()
                .push_back((now, from, bytes.to_vec()));
        }
    }

    /// Every datagram the stack sent: (instant, from, to, bytes).
    pub fn udp_sent(&self) -> Vec<(Instant, SocketAddr, SocketAddr, Vec<u8>)> {
        self.net.borrow().udp_sent.clone()
    }

    fn udp_local(
        &self,
        socket: &MockSocket,
    ) -> Result<(SocketAddr, Option<SocketAddr>), MockError> {
        match self.net.borrow().socks.get(socket.0) {
            Some(Sock::Udp { local, remote }) => Ok((*local, *remote)),
            _ => Err(MockError::NoSuchSocket),
        }
    }

    fn udp_transmit(
        &self,
        socket: &MockSocket,
        to: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), MockError> {
        let now = self.now();
        let (local, _) = self.udp_local(socket)?;
        let mut net = self.net.borrow_mut();
        net.udp_sent.push((now, local, to, bytes.to_vec()));
        let replies = match net.udp_scripts.get_mut(&to) {
            Some(script) => script(now, bytes),
            None => Vec::new(),
        };
        let inbox = net.udp_inbox.entry(socket.0).or_default();
        for (delay, from, reply) in replies {
            inbox.push_back((now + delay, from, reply));
        }
        // Keep the inbox in arrival order.
        inbox.make_contiguous().sort_by_key(|(t, _, _)| *t);
        Ok(())
    }

    fn next_event_after(&self, now: Instant) -> Option<Instant> {
        let net = self.net.borrow();
        let udp = net
            .udp_inbox
            .values()
            .flat_map(|q| q.iter().map(|(t, _, _)| *t))
            .filter(|t| *t > now)
            .min();
        net.conns
            .iter()
            .flat_map(|c| {
                c.to_stack
                    .iter()
                    .map(|(t, _)| *t)
                    .chain(c.peer_fin_at)
                    .chain(c.peer_reset_at)
            })
            .filter(|t| *t > now)
            .chain(udp)
            .min()
    }
}

impl TcpClientStack for MockNet {
    type TcpSocket = MockSocket;
    type Error = MockError;

    fn socket(&mut self) -> Result<MockSocket, MockError> {
        let mut net = self.net.borrow_mut();
        net.socks.push(Sock::Fresh);
        Ok(MockSocket(net.socks.len() - 1))
    }

    fn connect(
        &mut self,
        socket: &mut MockSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), MockError> {
        let now = self.now();
        let mut net = self.net.borrow_mut();
        let script = net
            .scripts
            .get(&remote)
            .cloned()
            .ok_or(nb::Error::Other(MockError::Refused))?;
        let mut conn = Conn {
            peer: Some(remote),
            ..Conn::default()
        };
        for (at, bytes) in script.chunks {
            conn.to_stack.push_back((now + at, bytes));
        }
        let end = script.close_after.map(|d| now + d);
        if script.reset {
            conn.peer_reset_at = end;
        } else {
            conn.peer_fin_at = end;
        }
        net.conns.push(conn);
        let id = net.conns.len() - 1;
        net.socks[socket.0] = Sock::Connected(id);
        Ok(())
    }

    fn send(&mut self, socket: &mut MockSocket, buffer: &[u8]) -> nb::Result<usize, MockError> {
        let now = self.now();
        let id = self.conn_of(socket)?;
        let mut net = self.net.borrow_mut();
        let max_send = net.max_send;
        let conn = &mut net.conns[id];
        if conn.peer_reset_at.is_some_and(|t| t <= now) {
            return Err(nb::Error::Other(MockError::Reset));
        }
        if conn.stack_fin {
            return Err(nb::Error::Other(MockError::Closed));
        }
        let mut n = buffer.len();
        if let Some(w) = conn.window {
            if w == 0 {
                return Err(nb::Error::WouldBlock);
            }
            n = n.min(w);
            conn.window = Some(w - n);
        }
        if let Some(m) = max_send {
            n = n.min(m);
        }
        conn.from_stack.push((now, buffer[..n].to_vec()));
        Ok(n)
    }

    fn receive(
        &mut self,
        socket: &mut MockSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, MockError> {
        let now = self.now();
        let id = self.conn_of(socket)?;
        let mut net = self.net.borrow_mut();
        let conn = &mut net.conns[id];
        if let Some((at, chunk)) = conn.to_stack.front_mut()
            && *at <= now
        {
            let n = chunk.len().min(buffer.len());
            buffer[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                conn.to_stack.pop_front();
            }
            return Ok(n);
        }
        if conn.peer_reset_at.is_some_and(|t| t <= now) {
            return Err(nb::Error::Other(MockError::Reset));
        }
        if conn.to_stack.is_empty() && conn.peer_fin_at.is_some_and(|t| t <= now) {
            return Err(nb::Error::Other(MockError::Closed));
        }
        Err(nb::Error::WouldBlock)
    }

    fn close(&mut self, socket: MockSocket) -> Result<(), MockError> {
        let mut net = self.net.borrow_mut();
        if let Some(Sock::Connected(c)) = net.socks.get(socket.0) {
            let c = *c;
            net.conns[c].stack_closed = true;
        }
        net.socks[socket.0] = Sock::Closed;
        Ok(())
    }
}

impl TcpFullStack for MockNet {
    fn bind(&mut self, socket: &mut MockSocket, port: u16) -> Result<(), MockError> {
        let mut net = self.net.borrow_mut();
        let taken = net
            .socks
            .iter()
            .any(|s| matches!(s, Sock::Bound(p) | Sock::Listening(p) if *p == port));
        if taken {
            return Err(MockError::AddrInUse);
        }
        net.socks[socket.0] = Sock::Bound(port);
        Ok(())
    }

    fn listen(&mut self, socket: &mut MockSocket) -> Result<(), MockError> {
        let mut net = self.net.borrow_mut();
        match net.socks[socket.0] {
            Sock::Bound(p) => {
                net.socks[socket.0] = Sock::Listening(p);
                Ok(())
            }
            _ => Err(MockError::NoSuchSocket),
        }
    }

    fn accept(
        &mut self,
        socket: &mut MockSocket,
    ) -> nb::Result<(MockSocket, SocketAddr), MockError> {
        let mut net = self.net.borrow_mut();
        let Sock::Listening(port) = net.socks[socket.0] else {
            return Err(nb::Error::Other(MockError::NoSuchSocket));
        };
        let Some(conn) = net.backlog.get_mut(&port).and_then(VecDeque::pop_front) else {
            return Err(nb::Error::WouldBlock);
        };
        net.socks.push(Sock::Connected(conn));
        let peer = net.conns[conn]
            .peer
            .ok_or(nb::Error::Other(MockError::NoSuchSocket))?;
        // Dual-stack sockets report IPv4 peers as mapped addresses; so does the mock.
        let mapped = match peer {
            SocketAddr::V4(v4) => SocketAddr::from((v4.ip().to_ipv6_mapped(), v4.port())),
            v6 => v6,
        };
        Ok((MockSocket(net.socks.len() - 1), mapped))
    }
}

impl UdpClientStack for MockNet {
    type UdpSocket = MockSocket;
    type Error = MockError;

    fn socket(&mut self) -> Result<MockSocket, MockError> {
        TcpClientStack::socket(self)
    }

    fn connect(&mut self, socket: &mut MockSocket, remote: SocketAddr) -> Result<(), MockError> {
        let mut net = self.net.borrow_mut();
        let port = net.next_local_port;
        net.next_local_port += 1;
        let ip: std::net::IpAddr = match remote {
            SocketAddr::V4(_) => [127, 0, 0, 1].into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        net.socks[socket.0] = Sock::Udp {
            local: SocketAddr::new(ip, port),
            remote: Some(remote),
        };
        Ok(())
    }

    fn send(&mut self, socket: &mut MockSocket, buffer: &[u8]) -> nb::Result<(), MockError> {
        let (_, remote) = self.udp_local(socket)?;
        let remote = remote.ok_or(nb::Error::Other(MockError::NoSuchSocket))?;
        Ok(self.udp_transmit(socket, remote, buffer)?)
    }

    fn receive(
        &mut self,
        socket: &mut MockSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), MockError> {
        let now = self.now();
        let mut net = self.net.borrow_mut();
        let inbox = net.udp_inbox.entry(socket.0).or_default();
        match inbox.front() {
            Some((at, _, _)) if *at <= now => {}
            _ => return Err(nb::Error::WouldBlock),
        }
        let (_, from, bytes) = inbox.pop_front().ok_or(nb::Error::WouldBlock)?;
        // Like recvfrom(2): a datagram longer than the buffer is cut.
        let n = bytes.len().min(buffer.len());
        buffer[..n].copy_from_slice(&bytes[..n]);
        Ok((n, from))
    }

    fn close(&mut self, socket: MockSocket) -> Result<(), MockError> {
        TcpClientStack::close(self, socket)
    }
}

impl UdpFullStack for MockNet {
    fn bind(&mut self, socket: &mut MockSocket, port: u16) -> Result<(), MockError> {
        let mut net = self.net.borrow_mut();
        net.socks[socket.0] = Sock::Udp {
            local: SocketAddr::from(([127, 0, 0, 1], port)),
            remote: None,
        };
        Ok(())
    }

    fn send_to(
        &mut self,
        socket: &mut MockSocket,
        remote: SocketAddr,
        buffer: &[u8],
    ) -> nb::Result<(), MockError> {
        Ok(self.udp_transmit(socket, remote, buffer)?)
    }
}

impl MockNet {
    /// Binds a UDP socket on `local` (any family), as a host platform does
    /// before handing sockets to a server.
    pub fn udp_bind_at(&mut self, local: SocketAddr) -> MockSocket {
        let socket = TcpClientStack::socket(self).unwrap();
        self.net.borrow_mut().socks[socket.0] = Sock::Udp {
            local,
            remote: None,
        };
        socket
    }
}

impl MockNet {
    /// The multicast settings the stack was asked for, in order.
    pub fn multicast_log(&self) -> Vec<String> {
        self.net.borrow().multicast_log.clone()
    }

    fn note(&self, socket: &MockSocket, what: String) -> Result<(), MockError> {
        self.udp_local(socket)?;
        self.net.borrow_mut().multicast_log.push(what);
        Ok(())
    }
}

impl Multicast for MockNet {
    fn join(
        &mut self,
        socket: &mut MockSocket,
        group: std::net::Ipv4Addr,
        interface: std::net::Ipv4Addr,
    ) -> Result<(), MockError> {
        self.note(socket, format!("join {group} on {interface}"))
    }
    fn leave(
        &mut self,
        socket: &mut MockSocket,
        group: std::net::Ipv4Addr,
        interface: std::net::Ipv4Addr,
    ) -> Result<(), MockError> {
        self.note(socket, format!("leave {group} on {interface}"))
    }
    fn set_multicast_interface(
        &mut self,
        socket: &mut MockSocket,
        interface: std::net::Ipv4Addr,
    ) -> Result<(), MockError> {
        self.note(socket, format!("interface {interface}"))
    }
    fn set_multicast_ttl(&mut self, socket: &mut MockSocket, ttl: u8) -> Result<(), MockError> {
        self.note(socket, format!("ttl {ttl}"))
    }
    fn set_multicast_loop(&mut self, socket: &mut MockSocket, on: bool) -> Result<(), MockError> {
        self.note(socket, format!("loop {on}"))
    }
}

impl Framing for MockNet {
    fn end_message(&mut self, socket: &mut MockSocket) -> Result<(), MockError> {
        let id = self.conn_of(socket)?;
        let mut net = self.net.borrow_mut();
        let conn = &mut net.conns[id];
        let sent = conn.from_stack.iter().map(|(_, b)| b.len()).sum();
        conn.message_ends.push(sent);
        Ok(())
    }
}

impl HalfClose for MockNet {
    fn half_close(&mut self, socket: &mut MockSocket) -> Result<(), MockError> {
        let id = self.conn_of(socket)?;
        self.net.borrow_mut().conns[id].stack_fin = true;
        Ok(())
    }
}

impl Park for MockNet {
    /// Jumps the clock to the deadline or the next scripted event, whichever
    /// is first: virtual time passes only while the driver waits.
    fn park(&mut self, deadline: Option<Instant>) {
        let now = self.now();
        let next = match (deadline, self.next_event_after(now)) {
            (Some(d), Some(e)) => Some(d.min(e)),
            (d, e) => d.or(e),
        };
        if let Some(t) = next
            && t > now
        {
            self.clock.set(t);
        }
    }
}
