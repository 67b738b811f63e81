//! The broadcaster (the course's bot) over embedded-nal UDP: the bot's
//! schedule sent through a socket from [`super::client::open_sender`],
//! waiting in [`Park`] between datagrams.

use embedded_nal::{UdpClientStack, nb};

use super::bot::{Bot, BotOutput};
use crate::nal::Park;
use crate::time::Clock;

/// Something the broadcaster did, for logging.
#[derive(Debug)]
pub enum BotEvent<'a, E> {
    /// A datagram went out (or was skipped, or failed: see `sent`).
    Output {
        /// What the schedule produced.
        output: BotOutput,
        /// The datagram's bytes (empty when skipped).
        datagram: &'a [u8],
        /// The send's result.
        sent: Result<(), nb::Error<E>>,
    },
}

/// Runs `bot` until it is done (forever unless it was made with `once`),
/// sending through `socket` and waiting in [`Park`] between datagrams.
/// `keep_going` is asked before each wait; returning false stops early.
pub fn broadcast<S, C>(
    stack: &mut S,
    clock: &C,
    bot: &mut Bot<'_>,
    socket: &mut S::UdpSocket,
    buf: &mut [u8],
    log: &mut impl FnMut(BotEvent<'_, S::Error>),
    keep_going: &mut impl FnMut() -> bool,
) where
    S: UdpClientStack + Park,
    C: Clock,
{
    while !bot.is_done() {
        while let Some(output) = bot.poll_transmit(clock.now(), buf) {
            let len = match output {
                BotOutput::Line { len, .. } | BotOutput::Rewind { len } => len,
                BotOutput::Skipped { .. } => 0,
            };
            let sent = match len {
                0 => Ok(()),
                _ => stack.send(socket, &buf[..len]),
            };
            log(BotEvent::Output {
                output,
                datagram: &buf[..len],
                sent,
            });
        }
        if !keep_going() {
            return;
        }
        if let Some(due) = bot.poll_timeout() {
            stack.park(Some(due));
        }
    }
}
