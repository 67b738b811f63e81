//! Socket states over time, as `ss` shows them: the kernel's TCP socket
//! table read through netlink sock_diag ([`table`]), the TCP state machine
//! and the states a sample can miss ([`state`]), the changes between two
//! samples ([`timeline`]) and who owns a socket ([`owners`]).

pub mod owners;
pub mod state;
pub mod table;
pub mod timeline;
