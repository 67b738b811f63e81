//! The lab's ports and addresses, defined once for the host, the board and
//! the tests. The fixed strings live with their part: the messages' prefix
//! in [`crate::stream::flood`], `ERROR:` in [`crate::stream::reply`],
//! `RESET:20` in [`crate::reset::Reset::LAB`], the bot's `swcmTV` in
//! [`crate::multicast::Id::BOT`].

use core::net::Ipv4Addr;

/// Part 2: the TCP PMU.
pub const TCP_PMU_PORT: u16 = 5003;
/// Part 3: the UDP reset PMU.
pub const UDP_RESET_PORT: u16 = 5004;
/// Part 6: the WebSocket PMU.
pub const WS_PMU_PORT: u16 = 5006;
/// Part 5: the port the course's TLS client connected to.
pub const COURSE_TLS_CLIENT_PORT: u16 = 5003;
/// Part 5: where `pmulab serve` runs its TLS PMU (the course's was given on
/// the command line; 5003 is the plain PMU's here).
pub const TLS_PMU_PORT: u16 = 5443;
/// Part 4: the course's multicast group.
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(224, 1, 1, 1);
/// Part 4: the course's multicast port.
pub const MULTICAST_PORT: u16 = 10505;
/// Part 4: the hops the course's bot let a datagram travel.
pub const BOT_TTL: u8 = 10;
