//! `pmulab ws-pmu`: the course's WebSocket PMU (lab part 6): core's PMU
//! server on the same serve loop as `pmu` and `secure-pmu`, over the
//! WebSocket stack, which only frames what core's session says.

use crate::cli::WsPmuArgs;
use crate::failure::Failure;
use crate::log::Log;
use crate::net::ws::stack::{AUTO_FRAGMENT, WsSettings, WsStack};
use crate::net::{HostClock, StdStack};

use super::pmu::{serve_failure, session_settings, started_line};

/// Runs the server until killed.
pub fn run(args: WsPmuArgs, log: &Log) -> Result<(), Failure> {
    let (config, mut limits) = session_settings(&args.session)?;
    limits.threads = args.loops.threads.map(usize::from);
    let settings = WsSettings {
        text: args.text,
        fragment: args.fragment.map_or(AUTO_FRAGMENT, |f| f as usize),
        max_message: args.max_message,
    };
    let kind = if args.text { "text" } else { "binary" };
    let frames = args
        .fragment
        .map(|f| format!(", floodme in frames of {f} bytes"))
        .unwrap_or_default();
    let clock = HostClock::new();
    let stack = WsStack::new(StdStack::new(args.bind, clock), settings);
    let started = |local: std::net::SocketAddr| {
        let about = format!("ws://{local}/, {kind} messages{frames}; ");
        started_line("pmulab ws-pmu", local, &about, &args.session)
    };
    crate::net::serve::serve_and_log(stack, clock, args.port, config, limits, log, started)
        .map_err(|e| serve_failure::<WsStack>(args.bind, args.port, e))
}
