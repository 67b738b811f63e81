//! TCP's states (RFC 9293 §3.3.2, with Linux's numbering) and which ones
//! a sampled timeline may have missed between two samples.

use std::collections::VecDeque;

/// A TCP socket's state, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
}

impl TcpState {
    /// From Linux's `TCP_*` number (include/net/tcp_states.h).
    pub fn from_linux(n: u8) -> Option<TcpState> {
        Some(match n {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 | 12 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            _ => return None,
        })
    }

    /// The name `ss` prints (with ESTABLISHED spelled out).
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }

    /// The states one segment or one call can lead to (a reset, to closed,
    /// is left out: it says nothing about what was missed).
    fn next(self) -> &'static [Option<TcpState>] {
        use TcpState::*;
        match self {
            Listen => &[Some(SynRecv), None],
            SynSent => &[Some(Established), Some(SynRecv)],
            SynRecv => &[Some(Established), Some(FinWait1)],
            Established => &[Some(FinWait1), Some(CloseWait)],
            FinWait1 => &[Some(FinWait2), Some(Closing), Some(TimeWait)],
            FinWait2 => &[Some(TimeWait)],
            Closing => &[Some(TimeWait)],
            CloseWait => &[Some(LastAck)],
            LastAck => &[None],
            TimeWait => &[None],
            Close => &[None],
        }
    }
}

impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The states a socket went through unseen between `from` and `to`
/// (`None`: not there, closed), on the shortest way the state machine
/// allows. Empty when `to` follows `from` directly, or by a reset.
pub fn missed(from: Option<TcpState>, to: Option<TcpState>) -> Vec<TcpState> {
    let Some(from) = from else {
        return Vec::new();
    };
    // A reset may close a socket from any state.
    if to.is_none() && !matches!(from, TimeWait | LastAck) {
        return Vec::new();
    }
    use TcpState::*;
    let mut queue = VecDeque::from([(from, Vec::new())]);
    let mut seen = vec![from];
    while let Some((state, path)) = queue.pop_front() {
        for &next in state.next() {
            if next == to {
                return path;
            }
            if let Some(n) = next
                && !seen.contains(&n)
            {
                seen.push(n);
                let mut longer = path.clone();
                longer.push(n);
                queue.push_back((n, longer));
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::TcpState::*;
    use super::*;

    #[test]
    fn the_states_between_two_samples_are_named() {
        assert_eq!(missed(Some(Established), Some(FinWait2)), [FinWait1]);
        assert_eq!(missed(Some(Established), Some(TimeWait)), [FinWait1]);
        assert_eq!(missed(Some(Established), Some(LastAck)), [CloseWait]);
        assert_eq!(missed(Some(FinWait2), Some(TimeWait)), []);
        assert_eq!(missed(Some(CloseWait), None), []);
        assert_eq!(missed(Some(TimeWait), None), []);
        assert_eq!(missed(None, Some(Established)), []);
        assert_eq!(
            missed(Some(SynSent), Some(FinWait2)),
            [Established, FinWait1]
        );
    }
}
