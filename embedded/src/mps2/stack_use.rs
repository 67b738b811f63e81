//! The stack's high-water mark: paint it at start, look at exit.

const PAINT: u32 = 0x5ca1_ab1e;
/// How much of the stack to paint, from its top down.
const DEPTH: usize = 64 * 1024;
/// Room left unpainted below the painter's own frame.
const MARGIN: usize = 256;

unsafe extern "C" {
    /// The initial stack pointer, from cortex-m-rt's linker script.
    static _stack_start: u32;
}

fn stack_top() -> usize {
    // Only the symbol's address is taken, never its contents.
    core::ptr::addr_of!(_stack_start) as usize
}

/// Paints the stack below the caller's frame down to `DEPTH` below the top.
pub fn paint() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = stack_top() - DEPTH;
    while p < sp - MARGIN {
        // SAFETY: below every live frame, inside the stack region.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of stack used at the deepest point so far, from its top.
pub fn peak() -> usize {
    let top = stack_top();
    let mut p = top - DEPTH;
    // SAFETY: reads of stack memory that was painted at start-up.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}
