//! The `CMD_floodme` text and the `CMD_short` messages.
//!
//! The flood is a short play repeated to any size: byte `k` of the text is
//! a pure function of `k`, so a PMU produces hundreds of MiB in pieces from
//! a small buffer and a PDC (or a test) can check what it received without
//! a copy.

/// The lab's default flood size: 56 KiB, as the course's server sent.
pub const DEFAULT_FLOOD_BYTES: u64 = 57_344;

/// Every `CMD_short` message starts with this.
pub const MESSAGE_PREFIX: &str = "This is PMU data ";

/// The longest message text: the prefix and a `u32` in decimal.
pub const MAX_MESSAGE_LEN: usize = MESSAGE_PREFIX.len() + 10;

/// The text the flood repeats: a short play written for pmulab, shaped
/// like the course's floodme (a play's opening): ASCII, no digits, lines of
/// about 30 characters under speakers' names in capitals, a few empty lines,
/// `This` now and then but never the messages' prefix. Over the default
/// 57,344 bytes it has about the course text's profile (tested below), and
/// the default flood ends inside a line, without a final newline, as the
/// course's did.
const PLAY: &[u8] = include_bytes!("flood_play.txt");

const _: () = {
    let mut i = 0;
    while i < PLAY.len() {
        let b = PLAY[i];
        assert!(
            b == b'\n' || (b >= b' ' && b <= b'~'),
            "the play is printable ASCII"
        );
        assert!(!b.is_ascii_digit(), "the play has no digits");
        i += 1;
    }
    assert!(
        PLAY[PLAY.len() - 1] == b'\n',
        "the play ends a line, so repeats start one"
    );
};

/// Writes message `index` (`This is PMU data <index>`) into `out` and
/// returns its length.
pub fn message(index: u32, out: &mut [u8; MAX_MESSAGE_LEN]) -> usize {
    let prefix = MESSAGE_PREFIX.as_bytes();
    out[..prefix.len()].copy_from_slice(prefix);
    let digits = crate::text::write_decimal(u64::from(index), &mut out[prefix.len()..]);
    prefix.len() + digits
}

/// Writes the flood text from byte `offset` on into `out`, filling it.
///
/// The text is the play, over and over; a flood of `size` bytes is the
/// first `size` bytes of it. Every byte is a copy, so a PMU sends a flood
/// at memory speed.
pub fn fill(offset: u64, out: &mut [u8]) {
    let mut at = (offset % PLAY.len() as u64) as usize;
    let mut out = out;
    while !out.is_empty() {
        let take = (PLAY.len() - at).min(out.len());
        let (now, rest) = out.split_at_mut(take);
        now.copy_from_slice(&PLAY[at..at + take]);
        out = rest;
        at = 0;
    }
}

/// Where `received`, which starts at byte `offset` of the flood, first
/// differs from the flood text, if anywhere.
pub fn first_mismatch(offset: u64, received: &[u8]) -> Option<u64> {
    let mut expected = [0u8; 4096];
    let mut done = 0;
    while done < received.len() {
        let n = expected.len().min(received.len() - done);
        let at = offset + done as u64;
        fill(at, &mut expected[..n]);
        if let Some(i) = expected[..n]
            .iter()
            .zip(&received[done..done + n])
            .position(|(a, b)| a != b)
        {
            return Some(at + i as u64);
        }
        done += n;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_lab_text() {
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let n = message(0, &mut buf);
        assert_eq!(&buf[..n], b"This is PMU data 0");
        let n = message(u32::MAX, &mut buf);
        assert_eq!(&buf[..n], b"This is PMU data 4294967295");
    }

    #[test]
    fn any_piece_of_the_flood_equals_the_same_range_of_the_whole() {
        let mut whole = [0u8; 20_000];
        fill(0, &mut whole);
        for start in [
            0usize,
            1,
            63,
            PLAY.len() - 1,
            PLAY.len(),
            PLAY.len() + 5,
            12_000,
        ] {
            for len in [0usize, 1, 2, 64, 130, PLAY.len() + 3, 20_000 - start] {
                let len = len.min(20_000 - start);
                let mut piece = [0u8; 20_000];
                fill(start as u64, &mut piece[..len]);
                assert_eq!(piece[..len], whole[start..start + len]);
            }
        }
        // Far offsets too: byte k is the play's byte k mod its length.
        let far = 3 * (1u64 << 32) + 17;
        let mut piece = [0u8; 100];
        fill(far, &mut piece);
        let at = (far % PLAY.len() as u64) as usize;
        for (i, b) in piece.iter().enumerate() {
            assert_eq!(*b, PLAY[(at + i) % PLAY.len()]);
        }
    }

    /// The course's floodme, as observed: 57,344 bytes, ASCII, no digits,
    /// 1,844 lines (mean 30 characters, longest 107, 52 empty), 487 `T`,
    /// `This` 16 times, never `PMU`, no final newline. pmulab's text is
    /// within a few percent of each figure.
    #[test]
    fn the_default_flood_has_the_course_text_s_profile() {
        let mut text = [0u8; DEFAULT_FLOOD_BYTES as usize];
        fill(0, &mut text);
        assert!(text.iter().all(|b| b.is_ascii() && !b.is_ascii_digit()));
        assert_ne!(text[text.len() - 1], b'\n', "no final newline");
        let lines = text.split(|b| *b == b'\n');
        let (mut count, mut empty, mut longest, mut chars) = (0usize, 0usize, 0usize, 0usize);
        for line in lines {
            count += 1;
            empty += usize::from(line.is_empty());
            longest = longest.max(line.len());
            chars += line.len();
        }
        let near = |got: usize, want: usize, percent: usize| {
            got * 100 >= want * (100 - percent) && got * 100 <= want * (100 + percent)
        };
        assert!(near(count, 1844, 5), "{count} lines");
        assert!(near(chars / count, 30, 5), "mean {}", chars / count);
        assert_eq!(longest, 107);
        assert!(near(empty, 52, 10), "{empty} empty lines");
        let t = text.iter().filter(|b| **b == b'T').count();
        assert!(near(t, 487, 5), "{t} T");
        let this = text.windows(4).filter(|w| *w == b"This").count();
        assert!(near(this, 16, 10), "{this} This");
        assert!(!text.windows(3).any(|w| w == b"PMU"));
    }

    #[test]
    fn first_mismatch_finds_the_exact_byte() {
        let mut data = [0u8; 9000];
        fill(100, &mut data);
        assert_eq!(first_mismatch(100, &data), None);
        data[5000] ^= 1;
        assert_eq!(first_mismatch(100, &data), Some(5100));
        assert_eq!(first_mismatch(101, &data[..10]), Some(101));
    }
}
