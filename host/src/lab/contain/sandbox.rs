//! The sandbox helper: `pmulab __sandbox [options] -- PROGRAM ARGS…`, the
//! process the grader starts for every run of a program it does not trust.
//!
//! ```text
//! helper (the grader's child; mount namespace made here, everything read-only but the workdir)
//!  └─ init (pid 1 of a new pid namespace: reaps, forwards signals, kills what is left)
//!      └─ the program (limits set, unprivileged, no capabilities, in its workdir)
//! ```
//!
//! The helper ends as the program ended (same exit status, or killed by
//! the same signal), so the grader reads it as it would read the program.
//! When the program ends, init kills everything else in the namespace, and
//! if the helper is killed, init dies with it (parent-death signal), which
//! takes the whole namespace down: nothing the program started survives.
//! Before it ends, the helper writes a status line for the grader
//! ([`Usage`]).
//!
//! Each process here is single-threaded when it forks, so the code after
//! a fork may do anything; it allocates only before exec or exit.

use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::{Limits, reach};
use crate::ui::failure::Failure;

/// Exit status when the sandbox itself could not be set up.
pub const SETUP_FAILED: i32 = 125;

/// One run's sandbox, as the grader asks for it.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The program's working directory (the only place it may write).
    pub workdir: PathBuf,
    /// The unprivileged user and group it runs as (none: the caller's).
    pub user: Option<(u32, u32)>,
    /// Pid and mount namespaces, a private /proc (false where they cannot be made).
    pub namespaces: bool,
    /// Only a pid namespace, no limits, no other user: the reaper around a
    /// whole grading, so that killing it kills everything the grading
    /// started, however deep.
    pub reaper: bool,
    /// Its resource limits.
    pub limits: Limits,
    /// Where the helper writes the run's [`Usage`].
    pub status: Option<PathBuf>,
}

impl Spec {
    /// The helper's arguments before `--`, as `__sandbox` parses them.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "__sandbox".into(),
            "--workdir".into(),
            self.workdir.clone().into(),
            "--cpu".into(),
            self.limits.cpu.as_secs().max(1).to_string().into(),
            "--memory".into(),
            self.limits.memory.to_string().into(),
            "--processes".into(),
            self.limits.processes.to_string().into(),
            "--file-size".into(),
            self.limits.file_size.to_string().into(),
            "--open-files".into(),
            self.limits.open_files.to_string().into(),
        ];
        if let Some((uid, gid)) = self.user {
            args.extend(["--uid".into(), uid.to_string().into()]);
            args.extend(["--gid".into(), gid.to_string().into()]);
        }
        if self.namespaces {
            args.push("--namespaces".into());
        }
        if self.reaper {
            args.push("--reaper".into());
        }
        if let Some(status) = &self.status {
            args.extend(["--status".into(), status.clone().into()]);
        }
        args.push("--".into());
        args
    }
}

/// What a run used, as the helper measured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// CPU time of the program and everything it started, in milliseconds.
    pub cpu_ms: u64,
    /// The largest resident set of any of its processes, in KiB.
    pub peak_kib: u64,
    /// Processes it started (itself included) that init reaped.
    pub processes: u64,
    /// Processes still running when it ended, killed then.
    pub left_behind: u64,
    /// It was stopped for reaching its process limit.
    pub process_limit: bool,
}

impl Usage {
    /// The status line.
    fn line(&self) -> String {
        format!(
            "cpu_ms={} peak_kib={} processes={} left_behind={} process_limit={}\n",
            self.cpu_ms,
            self.peak_kib,
            self.processes,
            self.left_behind,
            u8::from(self.process_limit)
        )
    }

    /// Reads a status line (`None` when the helper did not get to write it).
    pub fn read(path: &Path) -> Option<Usage> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut usage = Usage::default();
        for field in text.split_whitespace() {
            let (key, value) = field.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            match key {
                "cpu_ms" => usage.cpu_ms = value,
                "peak_kib" => usage.peak_kib = value,
                "processes" => usage.processes = value,
                "left_behind" => usage.left_behind = value,
                "process_limit" => usage.process_limit = value != 0,
                _ => {}
            }
        }
        Some(usage)
    }
}

/// The last terminating signal the helper or init received, to forward.
static PENDING: AtomicI32 = AtomicI32::new(0);

/// Set by init's timer: time to count the namespace's processes.
static TICK: AtomicBool = AtomicBool::new(false);

extern "C" fn on_tick(_: libc::c_int) {
    TICK.store(true, Ordering::Relaxed);
}

/// Wakes init every 100 ms (its wait returns EINTR) to count processes.
fn watch_process_count() {
    // SAFETY: a handler that only stores to an atomic, and a real-time
    // interval timer for this process (not inherited by its children).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_tick as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut());
        let every = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        let timer = libc::itimerval {
            it_interval: every,
            it_value: every,
        };
        libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut());
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    PENDING.store(signal, Ordering::Relaxed);
}

/// Catches SIGTERM, SIGINT and SIGHUP without restarting system calls, so
/// that a wait returns EINTR and the signal is passed on.
fn catch_signals() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: installing a handler that only stores to an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

fn take_pending() -> Option<libc::c_int> {
    match PENDING.swap(0, Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

/// Runs `program` in the sandbox `spec` describes and ends as it ended.
pub fn run(spec: &Spec, program: &[OsString]) -> Result<(), Failure> {
    let prepared = Prepared::new(spec, program)?;
    // SAFETY: RLIMIT_CORE for this process: a signal mirrored at the end
    // must not write a core file.
    unsafe { set_limit(libc::RLIMIT_CORE, 0) };
    let status_file = match &spec.status {
        Some(path) => Some(
            std::fs::File::create(path)
                .map_err(|e| Failure::runtime(format!("{}: {e}", path.display())))?,
        ),
        None => None,
    };
    if spec.reaper {
        // SAFETY: unshare with a constant flag.
        if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
            return Err(Failure::runtime(format!(
                "sandbox: making a pid namespace: {}",
                io::Error::last_os_error()
            )));
        }
    } else if spec.namespaces {
        enter_namespaces(&spec.workdir, || {
            if let Some((uid, gid)) = spec.user {
                for problem in reach::expose(&prepared.reach, uid, gid) {
                    eprintln!("pmulab sandbox: cannot make reachable {problem}");
                }
            }
        })?;
    }
    let mut report = [0i32; 4];
    let mut pipe = [0i32; 2];
    // SAFETY: a pipe for init's report; fork in this single-threaded process.
    let init = unsafe {
        if libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(Failure::runtime(format!(
                "sandbox: pipe: {}",
                io::Error::last_os_error()
            )));
        }
        libc::fork()
    };
    match init {
        -1 => {
            return Err(Failure::runtime(format!(
                "sandbox: fork: {}",
                io::Error::last_os_error()
            )));
        }
        0 => {
            // SAFETY: the child end of the pipe.
            unsafe { libc::close(pipe[0]) };
            let code = run_init(spec, &prepared, pipe[1]);
            // SAFETY: leaving init without running the helper's destructors.
            unsafe { libc::_exit(code) };
        }
        _ => {}
    }
    // SAFETY: the helper's end of the pipe.
    unsafe { libc::close(pipe[1]) };
    catch_signals();
    wait_forwarding(init);
    // SAFETY: reading init's three numbers from the pipe.
    let got = unsafe { libc::read(pipe[0], report.as_mut_ptr().cast(), size_of_val(&report)) };
    let [program_status, reaped, killed, bomb] = report;
    let mut usage = children_usage();
    usage.processes = u64::try_from(reaped).unwrap_or(0);
    usage.left_behind = u64::try_from(killed).unwrap_or(0);
    usage.process_limit = bomb != 0;
    if let Some(mut file) = status_file {
        let _ = io::Write::write_all(&mut file, usage.line().as_bytes());
    }
    if usize::try_from(got).ok() != Some(size_of_val(&report)) {
        // Init was killed before it could say: the helper was, or is being.
        mirror(libc::W_EXITCODE(0, libc::SIGKILL));
    }
    mirror(program_status)
}

/// What the program needs, made before any fork.
struct Prepared {
    /// Its argv; the first word found on PATH as the caller would.
    program: Vec<CString>,
    workdir: CString,
    /// The paths its user must reach: its executable (and where links
    /// lead), and the existing files its arguments name.
    reach: Vec<PathBuf>,
}

impl Prepared {
    fn new(spec: &Spec, program: &[OsString]) -> Result<Prepared, Failure> {
        let c = |s: &[u8]| {
            CString::new(s).map_err(|_| Failure::usage("sandbox: an argument holds a NUL byte"))
        };
        let Some((first, rest)) = program.split_first() else {
            return Err(Failure::usage("sandbox: give the program after --"));
        };
        let path = std::env::var_os("PATH");
        let found = reach::resolve(first, path.as_deref());
        let mut wanted: Vec<PathBuf> = found.iter().cloned().collect();
        wanted.extend(rest.iter().map(PathBuf::from));
        let mut reach = Vec::new();
        for path in wanted {
            let path = spec.workdir.join(path);
            if let Ok(real) = path.canonicalize() {
                reach.push(path);
                reach.push(real);
            }
        }
        let exe = found.map_or_else(|| first.clone(), PathBuf::into_os_string);
        Ok(Prepared {
            program: std::iter::once(&exe)
                .chain(rest)
                .map(|a| c(a.as_bytes()))
                .collect::<Result<_, _>>()?,
            workdir: c(spec.workdir.as_os_str().as_bytes())?,
            reach,
        })
    }
}

/// Waits for `child`, passing on the signals this process gets.
fn wait_forwarding(child: libc::pid_t) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let got = unsafe { libc::waitpid(child, &mut status, 0) };
        if got == child {
            return status;
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return 0;
        }
        if let Some(signal) = take_pending() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child, signal) };
        }
    }
}

/// Init: starts the program, reaps everything, forwards signals, kills
/// what is left when the program ends, and reports to the helper.
fn run_init(spec: &Spec, prepared: &Prepared, report: libc::c_int) -> i32 {
    // SAFETY: plain system calls in the single-threaded init.
    let own_proc = unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() == 1 {
            // The helper is already gone.
            return 1;
        }
        // This namespace's own /proc, so the program sees only its
        // processes (a container may refuse it: then /proc is the
        // machine's, and nothing is counted from it).
        spec.namespaces
            && !spec.reaper
            && libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) == 0
    };
    catch_signals();
    // SAFETY: fork in single-threaded init.
    let program = unsafe { libc::fork() };
    match program {
        -1 => return SETUP_FAILED,
        0 => {
            let code = start_program(spec, prepared);
            // SAFETY: exec failed; leave at once.
            unsafe { libc::_exit(code) };
        }
        _ => {}
    }
    let (mut program_status, mut reaped, mut killed, mut bomb) = (0, 0i32, 0i32, 0i32);
    let mut program_done = false;
    if own_proc {
        watch_process_count();
    }
    loop {
        let mut status = 0;
        // SAFETY: reaping our children (in a pid namespace, every orphan is ours).
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        if got > 0 {
            reaped = reaped.saturating_add(1);
            if got == program {
                program_status = status;
                program_done = true;
                // The program is over: whatever it left behind goes now.
                killed = kill_the_rest(spec, program, own_proc);
            }
            continue;
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => {
                if let Some(signal) = take_pending() {
                    forward(spec, program, signal, program_done);
                }
                // A program with half its process limit running is forking
                // without end (a lab program needs a handful): stopped now
                // rather than at its time limit, so it does not hold the
                // cores meanwhile.
                let half = i32::try_from(spec.limits.processes / 2).unwrap_or(i32::MAX);
                if TICK.swap(false, Ordering::Relaxed)
                    && !program_done
                    && count_in_namespace() >= half
                {
                    bomb = 1;
                    // SAFETY: every process of this pid namespace but init.
                    unsafe { libc::kill(-1, libc::SIGKILL) };
                }
            }
            _ => break,
        }
    }
    let numbers = [program_status, reaped, killed, bomb];
    // SAFETY: writing three numbers to the helper's pipe.
    unsafe {
        libc::write(report, numbers.as_ptr().cast(), size_of_val(&numbers));
    }
    0
}

/// Passes a signal on: to everything in the namespace, or (without one)
/// to the program's process group.
fn forward(spec: &Spec, program: libc::pid_t, signal: libc::c_int, program_done: bool) {
    // SAFETY: in a pid namespace -1 means every process in it but init;
    // without one, only the program's own group is signalled.
    unsafe {
        match spec.namespaces || spec.reaper {
            true => libc::kill(-1, signal),
            false if !program_done => libc::kill(-program, signal),
            false => 0,
        };
    }
}

/// Kills what the program left running; how many there were.
fn kill_the_rest(spec: &Spec, program: libc::pid_t, own_proc: bool) -> i32 {
    // Without a /proc of its own, /proc is the machine's: nothing to count.
    let left = match own_proc {
        true => count_in_namespace(),
        false => 0,
    };
    // SAFETY: see `forward`: the namespace, or the program's own group
    // (a child that left it escapes: no pid namespace, no guarantee).
    unsafe {
        match spec.namespaces || spec.reaper {
            true => libc::kill(-1, libc::SIGKILL),
            false => libc::kill(-program, libc::SIGKILL),
        };
    }
    left
}

/// Processes alive in this pid namespace besides init, from its /proc.
fn count_in_namespace() -> i32 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let count = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != 1)
        .count();
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// In the program's process: limits, directory, user, no capabilities,
/// then exec. Returns only on failure, with the exit status to use.
fn start_program(spec: &Spec, prepared: &Prepared) -> i32 {
    let fail = |what: &str| {
        let error = io::Error::last_os_error();
        eprintln!("pmulab sandbox: {what}: {error}");
        SETUP_FAILED
    };
    // SAFETY: system calls on this process only, with valid arguments.
    unsafe {
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::signal(signal, libc::SIG_DFL);
        }
        if spec.reaper {
            return exec(prepared, spec);
        }
        libc::umask(0o022);
        // The grader and its servers come first; programs share what is left.
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
        if !spec.namespaces {
            // Its own group, so that what it leaves behind can be killed
            // without killing the helper; and it dies with init.
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        }
        let limits = spec.limits;
        let cpu = limits.cpu.as_secs().max(1);
        let set = [
            (libc::RLIMIT_CPU, cpu, cpu + 1),
            (libc::RLIMIT_AS, limits.memory, limits.memory),
            (libc::RLIMIT_NPROC, limits.processes, limits.processes),
            (libc::RLIMIT_FSIZE, limits.file_size, limits.file_size),
            (libc::RLIMIT_NOFILE, limits.open_files, limits.open_files),
            (libc::RLIMIT_CORE, 0, 0),
        ];
        for (resource, soft, hard) in set {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(resource, &limit) != 0 {
                return fail("setting a resource limit");
            }
        }
        if libc::chdir(prepared.workdir.as_ptr()) != 0 {
            return fail("entering the working directory");
        }
        if let Some((uid, gid)) = spec.user {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return fail("becoming the unprivileged user");
            }
        } else if spec.namespaces {
            // Root of a user namespace: keep the uid, shed every capability.
            for capability in 0..64 {
                libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0);
            }
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return fail("dropping privileges");
        }
    }
    exec(prepared, spec)
}

/// Execs the program; returns only on failure, with the exit status to use.
fn exec(prepared: &Prepared, spec: &Spec) -> i32 {
    let mut argv: Vec<*const libc::c_char> = prepared.program.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: a NUL-terminated array of valid C strings.
    unsafe { libc::execvp(argv[0], argv.as_ptr()) };
    let error = io::Error::last_os_error();
    let name = prepared.program[0].to_string_lossy();
    match (error.kind(), spec.user) {
        (io::ErrorKind::PermissionDenied, Some((uid, _))) => eprintln!(
            "pmulab sandbox: cannot run {name} as the unprivileged user {uid}: {error} (is it, or \
its interpreter, under a private directory such as /root? use one installed for every user)"
        ),
        _ => eprintln!("pmulab sandbox: cannot run {name}: {error}"),
    }
    match error.kind() {
        io::ErrorKind::NotFound => 127,
        _ => 126,
    }
}

/// A private mount namespace in which every mount is read-only but the
/// working directory, and a pid namespace for the children to come.
fn enter_namespaces(workdir: &Path, expose: impl FnOnce()) -> Result<(), Failure> {
    let fail =
        |what: &str| Failure::runtime(format!("sandbox: {what}: {}", io::Error::last_os_error()));
    let workdir_c = CString::new(workdir.as_os_str().as_bytes())
        .map_err(|_| Failure::usage("sandbox: the working directory holds a NUL byte"))?;
    // SAFETY: namespace and mount calls with valid C strings.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWPID) != 0 {
            return Err(fail("making the namespaces"));
        }
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(fail("making mounts private"));
        }
        // The workdir becomes a mount of its own, so it stays writable.
        if libc::mount(
            workdir_c.as_ptr(),
            workdir_c.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        ) != 0
        {
            return Err(fail("binding the working directory"));
        }
    }
    expose();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Failure::runtime(format!("sandbox: /proc/self/mountinfo: {e}")))?;
    for point in mount_points(&mountinfo) {
        if point.starts_with(workdir) {
            continue;
        }
        let made_read_only = remount_read_only(&point);
        if !made_read_only && point == Path::new("/") {
            return Err(fail("making / read-only"));
        }
    }
    Ok(())
}

/// The mount points in a mountinfo text (field 5, octal escapes undone).
fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(OsString::from_vec(unescape(field))))
        .collect()
}

/// Undoes mountinfo's `\040`-style escapes.
fn unescape(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let text = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(text, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Remounts one mount point read-only, keeping the flags it had (a user
/// namespace may not clear nosuid, nodev or noexec).
fn remount_read_only(point: &Path) -> bool {
    let Ok(path) = CString::new(point.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs and mount on a valid C string.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut stat) != 0 {
            return false;
        }
        let kept = [
            (libc::ST_NOSUID, libc::MS_NOSUID),
            (libc::ST_NODEV, libc::MS_NODEV),
            (libc::ST_NOEXEC, libc::MS_NOEXEC),
            (libc::ST_NOATIME, libc::MS_NOATIME),
            (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
            (libc::ST_RELATIME, libc::MS_RELATIME),
        ]
        .iter()
        .filter(|(st, _)| stat.f_flag & st != 0)
        .fold(0, |flags, (_, ms)| flags | ms);
        libc::mount(
            std::ptr::null(),
            path.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | kept,
            std::ptr::null(),
        ) == 0
    }
}

/// CPU time and peak memory of every reaped descendant.
fn children_usage() -> Usage {
    // SAFETY: getrusage into a zeroed struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| {
        u64::try_from(t.tv_sec).unwrap_or(0) * 1000 + u64::try_from(t.tv_usec).unwrap_or(0) / 1000
    };
    Usage {
        cpu_ms: ms(usage.ru_utime) + ms(usage.ru_stime),
        peak_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        processes: 0,
        left_behind: 0,
        process_limit: false,
    }
}

/// Ends this process as the program ended: its exit status, or its signal.
fn mirror(status: i32) -> ! {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: default action for the signal, unblocked, then raised.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(signal);
        }
        std::process::exit(128 + signal);
    }
    std::process::exit(libc::WEXITSTATUS(status))
}

/// Sets one resource limit (soft and hard).
///
/// # Safety
/// `resource` must be a valid RLIMIT_* constant.
unsafe fn set_limit(resource: libc::__rlimit_resource_t, value: u64) {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: per the function's contract.
    unsafe { libc::setrlimit(resource, &limit) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_undo_octal_escapes() {
        let info = "22 1 0:21 / / rw,relatime - ext4 /dev/root rw\n\
                    30 22 0:25 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";
        assert_eq!(
            mount_points(info),
            vec![PathBuf::from("/"), PathBuf::from("/mnt/with space")]
        );
    }

    #[test]
    fn a_status_line_reads_back() {
        let usage = Usage {
            cpu_ms: 1500,
            peak_kib: 20480,
            processes: 3,
            left_behind: 1,
            process_limit: true,
        };
        let path = std::env::temp_dir().join(format!("pmulab-usage-{}", std::process::id()));
        let Ok(()) = std::fs::write(&path, usage.line()) else {
            panic!("cannot write {}", path.display());
        };
        assert_eq!(Usage::read(&path), Some(usage));
        let _ = std::fs::remove_file(&path);
        assert_eq!(Usage::read(&path), None);
    }
}
