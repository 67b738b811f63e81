//! IEEE C37.118.2-2011 synchrophasor frames: what real PMUs and PDCs speak.
//!
//! The wire module of the protocol, in smoltcp's manner: a checked view over
//! the bytes of each kind of frame ([`frame::Frame`], [`config::ConfigFrame`],
//! [`data::DataFrame`], [`command::CommandFrame`], [`header::HeaderFrame`])
//! with accessors that cannot read out of bounds, and an `emit` for each
//! that writes a frame into a caller's buffer. No allocation: a decoded
//! configuration borrows the frame it came from.
//!
//! Every frame is `SYNC | FRAMESIZE | IDCODE | SOC | FRACSEC | … | CHK`
//! (big-endian); CHK is CRC-CCITT ([`crc`]) over everything before it.
//! Decoding checks every length against FRAMESIZE and the configuration,
//! and the checksum: a bad frame is an [`Error`] that says what was wrong.

pub mod client;
pub mod command;
pub mod config;
pub mod crc;
pub mod data;
mod error;
pub mod frame;
pub mod header;
pub mod pdc;
pub mod pmu;
pub mod server;
pub mod signal;
pub mod udp;
mod write;

pub use error::Error;

#[cfg(test)]
mod tests;
