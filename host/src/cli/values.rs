//! Parsing and checking what a user types, in one place: each function is
//! a clap value parser that turns text into a typed value or a sentence
//! saying what is wrong with it.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use pmulab_core::stream::session::MessageCount;

/// A positive number of seconds, as a duration. A number too large to
/// show in full is echoed as written, not as hundreds of digits.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let shown = short(text);
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{shown} is not a number of seconds; use e.g. 2 or 0.5"))?;
    // NaN compares false both ways, so it is refused here too.
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("{shown} seconds: it must be more than 0"));
    }
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{shown} seconds is too long to wait; use a smaller number"))
}

/// A nominal line frequency: 50 or 60 (Hz).
pub fn nominal(text: &str) -> Result<u16, String> {
    match text.trim() {
        "50" => Ok(50),
        "60" => Ok(60),
        _ => Err(format!(
            "{} Hz is not a grid's nominal frequency: 50 or 60",
            short(text)
        )),
    }
}

/// A C37.118 station name: at most 16 ASCII characters.
pub fn station(text: &str) -> Result<String, String> {
    match text.is_ascii() && !text.is_empty() && text.len() <= 16 {
        true => Ok(text.to_string()),
        false => Err(format!(
            "{} is not a station name: 1 to 16 ASCII characters",
            short(text)
        )),
    }
}

/// A browser origin as pages send it (`http://host:port`, `https://host`),
/// or `*` for any.
pub fn origin(text: &str) -> Result<String, String> {
    let shown = short(text);
    let text = text.trim().trim_end_matches('/');
    let host = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    match host {
        _ if text == "*" => Ok(text.to_string()),
        Some(host) if !host.is_empty() && !host.contains(['/', ' ', '?', '#']) => {
            Ok(text.to_string())
        }
        _ => Err(format!(
            "{shown} is not an origin; use e.g. http://127.0.0.1:8000 (scheme, host and port, no path), or '*'"
        )),
    }
}

/// `K/N`: the K-th of N shards, 1 ≤ K ≤ N.
pub fn shard(text: &str) -> Result<(u32, u32), String> {
    let shown = short(text);
    let (k, n) = text
        .split_once('/')
        .and_then(|(k, n)| Some((k.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?)))
        .ok_or_else(|| format!("{shown} is not K/N; use e.g. 3/8 for the third of eight shards"))?;
    match (k, n) {
        (1.., 1..) if k <= n => Ok((k, n)),
        _ => Err(format!("{shown}: K must be 1 to N, and N at least 1")),
    }
}

/// `text`, cut to 40 characters.
fn short(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Messages per `CMD_short`: `15`, `random` (2–17, as the course's scorer
/// varied it) or a range `5-20`.
pub fn count(text: &str) -> Result<MessageCount, String> {
    if text == "random" {
        return Ok(MessageCount::Random { min: 2, max: 17 });
    }
    let number = |s: &str| {
        s.trim().parse::<u32>().map_err(|_| {
            format!("{s:?} is not a count; use a number, `random` or a range such as 5-20")
        })
    };
    match text.split_once('-') {
        Some((lo, hi)) => {
            let (min, max) = (number(lo)?, number(hi)?);
            if min > max {
                return Err(format!("range {min}-{max} is empty"));
            }
            Ok(MessageCount::Random { min, max })
        }
        None => Ok(MessageCount::Fixed(number(text)?)),
    }
}

/// A count as `count` reads it back: `15`, or a range `2-17`.
pub fn count_text(count: MessageCount) -> String {
    match count {
        MessageCount::Fixed(n) => n.to_string(),
        MessageCount::Random { min, max } => format!("{min}-{max}"),
    }
}

/// A probability, from 0 to 1.
pub fn probability(text: &str) -> Result<f64, String> {
    let p: f64 = text
        .parse()
        .map_err(|_| format!("{} is not a number", short(text)))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

/// An address to listen on: an IP address (`[::1]` too) or a name this
/// machine resolves (`localhost`: its IPv4 address first).
pub fn bind(text: &str) -> Result<IpAddr, String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = bare.parse() {
        return Ok(ip);
    }
    let addrs: Vec<SocketAddr> = (bare, 0)
        .to_socket_addrs()
        .map_err(|e| format!("{text:?} is not an address, nor a name this machine resolves ({e})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .map(|a| a.ip())
        .ok_or_else(|| format!("{text:?} has no address"))
}

/// A port to send to or connect to: 1 to 65535 (0 only means "any" when listening).
pub fn connect_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => {
            Err("port 0 cannot be reached: it means \"any free port\" only when listening".into())
        }
        Ok(port) => Ok(port),
        Err(_) => Err(format!("{} is not a port (1 to 65535)", short(text))),
    }
}

/// A count that must be at least 1.
pub fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("it must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{} is not a whole number", short(text))),
    }
}

/// Which families the UDP reset PMU answers on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyChoice {
    /// IPv4 only.
    #[value(name = "4")]
    V4,
    /// IPv6 only.
    #[value(name = "6")]
    V6,
    /// IPv4 and IPv6.
    Both,
    /// One at a time, switching every period, as the course's server did by time of day.
    Alternate,
}

impl FamilyChoice {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FamilyChoice::V4 => "4",
            FamilyChoice::V6 => "6",
            FamilyChoice::Both => "both",
            FamilyChoice::Alternate => "alternate",
        }
    }
}

/// What `load` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// Part 2: the TCP PMU.
    Tcp,
    /// Part 5: the TLS PMU.
    Tls,
    /// Part 6: the WebSocket PMU.
    Ws,
    /// Part 3: the UDP reset PMU.
    Udp,
}

impl Protocol {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Ws => "ws",
            Protocol::Udp => "udp",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_their_refusals() {
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(seconds("0").is_err());
        assert!(seconds("-1").is_err());
        let huge = seconds("1e300").unwrap_err();
        assert!(huge.contains("1e300") && huge.len() < 80, "{huge}");
        let long = "9".repeat(300);
        assert!(seconds(&long).unwrap_err().len() < 100);
        assert_eq!(
            count("random"),
            Ok(MessageCount::Random { min: 2, max: 17 })
        );
        assert_eq!(count("5-20"), Ok(MessageCount::Random { min: 5, max: 20 }));
        assert_eq!(
            count(&count_text(MessageCount::Fixed(7))),
            Ok(MessageCount::Fixed(7))
        );
        assert!(count("7-3").is_err());
        assert!(probability("1.5").is_err());
        assert_eq!(bind("[::1]"), Ok(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])));
        assert!(connect_port("0").is_err());
        assert!(at_least_one("0").is_err());
    }
}
/// Which program of a part `grade` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GradeRole {
    /// Part 4: the receiver, `PROGRAM <group> <port>`.
    Receiver,
    /// Part 4: the sender, `PROGRAM <group> <port> <sciper>`.
    Sender,
    /// Part 5: the secure PMU, `PROGRAM <port> <certificate> <key>`.
    Pmu,
    /// Part 5: a TLS PDC, `PROGRAM <command> <ca-certificate> --port <port>`.
    Pdc,
}

impl GradeRole {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GradeRole::Receiver => "receiver",
            GradeRole::Sender => "sender",
            GradeRole::Pmu => "pmu",
            GradeRole::Pdc => "pdc",
        }
    }
}
