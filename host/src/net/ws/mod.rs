//! WebSocket (lab part 6): the server side as an embedded-nal stack, so the
//! PMU runs on the same serve loop as over TCP and TLS.

pub mod client;
pub mod stack;
pub mod upgrade;
