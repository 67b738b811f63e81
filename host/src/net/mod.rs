//! The host's networking: a clock and embedded-nal over OS sockets.

pub mod clock;
pub mod deadline;
pub mod serve;
pub mod stack;
pub mod tls;

pub use clock::HostClock;
pub use stack::StdStack;
