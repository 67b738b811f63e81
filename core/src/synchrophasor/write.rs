//! A cursor that writes big-endian fields into a caller's buffer.

use super::Error;

/// Writes forward into `buf`; every write checks the room left.
pub(super) struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`, which must hold `needed` bytes.
    pub fn new(buf: &'a mut [u8], needed: usize) -> Result<Writer<'a>, Error> {
        match buf.len() >= needed {
            true => Ok(Writer { buf, at: 0 }),
            false => Err(Error::NoRoom { needed }),
        }
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.at + bytes.len();
        let room = self
            .buf
            .get_mut(self.at..end)
            .ok_or(Error::NoRoom { needed: end })?;
        room.copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }

    pub fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.bytes(&[v])
    }

    pub fn u16(&mut self, v: u16) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    pub fn i16(&mut self, v: i16) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    pub fn u32(&mut self, v: u32) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    pub fn f32(&mut self, v: f32) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    /// A 16-byte name, padded with spaces.
    pub fn name(&mut self, name: &str) -> Result<(), Error> {
        if name.len() > 16 || !name.is_ascii() {
            return Err(Error::BadName);
        }
        let mut field = [b' '; 16];
        field[..name.len()].copy_from_slice(name.as_bytes());
        self.bytes(&field)
    }

    /// Appends CHK over everything written; the frame's length.
    pub fn finish(mut self) -> Result<usize, Error> {
        let crc = super::crc::crc_ccitt(&self.buf[..self.at]);
        self.u16(crc)?;
        Ok(self.at)
    }
}

/// Big-endian reads from a checked slice (the caller checked the length).
pub(super) fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(b) => u16::from_be_bytes([b[0], b[1]]),
        None => 0,
    }
}

pub(super) fn be32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at + 4) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}
