//! The PMU application: core's TCP PMU (part 2) and UDP reset PMU
//! (part 3) on one [`SmolStack`], independent of any board.

use pmulab_core::lab;
use pmulab_core::nal::Park;
use pmulab_core::reset::responder::{Decision, ResponderConfig};
use pmulab_core::reset::server::{ResetServer, ResponderEvent};
use pmulab_core::rng::Random;
use pmulab_core::stream::server::{PmuEvent, PmuServer};
use pmulab_core::stream::session::SessionConfig;
use pmulab_core::time::{Clock, Instant, earliest};
use smoltcp::phy::Device;

use crate::nal::{Platform, SmolError, SmolStack};

/// The lab's TCP PMU port.
pub const PMU_PORT: u16 = lab::TCP_PMU_PORT;
/// The lab's UDP reset port.
pub const RESET_PORT: u16 = lab::UDP_RESET_PORT;

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

/// Serves until `stop_at` (forever if `None`): `N` PMU sessions at once on
/// port 5003 and the reset responder on port 5004.
pub fn serve<D, P, R, const T: usize, const U: usize, const N: usize>(
    stack: &mut SmolStack<'_, D, P, T, U>,
    session: SessionConfig,
    responder: ResponderConfig,
    rng: &mut R,
    buf: &mut [u8],
    mut on_event: impl FnMut(Event),
    stop_at: Option<Instant>,
) -> Result<(), SmolError>
where
    D: Device,
    P: Platform,
    R: Random,
{
    let mut pmu: PmuServer<SmolStack<'_, D, P, T, U>, N> =
        PmuServer::bind(stack, PMU_PORT, session)?;
    let mut reset: ResetServer<SmolStack<'_, D, P, T, U>, 1> =
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
        let due = earliest(pmu.poll_timeout(), reset.poll_timeout());
        stack.park(earliest(due, stop_at));
    }
}
