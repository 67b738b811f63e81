//! Host names to addresses, the way each part asks.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// Why a name has no address to use.
#[derive(Debug)]
pub enum ResolveError {
    /// The resolver failed.
    Lookup {
        /// The name.
        host: String,
        /// Why.
        error: std::io::Error,
    },
    /// The name has no address.
    NoAddress {
        /// The name.
        host: String,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Lookup { host, error } => write!(f, "cannot resolve {host:?}: {error}"),
            ResolveError::NoAddress { host } => write!(f, "{host:?} has no address"),
        }
    }
}

/// `[::1]` as in URLs and `::1` as in `ping` both name the address.
fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Every address of `host`, with `port`.
pub fn all_addresses(host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    (bare(host), port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|error| ResolveError::Lookup {
            host: host.to_string(),
            error,
        })
}

/// The address to connect to for an IPv4 lab part: the name's first IPv4
/// address, or, for a name with only IPv6 addresses (or an IPv6 literal),
/// its first IPv6 address.
pub fn ipv4_first(host: &str, port: u16) -> Result<SocketAddr, ResolveError> {
    let addrs = all_addresses(host, port)?;
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| ResolveError::NoAddress {
            host: host.to_string(),
        })
}
