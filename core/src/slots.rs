//! A fixed table of `N` slots that knows how many are in use and how far
//! the used ones reach.
//!
//! Why: a server sized for a thousand sessions with ten connected should
//! walk ten slots per pass, not a thousand. New items take the lowest free
//! slot, so the used ones stay packed at the front and [`Slots::end`] stays
//! close to [`Slots::len`].

/// Up to `N` items, each in a numbered slot.
pub struct Slots<T, const N: usize> {
    slots: [Option<T>; N],
    used: usize,
    /// One past the highest used slot.
    end: usize,
    /// No slot below this one is free.
    free_from: usize,
}

impl<T, const N: usize> core::fmt::Debug for Slots<T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slots")
            .field("used", &self.used)
            .field("end", &self.end)
            .field("capacity", &N)
            .finish()
    }
}

impl<T, const N: usize> Default for Slots<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Slots<T, N> {
    /// An empty table.
    pub fn new() -> Self {
        Slots {
            slots: core::array::from_fn(|_| None),
            used: 0,
            end: 0,
            free_from: 0,
        }
    }

    /// Items in the table.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// One past the highest used slot: every item's index is below it.
    pub fn end(&self) -> usize {
        self.end
    }

    /// Puts `item` in the lowest free slot and returns its index; gives
    /// `item` back when all `N` slots are used.
    pub fn insert(&mut self, item: T) -> Result<usize, T> {
        let Some(offset) = self.slots[self.free_from..]
            .iter()
            .position(Option::is_none)
        else {
            return Err(item);
        };
        let index = self.free_from + offset;
        self.slots[index] = Some(item);
        self.used += 1;
        self.end = self.end.max(index + 1);
        self.free_from = index + 1;
        Ok(index)
    }

    /// The item in slot `index`, if any.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.slots.get_mut(index).and_then(Option::as_mut)
    }

    /// Empties slot `index` and returns what it held.
    pub fn remove(&mut self, index: usize) -> Option<T> {
        let item = self.slots.get_mut(index)?.take()?;
        self.used -= 1;
        self.free_from = self.free_from.min(index);
        while self.end > 0 && self.slots[self.end - 1].is_none() {
            self.end -= 1;
        }
        Some(item)
    }

    /// The items, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots[..self.end].iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn items_take_the_lowest_free_slot_and_end_follows_the_highest() {
        let mut t: Slots<u32, 4> = Slots::new();
        assert_eq!((t.len(), t.end()), (0, 0));
        assert_eq!(t.insert(10), Ok(0));
        assert_eq!(t.insert(11), Ok(1));
        assert_eq!(t.insert(12), Ok(2));
        assert_eq!(t.remove(1), Some(11));
        assert_eq!((t.len(), t.end()), (2, 3));
        assert_eq!(t.insert(13), Ok(1), "the hole is filled first");
        assert_eq!(t.insert(14), Ok(3));
        assert_eq!(t.insert(15), Err(15), "full");
        assert_eq!(t.remove(3), Some(14));
        assert_eq!(t.remove(2), Some(12));
        assert_eq!(t.end(), 2, "end drops past every empty slot at the top");
        assert_eq!(t.remove(2), None, "already empty");
        assert_eq!(t.remove(9), None, "out of range");
        assert!(t.iter().copied().eq([10, 13]));
        assert_eq!(t.get_mut(1).map(|v| *v), Some(13));
        assert_eq!(t.remove(0), Some(10));
        assert_eq!(t.remove(1), Some(13));
        assert!(t.is_empty());
        assert_eq!(t.end(), 0);
    }

    #[test]
    fn any_order_of_inserts_and_removes_keeps_the_counts_true() {
        let mut t: Slots<usize, 16> = Slots::new();
        let mut model = [false; 16];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state % 16) as usize;
            if state & 0x100 == 0 {
                match t.insert(i) {
                    Ok(at) => {
                        assert!(!model[at]);
                        assert!(model[..at].iter().all(|&used| used), "lowest free");
                        model[at] = true;
                    }
                    Err(_) => assert!(model.iter().all(|&used| used)),
                }
            } else {
                assert_eq!(t.remove(i).is_some(), model[i]);
                model[i] = false;
            }
            assert_eq!(t.len(), model.iter().filter(|&&u| u).count());
            let end = model.iter().rposition(|&u| u).map_or(0, |i| i + 1);
            assert_eq!(t.end(), end);
        }
    }
}
