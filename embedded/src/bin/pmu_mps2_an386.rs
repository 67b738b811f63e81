//! Firmware: the lab's PMU on the Arm MPS2 AN386 board (Cortex-M4F), as
//! QEMU's `mps2-an386` emulates it.
//!
//! IPv4 10.0.2.15/24 behind QEMU's user-mode network (gateway 10.0.2.2):
//! the TCP PMU on port 5003 and the UDP reset PMU on 5004, from core,
//! through the smoltcp adapter. It prints one "ready" line by semihosting
//! once the network is up, sleeps (WFI) between polls, and with
//! `exit-after=SECONDS` on its semihosting command line it stops after that
//! long and ends the emulation with exit status 0.
#![no_std]
#![no_main]

use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use cortex_m::interrupt::Mutex;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use pmulab_core::reset::responder::{FamilySchedule, ResponderConfig};
use pmulab_core::rng::SplitMix64;
use pmulab_core::stream::session::{MessageCount, SessionConfig};
use pmulab_core::time::Instant;
use pmulab_embedded::app::{self, Event};
use pmulab_embedded::lan9118::Lan9118;
use pmulab_embedded::nal::{Platform, SmolStack};
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};

/// The LAN9118's registers on MPS2 boards.
const LAN9118_BASE: usize = 0x4020_0000;
/// The core clock QEMU gives mps2-an386.
const CORE_HZ: u32 = 25_000_000;

/// TCP sockets: PMU sessions, the listening spares, and ones closing.
const TCP: usize = 7;
/// PMU sessions served at once.
const SESSIONS: usize = 4;
const TCP_RX: usize = 256;
const TCP_TX: usize = 512;
const UDP_BUF: usize = 256;
const UDP_PACKETS: usize = 4;
/// The PMU's send chunk (and UDP receive buffer).
const SCRATCH: usize = 256;

/// Milliseconds since boot, counted by SysTick.
static MILLIS: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));

#[exception]
fn SysTick() {
    cortex_m::interrupt::free(|cs| {
        let ms = MILLIS.borrow(cs);
        ms.set(ms.get() + 1);
    });
}

/// The board's clock and sleep.
struct Board;

impl Platform for Board {
    fn now(&self) -> Instant {
        Instant::from_millis(cortex_m::interrupt::free(|cs| MILLIS.borrow(cs).get()))
    }

    fn wait(&mut self, _until: Option<Instant>) {
        // Woken by the next SysTick (1 ms) at the latest; the stack checks the time.
        cortex_m::asm::wfi();
    }
}

/// Memory handed out once: a `static` without `static mut`.
struct Once<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is reached only through `take`, which succeeds once.
unsafe impl<T> Sync for Once<T> {}

impl<T> Once<T> {
    const fn new(value: T) -> Self {
        Once {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    // The flag makes the `&mut` unique; that is the point of the type.
    #[allow(clippy::mut_from_ref)]
    fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the flag above lets exactly one caller through, once.
        Some(unsafe { &mut *self.value.get() })
    }
}

/// Buffers that start as zeros, so they cost RAM (.bss) but no flash.
struct Buffers {
    tcp_rx: [[u8; TCP_RX]; TCP],
    tcp_tx: [[u8; TCP_TX]; TCP],
    udp_rx: [u8; UDP_BUF],
    udp_tx: [u8; UDP_BUF],
    scratch: [u8; SCRATCH],
}

/// Bookkeeping whose initial value is not zero.
struct Tables {
    storage: [SocketStorage<'static>; TCP + 1],
    udp_rx_meta: [udp::PacketMetadata; UDP_PACKETS],
    udp_tx_meta: [udp::PacketMetadata; UDP_PACKETS],
}

static BUFFERS: Once<Buffers> = Once::new(Buffers {
    tcp_rx: [[0; TCP_RX]; TCP],
    tcp_tx: [[0; TCP_TX]; TCP],
    udp_rx: [0; UDP_BUF],
    udp_tx: [0; UDP_BUF],
    scratch: [0; SCRATCH],
});

static TABLES: Once<Tables> = Once::new(Tables {
    storage: [SocketStorage::EMPTY; TCP + 1],
    udp_rx_meta: [udp::PacketMetadata::EMPTY; UDP_PACKETS],
    udp_tx_meta: [udp::PacketMetadata::EMPTY; UDP_PACKETS],
});

/// Measures the stack's high-water mark: paint it at start, look at exit.
mod stack_use {
    const PAINT: u32 = 0x5ca1_ab1e;
    /// How much of the stack to paint, from its top down.
    const DEPTH: usize = 32 * 1024;
    /// Room left unpainted below the painter's own frame.
    const MARGIN: usize = 256;

    unsafe extern "C" {
        /// The initial stack pointer, from cortex-m-rt's linker script.
        static _stack_start: u32;
    }

    fn stack_top() -> usize {
        // Only the symbol's address is taken, never its contents.
        core::ptr::addr_of!(_stack_start) as usize
    }

    /// Paints the stack below the caller's frame down to `DEPTH` below the top.
    pub fn paint() {
        let sp = cortex_m::register::msp::read() as usize;
        let mut p = stack_top() - DEPTH;
        while p < sp - MARGIN {
            // SAFETY: below every live frame, inside the stack region.
            unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
            p += 4;
        }
    }

    /// Bytes of stack used at the deepest point so far, from its top.
    pub fn peak() -> usize {
        let top = stack_top();
        let mut p = top - DEPTH;
        // SAFETY: reads of stack memory that was painted at start-up.
        while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
            p += 4;
        }
        top - p
    }
}

fn fail(why: &str) -> ! {
    hprintln!("pmulab board: error: {}", why);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

/// `exit-after=SECONDS` from the semihosting command line, if given.
fn exit_after() -> Option<u64> {
    let mut line = [0u8; 128];
    // SAFETY: SYS_GET_CMDLINE writes at most `line.len()` bytes into `line`.
    let status =
        unsafe { cortex_m_semihosting::syscall!(GET_CMDLINE, line.as_mut_ptr(), line.len()) };
    if status != 0 {
        return None;
    }
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let text = core::str::from_utf8(&line[..end]).ok()?;
    text.split_whitespace()
        .find_map(|word| word.strip_prefix("exit-after="))
        .and_then(|secs| secs.parse().ok())
}

#[entry]
fn main() -> ! {
    stack_use::paint();
    let Some(mut core) = cortex_m::Peripherals::take() else {
        fail("core peripherals already taken");
    };
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(CORE_HZ / 1000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();

    // SAFETY: the LAN9118 lives at this address on MPS2 boards, and only this driver uses it.
    let mut nic = match unsafe { Lan9118::new(LAN9118_BASE) } {
        Ok(nic) => nic,
        Err(_) => fail("no LAN9118 Ethernet controller at 0x4020_0000"),
    };
    let mac = nic.mac_address();
    let (Some(buffers), Some(tables)) = (BUFFERS.take(), TABLES.take()) else {
        fail("network memory already taken");
    };
    let board = Board;
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    config.random_seed =
        u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0x4d, 0x55]);
    let now = smoltcp::time::Instant::from_millis(board.now().as_micros() as i64 / 1000);
    let mut iface = Interface::new(config, &mut nic, now);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(Ipv4Address::new(10, 0, 2, 15).into(), 24));
    });
    if iface
        .routes_mut()
        .add_default_ipv4_route(Ipv4Address::new(10, 0, 2, 2))
        .is_err()
    {
        fail("cannot add the default route");
    }

    let Buffers {
        tcp_rx,
        tcp_tx,
        udp_rx,
        udp_tx,
        scratch,
    } = buffers;
    let Tables {
        storage,
        udp_rx_meta,
        udp_tx_meta,
    } = tables;
    let mut sockets = SocketSet::new(&mut storage[..]);
    let mut tcp_handles = [None; TCP];
    for ((rx, tx), slot) in tcp_rx
        .iter_mut()
        .zip(tcp_tx.iter_mut())
        .zip(tcp_handles.iter_mut())
    {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        );
        *slot = Some(sockets.add(socket));
    }
    let udp_socket = udp::Socket::new(
        udp::PacketBuffer::new(&mut udp_rx_meta[..], &mut udp_rx[..]),
        udp::PacketBuffer::new(&mut udp_tx_meta[..], &mut udp_tx[..]),
    );
    let udp_handle = sockets.add(udp_socket);
    let tcp_handles = tcp_handles.map(|h| h.unwrap_or_else(|| fail("socket set full")));

    let mut stack: SmolStack<'_, Lan9118, Board, TCP, 1> =
        SmolStack::new(iface, sockets, nic, board, tcp_handles, [udp_handle]);
    let session = SessionConfig {
        count: MessageCount::DEFAULT,
        flood_bytes: pmulab_core::stream::flood::DEFAULT_FLOOD_BYTES,
        command_timeout: Duration::from_secs(10),
    };
    let responder = ResponderConfig {
        loss: 0.4,
        schedule: FamilySchedule::Both,
    };
    let deadline = exit_after().map(Instant::from_secs);
    let mut rng = SplitMix64::new(config_seed(&mac));
    let mut counts = [0u32; 4];
    hprintln!(
        "pmulab board ready: PMU on 10.0.2.15:{} (TCP) and :{} (UDP reset), MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        app::PMU_PORT,
        app::RESET_PORT,
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5]
    );
    let served = app::serve::<_, _, _, TCP, 1, SESSIONS>(
        &mut stack,
        session,
        responder,
        &mut rng,
        &mut scratch[..],
        |event| {
            let i = match event {
                Event::SessionDone => 0,
                Event::SessionAborted => 1,
                Event::Refused => 2,
                Event::ResetAnswered => 3,
            };
            counts[i] += 1;
        },
        deadline,
    );
    if served.is_err() {
        fail("cannot open the PMU's ports");
    }
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    hprintln!(
        "pmulab board: stopping after {} session{} ({} aborted, {} refused) and {} reset answer{}; stack peak {} bytes",
        counts[0],
        plural(counts[0]),
        counts[1],
        counts[2],
        counts[3],
        plural(counts[3]),
        stack_use::peak()
    );
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

fn config_seed(mac: &[u8; 6]) -> u64 {
    let ticks = cortex_m::interrupt::free(|cs| MILLIS.borrow(cs).get());
    u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0])
        ^ ticks.rotate_left(32)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("pmulab board: panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
