//! embedded-nal's TCP client stack with TLS 1.3 (embedded-tls) on its one
//! connection, so core's PDC ([`fetch`](pmulab_core::stream::client::fetch))
//! runs inside TLS unchanged, as it does over rustls on the host.
//!
//! - `connect` returns "would block" while TCP connects, then performs the
//!   handshake (blocking, each wait bounded by the link's patience) and
//!   succeeds only once the PMU's certificate chain verified against the
//!   CA and carries the expected name: a refused certificate is a refused
//!   connection.
//! - `receive` says "would block" when neither decrypted bytes nor input
//!   are waiting (the [`Link`] stops between records), so the driver parks
//!   with its own idle timeout; otherwise it reads a record, blocking only
//!   until that record is whole.
//! - The end of the stream is the PMU's close_notify, or the connection's
//!   end between two records: Python's ssl, which the course's PMUs used,
//!   closes without close_notify. An end inside a record is an error
//!   ([`TlsPdcError::Truncated`]).

use core::cell::RefCell;
use core::fmt;
use core::marker::PhantomData;
use core::net::SocketAddr;

use core::cell::Cell;
use embedded_nal::{TcpClientStack, nb};

use embedded_tls::blocking::{
    Aes128GcmSha256, CryptoProvider, TlsConfig, TlsConnection, TlsContext, TlsError, TlsVerifier,
};
use embedded_tls::{CryptoRngCore, TlsClock};
use pmulab_core::nal::Park;
use pmulab_core::time::{Clock, Instant};
use rand_core::{CryptoRng, RngCore};

use super::error::TlsPdcError;
use super::verify::{Checked, Refusal};
use super::wire::{Link, Stop, Wire};

/// The one cipher suite spoken: TLS 1.3's mandatory one.
pub type CipherSuite = Aes128GcmSha256;

/// Whom to trust: the CA certificate the PMU's chain must end at, and the
/// name its certificate must carry (DNS subjectAltName, or the CN).
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// The CA certificate, DER.
    pub ca: &'a [u8],
    /// The PMU's name.
    pub name: &'a str,
}

/// The socket handle: the stack has one connection.
#[derive(Debug)]
pub struct TlsSocket(());

/// TLS over the TCP stack in a [`Link`]; see the module documentation.
///
/// `CERT` bytes hold the PMU's certificate chain while it is checked;
/// `K` tells the time of day for the certificates' validity.
pub struct TlsPdcStack<'a, S, R, K, const CERT: usize>
where
    S: TcpClientStack + Park + Clock,
{
    link: &'a RefCell<Link<S>>,
    trust: Trust<'a>,
    rng: R,
    buffers: Option<(&'a mut [u8], &'a mut [u8])>,
    tls: Option<TlsConnection<'a, Wire<'a, S>, CipherSuite>>,
    issued: bool,
    /// The PMU ended the session (close_notify, or the connection's end).
    ended: bool,
    clock: PhantomData<K>,
}

impl<S, R, K, const CERT: usize> fmt::Debug for TlsPdcStack<'_, S, R, K, CERT>
where
    S: TcpClientStack + Park + Clock,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsPdcStack")
            .field("trust", &self.trust.name)
            .field("open", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, S, R, K, const CERT: usize> TlsPdcStack<'a, S, R, K, CERT>
where
    S: TcpClientStack + Park + Clock,
    S::Error: fmt::Display,
    R: RngCore + CryptoRng,
    K: TlsClock,
{
    /// A stack for one TLS connection over `link`. `read` holds one
    /// encrypted record (16,640 bytes for any record a server may send),
    /// `write` one outgoing record (a few hundred bytes suffice for a PDC).
    pub fn new(
        link: &'a RefCell<Link<S>>,
        trust: Trust<'a>,
        rng: R,
        read: &'a mut [u8],
        write: &'a mut [u8],
    ) -> Self {
        TlsPdcStack {
            link,
            trust,
            rng,
            buffers: Some((read, write)),
            tls: None,
            issued: false,
            ended: false,
            clock: PhantomData,
        }
    }

    // The error carries the names of a refusal for its report; it is rare.
    #[allow(clippy::result_large_err)]
    fn handshake(&mut self) -> Result<(), TlsPdcError<S::Error>> {
        let (read, write) = self.buffers.take().ok_or(TlsPdcError::OneConnection)?;
        let mut tls = TlsConnection::new(Wire(self.link), read, write);
        let config = TlsConfig::new().with_server_name(self.trust.name);
        let why: Cell<Option<Refusal>> = Cell::new(None);
        let provider = Provider::<R, K, CERT> {
            rng: &mut self.rng,
            verifier: Checked::new(self.trust.ca, self.trust.name, &why),
        };
        let opened = tls.open(TlsContext::new(&config, provider));
        let mut link = self
            .link
            .try_borrow_mut()
            .map_err(|_| TlsPdcError::NotConnected)?;
        match opened {
            Ok(()) => {
                link.opened();
                drop(link);
                self.tls = Some(tls);
                Ok(())
            }
            Err(TlsError::IoError) if link.take_stop() == Some(Stop::Ended) => {
                Err(TlsPdcError::HandshakeEnded)
            }
            Err(TlsError::InvalidCertificate) => {
                Err(TlsPdcError::Refused(why.take().unwrap_or(Refusal::Unknown)))
            }
            Err(e) => Err(TlsPdcError::Tls(e)),
        }
    }

    /// Why a read that embedded-tls saw end early ended: the link knows.
    fn stopped(&mut self) -> nb::Error<TlsPdcError<S::Error>> {
        let stop = self
            .link
            .try_borrow_mut()
            .ok()
            .and_then(|mut l| l.take_stop());
        match stop {
            Some(Stop::Stalled) => nb::Error::WouldBlock,
            Some(Stop::Ended) => nb::Error::Other(TlsPdcError::Closed),
            None => nb::Error::Other(TlsPdcError::Truncated),
        }
    }
}

/// The crypto embedded-tls asks for: randomness, and the chain's check.
struct Provider<'r, R, K: TlsClock, const CERT: usize> {
    rng: &'r mut R,
    verifier: Checked<'r, K, CERT>,
}

impl<R: RngCore + CryptoRng, K: TlsClock, const CERT: usize> CryptoProvider
    for Provider<'_, R, K, CERT>
{
    type CipherSuite = CipherSuite;
    /// Unused: the PDC presents no certificate of its own.
    type Signature = &'static [u8];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<CipherSuite>, TlsError> {
        Ok(&mut self.verifier)
    }
}

impl<S, R, K, const CERT: usize> TcpClientStack for TlsPdcStack<'_, S, R, K, CERT>
where
    S: TcpClientStack + Park + Clock,
    S::Error: fmt::Display,
    R: RngCore + CryptoRng,
    K: TlsClock,
{
    type TcpSocket = TlsSocket;
    type Error = TlsPdcError<S::Error>;

    fn socket(&mut self) -> Result<TlsSocket, Self::Error> {
        if self.issued {
            return Err(TlsPdcError::OneConnection);
        }
        self.issued = true;
        Ok(TlsSocket(()))
    }

    fn connect(&mut self, _: &mut TlsSocket, remote: SocketAddr) -> nb::Result<(), Self::Error> {
        if self.tls.is_some() {
            return Ok(());
        }
        {
            let mut link = self
                .link
                .try_borrow_mut()
                .map_err(|_| TlsPdcError::NotConnected)?;
            let link = &mut *link;
            let socket = match link.socket.as_mut() {
                Some(socket) => socket,
                None => link
                    .socket
                    .insert(link.stack.socket().map_err(TlsPdcError::Tcp)?),
            };
            link.stack
                .connect(socket, remote)
                .map_err(|e| e.map(TlsPdcError::Tcp))?;
        }
        self.handshake().map_err(nb::Error::Other)
    }

    fn send(&mut self, _: &mut TlsSocket, buffer: &[u8]) -> nb::Result<usize, Self::Error> {
        let tls = self.tls.as_mut().ok_or(TlsPdcError::NotConnected)?;
        let taken = tls.write(buffer).map_err(TlsPdcError::Tls)?;
        // A command is small and must leave now, not when the record fills.
        tls.flush().map_err(TlsPdcError::Tls)?;
        Ok(taken)
    }

    fn receive(&mut self, _: &mut TlsSocket, buffer: &mut [u8]) -> nb::Result<usize, Self::Error> {
        let tls = self.tls.as_mut().ok_or(TlsPdcError::NotConnected)?;
        let error = match tls.read(buffer) {
            Ok(n) => return Ok(n),
            Err(TlsError::ConnectionClosed) => nb::Error::Other(TlsPdcError::Closed),
            // embedded-tls's word for a read that returned nothing.
            Err(TlsError::IoError) => self.stopped(),
            Err(e) => nb::Error::Other(TlsPdcError::Tls(e)),
        };
        if matches!(
            error,
            nb::Error::Other(TlsPdcError::Closed | TlsPdcError::Truncated)
        ) {
            self.ended = true;
        }
        Err(error)
    }

    fn close(&mut self, _: TlsSocket) -> Result<(), Self::Error> {
        if let Some(tls) = self.tls.take()
            && !self.ended
        {
            // close_notify, as TLS asks; the socket closes either way. Not
            // after the PMU's end: embedded-tls would send it unencrypted
            // once it has seen the PMU's close_notify.
            let _ = tls.close();
        }
        let mut link = self
            .link
            .try_borrow_mut()
            .map_err(|_| TlsPdcError::NotConnected)?;
        let link = &mut *link;
        match link.socket.take() {
            Some(socket) => link.stack.close(socket).map_err(TlsPdcError::Tcp),
            None => Ok(()),
        }
    }
}

impl<S, R, K, const CERT: usize> Park for TlsPdcStack<'_, S, R, K, CERT>
where
    S: TcpClientStack + Park + Clock,
{
    fn park(&mut self, deadline: Option<Instant>) {
        if let Ok(mut link) = self.link.try_borrow_mut() {
            link.stack.park(deadline);
        }
    }
}
