//! # pmulab-core
//!
//! The protocols of the socket-programming lab as `no_std` state machines
//! without an allocator, and drivers that run them over
//! [`embedded-nal`](embedded_nal) stacks — the same code on a laptop and on
//! a microcontroller.
//!
//! Two layers:
//! - **Machines, sans I/O**: [`command`] (the PDC's command codec),
//!   [`session`] (the PMU's side of a connection), [`deframer`] (the PDC's
//!   view of a glued stream), [`flood`] (the generated texts), [`reset`]
//!   (part 3's UDP clock reset: codec, retry machine, responder). They take
//!   bytes and the current [`time::Instant`] and say what to send and when
//!   to be woken; they never block, sleep or read a clock.
//! - **Drivers**: [`pdc`] (the client over `TcpClientStack`) and [`pmu`]
//!   (the server over `TcpFullStack`), which wait through [`time::Park`]
//!   and close through [`stack::HalfClose`].
//!
//! Memory is bounded everywhere: fixed buffers, const-generic session
//! tables; input that does not fit is an error, never a panic.
#![no_std]
#![deny(missing_docs)]

pub mod command;
pub mod deframer;
pub mod flood;
pub mod multicast;
pub mod pdc;
pub mod pmu;
pub mod reset;
pub mod rng;
pub mod session;
pub mod slots;
pub mod stack;
pub mod time;

#[cfg(test)]
mod test_support;

pub use embedded_nal;
