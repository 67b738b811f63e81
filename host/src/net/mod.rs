//! The host's networking: platform services (a clock, randomness, name
//! resolution), embedded-nal stacks over the OS's sockets — plain, TLS and
//! WebSocket — and the serve loop every PMU runs on. Errors here are typed;
//! what to tell the user is decided above.

pub mod clock;
pub mod resolve;
pub mod rng;
pub mod serve;
pub mod stack;
pub mod synchrophasor;
pub mod tls;
pub mod ws;

pub use clock::HostClock;
pub use stack::StdStack;
