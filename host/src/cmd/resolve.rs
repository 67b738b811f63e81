//! Host names to addresses, the way each part asks.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::failure::Failure;

/// The address to connect to for an IPv4 lab part: the name's first IPv4
/// address, or, for a name with only IPv6 addresses (or an IPv6 literal),
/// its first IPv6 address.
pub fn ipv4_first(host: &str, port: u16) -> Result<SocketAddr, Failure> {
    // `[::1]` as in URLs and `::1` as in `ping` both name the address.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::runtime(format!("cannot resolve {host:?}: {e}")))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| Failure::runtime(format!("{host:?} has no address")))
}
