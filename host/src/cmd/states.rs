//! `pmulab states`: part 1.2's `ss` experiment as a timeline — every
//! change of state of the followed TCP sockets, with their queues and
//! owners, and which states went by too fast to be seen.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::analysis::sockets::owners::{process_tree, socket_owners};
use crate::analysis::sockets::table::SocketTable;
use crate::analysis::sockets::timeline::{Change, Filter, Timeline};
use crate::cli::StatesArgs;
use crate::lab::launch::spawn_watched;
use crate::ui::failure::Failure;
use crate::ui::output::{say, tell};

/// Changes printed from one sample; the rest are counted.
const SHOWN_PER_SAMPLE: usize = 20;
/// Reading the table takes at most 1/BUSY_SHARE of the time (the kernel
/// walks its whole connection hash for each read, about a millisecond
/// here; thousands of TIME-WAIT sockets make it longer): a big table slows
/// the sampling, not the machine.
const BUSY_SHARE: u32 = 3;
/// Owners of new sockets are looked up at most this often.
const OWNER_SCAN: Duration = Duration::from_millis(50);
/// After the command ends, its last sockets still change.
const GRACE: Duration = Duration::from_millis(200);

fn show(change: &Change, json: bool) -> Result<(), Failure> {
    match json {
        true => say!(
            "{}",
            serde_json::json!({
                "time": change.time.as_secs_f64(),
                "local": change.local.to_string(),
                "peer": change.peer.to_string(),
                "from": change.from.map(|s| s.name()),
                "state": change.to.map_or("closed", |s| s.name()),
                "recv_q": change.recv_q,
                "send_q": change.send_q,
                "owner": change.owner.as_ref().map(ToString::to_string),
                "missed": change.missed.iter().map(|s| s.name()).collect::<Vec<_>>(),
            })
        ),
        false => say!("{change}"),
    }
}

pub fn run(args: StatesArgs) -> Result<(), Failure> {
    if args.ports.is_empty() && args.command.is_empty() {
        return Err(Failure::usage(
            "say which sockets to follow: --port P (e.g. --port 5002), or a command after --",
        ));
    }
    let mut table = SocketTable::open().map_err(|e| {
        Failure::runtime(format!(
            "cannot read the socket table (netlink sock_diag): {e}"
        ))
    })?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let on_interrupt = interrupted.clone();
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    let mut timeline = Timeline::new(Filter {
        ports: args.ports.clone(),
    });
    let ports: Vec<String> = args.ports.iter().map(u16::to_string).collect();
    let what = match (ports.is_empty(), args.command.is_empty()) {
        (false, true) => format!("TCP sockets on port {}", ports.join(", ")),
        (true, false) => "the command's TCP sockets".into(),
        _ => format!("TCP sockets on port {} and the command's", ports.join(", ")),
    };
    if !args.command.is_empty() {
        timeline.all_new();
    }
    tell!(
        "pmulab states: {what}, every {} ms{}",
        args.interval.as_millis(),
        match args.command.is_empty() {
            true => "; Ctrl-C stops",
            false => "",
        }
    );
    let mut child = match args.command.is_empty() {
        true => None,
        false => Some(spawn_watched(&args.command, &[])?),
    };
    let start = Instant::now();
    let mut last_scan: Option<Instant> = None;
    let mut samples = 0u64;
    let mut widest = Duration::ZERO;
    let mut previous: Option<Instant> = None;
    let mut ended_at: Option<Instant> = None;
    let mut exit_code = None;
    let mut changes_seen = 0u64;
    loop {
        if interrupted.load(Ordering::Relaxed)
            || args.duration.is_some_and(|d| start.elapsed() >= d)
            || ended_at.is_some_and(|t| t.elapsed() >= GRACE)
        {
            break;
        }
        if let Some(c) = child.as_mut()
            && ended_at.is_none()
            && let Ok(Some(status)) = c.try_wait()
        {
            exit_code = status.code();
            ended_at = Some(Instant::now());
        }
        let sampled = Instant::now();
        if let Some(p) = previous {
            widest = widest.max(sampled - p);
        }
        previous = Some(sampled);
        let rows = table
            .dump()
            .map_err(|e| Failure::runtime(format!("reading the socket table: {e}")))?;
        samples += 1;
        // The command's own sockets, by the inodes its processes hold.
        let wanted: Option<HashSet<u32>> = child.as_ref().filter(|_| ended_at.is_none()).map(|c| {
            let owners = socket_owners(Some(&process_tree(c.id())));
            let inodes = owners.keys().copied().collect();
            timeline.learn_owners(owners);
            inodes
        });
        let unknown = timeline.unknown_owners(&rows, wanted.as_ref());
        if !unknown.is_empty() && last_scan.is_none_or(|t| t.elapsed() >= OWNER_SCAN) {
            timeline.learn_owners(socket_owners(None));
            timeline.settle_owners(&unknown);
            last_scan = Some(Instant::now());
        }
        let changes = timeline.handle_sample(start.elapsed(), &rows, wanted.as_ref());
        changes_seen += changes.len() as u64;
        for change in changes.iter().take(SHOWN_PER_SAMPLE) {
            show(change, args.json)?;
        }
        if changes.len() > SHOWN_PER_SAMPLE && !args.json {
            let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
            for c in &changes[SHOWN_PER_SAMPLE..] {
                *by_state
                    .entry(c.to.map_or("closed", |s| s.name()))
                    .or_default() += 1;
            }
            let counts: Vec<String> = by_state.iter().map(|(s, n)| format!("{n} {s}")).collect();
            say!(
                "          … and {} more changes in this sample: {}",
                changes.len() - SHOWN_PER_SAMPLE,
                counts.join(", ")
            )?;
        }
        let cost = sampled.elapsed();
        std::thread::sleep(args.interval.max(cost * BUSY_SHARE).saturating_sub(cost));
    }
    if let Some(mut c) = child.take()
        && ended_at.is_none()
    {
        let _ = c.kill();
        let _ = c.wait();
    }
    tell!(
        "pmulab states: {samples} samples, at most {:.1} ms apart (a state shorter than that can pass unseen; the lines say when one did); {changes_seen} changes; {} sockets still followed at the end",
        widest.as_secs_f64() * 1000.0,
        timeline.followed()
    );
    if interrupted.load(Ordering::Relaxed) {
        return Err(Failure::interrupted());
    }
    match exit_code {
        Some(0) | None => Ok(()),
        Some(code) => Err(Failure {
            code: u8::try_from(code).unwrap_or(1),
            message: format!("the command exited with status {code}"),
        }),
    }
}
