//! Helpers for the end-to-end tests: find the `pmulab` binary and the
//! Python peers, start servers on free loopback ports, and run clients with
//! a time limit. Every test talks to 127.0.0.1 or ::1 only.
#![allow(clippy::unwrap_used)] // Tests and their helpers fail loudly on purpose.

pub mod hostile;
pub mod tshark;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The `pmulab` binary built by the same `cargo test --workspace` run (or,
/// for the benchmark runner, the same `--release` build).
pub fn pmulab() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> or target/<profile>/<bin> → target/<profile>/pmulab
    let candidates = [exe.parent(), exe.parent().and_then(Path::parent)];
    let bin = candidates
        .into_iter()
        .flatten()
        .map(|dir| dir.join("pmulab"))
        .find(|bin| bin.exists());
    bin.unwrap_or_else(|| {
        panic!(
            "no pmulab next to {}: run `cargo test --workspace`, which builds it",
            exe.display()
        )
    })
}

/// A `pmulab` command with its arguments.
pub fn pmulab_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(pmulab());
    cmd.args(args);
    cmd
}

/// The Python interpreter for the peers: the project's venv if there is
/// one (CI makes it), else `python3`.
pub fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// A Python peer script from `tests/peers/`.
pub fn peer(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(name)
}

/// A server process that is killed when dropped.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// Its start-up line (`… listening on …`).
    pub banner: String,
    /// Lines the server printed after its start-up line (stderr or stdout).
    pub log: mpsc::Receiver<String>,
    /// Its standard output, when it was kept (see [`Server::start_keeping_stdout`]).
    pub stdout: Option<std::process::ChildStdout>,
}

impl Server {
    /// Starts `cmd` and waits (up to 10 s) for a line containing
    /// `listening on <addr>` on the chosen stream.
    pub fn start(cmd: Command, from_stdout: bool) -> Server {
        Self::launch(cmd, from_stdout, false)
    }

    /// Like [`Server::start`] reading stderr, with stdout kept for the test.
    pub fn start_keeping_stdout(cmd: Command) -> Server {
        Self::launch(cmd, false, true)
    }

    // The child is reaped by `Server`'s Drop, which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    fn launch(mut cmd: Command, from_stdout: bool, keep_stdout: bool) -> Server {
        cmd.stdin(Stdio::null());
        if from_stdout {
            cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        } else {
            let out = if keep_stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            };
            cmd.stderr(Stdio::piped()).stdout(out);
        }
        let mut child = cmd.spawn().expect("start server");
        let kept = if keep_stdout {
            child.stdout.take()
        } else {
            None
        };
        let stream: Box<dyn Read + Send> = if from_stdout {
            Box::new(child.stdout.take().expect("stdout"))
        } else {
            Box::new(child.stderr.take().expect("stderr"))
        };
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not report `listening on` within 10 s");
            });
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr = rest
                    .split_whitespace()
                    .next()
                    .expect("address after `listening on`");
                let addr = addr
                    .parse()
                    .unwrap_or_else(|_| panic!("bad address in {line:?}"));
                return Server {
                    child,
                    addr,
                    banner: line,
                    log: rx,
                    stdout: kept,
                };
            }
        }
    }

    /// The line that said where it listens.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    /// The port the server listens on.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Waits for the server to exit by itself; returns its stdout (if kept)
    /// and whether it succeeded.
    pub fn finish(&mut self, limit: Duration) -> (bool, String) {
        let stdout = self.stdout.take();
        // Read in a thread: if the server hangs, the kill below ends the read.
        let reader = thread::spawn(move || {
            let mut out = String::new();
            if let Some(mut stdout) = stdout {
                let _ = stdout.read_to_string(&mut out);
            }
            out
        });
        let status = wait_with_limit(&mut self.child, limit);
        let out = reader.join().expect("stdout reader");
        (status.success(), out)
    }

    /// Log lines printed so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// Waits up to `limit` for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `pmulab pmu` on a free loopback port with extra arguments.
pub fn start_pmu(extra: &[&str]) -> Server {
    let mut cmd = pmulab_cmd(["pmu", "--port", "0", "-v"]);
    cmd.args(extra);
    Server::start(cmd, false)
}

/// What a finished client printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The exit code; panics on a death by signal.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {self:?}"))
    }

    /// Asserts a zero exit and returns stdout's lines.
    pub fn ok_lines(&self) -> Vec<&str> {
        assert_eq!(self.code(), 0, "client failed: {self:?}");
        self.stdout.lines().collect()
    }
}

/// Runs `cmd` to completion, killing it after `limit`.
pub fn run(cmd: Command, limit: Duration) -> Output {
    run_with_input(cmd, None, limit)
}

/// Runs `cmd` with `input` (if any) on its standard input, killing it after `limit`.
pub fn run_with_input(mut cmd: Command, input: Option<&str>, limit: Duration) -> Output {
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start client");
    if let (Some(input), Some(mut pipe)) = (input, child.stdin.take()) {
        let input = input.to_string();
        // A program that exits without reading all of it gets a broken pipe: fine.
        thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut pipe, input.as_bytes());
        });
    }
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let status = wait_with_limit(&mut child, limit);
    let stdout = String::from_utf8_lossy(&out.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Waits for `child`, killing it (and failing the test) after `limit`.
pub fn wait_with_limit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process still running after {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` and returns its status and peak resident set in KiB.
pub fn wait_with_peak_rss(child: &Child) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss)
}

/// CPU time (user + system) a live process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').expect("stat format").1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz.max(1))
}

/// A running process's peak resident memory so far, in KiB, from /proc.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc status")
}

/// The messages `This is PMU data 0` … `n-1`.
pub fn expected_messages(n: u32) -> Vec<String> {
    (0..n).map(|i| format!("This is PMU data {i}")).collect()
}

/// A CA and a certificate for `localhost` it signed, made with `pmulab ca`
/// in a fresh `dir`.
#[derive(Debug)]
pub struct LocalhostPki {
    /// The CA certificate, for clients.
    pub ca: String,
    /// The server certificate.
    pub crt: String,
    /// Its private key.
    pub key: String,
}

impl LocalhostPki {
    /// Makes the files in `dir` (emptied first).
    pub fn new(dir: &Path) -> LocalhostPki {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("create the PKI directory");
        let d = dir.display().to_string();
        let steps: [Vec<String>; 3] = [
            vec!["ca".into(), "init".into(), format!("{d}/ca")],
            vec![
                "ca".into(),
                "request".into(),
                d.clone(),
                "--cn".into(),
                "localhost".into(),
            ],
            vec![
                "ca".into(),
                "sign".into(),
                format!("{d}/localhost.csr"),
                "--ca".into(),
                format!("{d}/ca"),
                "--out".into(),
                format!("{d}/localhost.crt"),
            ],
        ];
        for args in steps {
            let out = run(pmulab_cmd(&args), Duration::from_secs(30));
            assert_eq!(out.code(), 0, "pmulab {args:?}: {}", out.stderr);
        }
        LocalhostPki {
            ca: format!("{d}/ca/ca.crt"),
            crt: format!("{d}/localhost.crt"),
            key: format!("{d}/localhost_key.pem"),
        }
    }
}

/// Makes closing `stream` send a reset instead of a FIN (SO_LINGER 0), as
/// an impatient or crashing peer does.
pub fn reset_on_close(stream: &std::net::TcpStream) {
    socket2::SockRef::from(stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
}
