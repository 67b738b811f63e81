//! The host, through semihosting: the command line, the time of day, and
//! the end of the emulation.

use cortex_m_semihosting::{debug, hprintln};

use super::clock::Board;
use pmulab_core::time::{Clock, Instant};

/// Prints the reason and ends the emulation with a failure status.
pub fn fail(why: &str) -> ! {
    hprintln!("pmulab board: error: {}", why);
    exit(false)
}

/// Ends the emulation, with status 0 if `success`.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// The number after `KEY=` on the semihosting command line, if given.
pub fn argument(key: &str) -> Option<u64> {
    let mut line = [0u8; 128];
    // SAFETY: SYS_GET_CMDLINE writes at most `line.len()` bytes into `line`.
    let status =
        unsafe { cortex_m_semihosting::syscall!(GET_CMDLINE, line.as_mut_ptr(), line.len()) };
    if status != 0 {
        return None;
    }
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let text = core::str::from_utf8(&line[..end]).ok()?;
    text.split_whitespace().find_map(|word| {
        word.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .and_then(|value| value.parse().ok())
    })
}

/// The host's seconds since the Unix epoch (SYS_TIME).
fn host_seconds() -> u64 {
    // SAFETY: SYS_TIME takes no argument and returns the time.
    unsafe { cortex_m_semihosting::syscall!(TIME) as u64 }
}

/// UTC microseconds since the epoch at the board's time zero, taken from
/// the host's clock: SYS_TIME has whole seconds only, so this waits (at
/// most a second) for the next one to begin and notes the board's time
/// then. `None` if the host's second never turns.
pub fn utc_origin(board: &Board) -> Option<u64> {
    let first = host_seconds();
    let give_up = board.now() + core::time::Duration::from_millis(1500);
    loop {
        let second = host_seconds();
        let now: Instant = board.now();
        if second != first {
            return (second * 1_000_000).checked_sub(now.as_micros());
        }
        if now >= give_up {
            return None;
        }
    }
}

/// Fills `buf` from the host's `/dev/urandom` (SYS_OPEN, SYS_READ).
/// `None` if the host does not let the board open or read it.
pub fn host_random(buf: &mut [u8]) -> Option<()> {
    const PATH: &[u8] = b"/dev/urandom\0";
    // Mode 1: "rb".
    // SAFETY: PATH is NUL-terminated and its length given without the NUL.
    let handle = unsafe { cortex_m_semihosting::syscall!(OPEN, PATH.as_ptr(), 1, PATH.len() - 1) };
    if handle as isize == -1 {
        return None;
    }
    // SAFETY: SYS_READ writes at most `buf.len()` bytes into `buf`; it returns how many it did not.
    let missing =
        unsafe { cortex_m_semihosting::syscall!(READ, handle, buf.as_mut_ptr(), buf.len()) };
    // SAFETY: closes the handle opened above.
    unsafe { cortex_m_semihosting::syscall!(CLOSE, handle) };
    (missing == 0).then_some(())
}
