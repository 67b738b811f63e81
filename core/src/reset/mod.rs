//! Lab part 3: the PMU clock reset over UDP, IPv4 and IPv6, with loss.
//!
//! The PDC sends `RESET:n`; the PMU picks `X` uniformly in `0..=n` and
//! answers `OFFSET=X` — but ignores each request with probability `p`. The
//! PDC sends to every address family of the server, waits up to a second for
//! an answer from either, and retransmits until one comes.
//!
//! - [`codec`]: the two datagrams, with typed errors;
//! - [`client`]: the PDC's retry machine, sans I/O;
//! - [`responder`]: the PMU's decision for each request, sans I/O, and the
//!   family schedule of the course's server;
//! - [`driver`]: both over embedded-nal's UDP stacks.

pub mod client;
pub mod codec;
pub mod driver;
pub mod responder;

pub use codec::{Offset, Reset, ResetError, Wire};
