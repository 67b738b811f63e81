//! The PMU application: core's TCP PMU (part 2) and UDP reset PMU
//! (part 3) on one [`SmolStack`], independent of any board.

use core::fmt;
use core::time::Duration;

use pmulab_core::lab;
use pmulab_core::nal::Park;
use pmulab_core::reset::responder::{Decision, FamilySchedule, ResponderConfig};
use pmulab_core::reset::server::{ResetServer, ResponderEvent};
use pmulab_core::rng::{Random, SplitMix64};
use pmulab_core::stream::flood::DEFAULT_FLOOD_BYTES;
use pmulab_core::stream::server::{PmuEvent, PmuServer};
use pmulab_core::stream::session::{MessageCount, SessionConfig};
use pmulab_core::time::{Clock, Instant, earliest};
use smoltcp::phy::Device;

use crate::nal::{Platform, SmolError, SmolStack};

/// The lab's TCP PMU port.
pub const PMU_PORT: u16 = lab::TCP_PMU_PORT;
/// The lab's UDP reset port.
pub const RESET_PORT: u16 = lab::UDP_RESET_PORT;

/// The lab's PMU sessions: 15 messages, the course's floodme, 10 s for a command.
pub const LAB_SESSION: SessionConfig = SessionConfig {
    count: MessageCount::DEFAULT,
    flood_bytes: DEFAULT_FLOOD_BYTES,
    command_timeout: Duration::from_secs(10),
};

/// The lab's reset PMU: 40 % of requests lost, IPv4 and IPv6 families.
pub const LAB_RESPONDER: ResponderConfig = ResponderConfig {
    loss: 0.4,
    schedule: FamilySchedule::Both,
};

/// The random counts' and losses' source, seeded from the board's MAC
/// address and start-up time. Not for secrets: a board without a TRNG.
pub fn seed(mac: &[u8; 6], clock: &impl Clock) -> SplitMix64 {
    let micros = clock.now().as_micros();
    SplitMix64::new(
        u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0])
            ^ micros.rotate_left(32),
    )
}

/// A MAC address as `52:54:00:12:34:56`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// What the application did, for the summary at exit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sessions that ended normally.
    pub done: u32,
    /// Sessions that ended on a network error.
    pub aborted: u32,
    /// Commands refused.
    pub refused: u32,
    /// Reset requests answered.
    pub reset_answers: u32,
}

impl Counts {
    /// Counts one event.
    pub fn add(&mut self, event: Event) {
        let counter = match event {
            Event::SessionDone => &mut self.done,
            Event::SessionAborted => &mut self.aborted,
            Event::Refused => &mut self.refused,
            Event::ResetAnswered => &mut self.reset_answers,
        };
        *counter += 1;
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u32| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} session{} ({} aborted, {} refused) and {} reset answer{}",
            self.done,
            plural(self.done),
            self.aborted,
            self.refused,
            self.reset_answers,
            plural(self.reset_answers)
        )
    }
}

/// What the application reports, for a console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A PDC session ended normally.
    SessionDone,
    /// A PDC session ended on a network error.
    SessionAborted,
    /// A command was refused with an `ERROR:` line.
    Refused,
    /// A reset request was answered.
    ResetAnswered,
}

/// Another service an image runs beside the lab's PMU, on the same stack
/// and loop (`()` for none).
pub trait Service<S> {
    /// Does what is due at `now` (the board's time).
    fn poll(&mut self, stack: &mut S, now: Instant);
    /// When it next has something to do, if it knows.
    fn poll_timeout(&self) -> Option<Instant>;
}

impl<S> Service<S> for () {
    fn poll(&mut self, _stack: &mut S, _now: Instant) {}

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Serves until `stop_at` (forever if `None`): `N` PMU sessions at once on
/// port 5003, the reset responder on port 5004, and `beside`.
#[allow(clippy::too_many_arguments)] // each is one of the image's choices
pub fn serve<'a, D, P, R, const T: usize, const U: usize, const N: usize>(
    stack: &mut SmolStack<'a, D, P, T, U>,
    session: SessionConfig,
    responder: ResponderConfig,
    rng: &mut R,
    buf: &mut [u8],
    beside: &mut impl Service<SmolStack<'a, D, P, T, U>>,
    mut on_event: impl FnMut(Event),
    stop_at: Option<Instant>,
) -> Result<(), SmolError>
where
    D: Device,
    P: Platform,
    R: Random,
{
    let mut pmu: PmuServer<SmolStack<'a, D, P, T, U>, N> =
        PmuServer::bind(stack, PMU_PORT, session)?;
    let mut reset: ResetServer<SmolStack<'a, D, P, T, U>, 1> =
        ResetServer::bind(stack, RESET_PORT, responder)?;
    loop {
        let now = stack.now();
        if stop_at.is_some_and(|t| now >= t) {
            return Ok(());
        }
        pmu.poll(stack, now, rng, buf, &mut |event| match event {
            PmuEvent::Finished { .. } => on_event(Event::SessionDone),
            PmuEvent::Aborted { .. } => on_event(Event::SessionAborted),
            PmuEvent::Refused { .. } | PmuEvent::Busy { .. } => on_event(Event::Refused),
            _ => {}
        });
        reset.poll(stack, now, rng, buf, &mut |event| {
            if let ResponderEvent::Request {
                decision: Decision::Answer { .. },
                ..
            } = event
            {
                on_event(Event::ResetAnswered);
            }
        });
        beside.poll(stack, now);
        let due = earliest(pmu.poll_timeout(), reset.poll_timeout());
        let due = earliest(due, beside.poll_timeout());
        stack.park(earliest(due, stop_at));
    }
}
