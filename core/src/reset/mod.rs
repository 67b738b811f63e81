//! Lab part 3: the PMU clock reset over UDP, IPv4 and IPv6, with loss.
//!
//! The PDC sends `RESET:n`; the PMU picks `X` uniformly in `0..=n` and
//! answers `OFFSET=X` — but ignores each request with probability `p`. The
//! PDC sends to every address family of the server, waits up to a second for
//! an answer from either, and retransmits until one comes.
//!
//! Machines, sans I/O:
//! - [`codec`]: the two datagrams, with typed errors;
//! - [`retry`]: the PDC's retry machine (rounds over every family);
//! - [`responder`]: the PMU's decision for each request, and the family
//!   schedule of the course's server.
//!
//! Drivers over embedded-nal's UDP stacks:
//! - [`server`]: the PMU ([`server::ResetServer`]);
//! - [`client`]: the PDC ([`client::request`]).

pub mod client;
pub mod codec;
pub mod responder;
pub mod retry;
pub mod server;

pub use codec::{Offset, Reset, ResetError, Wire};
