//! Small text rules every part shares, written once.

/// Writes `value` in decimal at the start of `out`; returns the digit
/// count, cut to `out`'s length (20 bytes hold any `u64`, 10 any `u32`).
pub fn write_decimal(mut value: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (value % 10) as u8;
        n += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for (slot, digit) in out.iter_mut().zip(digits[..n].iter().rev()) {
        *slot = *digit;
    }
    n.min(out.len())
}

/// `bytes` without one trailing `\n` or `\r\n`: the line ending every lab
/// receiver tolerates after a command or a request.
pub fn strip_line_ending(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_line_endings() {
        let mut out = [0u8; 20];
        let n = write_decimal(u64::MAX, &mut out);
        assert_eq!(&out[..n], b"18446744073709551615");
        let n = write_decimal(0, &mut out);
        assert_eq!(&out[..n], b"0");
        let mut short = [0u8; 2];
        assert_eq!(write_decimal(12345, &mut short), 2);
        assert_eq!(&short, b"12");
        assert_eq!(strip_line_ending(b"CMD\r\n"), b"CMD");
        assert_eq!(strip_line_ending(b"CMD\n"), b"CMD");
        assert_eq!(strip_line_ending(b"CMD\n\n"), b"CMD\n");
        assert_eq!(strip_line_ending(b"CMD"), b"CMD");
    }
}
