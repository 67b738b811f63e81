//! Parts 3 and 4 in UDP datagrams: `RESET:n` requests and `OFFSET=X`
//! answers per client and family, numbered, with a request that got no
//! answer before the next one shown as lost; and multicast datagrams —
//! group, source, TTL, the 6-byte id and the text. Wire rules are core's.

use std::collections::HashMap;
use std::net::SocketAddr;

use pmulab_core::multicast::frame::Frame;
use pmulab_core::reset::codec::{Offset, Reset};

use super::Record;
use super::text::preview;
use crate::analysis::packet::Packet;

/// One client's exchange with a reset PMU.
#[derive(Debug, Clone)]
pub struct ResetClient {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub requests: u32,
    pub answers: u32,
    /// Requests followed by another request with no answer between.
    pub unanswered: u32,
    /// The request number waiting for an answer.
    waiting: Option<u32>,
    /// The answers, in order.
    pub offsets: Vec<u32>,
}

/// Datagrams of one multicast sender to one group.
#[derive(Debug, Clone)]
pub struct MulticastFlow {
    pub group: SocketAddr,
    pub source: SocketAddr,
    pub ttls: Vec<u8>,
    pub ids: Vec<String>,
    pub datagrams: u64,
}

/// All UDP seen.
#[derive(Debug, Default)]
pub struct UdpTraffic {
    pub resets: Vec<ResetClient>,
    reset_index: HashMap<(SocketAddr, SocketAddr), usize>,
    pub multicast: Vec<MulticastFlow>,
    multicast_index: HashMap<(SocketAddr, SocketAddr), usize>,
    pub other: u64,
}

fn family(addr: &SocketAddr) -> &'static str {
    match addr {
        SocketAddr::V4(_) => "IPv4",
        SocketAddr::V6(_) => "IPv6",
    }
}

impl UdpTraffic {
    pub fn handle(&mut self, packet: &Packet, payload: &[u8], _number: u64, record: &mut Record) {
        if packet.dst.ip().is_multicast() {
            self.multicast_datagram(packet, payload, record);
            return;
        }
        if let Ok(reset) = Reset::parse(payload) {
            let key = (packet.src, packet.dst);
            let at = *self.reset_index.entry(key).or_insert_with(|| {
                self.resets.push(ResetClient {
                    client: packet.src,
                    server: packet.dst,
                    requests: 0,
                    answers: 0,
                    unanswered: 0,
                    waiting: None,
                    offsets: Vec::new(),
                });
                self.resets.len() - 1
            });
            let client = &mut self.resets[at];
            client.requests += 1;
            let n = client.requests;
            let mut text = format!("{reset} request #{n} over {}", family(&packet.src));
            if let Some(previous) = client.waiting.replace(n) {
                client.unanswered += 1;
                text.push_str(&format!(
                    " — a retransmission: #{previous} got no answer (lost, or not yet)"
                ));
            }
            record.meaning.push(text);
            return;
        }
        if let Ok(offset) = Offset::parse(payload) {
            let key = (packet.dst, packet.src);
            let text = match self.reset_index.get(&key) {
                Some(&at) => {
                    let client = &mut self.resets[at];
                    client.answers += 1;
                    client.offsets.push(offset.seconds);
                    match client.waiting.take() {
                        Some(n) => format!("{offset}: the answer to request #{n}"),
                        None => format!(
                            "{offset}: an answer with no request waiting (late or repeated)"
                        ),
                    }
                }
                None => format!("{offset}: an answer to a request not captured"),
            };
            record.meaning.push(text);
            return;
        }
        self.other += 1;
        record.meaning.push(preview(payload));
    }

    fn multicast_datagram(&mut self, packet: &Packet, payload: &[u8], record: &mut Record) {
        let key = (packet.dst, packet.src);
        let at = *self.multicast_index.entry(key).or_insert_with(|| {
            self.multicast.push(MulticastFlow {
                group: packet.dst,
                source: packet.src,
                ttls: Vec::new(),
                ids: Vec::new(),
                datagrams: 0,
            });
            self.multicast.len() - 1
        });
        let flow = &mut self.multicast[at];
        flow.datagrams += 1;
        if !flow.ttls.contains(&packet.ttl) {
            flow.ttls.push(packet.ttl);
        }
        let text = match Frame::parse(payload) {
            Ok(frame) => {
                let id = frame.id.to_string();
                if !flow.ids.contains(&id) {
                    flow.ids.push(id.clone());
                }
                let shown = preview(frame.text.as_bytes());
                format!(
                    "multicast to group {} from {}, TTL {}: id {id}, text {shown}",
                    packet.dst.ip(),
                    packet.src,
                    packet.ttl
                )
            }
            Err(e) => format!(
                "multicast to group {}, TTL {}: not a lab frame ({e})",
                packet.dst.ip(),
                packet.ttl
            ),
        };
        record.meaning.push(text);
    }
}
