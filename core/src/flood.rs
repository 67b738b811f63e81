//! The `CMD_floodme` text and the `CMD_short` messages.
//!
//! The flood is generated, not stored: byte `k` of the text is a pure
//! function of `k`, so a PMU produces any size in pieces from a small buffer
//! and a PDC (or a test) can check what it received without a copy.

/// The lab's default flood size: 56 KiB, as the course's server sent.
pub const DEFAULT_FLOOD_BYTES: u64 = 57_344;

/// Every `CMD_short` message starts with this.
pub const MESSAGE_PREFIX: &str = "This is PMU data ";

/// The longest message text: the prefix and a `u32` in decimal.
pub const MAX_MESSAGE_LEN: usize = MESSAGE_PREFIX.len() + 10;

const LINE_LEN: usize = 64;
const NUMBER_LEN: usize = 7;
/// Text after the line number; each line starts further along it, so the
/// flood reads as varied text, yet every byte is computable on its own.
/// It must be at least as long as a line's body (checked below).
const PROSE: &[u8] = b"the concentrator asks, the measurement unit answers: \
frequency, voltage phasor, current phasor, and a time stamp from the grid clock; ";

const BODY_LEN: usize = LINE_LEN - NUMBER_LEN - 2;
const _: () = assert!(PROSE.len() >= BODY_LEN);
/// How far along the prose each line starts after the one before.
const PROSE_STEP: usize = 13;
const _: () = assert!(PROSE_STEP < PROSE.len());
/// The prose twice over, so that any body is one contiguous slice.
const PROSE_TWICE: [u8; 2 * PROSE.len()] = {
    let mut twice = [0u8; 2 * PROSE.len()];
    let mut i = 0;
    while i < twice.len() {
        twice[i] = PROSE[i % PROSE.len()];
        i += 1;
    }
    twice
};

/// Writes message `index` (`This is PMU data <index>`) into `out` and
/// returns its length.
pub fn message(index: u32, out: &mut [u8; MAX_MESSAGE_LEN]) -> usize {
    let prefix = MESSAGE_PREFIX.as_bytes();
    out[..prefix.len()].copy_from_slice(prefix);
    let digits = write_decimal(u64::from(index), &mut out[prefix.len()..]);
    prefix.len() + digits
}

/// Writes the flood text from byte `offset` on into `out`, filling it.
///
/// The text is lines of 64 ASCII bytes: a 7-digit line number, a space,
/// 55 bytes of prose and `\n`. A flood of `size` bytes is the first `size`
/// bytes of this endless text.
pub fn fill(offset: u64, out: &mut [u8]) {
    let mut line_no = offset / LINE_LEN as u64;
    let skip = (offset % LINE_LEN as u64) as usize;
    let mut out = out;
    let mut line = [0u8; LINE_LEN];
    if skip != 0 {
        render_line(line_no, &mut line);
        let take = (LINE_LEN - skip).min(out.len());
        out[..take].copy_from_slice(&line[skip..skip + take]);
        out = &mut out[take..];
        line_no += 1;
    }
    // Whole lines are the hot path of a flood (a PMU generates every byte it
    // sends): the number is counted up in place rather than divided out, and
    // the body is one fixed-size copy from the doubled prose.
    let mut lines = out.chunks_exact_mut(LINE_LEN);
    let mut number = [0u8; NUMBER_LEN + 1];
    render_number(line_no, &mut number);
    let mut start = prose_start(line_no);
    for whole in &mut lines {
        whole[..NUMBER_LEN + 1].copy_from_slice(&number);
        whole[NUMBER_LEN + 1..LINE_LEN - 1].copy_from_slice(&PROSE_TWICE[start..start + BODY_LEN]);
        whole[LINE_LEN - 1] = b'\n';
        count_up(&mut number);
        start += PROSE_STEP;
        if start >= PROSE.len() {
            start -= PROSE.len();
        }
        line_no += 1;
    }
    let rest = lines.into_remainder();
    if !rest.is_empty() {
        render_line(line_no, &mut line);
        let take = rest.len();
        rest.copy_from_slice(&line[..take]);
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

/// One line, computed from its number alone (the reference for `fill`).
fn render_line(line_no: u64, line: &mut [u8; LINE_LEN]) {
    let mut number = [0u8; NUMBER_LEN + 1];
    render_number(line_no, &mut number);
    line[..NUMBER_LEN + 1].copy_from_slice(&number);
    let start = prose_start(line_no);
    line[NUMBER_LEN + 1..LINE_LEN - 1].copy_from_slice(&PROSE_TWICE[start..start + BODY_LEN]);
    line[LINE_LEN - 1] = b'\n';
}

/// The line number (modulo 10^7, zero-padded) and the space after it.
fn render_number(line_no: u64, out: &mut [u8; NUMBER_LEN + 1]) {
    let mut number = line_no % 10u64.pow(NUMBER_LEN as u32);
    for slot in out[..NUMBER_LEN].iter_mut().rev() {
        *slot = b'0' + (number % 10) as u8;
        number /= 10;
    }
    out[NUMBER_LEN] = b' ';
}

/// Adds one to a rendered line number; 9999999 wraps to 0000000.
fn count_up(number: &mut [u8; NUMBER_LEN + 1]) {
    for digit in number[..NUMBER_LEN].iter_mut().rev() {
        if *digit == b'9' {
            *digit = b'0';
        } else {
            *digit += 1;
            return;
        }
    }
}

/// Where line `line_no`'s body starts in the prose.
fn prose_start(line_no: u64) -> usize {
    (line_no.wrapping_mul(PROSE_STEP as u64) % PROSE.len() as u64) as usize
}

/// Writes `value` in decimal at the start of `out`; returns the digit count.
/// `out` must hold 20 bytes for any `u64` (10 for any `u32`).
fn write_decimal(mut value: u64, out: &mut [u8]) -> usize {
    let mut tmp = [0u8; 20];
    let mut n = 0;
    loop {
        tmp[n] = b'0' + (value % 10) as u8;
        n += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for (slot, digit) in out.iter_mut().zip(tmp[..n].iter().rev()) {
        *slot = *digit;
    }
    n.min(out.len())
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
        let mut whole = [0u8; 1000];
        fill(0, &mut whole);
        for start in [0usize, 1, 63, 64, 65, 500] {
            for len in [0usize, 1, 2, 64, 130, 1000 - start] {
                let len = len.min(1000 - start);
                let mut piece = [0u8; 1000];
                fill(start as u64, &mut piece[..len]);
                assert_eq!(piece[..len], whole[start..start + len]);
            }
        }
        assert_eq!(&whole[..8], b"0000000 ");
        assert_eq!(&whole[64..72], b"0000001 ");
        assert_eq!(whole[63], b'\n');
        assert!(
            whole
                .iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\n')
        );
    }

    /// Byte `k` of the flood, straight from the definition.
    fn byte_at(k: u64) -> u8 {
        let (line, pos) = (k / LINE_LEN as u64, (k % LINE_LEN as u64) as usize);
        match pos {
            0..NUMBER_LEN => {
                let place = 10u64.pow((NUMBER_LEN - 1 - pos) as u32);
                b'0' + (line / place % 10) as u8
            }
            NUMBER_LEN => b' ',
            p if p == LINE_LEN - 1 => b'\n',
            p => {
                let at = line * PROSE_STEP as u64 + (p - NUMBER_LEN - 1) as u64;
                PROSE[(at % PROSE.len() as u64) as usize]
            }
        }
    }

    #[test]
    fn fill_matches_the_definition_at_any_offset_and_length() {
        // Around the start, odd offsets, and the wrap of the 7-digit number.
        let wrap = 9_999_998 * LINE_LEN as u64;
        for base in [0u64, 1, 63, 64, 1000, wrap - 5, wrap, wrap + 70] {
            for len in [0usize, 1, 63, 64, 65, 129, 700] {
                let mut out = [0u8; 700];
                fill(base, &mut out[..len]);
                for (i, byte) in out[..len].iter().enumerate() {
                    assert_eq!(*byte, byte_at(base + i as u64), "byte {}", base + i as u64);
                }
            }
        }
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
