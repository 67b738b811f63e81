//! Seeds for core's random sources.

use std::io::Read;

use pmulab_core::rng::SplitMix64;

/// A generator from `seed`, or from the operating system's randomness.
pub fn seeded_or_random(seed: Option<u64>) -> SplitMix64 {
    SplitMix64::new(seed.unwrap_or_else(os_seed))
}

fn os_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    match from_os {
        Ok(()) => u64::from_le_bytes(bytes),
        // No /dev/urandom: the time is unpredictable enough for message counts.
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x5eed, |d| d.as_nanos() as u64),
    }
}
