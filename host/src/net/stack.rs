//! embedded-nal over the operating system's sockets, with a poll(2) park.
//!
//! Why not std-embedded-nal: embedded-nal's `bind` takes only a port, and
//! the PMU must listen on the address the user chose (loopback by
//! default); its `connect` blocks, so a connect timeout is impossible; and
//! a park needs to know which sockets wait for what. This stack keeps, for
//! every socket, the direction its last operation would have blocked in,
//! and [`Park::park`] polls exactly those descriptors.
//!
//! A socket whose last read would block and that poll has not reported
//! readable since answers `WouldBlock` again without a system call: a server
//! with a thousand idle sessions costs one poll per wake-up, not a thousand
//! reads.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use embedded_nal::{
    TcpClientStack, TcpError, TcpErrorKind, TcpFullStack, UdpClientStack, UdpFullStack, nb,
};
use pmulab_core::nal::{Framing, HalfClose, Multicast, NoDelay, Park};
use pmulab_core::time::{Clock, Instant};
use socket2::{Domain, Protocol, Socket, Type};

use super::clock::HostClock;

/// An error from the operating system, shown the way people read it.
pub struct NetError(pub io::Error);

impl std::fmt::Debug for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl TcpError for NetError {
    fn kind(&self) -> TcpErrorKind {
        match self.0.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

impl NetError {
    /// What to do about it, when there is something to say.
    pub fn advice(&self) -> Option<&'static str> {
        advice(&self.0)
    }
}

/// What to do about an error of the operating system's sockets, when there
/// is something to say: the mistakes everyone makes once.
pub fn advice(e: &io::Error) -> Option<&'static str> {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Some(
            "nothing listens there: is the PMU running? (`pmulab serve` starts the lab's servers)",
        ),
        io::ErrorKind::AddrInUse => Some(
            "another program has that port: stop it, or choose another with --port (0 picks a \
free one; for `pmulab serve`, --port-offset)",
        ),
        io::ErrorKind::PermissionDenied => Some(
            "ports below 1024 need root: choose one above 1023 with --port (for `pmulab serve`, \
--port-offset)",
        ),
        io::ErrorKind::AddrNotAvailable => {
            Some("that address is not one of this machine's: check --bind")
        }
        _ => None,
    }
}

/// `e`, and the advice for it if there is one.
pub fn with_advice(e: &io::Error) -> String {
    match advice(e) {
        Some(advice) => format!("{e}: {advice}"),
        None => e.to_string(),
    }
}

impl From<io::Error> for NetError {
    fn from(e: io::Error) -> Self {
        NetError(e)
    }
}

fn closed() -> NetError {
    NetError(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed by peer",
    ))
}

fn bad_state(what: &str) -> NetError {
    NetError(io::Error::other(format!("socket is not {what}")))
}

/// A handle to one socket of a [`StdStack`].
#[derive(Debug, PartialEq, Eq)]
pub struct StdSocket(usize);

impl StdSocket {
    /// The socket's slot in its stack, stable while it is open.
    pub(super) fn index(&self) -> usize {
        self.0
    }

    /// A second handle to the socket in `index`, for a layer above the
    /// stack (TLS) that must reach a socket its owner is not using now.
    pub(super) fn alias(index: usize) -> StdSocket {
        StdSocket(index)
    }
}

#[derive(Debug)]
enum Kind {
    Fresh,
    Connecting(Socket),
    Stream(TcpStream),
    Bound(Socket),
    Listener(TcpListener),
    Udp(UdpSocket),
}

#[derive(Debug)]
struct Entry {
    kind: Kind,
    /// The last read (or accept) would have blocked; cleared when poll says readable.
    wants_read: bool,
    /// The last write (or connect) would have blocked or was short.
    wants_write: bool,
}

impl Entry {
    fn fd(&self) -> Option<RawFd> {
        match &self.kind {
            Kind::Fresh => None,
            Kind::Connecting(s) | Kind::Bound(s) => Some(s.as_raw_fd()),
            Kind::Stream(s) => Some(s.as_raw_fd()),
            Kind::Listener(l) => Some(l.as_raw_fd()),
            Kind::Udp(u) => Some(u.as_raw_fd()),
        }
    }
}

/// The host's TCP stack; see the module documentation.
#[derive(Debug)]
pub struct StdStack {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    bind_ip: IpAddr,
    clock: HostClock,
    pollfds: Vec<libc::pollfd>,
    polled: Vec<usize>,
    /// SO_RCVLOWAT for the connections this stack makes, if set.
    bulk_receive: Option<libc::c_int>,
}

/// With bulk receive, data below the low-water mark is still read after
/// this long, so a slow sender's bytes are shown, only in lumps.
const BULK_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

impl StdStack {
    /// A stack whose servers bind `bind_ip` (their port comes from `bind`).
    pub fn new(bind_ip: IpAddr, clock: HostClock) -> Self {
        StdStack {
            entries: Vec::new(),
            free: Vec::new(),
            bind_ip,
            clock,
            pollfds: Vec::new(),
            polled: Vec::new(),
            bulk_receive: None,
        }
    }

    /// Makes the connections this stack opens from now on wake their reader
    /// only once `bytes` have arrived (SO_RCVLOWAT), or at the end of the
    /// stream, or after 100 ms. For a bulk transfer (`CMD_floodme`) this
    /// saves the kernel a wake-up per segment, which on loopback is most of
    /// the sender's cost: a 1 GiB flood arrives about half again as fast.
    pub fn set_bulk_receive(&mut self, bytes: u32) {
        self.bulk_receive = Some(libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX));
    }

    /// The local address of a bound, listening or connected socket.
    pub fn local_addr(&self, socket: &StdSocket) -> io::Result<SocketAddr> {
        let entry = self.entry(socket).map_err(|e| e.0)?;
        let addr = match &entry.kind {
            Kind::Stream(s) => s.local_addr()?,
            Kind::Listener(l) => l.local_addr()?,
            Kind::Udp(u) => u.local_addr()?,
            Kind::Connecting(s) | Kind::Bound(s) => s
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("not an IP socket"))?,
            Kind::Fresh => return Err(io::Error::other("socket is not bound")),
        };
        Ok(addr)
    }

    /// Sends small writes at once instead of waiting to merge them (Nagle
    /// off). TLS wants it: a handshake flight written in pieces would wait
    /// for the peer's delayed ACK, 40 ms a time. The plain PMU keeps Nagle,
    /// as the lab's servers do: gluing small sends is part 2's lesson.
    pub fn set_nodelay(&self, socket: &StdSocket) -> io::Result<()> {
        match &self.entry(socket).map_err(|e| e.0)?.kind {
            Kind::Stream(s) => s.set_nodelay(true),
            Kind::Connecting(s) => s.set_tcp_nodelay(true),
            _ => Ok(()),
        }
    }

    /// Where this stack's servers bind.
    pub fn bind_ip(&self) -> IpAddr {
        self.bind_ip
    }

    /// The clock whose instants this stack's park understands.
    pub fn clock(&self) -> HostClock {
        self.clock
    }

    /// A second handle, in this stack, to the listening socket `socket` of
    /// `other`: several stacks (one per thread) then accept from one port.
    pub fn share_listener(
        &mut self,
        other: &StdStack,
        socket: &StdSocket,
    ) -> io::Result<StdSocket> {
        match &other.entry(socket).map_err(|e| e.0)?.kind {
            Kind::Listener(l) => Ok(self.insert(Kind::Listener(l.try_clone()?))),
            _ => Err(io::Error::other("socket is not listening")),
        }
    }

    /// Where the next `bind` binds (embedded-nal's `bind` takes only a port).
    pub fn set_bind_ip(&mut self, ip: IpAddr) {
        self.bind_ip = ip;
    }

    fn entry(&self, socket: &StdSocket) -> Result<&Entry, NetError> {
        self.entries
            .get(socket.0)
            .and_then(Option::as_ref)
            .ok_or_else(|| bad_state("open"))
    }

    fn entry_mut(&mut self, socket: &StdSocket) -> Result<&mut Entry, NetError> {
        self.entries
            .get_mut(socket.0)
            .and_then(Option::as_mut)
            .ok_or_else(|| bad_state("open"))
    }

    fn insert(&mut self, kind: Kind) -> StdSocket {
        let entry = Some(Entry {
            kind,
            wants_read: false,
            wants_write: false,
        });
        match self.free.pop() {
            Some(i) => {
                self.entries[i] = entry;
                StdSocket(i)
            }
            None => {
                self.entries.push(entry);
                StdSocket(self.entries.len() - 1)
            }
        }
    }
}

fn would_block<T>(e: io::Error) -> nb::Result<T, NetError> {
    match e.kind() {
        io::ErrorKind::WouldBlock => Err(nb::Error::WouldBlock),
        _ => Err(nb::Error::Other(NetError(e))),
    }
}

/// accept4(2) with SOCK_NONBLOCK: the new connection is non-blocking from
/// the start, one system call fewer per session than accept + fcntl.
fn accept_nonblocking(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    use std::os::fd::FromRawFd;
    let fd = listener.as_raw_fd();
    // SAFETY: accept4 writes at most `*len` bytes of address into `storage`,
    // as try_init expects; the returned descriptor is new and ours.
    let (conn, addr) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let conn = libc::accept4(
                fd,
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            );
            match conn {
                -1 => Err(io::Error::last_os_error()),
                conn => Ok(conn),
            }
        })?
    };
    // SAFETY: `conn` is a connected socket descriptor that nothing else owns.
    let stream = unsafe { TcpStream::from_raw_fd(conn) };
    let peer = addr
        .as_socket()
        .ok_or_else(|| io::Error::other("accepted a connection without an IP address"))?;
    Ok((stream, peer))
}

/// SO_RCVLOWAT: poll reports the socket readable only once `bytes` wait
/// (or at the end of the stream); a non-blocking read still returns less.
fn set_receive_low_water(socket: &Socket, bytes: libc::c_int) -> io::Result<()> {
    // SAFETY: a valid descriptor, and an option value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&bytes as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// A zero-timeout poll of one descriptor for writability.
fn writable_now(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1, no waiting.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents != 0
}

impl TcpClientStack for StdStack {
    type TcpSocket = StdSocket;
    type Error = NetError;

    fn socket(&mut self) -> Result<StdSocket, NetError> {
        Ok(self.insert(Kind::Fresh))
    }

    fn connect(&mut self, socket: &mut StdSocket, remote: SocketAddr) -> nb::Result<(), NetError> {
        let bulk = self.bulk_receive;
        let entry = self.entry_mut(socket)?;
        match &entry.kind {
            Kind::Fresh => {
                let sock = Socket::new(
                    Domain::for_address(remote),
                    Type::STREAM,
                    Some(Protocol::TCP),
                )
                .map_err(NetError)?;
                sock.set_nonblocking(true).map_err(NetError)?;
                if let Some(bytes) = bulk {
                    set_receive_low_water(&sock, bytes).map_err(NetError)?;
                }
                match sock.connect(&remote.into()) {
                    Ok(()) => {
                        entry.kind = Kind::Stream(sock.into());
                        Ok(())
                    }
                    Err(e)
                        if e.raw_os_error() == Some(libc::EINPROGRESS)
                            || e.kind() == io::ErrorKind::WouldBlock =>
                    {
                        entry.kind = Kind::Connecting(sock);
                        entry.wants_write = true;
                        Err(nb::Error::WouldBlock)
                    }
                    Err(e) => Err(nb::Error::Other(NetError(e))),
                }
            }
            Kind::Connecting(sock) => {
                if !writable_now(sock.as_raw_fd()) {
                    entry.wants_write = true;
                    return Err(nb::Error::WouldBlock);
                }
                if let Some(e) = sock.take_error().map_err(NetError)? {
                    return Err(nb::Error::Other(NetError(e)));
                }
                let Kind::Connecting(sock) = std::mem::replace(&mut entry.kind, Kind::Fresh) else {
                    return Err(nb::Error::Other(bad_state("connecting")));
                };
                entry.kind = Kind::Stream(sock.into());
                entry.wants_write = false;
                Ok(())
            }
            Kind::Stream(_) => Ok(()),
            Kind::Bound(_) | Kind::Listener(_) | Kind::Udp(_) => {
                Err(nb::Error::Other(bad_state("a TCP client socket")))
            }
        }
    }

    fn send(&mut self, socket: &mut StdSocket, buffer: &[u8]) -> nb::Result<usize, NetError> {
        let entry = self.entry_mut(socket)?;
        let Kind::Stream(stream) = &mut entry.kind else {
            return Err(nb::Error::Other(bad_state("connected")));
        };
        if entry.wants_write {
            return Err(nb::Error::WouldBlock);
        }
        match stream.write(buffer) {
            Ok(n) => {
                // A short write means the send buffer is full.
                entry.wants_write = n < buffer.len();
                Ok(n)
            }
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    entry.wants_write = true;
                }
                would_block(e)
            }
        }
    }

    fn receive(
        &mut self,
        socket: &mut StdSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, NetError> {
        let entry = self.entry_mut(socket)?;
        let Kind::Stream(stream) = &mut entry.kind else {
            return Err(nb::Error::Other(bad_state("connected")));
        };
        if entry.wants_read {
            return Err(nb::Error::WouldBlock);
        }
        match stream.read(buffer) {
            Ok(0) if !buffer.is_empty() => Err(nb::Error::Other(closed())),
            Ok(n) => Ok(n),
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    entry.wants_read = true;
                }
                would_block(e)
            }
        }
    }

    fn close(&mut self, socket: StdSocket) -> Result<(), NetError> {
        let slot = self
            .entries
            .get_mut(socket.0)
            .ok_or_else(|| bad_state("open"))?;
        // Dropping the std socket closes the descriptor.
        slot.take();
        self.free.push(socket.0);
        Ok(())
    }
}

impl TcpFullStack for StdStack {
    fn bind(&mut self, socket: &mut StdSocket, local_port: u16) -> Result<(), NetError> {
        let addr = SocketAddr::new(self.bind_ip, local_port);
        let entry = self.entry_mut(socket)?;
        if !matches!(entry.kind, Kind::Fresh) {
            return Err(bad_state("fresh"));
        }
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        sock.set_reuse_address(true)?;
        if addr.is_ipv6() && addr.ip().is_unspecified() {
            // `[::]` serves IPv4 peers too.
            sock.set_only_v6(false)?;
        }
        sock.set_nonblocking(true)?;
        sock.bind(&addr.into())?;
        entry.kind = Kind::Bound(sock);
        Ok(())
    }

    fn listen(&mut self, socket: &mut StdSocket) -> Result<(), NetError> {
        let entry = self.entry_mut(socket)?;
        let Kind::Bound(sock) = std::mem::replace(&mut entry.kind, Kind::Fresh) else {
            return Err(bad_state("bound"));
        };
        sock.listen(1024)?;
        entry.kind = Kind::Listener(sock.into());
        Ok(())
    }

    fn accept(&mut self, socket: &mut StdSocket) -> nb::Result<(StdSocket, SocketAddr), NetError> {
        let entry = self.entry_mut(socket)?;
        let Kind::Listener(listener) = &entry.kind else {
            return Err(nb::Error::Other(bad_state("listening")));
        };
        if entry.wants_read {
            return Err(nb::Error::WouldBlock);
        }
        match accept_nonblocking(listener) {
            Ok((stream, peer)) => Ok((self.insert(Kind::Stream(stream)), peer)),
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    entry.wants_read = true;
                }
                would_block(e)
            }
        }
    }
}

impl UdpClientStack for StdStack {
    type UdpSocket = StdSocket;
    type Error = NetError;

    fn socket(&mut self) -> Result<StdSocket, NetError> {
        Ok(self.insert(Kind::Fresh))
    }

    fn connect(&mut self, socket: &mut StdSocket, remote: SocketAddr) -> Result<(), NetError> {
        let local = self.bind_ip;
        let entry = self.entry_mut(socket)?;
        if !matches!(entry.kind, Kind::Fresh) {
            return Err(bad_state("fresh"));
        }
        let sock = Socket::new(
            Domain::for_address(remote),
            Type::DGRAM,
            Some(Protocol::UDP),
        )?;
        sock.set_nonblocking(true)?;
        if !local.is_unspecified() && local.is_ipv4() == remote.is_ipv4() {
            // Sending from the chosen address pins the datagrams to its
            // interface: from 127.0.0.1 nothing can leave the machine.
            sock.bind(&SocketAddr::new(local, 0).into())?;
        }
        // A connected UDP socket only hears from its peer, and hears the
        // peer's host say "port unreachable" as ECONNREFUSED.
        sock.connect(&remote.into())?;
        entry.kind = Kind::Udp(sock.into());
        Ok(())
    }

    fn send(&mut self, socket: &mut StdSocket, buffer: &[u8]) -> nb::Result<(), NetError> {
        let entry = self.entry_mut(socket)?;
        let Kind::Udp(udp) = &entry.kind else {
            return Err(nb::Error::Other(bad_state("a UDP socket")));
        };
        match udp.send(buffer) {
            Ok(_) => Ok(()),
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    entry.wants_write = true;
                }
                would_block(e)
            }
        }
    }

    fn receive(
        &mut self,
        socket: &mut StdSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), NetError> {
        let entry = self.entry_mut(socket)?;
        let Kind::Udp(udp) = &entry.kind else {
            return Err(nb::Error::Other(bad_state("a UDP socket")));
        };
        if entry.wants_read {
            return Err(nb::Error::WouldBlock);
        }
        match udp.recv_from(buffer) {
            Ok(got) => Ok(got),
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    entry.wants_read = true;
                }
                would_block(e)
            }
        }
    }

    fn close(&mut self, socket: StdSocket) -> Result<(), NetError> {
        TcpClientStack::close(self, socket)
    }
}

impl UdpFullStack for StdStack {
    fn bind(&mut self, socket: &mut StdSocket, local_port: u16) -> Result<(), NetError> {
        let addr = SocketAddr::new(self.bind_ip, local_port);
        let entry = self.entry_mut(socket)?;
        if !matches!(entry.kind, Kind::Fresh) {
            return Err(bad_state("fresh"));
        }
        let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if addr.ip().is_multicast() {
            // Several receivers of one group on one machine each get every datagram.
            sock.set_reuse_address(true)?;
            sock.set_reuse_port(true)?;
        }
        if addr.is_ipv6() {
            // An IPv6 socket answers IPv6 only, so an IPv4 socket can share its port.
            sock.set_only_v6(true)?;
        }
        sock.set_nonblocking(true)?;
        sock.bind(&addr.into())?;
        entry.kind = Kind::Udp(sock.into());
        Ok(())
    }

    fn send_to(
        &mut self,
        socket: &mut StdSocket,
        remote: SocketAddr,
        buffer: &[u8],
    ) -> nb::Result<(), NetError> {
        let entry = self.entry_mut(socket)?;
        let Kind::Udp(udp) = &entry.kind else {
            return Err(nb::Error::Other(bad_state("a UDP socket")));
        };
        match udp.send_to(buffer, remote) {
            Ok(_) => Ok(()),
            Err(e) => would_block(e),
        }
    }
}

impl StdStack {
    fn udp(&self, socket: &StdSocket) -> Result<&UdpSocket, NetError> {
        match &self.entry(socket)?.kind {
            Kind::Udp(udp) => Ok(udp),
            _ => Err(bad_state("a UDP socket")),
        }
    }
}

impl Multicast for StdStack {
    fn join(
        &mut self,
        socket: &mut StdSocket,
        group: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(), NetError> {
        Ok(self.udp(socket)?.join_multicast_v4(&group, &interface)?)
    }

    fn leave(
        &mut self,
        socket: &mut StdSocket,
        group: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(), NetError> {
        Ok(self.udp(socket)?.leave_multicast_v4(&group, &interface)?)
    }

    fn set_multicast_interface(
        &mut self,
        socket: &mut StdSocket,
        interface: Ipv4Addr,
    ) -> Result<(), NetError> {
        Ok(socket2::SockRef::from(self.udp(socket)?).set_multicast_if_v4(&interface)?)
    }

    fn set_multicast_ttl(&mut self, socket: &mut StdSocket, ttl: u8) -> Result<(), NetError> {
        Ok(self.udp(socket)?.set_multicast_ttl_v4(u32::from(ttl))?)
    }

    fn set_multicast_loop(&mut self, socket: &mut StdSocket, on: bool) -> Result<(), NetError> {
        Ok(self.udp(socket)?.set_multicast_loop_v4(on)?)
    }
}

/// A byte stream: messages have no boundaries on the wire.
impl Framing for StdStack {
    fn end_message(&mut self, _socket: &mut StdSocket) -> Result<(), NetError> {
        Ok(())
    }
}

impl HalfClose for StdStack {
    fn half_close(&mut self, socket: &mut StdSocket) -> Result<(), NetError> {
        let entry = self.entry_mut(socket)?;
        match &entry.kind {
            Kind::Stream(s) => s.shutdown(Shutdown::Write)?,
            _ => return Err(bad_state("connected")),
        }
        // What follows a FIN is waiting for the peer's: the first read is
        // answered by poll, not by a read that would only say "not yet".
        entry.wants_read = true;
        Ok(())
    }
}

impl NoDelay for StdStack {
    fn set_no_delay(&mut self, socket: &mut StdSocket) {
        let _ = self.set_nodelay(socket);
    }
}

impl Park for StdStack {
    fn park(&mut self, deadline: Option<Instant>) {
        self.pollfds.clear();
        self.polled.clear();
        for (i, entry) in self.entries.iter().enumerate() {
            let Some(entry) = entry else { continue };
            let mut events = 0;
            if entry.wants_read {
                events |= libc::POLLIN;
            }
            if entry.wants_write {
                events |= libc::POLLOUT;
            }
            if let (Some(fd), true) = (entry.fd(), events != 0) {
                self.pollfds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                });
                self.polled.push(i);
            }
        }
        let now = self.clock.now();
        let deadline = match (deadline, self.bulk_receive) {
            (deadline, None) => deadline,
            (None, Some(_)) => Some(now + BULK_FLUSH),
            (Some(deadline), Some(_)) => Some(deadline.min(now + BULK_FLUSH)),
        };
        // ppoll sleeps on a high-resolution timer to the microsecond: a
        // C37.118 frame leaves on its timestamp, not on the next millisecond.
        let timeout = deadline.map(|deadline| {
            let wait = deadline.saturating_duration_since(now);
            libc::timespec {
                tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(wait.subsec_nanos()),
            }
        });
        if self.pollfds.is_empty() && timeout.is_none() {
            // Nothing to wait for and no deadline: the caller has no work at all.
            return;
        }
        let timeout_ptr = timeout
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `pollfds` is a valid array of `len` pollfd structures, the
        // timeout a valid timespec or null (no limit), no signal mask.
        let n = unsafe {
            libc::ppoll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                timeout_ptr,
                std::ptr::null(),
            )
        };
        if n <= 0 {
            // Timed out, or interrupted (EINTR): either way, let the caller look again.
            if self.bulk_receive.is_some() {
                // Bytes below the low-water mark are not "readable" to poll:
                // the next receive must really read to find them.
                for entry in self.entries.iter_mut().flatten() {
                    entry.wants_read = false;
                }
            }
            return;
        }
        for (pfd, &i) in self.pollfds.iter().zip(&self.polled) {
            if pfd.revents == 0 {
                continue;
            }
            if let Some(Some(entry)) = self.entries.get_mut(i) {
                // Errors and hang-ups count as ready: the next call reports them.
                let failed = pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
                if pfd.revents & libc::POLLIN != 0 || failed {
                    entry.wants_read = false;
                }
                if pfd.revents & libc::POLLOUT != 0 || failed {
                    entry.wants_write = false;
                }
            }
        }
    }
}
