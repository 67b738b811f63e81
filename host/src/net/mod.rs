//! The host's networking: a clock and embedded-nal over OS sockets.

pub mod clock;
pub mod serve;
pub mod stack;
pub mod tls;
pub mod ws;

pub use clock::HostClock;
pub use stack::StdStack;
