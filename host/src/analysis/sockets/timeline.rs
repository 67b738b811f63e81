//! From samples of the socket table to a timeline: which tracked sockets
//! appeared, changed state or went away between two samples, and which
//! states they may have passed through unseen. No I/O: the caller samples
//! the table and looks owners up.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use super::owners::Owner;
use super::state::{TcpState, missed};
use super::table::SocketRow;

/// Which sockets to follow.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Sockets with one of these as their local or peer port.
    pub ports: Vec<u16>,
}

/// One change in the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Since the first sample.
    pub time: Duration,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// `None`: not there before.
    pub from: Option<TcpState>,
    /// `None`: gone (closed).
    pub to: Option<TcpState>,
    pub recv_q: u32,
    pub send_q: u32,
    pub owner: Option<Owner>,
    /// States passed through between the two samples, unseen.
    pub missed: Vec<TcpState>,
}

/// A peer address for a listening socket: any.
fn shown_peer(addr: &SocketAddr) -> String {
    match addr.port() {
        0 => match addr {
            SocketAddr::V4(_) => "*:*".into(),
            SocketAddr::V6(_) => "[::]:*".into(),
        },
        _ => addr.to_string(),
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.to {
            Some(s) => s.name(),
            None => "closed",
        };
        let mut line = format!(
            "{:>9.3}  {:<22} {:<22} {:<12} Recv-Q {:<5} Send-Q {:<6}",
            self.time.as_secs_f64(),
            self.local.to_string(),
            shown_peer(&self.peer),
            state,
            self.recv_q,
            self.send_q
        );
        if let Some(owner) = &self.owner {
            line.push_str(&format!(" {owner}"));
        }
        if !self.missed.is_empty() {
            let names: Vec<&str> = self.missed.iter().map(|s| s.name()).collect();
            line.push_str(&format!(
                "  (after {}, too short to be seen)",
                names.join(", ")
            ));
        }
        f.write_str(line.trim_end())
    }
}

/// What a connection first seen in `state` went through before it could be
/// seen: it was ESTABLISHED first, unless it is still opening.
fn unseen_start(state: TcpState) -> Vec<TcpState> {
    use TcpState::*;
    match state {
        Listen | SynSent | SynRecv | Established | Close => Vec::new(),
        later => {
            let mut path = vec![Established];
            path.extend(missed(Some(Established), Some(later)));
            path
        }
    }
}

/// A socket by its addresses; a listener's inode too (two listeners can
/// share an address with SO_REUSEPORT).
type Key = (SocketAddr, SocketAddr, u32);

fn key(row: &SocketRow) -> Key {
    match row.state {
        TcpState::Listen => (row.local, row.peer, row.inode),
        _ => (row.local, row.peer, 0),
    }
}

#[derive(Debug, Clone)]
struct Known {
    state: TcpState,
    owner: Option<Owner>,
}

/// The sockets followed so far.
#[derive(Debug, Default)]
pub struct Timeline {
    filter: Filter,
    known: HashMap<Key, Known>,
    owners: HashMap<u32, Owner>,
    /// Inodes looked up without finding an owner: not looked up again.
    ownerless: HashSet<u32>,
    /// A sample was taken: sockets seen from now on are new.
    started: bool,
}

impl Timeline {
    pub fn new(filter: Filter) -> Timeline {
        Timeline {
            filter,
            ..Timeline::default()
        }
    }

    /// Every socket seen from the first sample on is new (a command's
    /// sockets cannot predate it).
    pub fn all_new(&mut self) {
        self.started = true;
    }

    /// Sockets being followed now.
    pub fn followed(&self) -> usize {
        self.known.len()
    }

    /// Inodes of `rows` the timeline would follow but has no owner for.
    pub fn unknown_owners(&self, rows: &[SocketRow], wanted: Option<&HashSet<u32>>) -> Vec<u32> {
        rows.iter()
            .filter(|r| r.inode != 0 && !self.owners.contains_key(&r.inode))
            .filter(|r| !self.ownerless.contains(&r.inode))
            .filter(|r| self.follows(r, wanted))
            .map(|r| r.inode)
            .collect()
    }

    /// Owners found for inodes.
    pub fn learn_owners(&mut self, found: HashMap<u32, Owner>) {
        self.owners.extend(found);
    }

    /// `looked_up` were searched for: those without an owner stay unknown.
    pub fn settle_owners(&mut self, looked_up: &[u32]) {
        for inode in looked_up {
            if !self.owners.contains_key(inode) {
                self.ownerless.insert(*inode);
            }
        }
    }

    fn follows(&self, row: &SocketRow, wanted: Option<&HashSet<u32>>) -> bool {
        self.known.contains_key(&key(row))
            || self.filter.ports.contains(&row.local.port())
            || self.filter.ports.contains(&row.peer.port())
            || wanted.is_some_and(|w| row.inode != 0 && w.contains(&row.inode))
    }

    /// One sample at `time`; `wanted`: inodes of the watched command's
    /// processes, if one is watched. The changes since the last sample.
    pub fn handle_sample(
        &mut self,
        time: Duration,
        rows: &[SocketRow],
        wanted: Option<&HashSet<u32>>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut present: HashSet<Key> = HashSet::new();
        for row in rows {
            if !self.follows(row, wanted) {
                continue;
            }
            let k = key(row);
            present.insert(k);
            let owner = self.owners.get(&row.inode).cloned();
            let before = self.known.get(&k).map(|known| known.state);
            if before == Some(row.state) {
                continue;
            }
            let owner = owner.or_else(|| self.known.get(&k).and_then(|known| known.owner.clone()));
            changes.push(Change {
                time,
                local: row.local,
                peer: row.peer,
                from: before,
                to: Some(row.state),
                recv_q: row.recv_q,
                send_q: row.send_q,
                owner: owner.clone().filter(|_| row.inode != 0),
                missed: match (before, self.started) {
                    (Some(_), _) => missed(before, Some(row.state)),
                    // What was there at the start is not new.
                    (None, false) => Vec::new(),
                    (None, true) => unseen_start(row.state),
                },
            });
            self.known.insert(
                k,
                Known {
                    state: row.state,
                    owner,
                },
            );
        }
        self.started = true;
        let gone: Vec<Key> = self
            .known
            .keys()
            .filter(|k| !present.contains(*k))
            .copied()
            .collect();
        for k in gone {
            if let Some(known) = self.known.remove(&k) {
                changes.push(Change {
                    time,
                    local: k.0,
                    peer: k.1,
                    from: Some(known.state),
                    to: None,
                    recv_q: 0,
                    send_q: 0,
                    owner: None,
                    missed: missed(Some(known.state), None),
                });
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(local: &str, peer: &str, state: TcpState, inode: u32) -> SocketRow {
        SocketRow {
            local: local.parse().expect("address"),
            peer: peer.parse().expect("address"),
            state,
            recv_q: 0,
            send_q: 0,
            inode,
        }
    }

    #[test]
    fn the_handout_s_session_as_a_timeline() {
        use TcpState::*;
        let mut t = Timeline::new(Filter { ports: vec![5002] });
        let at = Duration::from_millis;
        let listen = row("127.0.0.1:5002", "0.0.0.0:0", Listen, 7);
        let other = row("127.0.0.1:8080", "0.0.0.0:0", Listen, 9);
        let c = t.handle_sample(at(0), &[listen.clone(), other.clone()], None);
        assert_eq!(c.len(), 1, "only port 5002 is followed");
        assert_eq!(c[0].to, Some(Listen));
        let server = |s| row("127.0.0.1:5002", "127.0.0.1:40000", s, 11);
        let client = |s| row("127.0.0.1:40000", "127.0.0.1:5002", s, 12);
        let c = t.handle_sample(
            at(5),
            &[listen.clone(), server(Established), client(Established)],
            None,
        );
        assert_eq!(c.len(), 2);
        // The server closed: FIN-WAIT-1 went by between samples.
        let c = t.handle_sample(
            at(10),
            &[listen.clone(), server(FinWait2), client(CloseWait)],
            None,
        );
        assert_eq!(c[0].to, Some(FinWait2));
        assert_eq!(c[0].missed, [FinWait1]);
        assert!(
            c[0].to_string()
                .contains("(after FIN-WAIT-1, too short to be seen)")
        );
        assert_eq!(c[1].to, Some(CloseWait));
        assert!(c[1].missed.is_empty());
        // The client closed: the server's side is in TIME-WAIT, the client's gone.
        let c = t.handle_sample(at(20), &[listen.clone(), server(TimeWait)], None);
        // (A socket first seen in TIME-WAIT says what it must have been.)
        assert_eq!(unseen_start(TimeWait), [Established, FinWait1]);
        assert_eq!(unseen_start(CloseWait), [Established]);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].to, Some(TimeWait));
        assert_eq!(c[1].to, None);
        assert_eq!(c[1].local.port(), 40000);
        assert!(c[1].to_string().contains("closed"));
        // Unchanged: nothing to say.
        assert!(
            t.handle_sample(at(30), &[listen, server(TimeWait)], None)
                .is_empty()
        );
        assert_eq!(t.followed(), 2);
    }

    #[test]
    fn a_command_s_sockets_are_followed_after_their_process_lets_go() {
        use TcpState::*;
        let mut t = Timeline::new(Filter::default());
        assert!(t.handle_sample(Duration::ZERO, &[], None).is_empty());
        let wanted: HashSet<u32> = [21].into();
        let mine = row("127.0.0.1:41000", "127.0.0.1:9000", Established, 21);
        let theirs = row("127.0.0.1:41001", "127.0.0.1:9000", Established, 22);
        let c = t.handle_sample(Duration::ZERO, &[mine, theirs], Some(&wanted));
        assert_eq!(c.len(), 1);
        // In TIME-WAIT no file refers to it (inode 0): still followed.
        let waiting = row("127.0.0.1:41000", "127.0.0.1:9000", TimeWait, 0);
        let c = t.handle_sample(Duration::from_millis(1), &[waiting], Some(&wanted));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].missed, [FinWait1]);
    }
}
