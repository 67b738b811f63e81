//! TCP as the lab looks at it: each connection's two directions with
//! relative sequence numbers (the SYN is 0, as Wireshark shows them), the
//! three-way handshake and the teardown named, pure ACKs marked, data that
//! was already seen marked as a retransmission, and the bytes of each
//! direction handed, in order, to the reader of the connection's part.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::pmu::PmuReader;
use super::stream::Chunk;
use super::tls::TlsReader;
use super::ws::WsReader;
use super::{Ports, Record, Side};
use crate::analysis::packet::{Flags, Packet, Segment};

/// A segment's header as shown.
#[derive(Debug, Clone)]
pub struct TcpFields {
    pub flags: Flags,
    /// Relative to the sender's SYN (0 = the SYN).
    pub rel_seq: u32,
    /// Relative to the peer's SYN; 0 when the ACK flag is off.
    pub rel_ack: u32,
    pub len: usize,
    /// The window in bytes (scaled when the handshake was seen).
    pub window: u32,
}

impl TcpFields {
    /// The flags as tshark's `tcp.flags` low byte.
    pub fn flags_byte(&self) -> u8 {
        u8::from(self.flags.fin)
            | u8::from(self.flags.syn) << 1
            | u8::from(self.flags.rst) << 2
            | u8::from(self.flags.psh) << 3
            | u8::from(self.flags.ack) << 4
    }
}

impl std::fmt::Display for TcpFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} seq={}", self.flags, self.rel_seq)?;
        if self.flags.ack {
            write!(f, " ack={}", self.rel_ack)?;
        }
        write!(f, " len={} win={}", self.len, self.window)
    }
}

/// One direction of a connection.
#[derive(Debug, Default)]
struct Direction {
    /// The sequence number of its SYN (or one before its first byte seen).
    isn: Option<u32>,
    /// Its SYN was seen: stream offsets are exact.
    anchored: bool,
    /// The relative sequence number one past the highest byte seen.
    next: u32,
    window_scale: Option<u8>,
    /// Relative sequence number of its FIN, once sent.
    fin: Option<u32>,
    fin_acked: bool,
}

/// What a connection carries, once its first bytes tell.
#[derive(Debug)]
pub enum Reader {
    /// Nothing decided yet.
    Unknown,
    Pmu(Box<PmuReader>),
    Tls(Box<TlsReader>),
    Ws(Box<WsReader>),
}

/// The counts the lab asks about, for one connection.
#[derive(Debug, Default, Clone)]
pub struct TcpStats {
    pub segments: u64,
    pub data_segments: [u64; 2],
    pub data_bytes: [u64; 2],
    pub pure_acks: [u64; 2],
    pub largest: [usize; 2],
    pub retransmissions: u64,
    pub handshake_seen: bool,
    /// Who sent the first FIN.
    pub first_fin: Option<Side>,
    pub resets: u64,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Conversation {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The server is part 1's echo server.
    echo: bool,
    dirs: [Direction; 2],
    /// The SYN-ACK was seen; the next pure ACK from the client completes the handshake.
    awaiting_third: bool,
    pub reader: Reader,
    pub stats: TcpStats,
}

/// Every connection seen, in the order they began.
#[derive(Debug, Default)]
pub struct Conversations {
    index: HashMap<(SocketAddr, SocketAddr), usize>,
    pub list: Vec<Conversation>,
}

impl Conversations {
    /// Reads one segment into `record`.
    pub fn handle(
        &mut self,
        packet: &Packet,
        segment: &Segment,
        ports: &Ports,
        record: &mut Record,
    ) {
        let key = (packet.src, packet.dst);
        let reverse = (packet.dst, packet.src);
        // A new SYN on a pair whose last connection ended starts a new one.
        let known = self
            .index
            .get(&key)
            .or_else(|| self.index.get(&reverse))
            .copied()
            .filter(|&i| !(segment.flags.syn && !segment.flags.ack && self.list[i].ended()));
        let at = match known {
            Some(i) => i,
            None => {
                let (client, server) = who_is_client(packet, segment, ports);
                self.list.push(Conversation::new(
                    client,
                    server,
                    ports.is_echo(server.port()),
                ));
                let i = self.list.len() - 1;
                self.index.insert((client, server), i);
                self.index.insert((server, client), i);
                i
            }
        };
        self.list[at].handle(packet, segment, record);
    }
}

/// The client sent the SYN; without one, the lab's port is the server's.
fn who_is_client(packet: &Packet, segment: &Segment, ports: &Ports) -> (SocketAddr, SocketAddr) {
    let from_client = match (segment.flags.syn, segment.flags.ack) {
        (true, false) => true,
        (true, true) => false,
        _ => match (
            ports.contains(packet.dst.port()),
            ports.contains(packet.src.port()),
        ) {
            (true, false) => true,
            (false, true) => false,
            _ => packet.dst.port() < packet.src.port(),
        },
    };
    match from_client {
        true => (packet.src, packet.dst),
        false => (packet.dst, packet.src),
    }
}

impl Conversation {
    fn new(client: SocketAddr, server: SocketAddr, echo: bool) -> Conversation {
        Conversation {
            client,
            server,
            echo,
            dirs: [Direction::default(), Direction::default()],
            awaiting_third: false,
            reader: Reader::Unknown,
            stats: TcpStats::default(),
        }
    }

    /// Both FINs were acknowledged, or a reset was seen.
    fn ended(&self) -> bool {
        self.stats.resets > 0 || self.dirs.iter().all(|d| d.fin_acked)
    }

    /// The peer's name in the lab's terms.
    pub fn names(&self) -> (&'static str, &'static str) {
        match &self.reader {
            Reader::Pmu(r) if r.is_echo() => ("client", "echo server"),
            Reader::Unknown if self.echo => ("client", "echo server"),
            _ => ("PDC", "PMU"),
        }
    }

    fn handle(&mut self, packet: &Packet, segment: &Segment, record: &mut Record) {
        let side = match packet.src == self.client {
            true => Side::Client,
            false => Side::Server,
        };
        let (me, peer) = match side {
            Side::Client => (0, 1),
            Side::Server => (1, 0),
        };
        let flags = segment.flags;
        self.stats.segments += 1;
        let dir = &mut self.dirs[me];
        if flags.syn {
            dir.isn = Some(segment.seq);
            dir.anchored = true;
            dir.window_scale = segment.window_scale;
            dir.next = dir.next.max(1);
        }
        let isn = *dir.isn.get_or_insert(segment.seq.wrapping_sub(1));
        let rel_seq = segment.seq.wrapping_sub(isn);
        let len = segment.payload.len();
        let rel_ack = match (flags.ack, self.dirs[peer].isn) {
            (true, Some(peer_isn)) => segment.ack.wrapping_sub(peer_isn),
            _ => 0,
        };
        // Scaling applies once both sides offered it, and never to a SYN.
        let window = match (
            flags.syn,
            self.dirs[me].window_scale,
            self.dirs[peer].window_scale,
        ) {
            (false, Some(shift), Some(_)) => u32::from(segment.window) << shift.min(14),
            _ => u32::from(segment.window),
        };
        record.tcp = Some(TcpFields {
            flags,
            rel_seq,
            rel_ack,
            len,
            window,
        });
        let (me_name, peer_name) = match side {
            Side::Client => self.names(),
            Side::Server => {
                let (a, b) = self.names();
                (b, a)
            }
        };
        let meaning = &mut record.meaning;

        // The handshake and the teardown.
        match (flags.syn, flags.ack) {
            (true, false) => meaning.push("handshake 1/3: SYN".into()),
            (true, true) => {
                meaning.push("handshake 2/3: SYN-ACK".into());
                self.awaiting_third = true;
            }
            _ => {}
        }
        if flags.rst {
            self.stats.resets += 1;
            meaning.push(format!("reset by the {me_name}"));
        }
        if let Some(fin_seq) = self.dirs[peer].fin
            && flags.ack
            && !self.dirs[peer].fin_acked
            && rel_ack > fin_seq
        {
            self.dirs[peer].fin_acked = true;
            meaning.push(format!("acknowledges the {peer_name}'s FIN"));
        }
        if flags.fin && self.dirs[me].fin.is_none() {
            let fin_at = rel_seq.wrapping_add(len as u32);
            self.dirs[me].fin = Some(fin_at);
            let first = self.stats.first_fin.is_none();
            if first {
                self.stats.first_fin = Some(side);
            }
            meaning.push(format!(
                "teardown: FIN from the {me_name}{}",
                if first { " (it closes first)" } else { "" }
            ));
        }

        if len == 0 {
            if !flags.syn && !flags.fin && !flags.rst && flags.ack {
                if side == Side::Client && self.awaiting_third {
                    self.awaiting_third = false;
                    self.stats.handshake_seen = true;
                    meaning.push("handshake 3/3: ACK".into());
                } else {
                    self.stats.pure_acks[me] += 1;
                    meaning.push("pure ACK".into());
                }
            }
            return;
        }
        self.awaiting_third = false;

        // Data.
        let end = rel_seq.wrapping_add(len as u32);
        let dir = &mut self.dirs[me];
        let anchored = dir.anchored;
        // Seen before in full: a retransmission (as far as the capture shows).
        let seen_before = dir.next > 1 && end.wrapping_sub(dir.next) as i32 <= 0;
        if !seen_before {
            dir.next = end;
        }
        self.stats.data_segments[me] += 1;
        self.stats.data_bytes[me] += len as u64;
        self.stats.largest[me] = self.stats.largest[me].max(len);
        if seen_before {
            self.stats.retransmissions += 1;
            meaning.push("retransmission".into());
        }
        // Stream offset of the first byte: the SYN took sequence number 0.
        let offset = match anchored {
            true => Some(u64::from(rel_seq.wrapping_sub(1))),
            false => None,
        };
        let chunk = Chunk {
            side,
            offset,
            bytes: &segment.payload,
            retransmission: seen_before,
        };
        self.read_content(&chunk, record);
    }

    /// Hands the data to the reader of the connection's part.
    fn read_content(&mut self, chunk: &Chunk<'_>, record: &mut Record) {
        if matches!(self.reader, Reader::Unknown) && chunk.side == Side::Client {
            self.reader = match chunk.bytes.first() {
                Some(0x16) => Reader::Tls(Box::default()),
                _ if chunk.bytes.starts_with(b"GET ") => Reader::Ws(Box::default()),
                _ => Reader::Pmu(Box::new(PmuReader::new(self.echo))),
            };
        }
        if matches!(self.reader, Reader::Unknown) {
            // The server spoke first: not a lab protocol pmulab knows.
            self.reader = Reader::Pmu(Box::new(PmuReader::new(self.echo)));
        }
        match &mut self.reader {
            Reader::Pmu(r) => r.handle(chunk, record),
            Reader::Tls(r) => r.handle(chunk, record),
            Reader::Ws(r) => r.handle(chunk, record),
            Reader::Unknown => {}
        }
    }
}
