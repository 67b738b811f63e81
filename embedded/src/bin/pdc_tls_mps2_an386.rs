//! Firmware: part 5's PDC on the Arm MPS2 AN386 board (Cortex-M4F), as
//! QEMU's `mps2-an386` emulates it.
//!
//! It connects to a TLS PMU on the host (10.0.2.2, QEMU's user-mode
//! gateway, is the host's loopback), verifies the PMU's certificate against
//! the CA certificate built into the image and the name built in with it
//! (see `build.rs`), sends `CMD_short:0` and prints each message by
//! semihosting — core's PDC, unchanged, inside TLS 1.3 from embedded-tls
//! over the smoltcp adapter. It ends the emulation with exit status 0 once
//! the PMU has closed the session, 1 on any failure, with the reason.
//!
//! Semihosting arguments: `port=N` (5443 unless given). A PMU still
//! starting (connection refused) is tried again for 10 seconds.
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::convert::Infallible;
use core::net::{SocketAddr, SocketAddrV4};
use core::time::Duration;

use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::hprintln;
use pmulab_core::nal::Park;
use pmulab_core::stream::client::{PdcConfig, PdcError, PdcOutput, ReplyKind, Request, fetch};
use pmulab_core::stream::deframer::Piece;
use pmulab_core::time::Clock;
use pmulab_embedded::lan9118::Lan9118;
use pmulab_embedded::mps2;
use pmulab_embedded::mps2::calendar::Calendar;
use pmulab_embedded::mps2::clock::Board;
use pmulab_embedded::mps2::entropy;
use pmulab_embedded::mps2::net::{self, SocketTable, TcpMemory};
use pmulab_embedded::mps2::once::Once;
use pmulab_embedded::mps2::semihosting::{argument, exit, fail, utc_origin};
use pmulab_embedded::mps2::stack_use;
use pmulab_embedded::nal::{SmolError, SmolStack};
use pmulab_embedded::tls::{Link, RECORD_BUFFER, TlsPdcError, TlsPdcStack, Trust};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// The CA certificate (DER) the PMU's chain must end at.
const CA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pmu-ca.der"));
/// The name the PMU's certificate must carry.
const PMU_NAME: &str = include_str!(concat!(env!("OUT_DIR"), "/pmu-name"));
/// The PMU's port unless `port=` says otherwise (`pmulab serve`'s TLS PMU).
const PORT: u16 = 5443;
/// TCP sockets: the connection, and one more while a refused one closes.
const TCP: usize = 2;
/// Room for the PMU's certificate chain while it is checked.
const CERT: usize = 1024;
/// How long a PMU that refuses connections is tried again.
const START_WAIT: Duration = Duration::from_secs(10);
/// The longest line printed of a message.
const LINE: usize = 120;

/// Buffers: zeros, so they cost RAM (.bss) but no flash.
struct Buffers {
    tcp: TcpMemory<TCP, 2048, 512>,
    /// One encrypted record in (any size TLS allows), one out.
    record_in: [u8; RECORD_BUFFER],
    record_out: [u8; 512],
    /// What core's PDC reads into.
    reply: [u8; 256],
}

static BUFFERS: Once<Buffers> = Once::new(Buffers {
    tcp: TcpMemory::ZERO,
    record_in: [0; RECORD_BUFFER],
    record_out: [0; 512],
    reply: [0; 256],
});

static TABLE: Once<SocketTable<TCP>> = Once::new(SocketTable::EMPTY);

/// Its only job is to end WFI every millisecond.
#[exception]
fn SysTick() {}

type Stack = SmolStack<'static, Lan9118, Board, TCP, 0>;

#[entry]
fn main() -> ! {
    let board = mps2::boot();
    let Some(utc_origin) = utc_origin(&board) else {
        fail("the host's clock (semihosting SYS_TIME) does not advance");
    };
    let port = match argument("port").map(u16::try_from) {
        None => PORT,
        Some(Ok(port @ 1..)) => port,
        Some(_) => fail("port= must be 1 to 65535"),
    };
    let (mut nic, iface) = net::interface(&board).unwrap_or_else(|why| fail(why));
    let mac = nic.mac_address();
    let utc_now = utc_origin + board.now().as_micros();
    let seed = entropy::seed(&board, &mac, utc_now).unwrap_or_else(|why| fail(why));
    let mut rng = ChaCha20Rng::from_seed(seed);
    let (Some(buffers), Some(table)) = (BUFFERS.take(), TABLE.take()) else {
        fail("network memory already taken");
    };
    let mut sockets = table.set();
    let tcp = buffers.tcp.add_to(&mut sockets);
    let stack: Stack = SmolStack::new(iface, sockets, nic, board, tcp, []);
    let link = RefCell::new(Link::new(stack, Duration::from_secs(10)));
    let pmu = SocketAddr::V4(SocketAddrV4::new(net::GATEWAY, port));
    hprintln!(
        "pmulab board ready: PDC over TLS 1.3 to {} (the host), expecting a certificate for {:?} from the CA built in; MAC {}",
        pmu,
        PMU_NAME,
        pmulab_embedded::app::Mac(mac)
    );

    let trust = Trust {
        ca: CA,
        name: PMU_NAME,
    };
    let request = Request {
        remote: pmu,
        command: b"CMD_short:0",
        kind: ReplyKind::Messages,
    };
    let mut out = Printed::default();
    let give_up = board_now(&link) + START_WAIT;
    let outcome = loop {
        Calendar::set(utc_origin + board_now(&link).as_micros());
        let mut tls: TlsPdcStack<'_, Stack, _, Calendar, CERT> = TlsPdcStack::new(
            &link,
            trust,
            &mut rng,
            &mut buffers.record_in[..],
            &mut buffers.record_out[..],
        );
        let clock = Now(&link);
        let outcome = fetch(
            &mut tls,
            &clock,
            request,
            &PdcConfig::default(),
            &mut buffers.reply[..],
            &mut out,
        );
        let refused = matches!(
            outcome,
            Err(PdcError::Connect(TlsPdcError::Tcp(SmolError::Reset)))
        );
        if !refused || board_now(&link) >= give_up {
            break outcome;
        }
        // The PMU may still be starting: try again in a quarter of a second.
        let mut link = link.borrow_mut();
        let again = link_now(&link) + Duration::from_millis(250);
        while link_now(&link) < again {
            link.stack_mut().park(Some(again));
        }
    };
    match outcome {
        Ok(summary) => {
            hprintln!(
                "pmulab board: {} messages from {} over TLS 1.3 ({} bytes); stack peak {} bytes",
                summary.messages,
                pmu,
                summary.bytes,
                stack_use::peak()
            );
            exit(true)
        }
        Err(e) => {
            hprintln!(
                "pmulab board: error: {} (stack peak {} bytes)",
                e,
                stack_use::peak()
            );
            exit(false)
        }
    }
}

fn board_now(link: &RefCell<Link<Stack>>) -> pmulab_core::time::Instant {
    link_now(&link.borrow())
}

fn link_now(link: &Link<Stack>) -> pmulab_core::time::Instant {
    link.stack().now()
}

/// The board's clock, read through the link that holds the stack.
struct Now<'l>(&'l RefCell<Link<Stack>>);

impl Clock for Now<'_> {
    fn now(&self) -> pmulab_core::time::Instant {
        match self.0.try_borrow() {
            Ok(link) => link.stack().now(),
            // Only while the TLS stack is inside the link; never when core's PDC asks.
            Err(_) => pmulab_core::time::Instant::ZERO,
        }
    }
}

/// Prints each message as it ends.
#[derive(Default)]
struct Printed {
    line: heapless::Vec<u8, LINE>,
}

impl PdcOutput for Printed {
    type Error = Infallible;

    fn piece(&mut self, piece: Piece<'_>) -> Result<(), Infallible> {
        match piece {
            Piece::Start { .. } => self.line.clear(),
            Piece::Text(text) => {
                let room = LINE - self.line.len();
                let _ = self.line.extend_from_slice(&text[..text.len().min(room)]);
            }
            Piece::End => {
                let valid = match core::str::from_utf8(&self.line) {
                    Ok(text) => text,
                    Err(e) => core::str::from_utf8(&self.line[..e.valid_up_to()]).unwrap_or(""),
                };
                hprintln!("{}", valid);
            }
        }
        Ok(())
    }

    /// Not asked for: `CMD_short` is read as messages.
    fn raw(&mut self, _: &[u8]) -> Result<(), Infallible> {
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("pmulab board: panic: {}", info);
    exit(false)
}
