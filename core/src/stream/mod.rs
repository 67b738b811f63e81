//! Lab part 2 (and 5 and 6, which carry it over TLS and WebSocket): the PMU
//! and the PDC over a TCP stream.
//!
//! The PDC sends `CMD_short:d` or `CMD_floodme` with no terminator; the PMU
//! answers with `This is PMU data 0` … `This is PMU data n-1`, one send
//! each, `d` seconds apart, or with one large text, then closes. Nothing
//! separates the messages: TCP glues and splits them as it likes.
//!
//! Machines, sans I/O:
//! - [`command`]: the command codec and the server's assembler;
//! - [`session`]: the PMU's side of one connection;
//! - [`deframer`]: the PDC's view of a glued stream;
//! - [`reply`]: what a reply is from its first bytes, and the `ERROR:` line;
//! - [`flood`]: the messages' text and the floodme text.
//!
//! Drivers over embedded-nal:
//! - [`server`]: the PMU ([`server::PmuServer`]), a session table over a
//!   [`TcpFullStack`](crate::nal::TcpFullStack);
//! - [`client`]: the PDC ([`client::fetch`]) over a
//!   [`TcpClientStack`](crate::nal::TcpClientStack).

pub mod client;
pub mod command;
pub mod deframer;
pub mod flood;
pub mod reply;
pub mod server;
pub mod session;
