//! The board's clock: CMSDK APB timer 0, a 32-bit counter at the core's
//! 25 MHz, read and widened to 64 bits. Counting SysTick interrupts drifts
//! under QEMU (an interrupt taken late is a millisecond lost); the counter
//! follows the host's clock. SysTick only wakes the core from WFI.

use core::cell::Cell;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use pmulab_core::time::{Clock, Instant};

use crate::nal::Platform;

/// The core clock QEMU gives mps2-an386, which also drives the timers.
pub const CORE_HZ: u32 = 25_000_000;
/// CMSDK APB timer 0 on MPS2 boards.
const TIMER0: usize = 0x4000_0000;
const CTRL: usize = 0x00;
const VALUE: usize = 0x04;
const RELOAD: usize = 0x08;

/// Why the clock did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockStopped;

/// The board's time since start-up, and its sleep.
#[derive(Debug)]
pub struct Board {
    /// The counter's value when last read (it counts down).
    last: Cell<u32>,
    /// Ticks since start-up, as of `last`.
    ticks: Cell<u64>,
}

fn register(offset: usize) -> *mut u32 {
    (TIMER0 + offset) as *mut u32
}

impl Board {
    /// Starts timer 0 free-running and SysTick at 1 kHz (its handler may be
    /// empty: it is there to end WFI). Fails if the timer does not count.
    pub fn start(syst: &mut SYST) -> Result<Board, ClockStopped> {
        // SAFETY: timer 0's registers on MPS2 boards; nothing else uses it.
        unsafe {
            register(CTRL).write_volatile(0);
            register(RELOAD).write_volatile(u32::MAX);
            register(VALUE).write_volatile(u32::MAX);
            register(CTRL).write_volatile(1);
        }
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(CORE_HZ / 1000 - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        let board = Board {
            last: Cell::new(read()),
            ticks: Cell::new(0),
        };
        // A counter that has not moved after a few SysTick periods is not there.
        for _ in 0..4 {
            cortex_m::asm::wfi();
        }
        if read() == board.last.get() {
            return Err(ClockStopped);
        }
        Ok(board)
    }

    /// The raw counter (25 MHz, counting down): for entropy, not for time.
    pub fn counter(&self) -> u32 {
        read()
    }

    /// Ticks (1/25 µs) since start-up. Called at least once per wrap
    /// (171 s), which the poll loop's 1 ms wake-ups guarantee.
    fn ticks(&self) -> u64 {
        let now = read();
        let elapsed = self.last.get().wrapping_sub(now);
        self.last.set(now);
        let ticks = self.ticks.get() + u64::from(elapsed);
        self.ticks.set(ticks);
        ticks
    }
}

fn read() -> u32 {
    // SAFETY: reading timer 0's counter has no side effect.
    unsafe { register(VALUE).read_volatile() }
}

impl Clock for Board {
    fn now(&self) -> Instant {
        Instant::from_micros(self.ticks() / u64::from(CORE_HZ / 1_000_000))
    }
}

impl Platform for Board {
    fn now(&self) -> Instant {
        Clock::now(self)
    }

    fn wait(&mut self, _until: Option<Instant>) {
        // Woken by the next SysTick (1 ms) at the latest; the stack checks the time.
        cortex_m::asm::wfi();
    }
}
