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

const _: () = assert!(PROSE.len() >= LINE_LEN - NUMBER_LEN - 2);

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
    let mut skip = (offset % LINE_LEN as u64) as usize;
    let mut written = 0;
    let mut line = [0u8; LINE_LEN];
    while written < out.len() {
        render_line(line_no, &mut line);
        let take = (LINE_LEN - skip).min(out.len() - written);
        out[written..written + take].copy_from_slice(&line[skip..skip + take]);
        written += take;
        skip = 0;
        line_no += 1;
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

fn render_line(line_no: u64, line: &mut [u8; LINE_LEN]) {
    let mut number = line_no % 10u64.pow(NUMBER_LEN as u32);
    for slot in line[..NUMBER_LEN].iter_mut().rev() {
        *slot = b'0' + (number % 10) as u8;
        number /= 10;
    }
    line[NUMBER_LEN] = b' ';
    let start = (line_no.wrapping_mul(13) % PROSE.len() as u64) as usize;
    // The prose wraps around: copy its tail, then as much of its head as fits.
    let body = &mut line[NUMBER_LEN + 1..LINE_LEN - 1];
    let tail = &PROSE[start..];
    let first = tail.len().min(body.len());
    body[..first].copy_from_slice(&tail[..first]);
    let rest = body.len() - first;
    body[first..].copy_from_slice(&PROSE[..rest]);
    line[LINE_LEN - 1] = b'\n';
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
