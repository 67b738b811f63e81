//! Part 5's PDC on a microcontroller: TLS 1.3 from embedded-tls over any
//! embedded-nal TCP stack that can park (the smoltcp adapter on a board),
//! presented as an embedded-nal stack again so that core's PDC runs inside
//! it unchanged.
//!
//! [`Link`] holds the TCP stack and makes its socket the blocking stream
//! embedded-tls wants ([`wire`]); [`TlsPdcStack`] is the TLS stack on top
//! ([`stack`]). The PMU is checked as embedded-tls checks a server: its
//! chain must end at the one CA given, and its certificate must carry the
//! expected name (embedded-tls cannot verify a chain without a name, as
//! the course's client did; the host's `pmulab secure-pdc` can).
//! Certificates are ECDSA P-256: without an allocator there is no RSA.

pub mod error;
pub mod stack;
pub mod verify;
pub mod wire;

pub use error::TlsPdcError;
pub use stack::{CipherSuite, TlsPdcStack, TlsSocket, Trust};
pub use verify::Refusal;
pub use wire::{Link, Wire};

/// Bytes for one encrypted record of any size TLS allows (2^14 of
/// plaintext, and the most a record may add to it).
pub const RECORD_BUFFER: usize = 16_640;
