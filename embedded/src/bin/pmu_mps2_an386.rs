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

use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::hprintln;
use pmulab_core::time::Instant;
use pmulab_embedded::app::{self, Counts};
use pmulab_embedded::lan9118::Lan9118;
use pmulab_embedded::mps2;
use pmulab_embedded::mps2::clock::Board;
use pmulab_embedded::mps2::net::{self, SocketTable, TcpMemory, UdpBuffers, UdpQueues};
use pmulab_embedded::mps2::once::Once;
use pmulab_embedded::mps2::semihosting::{argument, exit, fail};
use pmulab_embedded::mps2::stack_use;
use pmulab_embedded::nal::SmolStack;

/// TCP sockets: PMU sessions, the listening spares, and ones closing.
const TCP: usize = 7;
/// PMU sessions served at once.
const SESSIONS: usize = 4;
/// The PMU's send chunk (and UDP receive buffer).
const SCRATCH: usize = 256;

/// Buffers: zeros, so they cost RAM (.bss) but no flash.
struct Buffers {
    tcp: TcpMemory<TCP, 256, 512>,
    udp: UdpBuffers<256>,
    scratch: [u8; SCRATCH],
}

/// Bookkeeping whose initial value is not zero (copied from flash).
struct Tables {
    sockets: SocketTable<{ TCP + 1 }>,
    udp: UdpQueues<4>,
}

static BUFFERS: Once<Buffers> = Once::new(Buffers {
    tcp: TcpMemory::ZERO,
    udp: UdpBuffers::ZERO,
    scratch: [0; SCRATCH],
});

static TABLES: Once<Tables> = Once::new(Tables {
    sockets: SocketTable::EMPTY,
    udp: UdpQueues::EMPTY,
});

/// Its only job is to end WFI every millisecond.
#[exception]
fn SysTick() {}

#[entry]
fn main() -> ! {
    let board = mps2::boot();
    let (mut nic, iface) = net::interface(&board).unwrap_or_else(|why| fail(why));
    let mac = nic.mac_address();
    let (Some(buffers), Some(tables)) = (BUFFERS.take(), TABLES.take()) else {
        fail("network memory already taken");
    };
    let mut sockets = tables.sockets.set();
    let tcp = buffers.tcp.add_to(&mut sockets);
    let udp = tables.udp.add_to(&mut buffers.udp, &mut sockets);
    let scratch = &mut buffers.scratch;
    let mut rng = app::seed(&mac, &board);
    let mut stack: SmolStack<'_, Lan9118, Board, TCP, 1> =
        SmolStack::new(iface, sockets, nic, board, tcp, [udp]);

    let stop_at = argument("exit-after").map(Instant::from_secs);
    hprintln!(
        "pmulab board ready: PMU on {}:{} (TCP) and :{} (UDP reset), MAC {}",
        net::ADDRESS,
        app::PMU_PORT,
        app::RESET_PORT,
        app::Mac(mac)
    );
    let mut counts = Counts::default();
    let served = app::serve::<_, _, _, TCP, 1, SESSIONS>(
        &mut stack,
        app::LAB_SESSION,
        app::LAB_RESPONDER,
        &mut rng,
        &mut scratch[..],
        &mut (),
        |event| counts.add(event),
        stop_at,
    );
    if served.is_err() {
        fail("cannot open the PMU's ports");
    }
    hprintln!(
        "pmulab board: stopping after {}; stack peak {} bytes",
        counts,
        stack_use::peak()
    );
    exit(true)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("pmulab board: panic: {}", info);
    exit(false)
}
