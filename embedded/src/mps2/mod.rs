//! What every firmware image for the Arm MPS2 AN386 board (as QEMU's
//! `mps2-an386` emulates it) shares: the clock, the network's bring-up,
//! memory handed out once, semihosting, the stack's high-water mark, and
//! for TLS the seed of its random numbers and the day.
//!
//! An image's binary keeps only what makes it that image: its socket
//! counts and buffers, and which services it runs.

#[cfg(feature = "tls")]
pub mod calendar;
pub mod clock;
#[cfg(feature = "tls")]
pub mod entropy;
pub mod net;
pub mod once;
pub mod semihosting;
pub mod stack_use;

use clock::Board;
use semihosting::fail;

/// What every image does first: paint the stack (to measure its peak at
/// exit) and start the clock. Ends the emulation if the board is not the
/// one expected.
pub fn boot() -> Board {
    stack_use::paint();
    let Some(mut core) = cortex_m::Peripherals::take() else {
        fail("core peripherals already taken");
    };
    match Board::start(&mut core.SYST) {
        Ok(board) => board,
        Err(_) => fail("timer 0 does not count"),
    }
}
