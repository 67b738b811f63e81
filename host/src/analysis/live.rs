//! Live capture on Linux through a packet socket (AF_PACKET), so the
//! default build needs no libpcap. It needs root or CAP_NET_RAW; drops
//! are read from the kernel's counters, never hidden.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `SOL_PACKET` options and packet types (linux/if_packet.h).
const SOL_PACKET: libc::c_int = 263;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_OUTGOING: u8 = 4;

/// linux/if_packet.h's `struct tpacket_stats`.
#[repr(C)]
#[derive(Default)]
struct TpacketStats {
    packets: u32,
    drops: u32,
}

/// Why a capture could not start.
#[derive(Debug)]
pub enum CaptureError {
    /// No interface of that name.
    NoInterface(String),
    /// Neither root nor CAP_NET_RAW.
    NotPermitted,
    Io(io::Error),
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureError::NoInterface(name) => write!(f, "there is no network interface {name:?}"),
            CaptureError::NotPermitted => {
                f.write_str("capturing packets needs root or the CAP_NET_RAW capability")
            }
            CaptureError::Io(e) => e.fmt(f),
        }
    }
}

impl CaptureError {
    /// What to do about it.
    pub fn advice(&self) -> Option<String> {
        match self {
            CaptureError::NotPermitted => Some(
                "run it with sudo (`sudo pmulab capture …`), or give the binary the capability \
once: `sudo setcap cap_net_raw+ep \"$(command -v pmulab)\"`; or read a saved capture with -r FILE"
                    .into(),
            ),
            CaptureError::NoInterface(_) => {
                Some("`ip link` lists the interfaces; the lab's traffic is on `lo`".into())
            }
            CaptureError::Io(_) => None,
        }
    }
}

/// A frame as captured: Ethernet II, whatever the interface's own framing.
#[derive(Debug)]
pub struct CapturedFrame {
    /// Since the Unix epoch, from the kernel's receive time stamp.
    pub time: Duration,
    pub data: Vec<u8>,
    /// Its length on the wire (`data` is cut at the snap length).
    pub wire_len: usize,
}

/// An open packet socket on one interface.
#[derive(Debug)]
pub struct LiveCapture {
    fd: OwnedFd,
    ifindex: i32,
    loopback: bool,
    buf: Vec<u8>,
    drops: u64,
    seen: u64,
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

impl LiveCapture {
    /// Opens a capture on `interface`, with room for `snap_len` bytes a frame.
    pub fn open(interface: &str, snap_len: usize) -> Result<LiveCapture, CaptureError> {
        let name =
            CString::new(interface).map_err(|_| CaptureError::NoInterface(interface.into()))?;
        // SAFETY: a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(CaptureError::NoInterface(interface.into()));
        }
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2).
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::c_int::from(protocol),
            )
        };
        if raw < 0 {
            let e = last_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => CaptureError::NotPermitted,
                _ => CaptureError::Io(e),
            });
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; zero is a valid start.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll of the length given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(CaptureError::Io(last_error()));
        }
        // A large buffer rides out bursts (a floodme on loopback); as root
        // the limit can be lifted, otherwise the system's maximum applies.
        let size: libc::c_int = 32 << 20;
        for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            if set_int(&fd, libc::SOL_SOCKET, option, size).is_ok() {
                break;
            }
        }
        set_int(&fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1).map_err(CaptureError::Io)?;
        let mut capture = LiveCapture {
            fd,
            ifindex: ifindex as i32,
            loopback: interface == "lo",
            buf: vec![0u8; snap_len.max(64)],
            drops: 0,
            seen: 0,
        };
        // Counters start now.
        let _ = capture.read_stats();
        capture.drops = 0;
        capture.seen = 0;
        Ok(capture)
    }

    /// The next frame, waiting at most `wait`; `None` if none came.
    pub fn next(&mut self, wait: Duration) -> io::Result<Option<CapturedFrame>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = last_error();
            return match e.kind() {
                io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        if n == 0 {
            return Ok(None);
        }
        loop {
            match self.receive()? {
                Received::Frame(frame) => return Ok(Some(frame)),
                Received::Skipped => continue,
                Received::Nothing => return Ok(None),
            }
        }
    }

    fn receive(&mut self) -> io::Result<Received> {
        // SAFETY: plain data, zero-initialised, filled by recvmsg.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        // SAFETY: msghdr is plain data; every pointer set below outlives the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&raw mut addr).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control);
        // SAFETY: `msg` describes valid buffers; MSG_TRUNC reports the full length.
        let n = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let e = last_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(Received::Nothing),
                _ => Err(e),
            };
        }
        let wire_len = n as usize;
        if addr.sll_ifindex != self.ifindex {
            return Ok(Received::Skipped);
        }
        // On loopback every packet is seen leaving and arriving: keep one.
        if self.loopback && addr.sll_pkttype == PACKET_OUTGOING {
            return Ok(Received::Skipped);
        }
        self.seen += 1;
        let time = timestamp(&msg).unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        });
        let kept = &self.buf[..wire_len.min(self.buf.len())];
        let data = match addr.sll_hatype {
            libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => kept.to_vec(),
            // An interface without Ethernet framing (tun, ppp): the file
            // stays Ethernet, so give the packet a header of zero addresses.
            _ => {
                let mut framed = vec![0u8; 12];
                framed.extend_from_slice(&addr.sll_protocol.to_ne_bytes());
                framed.extend_from_slice(kept);
                framed
            }
        };
        let wire_len = wire_len + (data.len() - kept.len());
        Ok(Received::Frame(CapturedFrame {
            time,
            data,
            wire_len,
        }))
    }

    /// Frames the kernel dropped since the capture started (its buffer was full).
    pub fn drops(&mut self) -> u64 {
        let _ = self.read_stats();
        self.drops
    }

    /// The kernel's counters reset when read: accumulate them.
    fn read_stats(&mut self) -> io::Result<()> {
        let mut stats = TpacketStats::default();
        let mut len = size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: `stats` is a valid tpacket_stats of the length given.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_STATISTICS,
                (&raw mut stats).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(last_error());
        }
        self.drops += u64::from(stats.drops);
        let _ = stats.packets;
        Ok(())
    }
}

enum Received {
    Frame(CapturedFrame),
    /// Another interface's, or loopback's outgoing copy.
    Skipped,
    Nothing,
}

fn set_int(
    fd: &OwnedFd,
    level: libc::c_int,
    option: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: an int option of the right size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            option,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as u32,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(last_error()),
    }
}

/// The SCM_TIMESTAMPNS control message, if the kernel sent one.
fn timestamp(msg: &libc::msghdr) -> Option<Duration> {
    // SAFETY: walking the control buffer recvmsg filled, with the libc macros.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return Some(Duration::new(
                    u64::try_from(ts.tv_sec).unwrap_or(0),
                    u32::try_from(ts.tv_nsec).unwrap_or(0),
                ));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// A capture running in its own thread, for a caller that does other
/// work meanwhile (`pmulab demo --packets`).
#[derive(Debug)]
pub struct Recording {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<CapturedFrame>, u64)>,
}

/// The most frames a background recording keeps.
const RECORDING_LIMIT: usize = 100_000;

impl Recording {
    /// Starts capturing on `interface`; the socket is open when this returns.
    pub fn start(interface: &str) -> Result<Recording, CaptureError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let mut capture = LiveCapture::open(interface, 262_144)?;
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut frames = Vec::new();
            while !stopped.load(Ordering::Relaxed) && frames.len() < RECORDING_LIMIT {
                match capture.next(Duration::from_millis(20)) {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
            let drops = capture.drops();
            (frames, drops)
        });
        Ok(Recording { stop, thread })
    }

    /// Stops after `grace` (the last ACKs and FINs); the frames and the drops.
    pub fn stop(self, grace: Duration) -> (Vec<CapturedFrame>, u64) {
        std::thread::sleep(grace);
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}
