//! Memory handed out once: a `static` without `static mut`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// A value in a `static` that one caller may take, once, as `&'static mut`.
pub struct Once<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is reached only through `take`, which succeeds once.
unsafe impl<T> Sync for Once<T> {}

impl<T> core::fmt::Debug for Once<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Once")
            .field("taken", &self.taken.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

impl<T> Once<T> {
    /// Holds `value` until it is taken.
    pub const fn new(value: T) -> Self {
        Once {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, the first time; `None` after.
    // The flag makes the `&mut` unique; that is the point of the type.
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the flag above lets exactly one caller through, once.
        Some(unsafe { &mut *self.value.get() })
    }
}
