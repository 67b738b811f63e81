//! What a capture shows, connection by connection, in the words of the
//! lab's questions: how many segments carried the messages, how many pure
//! ACKs, who closed first, which TLS version and certificate, how many
//! frames each WebSocket message took, the multicast TTL, the losses.

use std::fmt::Write as _;

use pmulab_core::stream::command::Command;

use super::Counts;
use super::Side;
use super::tcp::{Conversations, Reader};
use super::text::thousands;
use super::udp::UdpTraffic;

/// The summary, ready to print.
#[derive(Debug, Clone)]
pub struct Summary {
    pub counts: Counts,
    /// One block of lines per connection or flow.
    pub sections: Vec<Vec<String>>,
}

/// "1 ×3, 2" from [1, 1, 1, 2]: runs of equal counts.
fn runs(values: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let v = values[i];
        let mut n = 1;
        while i + n < values.len() && values[i + n] == v {
            n += 1;
        }
        out.push(match n {
            1 => v.to_string(),
            _ => format!("{v} ×{n}"),
        });
        i += n;
    }
    out.join(", ")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        _ => format!("{} {many}", thousands(n)),
    }
}

impl Summary {
    pub fn of(counts: Counts, tcp: &Conversations, udp: &UdpTraffic) -> Summary {
        let mut sections = Vec::new();
        for c in &tcp.list {
            let (client_name, server_name) = c.names();
            let mut lines = Vec::new();
            let what = match &c.reader {
                Reader::Pmu(r) if r.is_echo() => "echo".to_string(),
                Reader::Pmu(r) => match r.command {
                    Some(Command::Short { interval }) => {
                        format!("CMD_short:{}", interval.as_secs())
                    }
                    Some(Command::Floodme) => "CMD_floodme".into(),
                    None => "no command".into(),
                },
                Reader::Tls(_) => "TLS".into(),
                Reader::Ws(_) => "WebSocket".into(),
                Reader::Unknown => "no data".into(),
            };
            lines.push(format!(
                "TCP {} ({client_name}) → {} ({server_name}): {what}",
                c.client, c.server
            ));
            let s = &c.stats;
            let teardown = match s.first_fin {
                Some(Side::Client) => format!("the {client_name} closed first"),
                Some(Side::Server) => format!("the {server_name} closed first"),
                None if s.resets > 0 => "ended by a reset".into(),
                None => "not closed in the capture".into(),
            };
            lines.push(format!(
                "  {} segments; handshake {}; {teardown}{}",
                s.segments,
                if s.handshake_seen { "seen" } else { "not seen" },
                match s.resets {
                    0 => String::new(),
                    n => format!("; {}", plural(n, "reset", "resets")),
                }
            ));
            lines.push(format!(
                "  data segments: {client_name} {}, {server_name} {}; largest {} and {} bytes; pure ACKs: {client_name} {}, {server_name} {}; retransmissions {}",
                s.data_segments[0],
                s.data_segments[1],
                s.largest[0],
                s.largest[1],
                s.pure_acks[0],
                s.pure_acks[1],
                s.retransmissions
            ));
            match &c.reader {
                Reader::Pmu(r) if !r.is_echo() => {
                    if r.flood_segments > 0 {
                        lines.push(format!(
                            "  floodme: {} bytes in {}",
                            thousands(r.flood_bytes),
                            plural(r.flood_segments, "data segment", "data segments")
                        ));
                    }
                    if !r.messages_per_segment.is_empty() || r.messages_complete > 0 {
                        lines.push(format!(
                            "  {} in {} (messages per segment: {})",
                            plural(u64::from(r.messages_complete), "message", "messages"),
                            plural(
                                r.messages_per_segment.len() as u64,
                                "data segment",
                                "data segments"
                            ),
                            runs(&r.messages_per_segment)
                        ));
                    }
                    if let Some(other) = &r.other {
                        lines.push(format!("  the {server_name} sent {other}"));
                    }
                }
                Reader::Tls(t) => {
                    lines.push(format!(
                        "  TLS: {} with {}; the {client_name} offered {} ({} suites){}",
                        t.version.as_deref().unwrap_or("no ServerHello seen"),
                        t.suite.as_deref().unwrap_or("?"),
                        match t.offered_versions.is_empty() {
                            true => "nothing seen".to_string(),
                            false => t.offered_versions.join(", "),
                        },
                        t.offered_suites,
                        match &t.server_name {
                            Some(name) => format!(", server name {name}"),
                            None => String::new(),
                        }
                    ));
                    match (t.certificates.is_empty(), t.version.as_deref()) {
                        (false, _) => {
                            for (i, cert) in t.certificates.iter().enumerate() {
                                lines.push(format!("  certificate {}: {cert}", i + 1));
                            }
                        }
                        (true, Some("TLS 1.3")) => lines.push(
                            "  certificates: encrypted in TLS 1.3 (Wireshark shows them with the key log: capture -w keeps it)"
                                .into(),
                        ),
                        _ => {}
                    }
                    if !t.handshake.is_empty() {
                        lines.push(format!("  handshake in clear: {}", t.handshake.join(", ")));
                    }
                    lines.push(format!(
                        "  application data: {client_name} {} ({} bytes), {server_name} {} ({} bytes)",
                        plural(t.app_records[0], "record", "records"),
                        thousands(t.app_bytes[0]),
                        plural(t.app_records[1], "record", "records"),
                        thousands(t.app_bytes[1])
                    ));
                    if !t.alerts.is_empty() {
                        lines.push(format!("  alerts: {}", t.alerts.join(", ")));
                    }
                }
                Reader::Ws(w) => {
                    if let Some(request) = &w.request {
                        lines.push(format!("  {request}"));
                    }
                    lines.push(format!(
                        "  upgrade answered: {}",
                        match w.status {
                            Some(code) => format!("HTTP {code}"),
                            None => "not seen".into(),
                        }
                    ));
                    for (dir, name) in [(0, client_name), (1, server_name)] {
                        let messages = &w.frames_per_message[dir];
                        if w.frames[dir] == 0 {
                            continue;
                        }
                        lines.push(format!(
                            "  {name}: {} in {} ({} masked); frames per message: {}{}",
                            plural(messages.len() as u64, "message", "messages"),
                            plural(w.frames[dir], "frame", "frames"),
                            w.masked[dir],
                            match messages.is_empty() {
                                true => "-".into(),
                                false => runs(messages),
                            },
                            match w.close_codes[dir] {
                                Some(code) => format!("; close code {code}"),
                                None => String::new(),
                            }
                        ));
                    }
                }
                _ => {}
            }
            sections.push(lines);
        }
        // A few clients one by one; many (the lab's experiment) in sum.
        let mut servers: Vec<std::net::SocketAddr> = Vec::new();
        for r in &udp.resets {
            if !servers.contains(&r.server) {
                servers.push(r.server);
            }
        }
        for server in servers {
            let clients: Vec<_> = udp.resets.iter().filter(|r| r.server == server).collect();
            let family = match server {
                std::net::SocketAddr::V4(_) => "IPv4",
                std::net::SocketAddr::V6(_) => "IPv6",
            };
            if clients.len() > 3 {
                let requests: u32 = clients.iter().map(|r| r.requests).sum();
                let answers: u32 = clients.iter().map(|r| r.answers).sum();
                let unanswered: u32 = clients.iter().map(|r| r.unanswered).sum();
                let share = match requests {
                    0 => 0.0,
                    n => 100.0 * f64::from(unanswered) / f64::from(n),
                };
                sections.push(vec![
                    format!("UDP resets to {server} ({family}): {} clients", clients.len()),
                    format!(
                        "  {}, {}; {unanswered} requests ({share:.0} %) got no answer before the next",
                        plural(u64::from(requests), "request", "requests"),
                        plural(u64::from(answers), "answer", "answers"),
                    ),
                ]);
                continue;
            }
            for r in clients {
                let offsets: Vec<String> =
                    r.offsets.iter().map(|o| format!("OFFSET={o}")).collect();
                sections.push(vec![
                    format!("UDP {} → {} ({family}): reset", r.client, r.server),
                    format!(
                        "  {}, {}{}; {} without an answer before the next",
                        plural(u64::from(r.requests), "request", "requests"),
                        plural(u64::from(r.answers), "answer", "answers"),
                        match offsets.is_empty() {
                            true => String::new(),
                            false => format!(" ({})", offsets.join(", ")),
                        },
                        r.unanswered
                    ),
                ]);
            }
        }
        for m in &udp.multicast {
            let ttls: Vec<String> = m.ttls.iter().map(u8::to_string).collect();
            sections.push(vec![
                format!("UDP multicast to {} from {}", m.group, m.source),
                format!(
                    "  {}; TTL {}; ids {}",
                    plural(m.datagrams, "datagram", "datagrams"),
                    ttls.join(", "),
                    m.ids.join(", ")
                ),
            ]);
        }
        Summary { counts, sections }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counts;
        let mut head = format!("{} of the lab's", plural(c.lab, "packet", "packets"));
        if c.other > 0 {
            let _ = write!(head, "; {} other", thousands(c.other));
        }
        if c.malformed > 0 {
            let _ = write!(head, "; {} that could not be read", thousands(c.malformed));
        }
        writeln!(f, "{head}")?;
        for section in &self.sections {
            for line in section {
                writeln!(f, "{line}")?;
            }
        }
        Ok(())
    }
}
