//! What can go wrong under TLS, in words a PDC's user can act on.

use core::fmt;

use embedded_io::ErrorKind;
use embedded_nal::{TcpError, TcpErrorKind};
use embedded_tls::TlsError;

use super::verify::Refusal;

/// Why an operation of a [`TlsPdcStack`](super::TlsPdcStack) failed.
#[derive(Clone)]
pub enum TlsPdcError<E> {
    /// The TCP stack below failed (no socket, connection refused or reset).
    Tcp(E),
    /// The TLS protocol failed: the handshake, a record.
    Tls(TlsError),
    /// The PMU's certificate was refused, for this reason.
    Refused(Refusal),
    /// The PMU ended the session with close_notify: the end of the stream.
    Closed,
    /// The connection ended inside a TLS record: the reply is cut short.
    Truncated,
    /// The PMU closed the connection during the handshake.
    HandshakeEnded,
    /// A stack makes one connection (embedded-tls keeps the buffers it is given).
    OneConnection,
    /// There is no TLS session on the socket.
    NotConnected,
}

impl<E: fmt::Display> fmt::Debug for TlsPdcError<E> {
    /// As Display: core's drivers report network errors with `{:?}`, and
    /// people read those reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<E: fmt::Display> TcpError for TlsPdcError<E> {
    fn kind(&self) -> TcpErrorKind {
        match self {
            TlsPdcError::Closed => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

impl<E: fmt::Display> fmt::Display for TlsPdcError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsPdcError::Tcp(e) => write!(f, "{e}"),
            TlsPdcError::Tls(e) => describe(e, f),
            TlsPdcError::Refused(why) => write!(f, "TLS: the PMU's certificate is refused: {why}"),
            TlsPdcError::Closed => f.write_str("the PMU closed the TLS session"),
            TlsPdcError::Truncated => {
                f.write_str("the connection ended inside a TLS record: the reply is cut short")
            }
            TlsPdcError::HandshakeEnded => f.write_str(
                "the PMU closed the connection during the TLS handshake (does it speak TLS 1.3?)",
            ),
            TlsPdcError::OneConnection => {
                f.write_str("this TLS stack has made its one connection already")
            }
            TlsPdcError::NotConnected => f.write_str("no TLS session on this socket"),
        }
    }
}

fn describe(e: &TlsError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        // Reached only if the verifier could not record its reason.
        TlsError::InvalidCertificate => write!(
            f,
            "TLS: the PMU's certificate is refused: {}",
            Refusal::Unknown
        ),
        TlsError::InvalidSignatureScheme => f.write_str(
            "TLS: the PMU's certificate uses a signature this image cannot check \
             (it checks ECDSA P-256; `pmulab ca request` makes such a key)",
        ),
        TlsError::InvalidSignature => {
            f.write_str("TLS: the PMU's handshake signature does not verify")
        }
        TlsError::DecodeError | TlsError::ParseError(_) => {
            f.write_str("TLS: a certificate or handshake message cannot be decoded")
        }
        TlsError::InvalidRecord | TlsError::UnknownContentType => f.write_str(
            "TLS: the PMU answered with something that is not TLS (a plain PMU on this port?)",
        ),
        TlsError::HandshakeAborted(_, alert) => {
            write!(
                f,
                "TLS: the PMU ended the handshake with the alert {alert:?}"
            )
        }
        TlsError::InvalidSupportedVersions | TlsError::InvalidCipherSuite => f.write_str(
            "TLS: the PMU does not speak TLS 1.3 with AES-128-GCM-SHA256, all this image speaks",
        ),
        TlsError::InsufficientSpace => {
            f.write_str("TLS: a record or certificate is larger than this image's buffers")
        }
        TlsError::IoError => f.write_str("TLS: the connection ended in the middle of a record"),
        TlsError::Io(ErrorKind::TimedOut) => f.write_str("TLS: the PMU went silent"),
        TlsError::Io(ErrorKind::ConnectionReset) => f.write_str("TLS: the connection was reset"),
        TlsError::Io(ErrorKind::BrokenPipe) => {
            f.write_str("TLS: the connection closed while sending")
        }
        TlsError::Io(kind) => write!(f, "TLS: the connection failed ({kind:?})"),
        other => write!(f, "TLS: {other:?}"),
    }
}
