//! TLS as an embedded-nal stack: [`TlsStack`] wraps the host's [`StdStack`]
//! and puts a rustls connection on every TCP socket, so that core's PMU
//! server and PDC client run inside TLS unchanged (lab part 5).
//!
//! - A server socket's handshake progresses as the driver reads; a client's
//!   `connect` completes only when the handshake has, so certificate errors
//!   surface as connection errors.
//! - Reads return decrypted bytes; `ErrorKind::PipeClosed` after the peer's
//!   close_notify or end of stream.
//! - Encrypted output that the socket could not take yet stays in rustls
//!   and is written by the next call on that socket, or by `park`, which
//!   flushes every connection before it waits.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use embedded_nal::{TcpClientStack, TcpError, TcpErrorKind, TcpFullStack, nb};
use pmulab_core::nal::{Framing, HalfClose, Park};
use pmulab_core::time::Instant;
use rustls::pki_types::ServerName;

pub mod config;
pub mod verify;

use super::stack::{NetError, StdSocket, StdStack};
use crate::ui::output::words;

/// Plaintext rustls may hold per connection before `send` says "would block".
const BUFFER_LIMIT: usize = 256 * 1024;

/// An error from the socket below or from TLS.
pub enum TlsNetError {
    /// The TCP socket failed.
    Net(NetError),
    /// The TLS protocol failed: a handshake refused, a bad record.
    Tls(rustls::Error),
    /// The server had to send before the client finished its handshake.
    HandshakeIncomplete,
    /// The operation does not apply to this socket.
    NotConnected,
}

impl std::fmt::Display for TlsNetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsNetError::Net(e) => write!(f, "{e}"),
            TlsNetError::Tls(e) => write!(f, "TLS: {}", describe_tls_error(e)),
            TlsNetError::HandshakeIncomplete => {
                f.write_str("TLS: the client never completed its handshake")
            }
            TlsNetError::NotConnected => f.write_str("TLS: the socket is not connected"),
        }
    }
}

impl std::fmt::Debug for TlsNetError {
    /// As Display: drivers log errors with `{:?}`, and people read the logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl TlsNetError {
    /// What to do about it, when there is something to say.
    pub fn advice(&self) -> Option<&'static str> {
        match self {
            TlsNetError::Net(e) => e.advice(),
            TlsNetError::Tls(rustls::Error::InvalidMessage(_)) => Some(
                "is it a plain PMU? `pmulab serve` runs the TLS PMU on port 5443, the plain one on 5003",
            ),
            _ => None,
        }
    }
}

impl TcpError for TlsNetError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            TlsNetError::Net(e) => e.kind(),
            _ => TcpErrorKind::Other,
        }
    }
}

impl From<NetError> for TlsNetError {
    fn from(e: NetError) -> Self {
        TlsNetError::Net(e)
    }
}

/// A user-facing sentence for a TLS failure.
pub fn describe_tls_error(e: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match e {
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "the server's certificate is not signed by the given CA (unknown issuer)".into()
            }
            CertificateError::BadSignature => {
                "the server's certificate is not signed by the given CA \
(its issuer has the CA's name but not its key), or it was altered"
                    .into()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the server's certificate has expired ({c})")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("the server's certificate is not valid yet ({c})")
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => {
                let names: Vec<&str> = presented.iter().map(|p| bare_name(p)).collect();
                format!(
                    "the server's certificate is not for {}: it names {}",
                    config::server_name_text(expected),
                    match names.is_empty() {
                        true => "no host".to_string(),
                        false => names.join(", "),
                    }
                )
            }
            CertificateError::NotValidForName => {
                "the server's certificate does not match the server name".into()
            }
            other => format!("the server's certificate was refused: {other}"),
        },
        Error::AlertReceived(alert) => format!(
            "the peer refused the handshake (alert: {})",
            words(&format!("{alert:?}"))
        ),
        Error::InvalidMessage(_) => {
            "the peer does not speak TLS: what it sent is not a TLS record".into()
        }
        other => other.to_string(),
    }
}

/// `banana` from webpki's `DnsName("banana")`; other names as they are.
fn bare_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .unwrap_or(presented)
}

/// Which side of TLS this stack plays.
#[derive(Debug, Clone)]
pub enum Role {
    /// Accepted connections run a TLS server.
    Server(Arc<rustls::ServerConfig>),
    /// Connections made run a TLS client that expects this server name.
    Client(Arc<rustls::ClientConfig>, ServerName<'static>),
}

/// A socket of a [`TlsStack`].
#[derive(Debug)]
pub struct TlsSocket {
    inner: StdSocket,
}

#[derive(Debug)]
struct Session {
    tls: rustls::Connection,
    /// A FIN is due once the encrypted output is flushed.
    shutdown_pending: bool,
    /// The peer has sent something: its handshake is under way.
    heard: bool,
    /// close_notify and the FIN wait for the handshake to finish, so that
    /// what was written during it (a busy line) reaches the peer.
    close_after_handshake: bool,
    /// rustls failed on the peer's input: it is not fed again. (Fed again,
    /// rustls 0.23 may queue a second fatal alert, which its debug builds
    /// assert against — seen with embedded-tls's plaintext close_notify.)
    failed: Option<rustls::Error>,
}

impl Session {
    fn new(tls: rustls::Connection) -> Self {
        Session {
            tls,
            shutdown_pending: false,
            heard: false,
            close_after_handshake: false,
            failed: None,
        }
    }
}

/// TLS over the host stack; see the module documentation.
#[derive(Debug)]
pub struct TlsStack {
    inner: StdStack,
    role: Role,
    sessions: HashMap<usize, Session>,
}

impl TlsStack {
    /// TLS in `role` over `inner`.
    pub fn new(inner: StdStack, role: Role) -> Self {
        TlsStack {
            inner,
            role,
            sessions: HashMap::new(),
        }
    }

    /// A new TLS stack for another thread, accepting from `listener` too.
    pub fn worker(&self, listener: &TlsSocket) -> io::Result<(TlsStack, TlsSocket)> {
        let mut inner = StdStack::new(self.inner.bind_ip(), self.inner.clock());
        let shared = inner.share_listener(&self.inner, &listener.inner)?;
        Ok((
            TlsStack::new(inner, self.role.clone()),
            TlsSocket { inner: shared },
        ))
    }

    /// The local address of a socket (e.g. the listener's port).
    pub fn local_addr(&self, socket: &TlsSocket) -> io::Result<SocketAddr> {
        self.inner.local_addr(&socket.inner)
    }
}

/// Reads TLS records from the socket below.
struct ReadBelow<'a> {
    stack: &'a mut StdStack,
    socket: &'a mut StdSocket,
}

impl io::Read for ReadBelow<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.stack.receive(self.socket, buf) {
            Ok(n) => Ok(n),
            Err(nb::Error::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            // End of stream reads as 0, as io::Read expects.
            Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => Ok(0),
            Err(nb::Error::Other(e)) => Err(e.0),
        }
    }
}

/// Writes TLS records to the socket below.
struct WriteBelow<'a> {
    stack: &'a mut StdStack,
    socket: &'a mut StdSocket,
}

impl io::Write for WriteBelow<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.stack.send(self.socket, buf) {
            Ok(n) => Ok(n),
            Err(nb::Error::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(nb::Error::Other(e)) => Err(e.0),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes what rustls has queued; `Ok(true)` when all of it went out.
fn flush(
    stack: &mut StdStack,
    socket: &mut StdSocket,
    session: &mut Session,
) -> Result<bool, TlsNetError> {
    if session.close_after_handshake && !session.tls.is_handshaking() {
        session.close_after_handshake = false;
        session.tls.send_close_notify();
        session.shutdown_pending = true;
    }
    while session.tls.wants_write() {
        let mut below = WriteBelow { stack, socket };
        match session.tls.write_tls(&mut below) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(TlsNetError::Net(NetError(e))),
        }
    }
    if session.shutdown_pending {
        session.shutdown_pending = false;
        stack.half_close(socket)?;
    }
    Ok(true)
}

/// Feeds one read of TLS records to rustls; `Ok(false)` when the socket
/// had nothing (would block), `Err` on end of stream or a TLS failure.
fn pull(
    stack: &mut StdStack,
    socket: &mut StdSocket,
    session: &mut Session,
) -> nb::Result<(), TlsNetError> {
    if let Some(e) = &session.failed {
        return Err(nb::Error::Other(TlsNetError::Tls(e.clone())));
    }
    let mut below = ReadBelow { stack, socket };
    match session.tls.read_tls(&mut below) {
        Ok(0) => Err(nb::Error::Other(TlsNetError::Net(NetError(
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by peer"),
        )))),
        Ok(_) => {
            session.heard = true;
            match session.tls.process_new_packets() {
                Ok(_) => Ok(()),
                Err(e) => {
                    session.failed = Some(e.clone());
                    // rustls queued an alert for the peer; try to deliver it.
                    let _ = flush(stack, socket, session);
                    Err(nb::Error::Other(TlsNetError::Tls(e)))
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(nb::Error::WouldBlock),
        Err(e) => Err(nb::Error::Other(TlsNetError::Net(NetError(e)))),
    }
}

impl TlsStack {
    fn parts(&mut self, socket: &TlsSocket) -> Result<(&mut StdStack, &mut Session), TlsNetError> {
        let session = self
            .sessions
            .get_mut(&socket.inner.index())
            .ok_or(TlsNetError::NotConnected)?;
        Ok((&mut self.inner, session))
    }
}

impl TcpClientStack for TlsStack {
    type TcpSocket = TlsSocket;
    type Error = TlsNetError;

    fn socket(&mut self) -> Result<TlsSocket, TlsNetError> {
        Ok(TlsSocket {
            inner: TcpClientStack::socket(&mut self.inner)?,
        })
    }

    fn connect(
        &mut self,
        socket: &mut TlsSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), TlsNetError> {
        let index = socket.inner.index();
        if !self.sessions.contains_key(&index) {
            TcpClientStack::connect(&mut self.inner, &mut socket.inner, remote)
                .map_err(|e| e.map(TlsNetError::Net))?;
            let Role::Client(config, name) = &self.role else {
                return Err(nb::Error::Other(TlsNetError::NotConnected));
            };
            let tls = rustls::ClientConnection::new(config.clone(), name.clone())
                .map_err(|e| nb::Error::Other(TlsNetError::Tls(e)))?;
            let mut tls = rustls::Connection::from(tls);
            tls.set_buffer_limit(Some(BUFFER_LIMIT));
            self.sessions.insert(index, Session::new(tls));
        }
        let (stack, session) = self.parts(socket)?;
        // The connection counts as made once the handshake is done.
        loop {
            flush(stack, &mut socket.inner, session)?;
            if !session.tls.is_handshaking() {
                return Ok(());
            }
            pull(stack, &mut socket.inner, session)?;
        }
    }

    fn send(&mut self, socket: &mut TlsSocket, buffer: &[u8]) -> nb::Result<usize, TlsNetError> {
        let (stack, session) = self.parts(socket)?;
        flush(stack, &mut socket.inner, session)?;
        // A client that has not said a word cannot be answered; one in the
        // middle of its handshake can: rustls holds the data until it ends.
        if session.tls.is_handshaking() && !session.heard {
            return Err(nb::Error::Other(TlsNetError::HandshakeIncomplete));
        }
        let taken = io::Write::write(&mut session.tls.writer(), buffer)
            .map_err(|e| TlsNetError::Net(NetError(e)))?;
        flush(stack, &mut socket.inner, session)?;
        match taken {
            // rustls's buffer is full: the socket below is armed for writability.
            0 if !buffer.is_empty() => Err(nb::Error::WouldBlock),
            n => Ok(n),
        }
    }

    fn receive(
        &mut self,
        socket: &mut TlsSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, TlsNetError> {
        let (stack, session) = self.parts(socket)?;
        flush(stack, &mut socket.inner, session)?;
        loop {
            match io::Read::read(&mut session.tls.reader(), buffer) {
                Ok(0) if !buffer.is_empty() => {
                    // The peer's close_notify: a clean end of stream.
                    return Err(nb::Error::Other(TlsNetError::Net(NetError(
                        io::Error::new(io::ErrorKind::UnexpectedEof, "TLS session closed by peer"),
                    ))));
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // End of stream without close_notify: the data so far is all there is.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(nb::Error::Other(TlsNetError::Net(NetError(e))));
                }
                Err(e) => return Err(nb::Error::Other(TlsNetError::Net(NetError(e)))),
            }
            pull(stack, &mut socket.inner, session)?;
            // A handshake step may have produced records to send back.
            flush(stack, &mut socket.inner, session)?;
        }
    }

    fn close(&mut self, socket: TlsSocket) -> Result<(), TlsNetError> {
        let index = socket.inner.index();
        let mut inner = socket.inner;
        if let Some(mut session) = self.sessions.remove(&index) {
            session.tls.send_close_notify();
            // Best effort: the socket is going away either way.
            let _ = flush(&mut self.inner, &mut inner, &mut session);
        }
        TcpClientStack::close(&mut self.inner, inner)?;
        Ok(())
    }
}

impl TcpFullStack for TlsStack {
    fn bind(&mut self, socket: &mut TlsSocket, local_port: u16) -> Result<(), TlsNetError> {
        Ok(TcpFullStack::bind(
            &mut self.inner,
            &mut socket.inner,
            local_port,
        )?)
    }

    fn listen(&mut self, socket: &mut TlsSocket) -> Result<(), TlsNetError> {
        Ok(self.inner.listen(&mut socket.inner)?)
    }

    fn accept(
        &mut self,
        socket: &mut TlsSocket,
    ) -> nb::Result<(TlsSocket, SocketAddr), TlsNetError> {
        let (inner, peer) = self
            .inner
            .accept(&mut socket.inner)
            .map_err(|e| e.map(TlsNetError::Net))?;
        let Role::Server(config) = &self.role else {
            let _ = TcpClientStack::close(&mut self.inner, inner);
            return Err(nb::Error::Other(TlsNetError::NotConnected));
        };
        // Best effort: without it the handshake is only slower.
        let _ = self.inner.set_nodelay(&inner);
        match rustls::ServerConnection::new(config.clone()) {
            Ok(tls) => {
                let mut tls = rustls::Connection::from(tls);
                tls.set_buffer_limit(Some(BUFFER_LIMIT));
                self.sessions.insert(inner.index(), Session::new(tls));
                Ok((TlsSocket { inner }, peer))
            }
            Err(e) => {
                let _ = TcpClientStack::close(&mut self.inner, inner);
                Err(nb::Error::Other(TlsNetError::Tls(e)))
            }
        }
    }
}

/// A byte stream, inside TLS too: messages have no boundaries.
impl Framing for TlsStack {
    fn end_message(&mut self, _socket: &mut TlsSocket) -> Result<(), TlsNetError> {
        Ok(())
    }
}

impl HalfClose for TlsStack {
    fn half_close(&mut self, socket: &mut TlsSocket) -> Result<(), TlsNetError> {
        let (stack, session) = self.parts(socket)?;
        if session.tls.is_handshaking() {
            session.close_after_handshake = true;
            return Ok(());
        }
        session.tls.send_close_notify();
        // The FIN follows the close_notify once everything before it is out.
        session.shutdown_pending = true;
        flush(stack, &mut socket.inner, session)?;
        Ok(())
    }
}

impl Park for TlsStack {
    fn park(&mut self, deadline: Option<Instant>) {
        for (&index, session) in &mut self.sessions {
            if session.tls.wants_write() || session.shutdown_pending {
                let mut socket = StdSocket::alias(index);
                // A failure shows on the owner's next call on this socket.
                let _ = flush(&mut self.inner, &mut socket, session);
            }
        }
        self.inner.park(deadline);
    }
}
