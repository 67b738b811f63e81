//! One captured frame, decoded down to TCP or UDP with etherparse: the
//! addresses, the IP TTL, the transport header fields the lab looks at and
//! the payload. Frames of any other kind are not an error: they are
//! simply not the lab's.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};

/// How a capture's frames begin (the pcap link types pmulab reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II: `lo` through a packet socket, QEMU's dump, most files.
    Ethernet,
    /// Linux "cooked" capture v1 (`tcpdump -i any`).
    LinuxSll,
    /// A bare IPv4 or IPv6 packet.
    RawIp,
    /// BSD loopback: a 4-byte address family, then the IP packet.
    Null,
}

impl LinkType {
    /// The pcap LINKTYPE_ number, if pmulab reads it.
    pub fn from_pcap(number: u32) -> Option<LinkType> {
        match number {
            1 => Some(LinkType::Ethernet),
            113 => Some(LinkType::LinuxSll),
            101 | 228 | 229 | 12 | 14 => Some(LinkType::RawIp),
            0 | 108 => Some(LinkType::Null),
            _ => None,
        }
    }
}

/// TCP's flags, the ones a lab question names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

impl std::fmt::Display for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (self.syn, "SYN"),
            (self.fin, "FIN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        write!(f, "[{}]", set.join(", "))
    }
}

/// A TCP segment's header fields.
#[derive(Debug, Clone)]
pub struct Segment {
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    /// The window field as sent (before any scaling).
    pub window: u16,
    /// The window scale option (SYN segments only).
    pub window_scale: Option<u8>,
    pub payload: Vec<u8>,
}

/// What the IP packet carries.
#[derive(Debug, Clone)]
pub enum Transport {
    Tcp(Segment),
    Udp(Vec<u8>),
}

/// A decoded frame.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Capture time, since the Unix epoch.
    pub time: Duration,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The frame's length on the wire.
    pub wire_len: usize,
    pub transport: Transport,
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes one frame. `Ok(None)`: a well-formed frame that is not TCP or
/// UDP over IP (ARP, ICMP, …).
pub fn decode(
    link: LinkType,
    time: Duration,
    data: &[u8],
    wire_len: usize,
) -> Result<Option<Packet>, DecodeError> {
    let sliced = match link {
        LinkType::Ethernet => SlicedPacket::from_ethernet(data),
        LinkType::LinuxSll => SlicedPacket::from_linux_sll(data),
        LinkType::RawIp => SlicedPacket::from_ip(data),
        LinkType::Null => match data.get(4..) {
            Some(ip) => SlicedPacket::from_ip(ip),
            None => return Err(DecodeError("a loopback frame under 4 bytes".into())),
        },
    }
    .map_err(|e| DecodeError(e.to_string()))?;
    let (src_ip, dst_ip, ttl): (IpAddr, IpAddr, u8) = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            (h.source_addr().into(), h.destination_addr().into(), h.ttl())
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                h.hop_limit(),
            )
        }
        _ => return Ok(None),
    };
    let (src_port, dst_port, transport) = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let window_scale = tcp.options_iterator().find_map(|o| match o {
                Ok(TcpOptionElement::WindowScale(s)) => Some(s),
                _ => None,
            });
            let segment = Segment {
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: Flags {
                    syn: tcp.syn(),
                    ack: tcp.ack(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                    psh: tcp.psh(),
                },
                window: tcp.window_size(),
                window_scale,
                payload: tcp.payload().to_vec(),
            };
            (
                tcp.source_port(),
                tcp.destination_port(),
                Transport::Tcp(segment),
            )
        }
        Some(TransportSlice::Udp(udp)) => (
            udp.source_port(),
            udp.destination_port(),
            Transport::Udp(udp.payload().to_vec()),
        ),
        _ => return Ok(None),
    };
    Ok(Some(Packet {
        time,
        src: SocketAddr::new(src_ip, src_port),
        dst: SocketAddr::new(dst_ip, dst_port),
        ttl,
        wire_len,
        transport,
    }))
}
