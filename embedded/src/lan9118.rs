//! A polling driver for the SMSC LAN9118 Ethernet controller, as a smoltcp
//! `Device` (the MPS2 boards have one; QEMU emulates it).
//!
//! Registers are 32-bit, memory-mapped from the base address. Received
//! frames come as one status word then the frame (and its CRC) from the RX
//! data FIFO; a frame is sent as TX command words A and B, then the frame,
//! into the TX data FIFO. MAC registers are reached indirectly through
//! MAC_CSR_CMD / MAC_CSR_DATA.

use core::ptr::{read_volatile, write_volatile};

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const TX_STATUS_FIFO: usize = 0x48;
const BYTE_TEST: usize = 0x64;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7c;
const TX_FIFO_INF: usize = 0x80;
const MAC_CSR_CMD: usize = 0xa4;
const MAC_CSR_DATA: usize = 0xa8;

const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_RXEN: u32 = 1 << 2;
const CSR_BUSY: u32 = 1 << 31;
const CSR_READ: u32 = 1 << 30;

const TX_ON: u32 = 1 << 1;
const HW_CFG_SRST: u32 = 1;
const TX_FIRST: u32 = 1 << 13;
const TX_LAST: u32 = 1 << 12;
const RX_ERROR: u32 = 1 << 15;

/// The value BYTE_TEST reads when a LAN9118 is there, in the right byte order.
const BYTE_TEST_VALUE: u32 = 0x8765_4321;
/// The largest Ethernet frame handled (without CRC).
pub const MTU: usize = 1514;

/// Why the controller could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// BYTE_TEST did not read back as expected: no LAN9118 at that address.
    NotFound(u32),
}

/// The controller's registers.
#[derive(Debug)]
struct Regs {
    base: usize,
}

/// The controller at a base address, with one frame buffer each way.
#[derive(Debug)]
pub struct Lan9118 {
    regs: Regs,
    rx: [u8; MTU + 4],
    tx: [u8; MTU],
}

impl Lan9118 {
    /// Checks, resets and enables the controller at `base`.
    ///
    /// # Safety
    /// `base` must be the address of a LAN9118's register block, used by
    /// nothing else.
    pub unsafe fn new(base: usize) -> Result<Self, InitError> {
        let mut regs = Regs { base };
        let test = regs.read(BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(InitError::NotFound(test));
        }
        regs.write(HW_CFG, HW_CFG_SRST);
        while regs.read(HW_CFG) & HW_CFG_SRST != 0 {}
        regs.write(TX_CFG, TX_ON);
        regs.mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN);
        Ok(Lan9118 {
            regs,
            rx: [0; MTU + 4],
            tx: [0; MTU],
        })
    }

    /// The MAC address the controller loaded (QEMU sets it from its command line).
    pub fn mac_address(&mut self) -> [u8; 6] {
        let lo = self.regs.mac_read(MAC_ADDRL).to_le_bytes();
        let hi = self.regs.mac_read(MAC_ADDRH).to_le_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
    }

    /// Whether a received frame waits in the FIFO.
    pub fn frame_waiting(&self) -> bool {
        self.regs.frame_waiting()
    }
}

impl Regs {
    fn read(&self, offset: usize) -> u32 {
        // SAFETY: the constructor's contract: `base` maps this register block.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&mut self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    fn mac_wait(&self) {
        while self.read(MAC_CSR_CMD) & CSR_BUSY != 0 {}
    }

    fn mac_read(&mut self, reg: u32) -> u32 {
        self.mac_wait();
        self.write(MAC_CSR_CMD, CSR_BUSY | CSR_READ | reg);
        self.mac_wait();
        self.read(MAC_CSR_DATA)
    }

    fn mac_write(&mut self, reg: u32, value: u32) {
        self.mac_wait();
        self.write(MAC_CSR_DATA, value);
        self.write(MAC_CSR_CMD, CSR_BUSY | reg);
        self.mac_wait();
    }

    fn frame_waiting(&self) -> bool {
        (self.read(RX_FIFO_INF) >> 16) & 0xff != 0
    }

    /// Reads the next frame into `rx`; its length without CRC, or `None`
    /// (nothing there, or a bad frame, which is skipped).
    fn receive_frame(&mut self, rx: &mut [u8]) -> Option<usize> {
        if !self.frame_waiting() {
            return None;
        }
        let status = self.read(RX_STATUS_FIFO);
        let len = ((status >> 16) & 0x3fff) as usize;
        let words = len.div_ceil(4);
        let fits = len <= rx.len() && status & RX_ERROR == 0;
        for i in 0..words {
            let word = self.read(RX_DATA_FIFO).to_le_bytes();
            if fits {
                let at = i * 4;
                let n = (len - at).min(4);
                rx[at..at + n].copy_from_slice(&word[..n]);
            }
        }
        // The length counts the 4-byte CRC, which smoltcp does not want.
        (fits && len >= 4 + 14).then(|| len - 4)
    }

    fn transmit_frame(&mut self, frame: &[u8]) {
        let len = frame.len().min(MTU);
        self.write(TX_DATA_FIFO, TX_FIRST | TX_LAST | len as u32);
        self.write(TX_DATA_FIFO, len as u32);
        for chunk in frame[..len].chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write(TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        // Drain the TX status FIFO so it never fills.
        while (self.read(TX_FIFO_INF) >> 16) & 0xff != 0 {
            let _ = self.read(TX_STATUS_FIFO);
        }
    }
}

/// A frame received, lent to smoltcp.
#[derive(Debug)]
pub struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.frame)
    }
}

/// Room for one frame to send.
#[derive(Debug)]
pub struct TxToken<'a> {
    regs: &'a mut Regs,
    tx: &'a mut [u8; MTU],
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let len = len.min(MTU);
        let result = f(&mut self.tx[..len]);
        self.regs.transmit_frame(&self.tx[..len]);
        result
    }
}

impl Device for Lan9118 {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let Lan9118 { regs, rx, tx } = self;
        let len = regs.receive_frame(rx)?;
        Some((RxToken { frame: &rx[..len] }, TxToken { regs, tx }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        Some(TxToken {
            regs: &mut self.regs,
            tx: &mut self.tx,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }
}
