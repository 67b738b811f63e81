//! The day, for certificates' validity: embedded-tls asks a type, not a
//! value, for the time ([`TlsClock`]), so the board's UTC seconds live in
//! a static, set before each connection. Until set, validity is not
//! checked; the firmware sets it from the host's clock first.

use core::sync::atomic::{AtomicU32, Ordering};

use embedded_tls::TlsClock;

/// UTC seconds since the Unix epoch; 0 for "not known" (until 2106).
static UTC_SECONDS: AtomicU32 = AtomicU32::new(0);

/// The board's calendar.
#[derive(Debug, Clone, Copy)]
pub struct Calendar;

impl Calendar {
    /// Sets today from UTC microseconds since the epoch.
    pub fn set(utc_micros: u64) {
        let seconds = u32::try_from(utc_micros / 1_000_000).unwrap_or(u32::MAX);
        UTC_SECONDS.store(seconds, Ordering::Relaxed);
    }
}

impl TlsClock for Calendar {
    fn now() -> Option<u64> {
        match UTC_SECONDS.load(Ordering::Relaxed) {
            0 => None,
            seconds => Some(u64::from(seconds)),
        }
    }
}
