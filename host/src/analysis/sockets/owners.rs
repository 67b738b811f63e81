//! Who owns a socket: the process whose file descriptors hold its inode,
//! found the way `ss -p` finds it, by reading /proc/PID/fd.

use std::collections::HashMap;

/// A process, as shown next to its sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub name: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {})", self.name, self.pid)
    }
}

/// Socket inodes of `pids` (or of every process when `pids` is `None`)
/// and their owners. Processes that cannot be read are skipped.
pub fn socket_owners(pids: Option<&[u32]>) -> HashMap<u32, Owner> {
    let mut owners = HashMap::new();
    let all: Vec<u32>;
    let pids = match pids {
        Some(p) => p,
        None => {
            all = std::fs::read_dir("/proc")
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter_map(|e| e.file_name().to_str()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            &all
        }
    };
    for &pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|n| n.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                owners.entry(inode).or_insert_with(|| Owner {
                    pid,
                    name: name.clone(),
                });
            }
        }
    }
    owners
}

/// `pid` and its descendants, from /proc/PID/task/*/children.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() && tree.len() < 4096 {
        let p = tree[i];
        i += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.filter_map(Result::ok) {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                if !tree.contains(&child) {
                    tree.push(child);
                }
            }
        }
    }
    tree
}
