//! The seed of the TLS client's random numbers.
//!
//! TLS needs secrets no one can guess: the client's key share and random.
//! A real board draws them from its hardware random number generator (an
//! STM32F4's RNG peripheral, for one). QEMU's mps2-an386 has none, so this
//! stands in for it, and is **not for production**:
//!
//! - 32 bytes of the host's `/dev/urandom`, read by semihosting — good
//!   randomness, but through a debug channel that exists only under an
//!   emulator or a debugger, readable by whoever controls that channel;
//! - the jitter of the board's 25 MHz counter across 64 semihosting calls
//!   (each a trip out to the host, whose duration varies by nanoseconds);
//! - the MAC address and the time of day.
//!
//! SHA-256 of all of it seeds a ChaCha20 generator (rand_chacha), which
//! then makes every random byte.

use sha2::{Digest, Sha256};

use super::clock::Board;
use super::semihosting::host_random;

/// Timer samples taken for jitter.
const JITTER_SAMPLES: usize = 64;

/// The seed, or why there is none.
pub fn seed(board: &Board, mac: &[u8; 6], utc_micros: u64) -> Result<[u8; 32], &'static str> {
    let mut pool = Sha256::new();
    pool.update(b"pmulab mps2-an386 seed v1");
    let mut host = [0u8; 32];
    host_random(&mut host)
        .ok_or("the host's /dev/urandom cannot be read by semihosting: no seed for TLS")?;
    pool.update(host);
    let mut last = board.counter();
    for _ in 0..JITTER_SAMPLES {
        // Any semihosting call is a trip to the host; SYS_ELAPSED would do too.
        let mut byte = [0u8];
        host_random(&mut byte).ok_or("semihosting stopped answering")?;
        let now = board.counter();
        pool.update(last.wrapping_sub(now).to_le_bytes());
        pool.update(byte);
        last = now;
    }
    pool.update(mac);
    pool.update(utc_micros.to_le_bytes());
    Ok(pool.finalize().into())
}
