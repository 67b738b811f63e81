//! Firmware: the lab's PMU and an IEEE C37.118.2 PMU on the Arm MPS2 AN386
//! board (Cortex-M4F), as QEMU's `mps2-an386` emulates it.
//!
//! Everything the lab's image does (TCP PMU on 5003, UDP reset PMU on
//! 5004), and beside it core's C37.118.2 PMU on TCP 4712 and UDP 4713 for
//! two PDCs at once each: IDCODE 7 (as `pmulab c37-pmu`), station "pmulab board", 50 frames/s of a 50 Hz
//! three-phase signal, stamped with UTC taken from the host's clock at
//! start-up (semihosting SYS_TIME) and kept by the board's timer. It does
//! not fit the lab image's 64 KiB / 20 KiB budget; see the README.
//! Semihosting arguments: `exit-after=SECONDS`, `rate=FPS`.
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::hprintln;
use pmulab_core::synchrophasor::pmu::PmuSettings;
use pmulab_core::synchrophasor::signal::Signal;
use pmulab_core::synchrophasor::udp::C37_UDP_PORT;
use pmulab_core::time::{Clock, Instant};
use pmulab_embedded::app::{self, Counts};
use pmulab_embedded::c37::{C37_PORT, C37Pmu};
use pmulab_embedded::lan9118::Lan9118;
use pmulab_embedded::mps2;
use pmulab_embedded::mps2::clock::Board;
use pmulab_embedded::mps2::net::{self, SocketTable, TcpMemory, UdpBuffers, UdpQueues};
use pmulab_embedded::mps2::once::Once;
use pmulab_embedded::mps2::semihosting::{argument, exit, fail, utc_origin};
use pmulab_embedded::mps2::stack_use;
use pmulab_embedded::nal::SmolStack;

/// TCP sockets: the lab's 7, and for C37 two PDCs, two listening, and one closing.
const TCP: usize = 12;
/// The lab's PMU sessions served at once.
const SESSIONS: usize = 4;
/// C37 PDCs served at once.
const PDCS: usize = 2;
/// The PMU's send chunk (and UDP receive buffer).
const SCRATCH: usize = 256;
/// Data frames per second unless `rate=` says otherwise.
const RATE: u16 = 50;

/// Buffers: zeros, so they cost RAM (.bss) but no flash.
struct Buffers {
    tcp: TcpMemory<TCP, 256, 512>,
    udp: UdpBuffers<256>,
    c37_udp: UdpBuffers<512>,
    scratch: [u8; SCRATCH],
}

/// Bookkeeping whose initial value is not zero (copied from flash).
struct Tables {
    sockets: SocketTable<{ TCP + 2 }>,
    udp: UdpQueues<4>,
    c37_udp: UdpQueues<4>,
}

static BUFFERS: Once<Buffers> = Once::new(Buffers {
    tcp: TcpMemory::ZERO,
    udp: UdpBuffers::ZERO,
    c37_udp: UdpBuffers::ZERO,
    scratch: [0; SCRATCH],
});

static TABLES: Once<Tables> = Once::new(Tables {
    sockets: SocketTable::EMPTY,
    udp: UdpQueues::EMPTY,
    c37_udp: UdpQueues::EMPTY,
});

/// Its only job is to end WFI every millisecond.
#[exception]
fn SysTick() {}

#[entry]
fn main() -> ! {
    let board = mps2::boot();
    let Some(utc_origin) = utc_origin(&board) else {
        fail("the host's clock (semihosting SYS_TIME) does not advance");
    };
    let rate = match argument("rate").map(u16::try_from) {
        None => RATE,
        Some(Ok(rate @ 1..=240)) => rate,
        Some(_) => fail("rate= must be 1 to 240 frames per second"),
    };
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
    let seed = board.now().as_micros() ^ u64::from(mac[5]);
    let c37_udp = tables.c37_udp.add_to(&mut buffers.c37_udp, &mut sockets);
    let mut stack: SmolStack<'_, Lan9118, Board, TCP, 2> =
        SmolStack::new(iface, sockets, nic, board, tcp, [udp, c37_udp]);

    let settings = PmuSettings {
        idcode: 7,
        station: "pmulab board",
        rate,
        signal: Signal::default(),
    };
    let mut c37 = C37Pmu::<_, PDCS>::bind(&mut stack, settings, seed, utc_origin)
        .unwrap_or_else(|why| fail(why));
    let stop_at = argument("exit-after").map(Instant::from_secs);
    hprintln!(
        "pmulab board ready: PMU on {}:{} (TCP) and :{} (UDP reset), C37.118 PMU on :{} (TCP) and :{} (UDP) ({} frames/s), MAC {}",
        net::ADDRESS,
        app::PMU_PORT,
        app::RESET_PORT,
        C37_PORT,
        C37_UDP_PORT,
        rate,
        app::Mac(mac)
    );
    let mut counts = Counts::default();
    let served = app::serve::<_, _, _, TCP, 2, SESSIONS>(
        &mut stack,
        app::LAB_SESSION,
        app::LAB_RESPONDER,
        &mut rng,
        &mut scratch[..],
        &mut c37,
        |event| counts.add(event),
        stop_at,
    );
    if served.is_err() {
        fail("cannot open the PMU's ports");
    }
    let c37 = c37.counts();
    hprintln!(
        "pmulab board: stopping after {}, {} C37 PDC{} ({} turned away, {} ended on an error) and {} by UDP ({} datagrams dropped); stack peak {} bytes",
        counts,
        c37.accepted,
        if c37.accepted == 1 { "" } else { "s" },
        c37.busy,
        c37.failed,
        c37.udp_known,
        c37.dropped,
        stack_use::peak()
    );
    exit(true)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("pmulab board: panic: {}", info);
    exit(false)
}
