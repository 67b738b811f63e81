//! Running the program under test the way the course's scorer did: with a
//! fixed environment, standard output on a pipe, stopped at its time limit —
//! or a little after its output is complete, since a program that never
//! exits is judged by what it printed.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::ui::failure::Failure;

/// How long a program may go on after its output is complete before it is
/// stopped: long enough to exit by itself, short enough not to hold up grading.
pub const GRACE: Duration = Duration::from_secs(2);

/// How long a stopped program gets between SIGTERM and SIGKILL.
const TERM_WAIT: Duration = Duration::from_secs(1);

/// The environment every run gets, whatever the caller's: the scorer's
/// verdict must not depend on who runs it (no `PYTHONUNBUFFERED`, no locale
/// surprises). `PATH` and `HOME` are kept so that interpreters are found.
fn fixed_environment(command: &mut Command) {
    command.env_clear();
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    command.env("PATH", path);
    if let Some(home) = std::env::var_os("HOME") {
        command.env("HOME", home);
    }
    command.env("LANG", "C.UTF-8").env("LC_ALL", "C.UTF-8");
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself with this status.
    Exited(i32),
    /// A signal it did not get from the grader ended it.
    Signalled,
    /// It was stopped at its time limit.
    TimeLimit,
    /// It was stopped [`GRACE`] after its output was complete.
    StoppedWhenDone,
    /// The scenario stopped it, as planned: a receiver listens until then.
    Stopped,
}

/// What a run printed and how it ended.
#[derive(Debug, Clone)]
pub struct Ran {
    /// Standard output, as bytes would be lossily read as UTF-8.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How it ended.
    pub ending: Ending,
}

impl Ran {
    /// Whether the grader stopped it (it did not exit by itself).
    pub fn was_stopped(&self) -> bool {
        matches!(
            self.ending,
            Ending::TimeLimit | Ending::StoppedWhenDone | Ending::Stopped
        )
    }

    /// A note on how it ended, when that is worth saying beside a verdict
    /// taken from its output.
    pub fn exit_note(&self) -> Option<String> {
        match self.ending {
            Ending::Exited(0) | Ending::Stopped => None,
            Ending::Exited(code) => Some(format!(
                "it exited with status {code}, which is not judged: what it did is"
            )),
            Ending::Signalled => Some("a signal ended it".into()),
            Ending::TimeLimit => Some("it was stopped at the time limit".into()),
            Ending::StoppedWhenDone => Some(format!(
                "it did not exit by itself; stopped {} s after its output was complete",
                GRACE.as_secs()
            )),
        }
    }

    /// When it printed nothing and was stopped: the likely reason.
    pub fn unflushed_hint(&self) -> Option<&'static str> {
        (self.was_stopped() && self.stdout.is_empty()).then_some(
            "it printed nothing before it was stopped: standard output is a pipe here, as on the \
course's scorer, so print() output waits in a buffer and is lost when the program is stopped; \
use print(…, flush=True)",
        )
    }
}

/// The program under test and its own arguments.
#[derive(Debug, Clone)]
pub struct Program {
    exe: OsString,
    args: Vec<String>,
    /// The most one run may take.
    pub limit: Duration,
}

impl Program {
    /// `command` is the program and its own arguments.
    pub fn new(command: &[String], limit: Duration) -> Result<Program, Failure> {
        let (exe, args) = command
            .split_first()
            .ok_or_else(|| Failure::usage("give the program to grade after --"))?;
        Ok(Program {
            exe: OsString::from(exe),
            args: args.to_vec(),
            limit,
        })
    }

    /// The program and its arguments, for the report.
    pub fn describe(&self) -> String {
        let mut words = vec![self.exe.to_string_lossy().into_owned()];
        words.extend(self.args.iter().cloned());
        words.join(" ")
    }

    fn command(&self, extra: &[String]) -> Command {
        let mut command = Command::new(&self.exe);
        command.args(&self.args).args(extra);
        command
    }

    /// Runs it with the part's arguments `extra` and `input` on stdin, until
    /// it exits, its time limit, or [`GRACE`] after `complete` says its output
    /// is whole.
    pub fn run(
        &self,
        extra: &[String],
        input: &str,
        complete: &dyn Fn(&str) -> bool,
    ) -> Result<Ran, Failure> {
        run(self.command(extra), input, self.limit, complete)
    }

    /// Runs it through `WRAPPER… sh -c SCRIPT grade PROGRAM ARGS… EXTRA…`,
    /// where the script runs it as `"$@"`; the script has 5 s more than the
    /// program's limit.
    pub fn run_in(
        &self,
        wrapper: &[&str],
        script: &str,
        extra: &[String],
        complete: &dyn Fn(&str) -> bool,
    ) -> Result<Ran, Failure> {
        let (first, rest) = wrapper
            .split_first()
            .ok_or_else(|| Failure::runtime("empty wrapper"))?;
        let mut command = Command::new(first);
        command
            .args(rest)
            .args(["sh", "-c", script, "grade"])
            .arg(&self.exe)
            .args(&self.args)
            .args(extra);
        run(command, "", self.limit + Duration::from_secs(5), complete)
    }

    /// Starts it in the background (a server the grader will talk to).
    pub fn start(&self, extra: &[String]) -> Result<Running, Failure> {
        Running::start(self.command(extra), "")
    }
}

/// A started program whose output is being collected.
#[derive(Debug)]
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<thread::JoinHandle<()>>,
    ending: Option<Ending>,
}

impl Running {
    fn start(mut command: Command, input: &str) -> Result<Running, Failure> {
        fixed_environment(&mut command);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                Failure::runtime(format!(
                    "cannot run {}: {e}",
                    command.get_program().to_string_lossy()
                ))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            let input = input.to_string();
            thread::spawn(move || {
                let _ = std::io::Write::write_all(&mut stdin, input.as_bytes());
            });
        }
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take(), Arc::clone(&stdout)),
            collect(child.stderr.take(), Arc::clone(&stderr)),
        ];
        Ok(Running {
            child,
            stdout,
            stderr,
            readers,
            ending: None,
        })
    }

    /// Standard output so far.
    pub fn stdout_now(&self) -> String {
        lossy(&self.stdout)
    }

    /// Whether it has exited by itself.
    pub fn has_exited(&mut self) -> bool {
        if self.ending.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.ending = Some(match status.code() {
                Some(code) => Ending::Exited(code),
                None => Ending::Signalled,
            });
        }
        self.ending.is_some()
    }

    /// Stops it and everything it started in its process group (SIGTERM,
    /// then SIGKILL), and returns what it printed.
    pub fn finish(mut self, why: Ending) -> Ran {
        if !self.has_exited() {
            self.signal(libc::SIGTERM);
            let deadline = Instant::now() + TERM_WAIT;
            while !self.has_exited() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            self.ending = Some(why);
        }
        // Children it left behind hold the pipes open: they go too.
        self.signal(libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Ran {
            stdout: lossy(&self.stdout),
            stderr: lossy(&self.stderr),
            ending: self.ending.unwrap_or(why),
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: signalling the process group our own child leads.
        unsafe { libc::kill(-pid, signal) };
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.ending.is_none() {
            self.signal(libc::SIGKILL);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn lossy(bytes: &Mutex<Vec<u8>>) -> String {
    match bytes.lock() {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(poisoned) => String::from_utf8_lossy(&poisoned.into_inner()).into_owned(),
    }
}

/// The most of a program's output kept: a program that prints forever
/// cannot fill the grader's memory.
const OUTPUT_CAP: usize = 16 << 20;

fn collect(
    stream: Option<impl Read + Send + 'static>,
    into: Arc<Mutex<Vec<u8>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let Some(mut stream) = stream else {
            return;
        };
        let mut buf = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if let Ok(mut kept) = into.lock()
                        && kept.len() < OUTPUT_CAP
                    {
                        let room = OUTPUT_CAP - kept.len();
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
        }
    })
}

fn run(
    command: Command,
    input: &str,
    limit: Duration,
    complete: &dyn Fn(&str) -> bool,
) -> Result<Ran, Failure> {
    let mut running = Running::start(command, input)?;
    let start = Instant::now();
    let mut done_at: Option<Instant> = None;
    loop {
        if running.has_exited() {
            // Exited: its pipes close once what it started is gone too.
            return Ok(running.finish(Ending::TimeLimit));
        }
        let now = Instant::now();
        if now >= start + limit {
            return Ok(running.finish(Ending::TimeLimit));
        }
        if done_at.is_none() && complete(&running.stdout_now()) {
            done_at = Some(now);
        }
        if done_at.is_some_and(|t| now >= t + GRACE) {
            return Ok(running.finish(Ending::StoppedWhenDone));
        }
        thread::sleep(Duration::from_millis(20));
    }
}
