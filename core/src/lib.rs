//! # pmulab-core
//!
//! The protocols of the socket-programming lab as `no_std` state machines
//! without an allocator, and drivers that run them over
//! [`embedded-nal`](embedded_nal) stacks — the same code on a laptop and on
//! a microcontroller.
//!
//! ## Layers
//!
//! One folder per part of the lab, each holding its machines and exactly
//! one server driver and one client driver; below them, what every part
//! shares. Arrows point down only.
//!
//! | module | what | layer |
//! |---|---|---|
//! | [`stream`] | part 2 (and 5, 6): [`stream::command`], [`stream::session`], [`stream::deframer`], [`stream::reply`], [`stream::flood`]; drivers [`stream::server`] (PMU), [`stream::client`] (PDC) | part |
//! | [`reset`] | part 3: [`reset::codec`], [`reset::retry`], [`reset::responder`]; drivers [`reset::server`], [`reset::client`] | part |
//! | [`multicast`] | part 4: [`multicast::frame`], [`multicast::bot`]; drivers [`multicast::server`] (the bot), [`multicast::client`] (receiver, sender) | part |
//! | [`nal`] | the socket traits drivers run over: embedded-nal's, [`nal::HalfClose`], [`nal::Park`], [`nal::Framing`], [`nal::Multicast`] | shared |
//! | [`lab`] | the lab's ports and addresses | shared |
//! | [`time`], [`rng`] | time and randomness as inputs | shared |
//! | [`slots`], [`text`] | a fixed table with O(1) counts; decimals and line endings | shared |
//!
//! ## The machines' contract
//!
//! Every machine is a plain struct, fed input and the current time, that
//! says what to send and when it next wants to be woken — the vocabulary of
//! quinn-proto's `Connection`:
//! - `handle_*(now, …)`: input from the peer or the clock (`handle_input`,
//!   `handle_datagram`, `handle_timeout`, `handle_sent`, …). A refusal is
//!   reported the same way whichever input caused it.
//! - `poll_transmit(now, …)`: what is due now; it tells "nothing due yet"
//!   apart from "done".
//! - `poll_timeout()`: the next instant at which the machine needs
//!   `handle_timeout` or `poll_transmit` without new input; `None` if only
//!   input can move it. It never takes `now`.
//!
//! A driver loops: feed what arrived, send what is due, then park the stack
//! until a socket may progress or `poll_timeout` passes. No machine reads a
//! clock, sleeps or allocates, so a test can run an hour of protocol in
//! microseconds and get the same answer every time.
//!
//! Memory is bounded everywhere: fixed buffers, const-generic session
//! tables; input that does not fit is an error, never a panic.
#![no_std]
#![deny(missing_docs)]

pub mod lab;
pub mod multicast;
pub mod nal;
pub mod reset;
pub mod rng;
pub mod slots;
pub mod stream;
pub mod synchrophasor;
pub mod text;
pub mod time;

#[cfg(test)]
mod test_support;

pub use embedded_nal;
