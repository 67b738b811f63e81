//! Socket states over time, as `ss` shows them: the kernel's TCP socket
//! table read through netlink sock_diag ([`table`]), the TCP state machine
//! and the states a sample can miss ([`state`]), the changes between two
//! samples ([`timeline`]) and who owns a socket ([`owners`]).

pub mod owners;
pub mod state;
pub mod table;
pub mod timeline;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use timeline::{Change, Filter, Timeline};

/// A timeline of some ports' sockets taken in its own thread, for a caller
/// that runs the experiment meanwhile (`pmulab demo`).
#[derive(Debug)]
pub struct Watching {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Change>>,
}

impl Watching {
    /// Starts sampling `ports` every `interval`; the first sample is taken
    /// before this returns.
    pub fn start(ports: Vec<u16>, interval: Duration) -> std::io::Result<Watching> {
        let mut table = table::SocketTable::open()?;
        let mut timeline = Timeline::new(Filter { ports });
        let start = Instant::now();
        let mut changes = timeline.handle_sample(Duration::ZERO, &table.dump()?, None);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(interval);
                let Ok(rows) = table.dump() else { break };
                changes.extend(timeline.handle_sample(start.elapsed(), &rows, None));
            }
            changes
        });
        Ok(Watching { stop, thread })
    }

    /// Stops, and every change seen.
    pub fn stop(self) -> Vec<Change> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}
