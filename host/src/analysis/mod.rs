//! The analysis half of the lab: capturing the lab's packets, reading
//! saved captures, and telling what each packet means in the lab's terms.
//!
//! - [`live`] captures on an interface (a packet socket, Linux).
//! - [`file`] reads pcap and pcapng; [`pcapng`] writes pcapng with the TLS
//!   secrets in it, so Wireshark decrypts pmulab's own sessions.
//! - [`packet`] decodes a frame down to TCP or UDP (etherparse).
//! - [`dissect`] reads each connection by the lab's parts, and sums up.

pub mod dissect;
pub mod file;
pub mod live;
pub mod packet;
pub mod pcapng;
pub mod sockets;
