//! The lab-aware dissection: packets in, one [`Record`] per packet out,
//! and a [`Summary`] that answers the lab's questions. No I/O here; the
//! capture command feeds packets from a file or a live socket.
//!
//! - [`tcp`] follows each connection: who opened it, relative sequence
//!   numbers, the handshake and teardown, pure ACKs, retransmissions.
//! - What a connection carries is read by the part it belongs to:
//!   [`pmu`] (parts 1 and 2: commands, messages, floodme), [`tls`] (part 5),
//!   [`ws`] (part 6); [`udp`] reads resets (part 3) and multicast (part 4).

pub mod pmu;
pub mod stream;
pub mod summary;
pub mod tcp;
pub mod text;
pub mod tls;
pub mod udp;
pub mod ws;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use pmulab_core::lab;

use super::packet::{Packet, Transport};
pub use summary::Summary;

/// Which way a segment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// From the side that opened the connection (the PDC, the client).
    Client,
    /// From the side that accepted it (the PMU, the server).
    Server,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// The ports whose traffic is the lab's, and which of them are part 1's
/// echo servers (their bytes are not commands).
#[derive(Debug, Clone)]
pub struct Ports {
    all: BTreeSet<u16>,
    echo: BTreeSet<u16>,
}

/// Part 1's echo server (the handout's Code C).
pub const ECHO_PORT: u16 = 5002;

impl Ports {
    /// The lab's own ports: echo, TCP, UDP reset, WebSocket, TLS, multicast.
    pub fn lab() -> Ports {
        Ports {
            all: BTreeSet::from([
                ECHO_PORT,
                lab::TCP_PMU_PORT,
                lab::UDP_RESET_PORT,
                lab::WS_PMU_PORT,
                lab::TLS_PMU_PORT,
                lab::MULTICAST_PORT,
            ]),
            echo: BTreeSet::from([ECHO_PORT]),
        }
    }

    /// Exactly these ports (5002 among them is the echo server's).
    pub fn only(ports: &[u16]) -> Ports {
        let all: BTreeSet<u16> = ports.iter().copied().collect();
        let echo = all.iter().copied().filter(|&p| p == ECHO_PORT).collect();
        Ports { all, echo }
    }

    /// `port` is an echo server's.
    pub fn with_echo(mut self, port: u16) -> Ports {
        self.all.insert(port);
        self.echo.insert(port);
        self
    }

    pub fn contains(&self, port: u16) -> bool {
        self.all.contains(&port)
    }

    pub fn is_echo(&self, port: u16) -> bool {
        self.echo.contains(&port)
    }

    /// As a list for messages.
    pub fn list(&self) -> String {
        self.all
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One packet, read.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based, counting every packet of the capture (as Wireshark numbers them).
    pub number: u64,
    /// Seconds since the first packet.
    pub time: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ttl: u8,
    pub wire_len: usize,
    pub proto: Proto,
    /// TCP header fields, for TCP.
    pub tcp: Option<tcp::TcpFields>,
    /// UDP payload length, for UDP.
    pub udp_len: Option<usize>,
    /// What the packet means in the lab's terms; may be empty.
    pub meaning: Vec<String>,
    /// TLS handshake message types (numbers), in order.
    pub tls_handshake: Vec<u8>,
    /// TLS record content types, in order.
    pub tls_records: Vec<u8>,
    /// WebSocket opcodes of the frames that end in this packet.
    pub ws_opcodes: Vec<u8>,
}

/// What a record's transport is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Record {
    fn new(number: u64, time: f64, packet: &Packet, proto: Proto) -> Record {
        Record {
            number,
            time,
            src: packet.src,
            dst: packet.dst,
            ttl: packet.ttl,
            wire_len: packet.wire_len,
            proto,
            tcp: None,
            udp_len: None,
            meaning: Vec::new(),
            tls_handshake: Vec::new(),
            tls_records: Vec::new(),
            ws_opcodes: Vec::new(),
        }
    }

    /// As JSON, one object a packet, for scripts and for comparing with tshark.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "number": self.number,
            "time": self.time,
            "src": self.src.to_string(),
            "dst": self.dst.to_string(),
            "ttl": self.ttl,
            "frame_len": self.wire_len,
            "proto": match self.proto { Proto::Tcp => "tcp", Proto::Udp => "udp" },
            "meaning": self.meaning,
        });
        if let Some(t) = &self.tcp {
            v["tcp"] = serde_json::json!({
                "flags": t.flags_byte(),
                "flag_names": t.flags.to_string(),
                "seq": t.rel_seq,
                "ack": t.rel_ack,
                "len": t.len,
                "window": t.window,
            });
        }
        if let Some(len) = self.udp_len {
            v["udp_len"] = len.into();
        }
        if !self.tls_records.is_empty() {
            v["tls_records"] = self.tls_records.clone().into();
            v["tls_handshake"] = self.tls_handshake.clone().into();
        }
        if !self.ws_opcodes.is_empty() {
            v["ws_opcodes"] = self.ws_opcodes.clone().into();
        }
        v
    }
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>5} {:>10.6}  {} → {}  ",
            self.number, self.time, self.src, self.dst
        )?;
        match (&self.tcp, self.udp_len) {
            (Some(t), _) => write!(f, "TCP {t}")?,
            (None, Some(len)) => write!(f, "UDP len={len} ttl={}", self.ttl)?,
            (None, None) => {}
        }
        if !self.meaning.is_empty() {
            write!(f, "  {}", self.meaning.join("; "))?;
        }
        Ok(())
    }
}

/// How many packets of what kind were seen.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub packets: u64,
    /// TCP or UDP to or from a lab port.
    pub lab: u64,
    /// Anything else (other ports, other protocols).
    pub other: u64,
    /// Frames that could not be decoded.
    pub malformed: u64,
}

/// The dissector: feed it every captured packet in order.
#[derive(Debug)]
pub struct Dissector {
    ports: Ports,
    start: Option<Duration>,
    counts: Counts,
    tcp: tcp::Conversations,
    udp: udp::UdpTraffic,
}

impl Dissector {
    pub fn new(ports: Ports) -> Dissector {
        Dissector {
            ports,
            start: None,
            counts: Counts::default(),
            tcp: tcp::Conversations::default(),
            udp: udp::UdpTraffic::default(),
        }
    }

    /// A frame that could not be decoded (counted, reported in the summary).
    pub fn handle_malformed(&mut self) {
        self.counts.packets += 1;
        self.counts.malformed += 1;
    }

    /// A frame that is not TCP or UDP over IP.
    pub fn handle_other(&mut self) {
        self.counts.packets += 1;
        self.counts.other += 1;
    }

    /// To or from one of the lab's ports.
    pub fn is_lab(&self, packet: &Packet) -> bool {
        self.ports.contains(packet.src.port()) || self.ports.contains(packet.dst.port())
    }

    /// One decoded packet; its record if it is the lab's.
    pub fn handle_packet(&mut self, packet: &Packet) -> Option<Record> {
        self.counts.packets += 1;
        if !self.is_lab(packet) {
            self.counts.other += 1;
            return None;
        }
        self.counts.lab += 1;
        let start = *self.start.get_or_insert(packet.time);
        let time = packet.time.saturating_sub(start).as_secs_f64();
        let number = self.counts.packets;
        Some(match &packet.transport {
            Transport::Tcp(segment) => {
                let mut record = Record::new(number, time, packet, Proto::Tcp);
                self.tcp.handle(packet, segment, &self.ports, &mut record);
                record
            }
            Transport::Udp(payload) => {
                let mut record = Record::new(number, time, packet, Proto::Udp);
                record.udp_len = Some(payload.len());
                self.udp.handle(packet, payload, number, &mut record);
                record
            }
        })
    }

    /// What was seen, for the lab's questions.
    pub fn summary(&self) -> Summary {
        Summary::of(self.counts, &self.tcp, &self.udp)
    }
}

#[cfg(test)]
mod tests;
