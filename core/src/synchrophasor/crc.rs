//! CHK: CRC-CCITT as C37.118.2 defines it (polynomial 0x1021, initial value
//! 0xFFFF, no reflection, no final XOR; "CRC-16/CCITT-FALSE").

/// The checksum of `bytes`.
pub fn crc_ccitt(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = match crc & 0x8000 {
                0 => crc << 1,
                _ => (crc << 1) ^ 0x1021,
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_check_value() {
        // The standard check value of CRC-16/CCITT-FALSE.
        assert_eq!(crc_ccitt(b"123456789"), 0x29B1);
        assert_eq!(crc_ccitt(b""), 0xFFFF);
    }
}
