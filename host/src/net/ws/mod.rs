//! WebSocket (lab part 6): the server side as an embedded-nal stack, so the
//! PMU runs on the same serve loop as over TCP and TLS; and the PDC page it
//! serves to a browser.

pub mod client;
mod page;
pub mod stack;
pub mod upgrade;
