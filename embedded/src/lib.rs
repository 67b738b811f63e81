//! # pmulab-embedded
//!
//! The PMU on a microcontroller. [`nal`] implements the embedded-nal
//! traits (and core's [`Park`](pmulab_core::nal::Park) and
//! [`HalfClose`](pmulab_core::nal::HalfClose)) over a smoltcp interface,
//! so that core's PMU server and reset responder run on it unchanged — no
//! second copy of the protocol logic. [`app`] is the PMU application,
//! written against any smoltcp `Device` and a [`nal::Platform`] (clock and
//! sleep), so another board needs only its driver and memory map. With the
//! `tls` feature, the `tls` module runs core's PDC inside TLS 1.3 (embedded-tls)
//! over the same adapter: part 5's PDC on a board.
#![no_std]
#![deny(missing_docs)]

pub mod app;
pub mod c37;
#[cfg(feature = "mps2-an386")]
pub mod lan9118;
#[cfg(feature = "mps2-an386")]
pub mod mps2;
pub mod nal;
#[cfg(feature = "tls")]
pub mod tls;
