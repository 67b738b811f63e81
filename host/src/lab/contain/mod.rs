//! Containment for programs the grader does not trust.
//!
//! Two levels, both made of plain Linux namespaces and resource limits (no
//! daemon, no cgroup delegation, nothing to install):
//!
//! - **The grading**: the grader and the lab servers it starts for one
//!   submission run in a network namespace of their own whose only
//!   interface is loopback ([`isolate_grading`], then [`loopback_up`]
//!   inside). Parallel gradings never collide on ports, and the program,
//!   which runs inside the same namespace, can reach nothing else.
//! - **Each run of the program** goes through the sandbox helper
//!   ([`sandbox`]): a pid namespace (its whole process tree dies with it,
//!   daemonised children included), a mount namespace in which everything
//!   but its working directory is read-only, an unprivileged user, no
//!   capabilities, and rlimits on CPU, memory, processes, file size and
//!   open files.
//!
//! As root the namespaces are made directly and the program runs as an
//! unprivileged uid; otherwise an unprivileged user namespace stands in for
//! root. Where neither works, [`Protections::probe`] says exactly what is
//! missing.

mod reach;
pub mod sandbox;
pub mod workdir;

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The first of the unprivileged uids programs run as when the grader is
/// root: one per parallel grading slot, so that the process limit of one
/// submission never counts another's. Far above any account a system
/// hands out.
pub const SANDBOX_UID_BASE: u32 = 3_000_000_000;

/// The resource limits of one run of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU time (the process gets SIGXCPU, then SIGKILL a second later).
    pub cpu: Duration,
    /// Address space, in bytes.
    pub memory: u64,
    /// Processes and threads its user may have at once.
    pub processes: u64,
    /// The largest file it may write, in bytes.
    pub file_size: u64,
    /// Open file descriptors.
    pub open_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: Duration::from_secs(30),
            memory: 512 << 20,
            processes: 64,
            file_size: 16 << 20,
            open_files: 256,
        }
    }
}

impl Limits {
    /// One line for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} s of CPU, {} MiB of memory, {} processes, files up to {} MiB, {} open files",
            self.cpu.as_secs(),
            self.memory >> 20,
            self.processes,
            self.file_size >> 20,
            self.open_files
        )
    }
}

/// How namespaces can be made here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// Running as root: namespaces directly, programs as unprivileged uids.
    Root,
    /// Not root, but unprivileged user namespaces work: the user namespace
    /// maps this user to root inside, and the program runs as this user.
    UserNamespace {
        /// The caller's uid.
        uid: u32,
        /// The caller's gid.
        gid: u32,
    },
}

/// Which protections this machine can give, found by trying them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protections {
    /// How, when namespaces work at all.
    pub privilege: Option<Privilege>,
    /// Why they do not, when they do not.
    pub why_not: Option<String>,
}

impl Protections {
    /// Tries to make the namespaces a grading needs, in a short-lived child.
    pub fn probe() -> Protections {
        // SAFETY: getters with no arguments.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let privilege = match euid {
            0 => Privilege::Root,
            uid => Privilege::UserNamespace { uid, gid: egid },
        };
        let flags = namespace_flags(privilege) | libc::CLONE_NEWNS | libc::CLONE_NEWPID;
        let mut command = Command::new("/proc/self/exe");
        command
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: unshare(2) is async-signal-safe.
        unsafe {
            command.pre_exec(move || match libc::unshare(flags) {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            });
        }
        match command.spawn().and_then(|mut child| child.wait()) {
            Ok(_) => Protections {
                privilege: Some(privilege),
                why_not: None,
            },
            Err(e) => Protections {
                privilege: None,
                why_not: Some(match privilege {
                    Privilege::Root => format!("namespaces cannot be made here ({e})"),
                    Privilege::UserNamespace { .. } => format!(
                        "not root, and unprivileged user namespaces are not allowed here ({e}; \
see /proc/sys/user/max_user_namespaces and, on some kernels, kernel.unprivileged_userns_clone)"
                    ),
                }),
            },
        }
    }

    /// What is missing, one sentence, or `None` when nothing is.
    pub fn missing(&self) -> Option<String> {
        let why = self.why_not.as_deref()?;
        Some(format!(
            "{why}: the program will run WITHOUT a network namespace (it can reach any network \
this machine can, and lab ports may collide), WITHOUT a mount namespace (it can write wherever \
you can), WITHOUT a pid namespace (a child that leaves its process group outlives the grading); \
it still gets a fresh working directory, a clean environment, resource limits, its process \
group killed and, when you are root, an unprivileged uid"
        ))
    }
}

/// `pmulab ARGS…` started under a reaper: in a pid namespace of its own
/// whose death (the returned command's process killed) takes down
/// everything the grading started, however deep.
pub fn reaped(args: &[std::ffi::OsString]) -> io::Result<Command> {
    let exe = std::env::current_exe()?;
    let spec = sandbox::Spec {
        workdir: std::env::current_dir()?,
        user: None,
        namespaces: false,
        reaper: true,
        limits: Limits::default(),
        status: None,
    };
    let mut command = Command::new(&exe);
    command.args(spec.args()).arg(&exe).args(args);
    Ok(command)
}

/// The namespace flags for the grading: a network namespace, and a user
/// namespace when not root.
fn namespace_flags(privilege: Privilege) -> libc::c_int {
    match privilege {
        Privilege::Root => libc::CLONE_NEWNET,
        Privilege::UserNamespace { .. } => libc::CLONE_NEWUSER | libc::CLONE_NEWNET,
    }
}

/// Makes `command` (a grader) start in a network namespace of its own
/// (and, when not root, a user namespace mapping the caller to root).
pub fn isolate_grading(command: &mut Command, privilege: Privilege) {
    let flags = namespace_flags(privilege);
    let maps = match privilege {
        Privilege::Root => None,
        Privilege::UserNamespace { uid, gid } => Some((
            format!("0 {uid} 1\n").into_bytes(),
            format!("0 {gid} 1\n").into_bytes(),
        )),
    };
    // SAFETY: only async-signal-safe calls (unshare, open, write, close) on
    // buffers made before the fork.
    unsafe {
        command.pre_exec(move || {
            if libc::unshare(flags) != 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some((uid_map, gid_map)) = &maps {
                write_proc(c"/proc/self/setgroups", b"deny")?;
                write_proc(c"/proc/self/uid_map", uid_map)?;
                write_proc(c"/proc/self/gid_map", gid_map)?;
            }
            Ok(())
        });
    }
}

/// Writes `bytes` to a /proc file with raw system calls (safe after fork).
fn write_proc(path: &std::ffi::CStr, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: a valid C string and buffer; the descriptor is closed.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        match usize::try_from(written) {
            Ok(n) if n == bytes.len() => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

/// The environment variable that tells a grader it was started in a
/// network namespace of its own, and in which parallel slot.
pub const SLOT_VARIABLE: &str = "PMULAB_GRADE_SLOT";

/// How this process got its namespaces: as real root, or as root of a user
/// namespace (its uid map is not the identity).
pub fn privilege_here() -> Privilege {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let identity =
        map.split_whitespace()
            .collect::<Vec<_>>()
            .starts_with(&["0", "0", "4294967295"]);
    // SAFETY: getters with no arguments.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    match (identity, uid) {
        (true, 0) => Privilege::Root,
        _ => Privilege::UserNamespace { uid, gid },
    }
}

/// Brings the loopback interface of this network namespace up (a fresh
/// namespace has it down).
pub fn loopback_up() -> io::Result<()> {
    let name = CString::new("lo").map_err(io::Error::other)?;
    // SAFETY: an ioctl pair on a datagram socket with a zeroed, named ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in request.ifr_name.iter_mut().zip(name.as_bytes_with_nul()) {
            *slot = *byte as libc::c_char;
        }
        let result = if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request) < 0 {
            Err(io::Error::last_os_error())
        } else {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            match libc::ioctl(fd, libc::SIOCSIFFLAGS, &request) {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            }
        };
        libc::close(fd);
        result
    }
}
