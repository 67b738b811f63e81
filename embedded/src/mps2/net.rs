//! The board on QEMU's user-mode network: 10.0.2.15/24 behind the gateway
//! 10.0.2.2, through the LAN9118, with sockets in memory handed out once.

use pmulab_core::time::Clock;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

use super::clock::Board;
use crate::lan9118::Lan9118;

/// The LAN9118's registers on MPS2 boards.
pub const LAN9118_BASE: usize = 0x4020_0000;
/// The board's address (QEMU's user-mode network gives the guest this one).
pub const ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
/// QEMU's user-mode gateway (and the host, seen from the board).
pub const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

/// The Ethernet controller and an interface on it.
pub fn interface(board: &Board) -> Result<(Lan9118, Interface), &'static str> {
    // SAFETY: the LAN9118 lives at this address on MPS2 boards, and only this driver uses it.
    let mut nic = unsafe { Lan9118::new(LAN9118_BASE) }
        .map_err(|_| "no LAN9118 Ethernet controller at 0x4020_0000")?;
    let mac = nic.mac_address();
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    // Initial sequence numbers and ports: the MAC and the start-up time.
    let micros = board.now().as_micros();
    config.random_seed =
        u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0x4d, 0x55])
            ^ micros.rotate_left(32);
    let now = smoltcp::time::Instant::from_micros(micros as i64);
    let mut iface = Interface::new(config, &mut nic, now);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(ADDRESS.into(), 24));
    });
    iface
        .routes_mut()
        .add_default_ipv4_route(GATEWAY)
        .map_err(|_| "cannot add the default route")?;
    Ok((nic, iface))
}

/// `T` TCP sockets with `RX`/`TX`-byte buffers.
pub struct TcpMemory<const T: usize, const RX: usize, const TX: usize> {
    rx: [[u8; RX]; T],
    tx: [[u8; TX]; T],
}

impl<const T: usize, const RX: usize, const TX: usize> TcpMemory<T, RX, TX> {
    /// All zeros: RAM (.bss), no flash.
    pub const ZERO: Self = TcpMemory {
        rx: [[0; RX]; T],
        tx: [[0; TX]; T],
    };

    /// Adds the `T` sockets to `set`.
    pub fn add_to<'a>(&'a mut self, set: &mut SocketSet<'a>) -> [SocketHandle; T] {
        let mut handles = [SocketHandle::default(); T];
        for ((rx, tx), handle) in self.rx.iter_mut().zip(self.tx.iter_mut()).zip(&mut handles) {
            *handle = set.add(tcp::Socket::new(
                tcp::SocketBuffer::new(&mut rx[..]),
                tcp::SocketBuffer::new(&mut tx[..]),
            ));
        }
        handles
    }
}

/// One UDP socket's bytes: `BYTES` each way. Zeros: RAM (.bss), no flash.
pub struct UdpBuffers<const BYTES: usize> {
    rx: [u8; BYTES],
    tx: [u8; BYTES],
}

impl<const BYTES: usize> UdpBuffers<BYTES> {
    /// All zeros.
    pub const ZERO: Self = UdpBuffers {
        rx: [0; BYTES],
        tx: [0; BYTES],
    };
}

/// One UDP socket's queues: at most `PACKETS` datagrams each way. Not
/// zeros, so kept apart from the buffers (it is copied from flash).
pub struct UdpQueues<const PACKETS: usize> {
    rx: [udp::PacketMetadata; PACKETS],
    tx: [udp::PacketMetadata; PACKETS],
}

impl<const PACKETS: usize> UdpQueues<PACKETS> {
    /// Empty.
    pub const EMPTY: Self = UdpQueues {
        rx: [udp::PacketMetadata::EMPTY; PACKETS],
        tx: [udp::PacketMetadata::EMPTY; PACKETS],
    };

    /// Adds the socket, with `buffers`, to `set`.
    pub fn add_to<'a, const BYTES: usize>(
        &'a mut self,
        buffers: &'a mut UdpBuffers<BYTES>,
        set: &mut SocketSet<'a>,
    ) -> SocketHandle {
        set.add(udp::Socket::new(
            udp::PacketBuffer::new(&mut self.rx[..], &mut buffers.rx[..]),
            udp::PacketBuffer::new(&mut self.tx[..], &mut buffers.tx[..]),
        ))
    }
}

impl<const T: usize, const RX: usize, const TX: usize> core::fmt::Debug for TcpMemory<T, RX, TX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{T} TCP sockets ({RX} B in, {TX} B out)")
    }
}

impl<const BYTES: usize> core::fmt::Debug for UdpBuffers<BYTES> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "a UDP socket's buffers ({BYTES} B each way)")
    }
}

impl<const PACKETS: usize> core::fmt::Debug for UdpQueues<PACKETS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "a UDP socket's queues ({PACKETS} datagrams each way)")
    }
}

impl<const N: usize> core::fmt::Debug for SocketTable<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "room for {N} sockets")
    }
}

/// Room in a socket set for `N` sockets.
pub struct SocketTable<const N: usize>([SocketStorage<'static>; N]);

impl<const N: usize> SocketTable<N> {
    /// Empty.
    pub const EMPTY: Self = SocketTable([SocketStorage::EMPTY; N]);

    /// A socket set in this room.
    pub fn set(&'static mut self) -> SocketSet<'static> {
        SocketSet::new(&mut self.0[..])
    }
}
