//! What the adapter's tests share: two smoltcp interfaces joined by an
//! Ethernet wire in memory, and a virtual clock.
#![allow(dead_code)] // Each test file uses its own part of this.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use pmulab_core::time::Instant;
use pmulab_embedded::nal::{Platform, SmolStack};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of an Ethernet wire in memory.
pub struct End {
    rx: Queue,
    tx: Queue,
}

pub struct Rx(Vec<u8>);
pub struct Tx(Queue);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.borrow_mut().push_back(frame);
        r
    }
}

impl Device for End {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;
    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(Rx, Tx)> {
        let frame = self.rx.borrow_mut().pop_front()?;
        Some((Rx(frame), Tx(self.tx.clone())))
    }
    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<Tx> {
        Some(Tx(self.tx.clone()))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// The two ends of a new wire.
pub fn wire() -> (End, End) {
    let ab: Queue = Rc::default();
    let ba: Queue = Rc::default();
    (
        End {
            rx: ba.clone(),
            tx: ab.clone(),
        },
        End { rx: ab, tx: ba },
    )
}

/// A clock that moves a millisecond each time the stack would sleep.
#[derive(Clone)]
pub struct Virtual(pub Rc<Cell<Instant>>);

impl Virtual {
    pub fn new() -> Self {
        Virtual(Rc::new(Cell::new(Instant::ZERO)))
    }
}

impl Platform for Virtual {
    fn now(&self) -> Instant {
        self.0.get()
    }
    fn wait(&mut self, until: Option<Instant>) {
        let next = self.0.get() + Duration::from_millis(1);
        self.0
            .set(until.map_or(next, |u| u.min(next).max(self.0.get())));
    }
}

/// Six TCP sockets (512 B in, 1 KiB out) and a UDP socket on `end`, at 10.0.0.x/24.
pub fn stack<P: Platform>(
    mut end: End,
    ip: [u8; 4],
    mac: u8,
    platform: P,
) -> SmolStack<'static, End, P, 6, 1> {
    let config = Config::new(HardwareAddress::Ethernet(EthernetAddress([
        2, 0, 0, 0, 0, mac,
    ])));
    let mut iface = Interface::new(config, &mut end, smoltcp::time::Instant::ZERO);
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(Ipv4Address::from(ip).into(), 24))
            .unwrap()
    });
    let storage: &'static mut [SocketStorage<'static>] =
        Box::leak(Box::new([SocketStorage::EMPTY; 7]));
    let mut sockets = SocketSet::new(storage);
    let tcp: [SocketHandle; 6] = std::array::from_fn(|_| {
        let rx = Box::leak(vec![0u8; 512].into_boxed_slice());
        let tx = Box::leak(vec![0u8; 1024].into_boxed_slice());
        sockets.add(tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        ))
    });
    let meta = |n| Box::leak(vec![udp::PacketMetadata::EMPTY; n].into_boxed_slice());
    let bytes = |n| Box::leak(vec![0u8; n].into_boxed_slice());
    let udp = sockets.add(udp::Socket::new(
        udp::PacketBuffer::new(&mut meta(4)[..], &mut bytes(512)[..]),
        udp::PacketBuffer::new(&mut meta(4)[..], &mut bytes(512)[..]),
    ));
    SmolStack::new(iface, sockets, end, platform, tcp, [udp])
}
