//! Running the program under test the way the course's scorer did: with a
//! fixed environment, standard output on a pipe, stopped at its time limit —
//! or a little after its output is complete, since a program that never
//! exits is judged by what it printed.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::lab::contain::Limits;
use crate::lab::contain::sandbox::{Spec, Usage};
use crate::lab::launch::self_exe;
use crate::ui::failure::Failure;

/// How long a program may go on after its output is complete before it is
/// stopped: long enough to exit by itself, short enough not to hold up grading.
pub const GRACE: Duration = Duration::from_secs(2);

/// How long a stopped program gets between SIGTERM and SIGKILL.
const TERM_WAIT: Duration = Duration::from_secs(1);

/// The environment every run gets, whatever the caller's: the scorer's
/// verdict must not depend on who runs it (no `PYTHONUNBUFFERED`, no locale
/// surprises). `PATH` is kept so that interpreters are found; `HOME` (and
/// `TMPDIR`) is the program's working directory when it has one.
fn fixed_environment(command: &mut Command, workdir: Option<&Path>) {
    command.env_clear();
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    command.env("PATH", path);
    match workdir {
        Some(dir) => {
            command.env("HOME", dir).env("TMPDIR", dir).current_dir(dir);
        }
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                command.env("HOME", home);
            }
        }
    }
    command.env("LANG", "C.UTF-8").env("LC_ALL", "C.UTF-8");
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself with this status.
    Exited(i32),
    /// A signal it did not get from the grader ended it.
    Signalled(i32),
    /// It was stopped at its time limit.
    TimeLimit,
    /// It was stopped [`GRACE`] after its output was complete.
    StoppedWhenDone,
    /// The scenario stopped it, as planned: a receiver listens until then.
    Stopped,
    /// It printed more than [`OUTPUT_CAP`] and was stopped: judged by what was kept.
    OutputLimit,
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
    /// What it used, when it ran contained.
    pub usage: Option<Usage>,
    /// The limits it ran under, when it ran contained.
    pub limits: Option<Limits>,
}

impl Ran {
    /// Whether the grader stopped it (it did not exit by itself).
    pub fn was_stopped(&self) -> bool {
        matches!(
            self.ending,
            Ending::TimeLimit | Ending::StoppedWhenDone | Ending::Stopped | Ending::OutputLimit
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
            Ending::Signalled(libc::SIGXCPU) => Some(format!(
                "it used up its CPU time ({} s) and was stopped",
                self.limits.unwrap_or_default().cpu.as_secs()
            )),
            Ending::Signalled(libc::SIGXFSZ) => Some(format!(
                "it wrote a file past the size limit ({} MiB) and was stopped",
                self.limits.unwrap_or_default().file_size >> 20
            )),
            // The containment note says why.
            Ending::Signalled(libc::SIGKILL) if self.usage.is_some_and(|u| u.process_limit) => None,
            Ending::Signalled(signal) => Some(format!("signal {signal} ended it")),
            Ending::TimeLimit => Some("it was stopped at the time limit".into()),
            Ending::OutputLimit => Some(format!(
                "it printed more than {} MiB and was stopped; judged by what it printed until then",
                OUTPUT_CAP >> 20
            )),
            Ending::StoppedWhenDone => Some(format!(
                "it did not exit by itself; stopped {} s after its output was complete",
                GRACE.as_secs()
            )),
        }
    }

    /// What containment saw, when worth saying: limits reached, processes
    /// left behind.
    pub fn containment_notes(&self) -> Vec<String> {
        let (Some(usage), Some(limits)) = (self.usage, self.limits) else {
            return Vec::new();
        };
        let mut notes = Vec::new();
        if usage.process_limit {
            notes.push(format!(
                "it ran over half its process limit of {} and was stopped as a fork bomb",
                limits.processes
            ));
        } else if usage.processes >= limits.processes {
            notes.push(format!(
                "it started {} processes; at most {} may run at once",
                usage.processes, limits.processes
            ));
        }
        if usage.peak_kib * 1024 >= limits.memory / 2 {
            notes.push(format!(
                "it used up to {} MiB of memory, of {} MiB allowed",
                usage.peak_kib >> 10,
                limits.memory >> 20
            ));
        }
        if usage.left_behind > 0 && !usage.process_limit {
            notes.push(format!(
                "it left processes running when it ended ({}): killed",
                usage.left_behind
            ));
        }
        notes
    }

    /// Whether it ended at one of its limits (CPU, file size, output).
    pub fn ended_at_a_limit(&self) -> bool {
        matches!(
            self.ending,
            Ending::Signalled(libc::SIGXCPU | libc::SIGXFSZ) | Ending::OutputLimit
        )
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
    contained: Option<Arc<Contained>>,
}

/// How every run of a program is contained.
#[derive(Debug)]
pub struct Contained {
    /// The sandbox (its `status` is set per run).
    pub spec: Spec,
    /// Where the runs' status files go (the grader's, out of the program's reach).
    pub status_dir: PathBuf,
    runs: AtomicU32,
}

impl Contained {
    /// Runs go through the sandbox `spec`; status files in `status_dir`.
    pub fn new(spec: Spec, status_dir: PathBuf) -> Contained {
        Contained {
            spec,
            status_dir,
            runs: AtomicU32::new(0),
        }
    }
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
            contained: None,
        })
    }

    /// The arguments that name files of its own: relative paths to regular
    /// files below the current directory (`pdc.py`, `src/pdc.py`).
    pub fn local_files(&self) -> Vec<PathBuf> {
        std::iter::once(self.exe.to_string_lossy().into_owned())
            .chain(self.args.iter().cloned())
            .map(PathBuf::from)
            .filter(|p| {
                p.is_relative()
                    && p.components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)))
                    && p.is_file()
            })
            .collect()
    }

    /// `{dir}` in its command line becomes `dir`, `{id}` becomes `id`.
    pub fn substitute(mut self, dir: &Path, id: &str) -> Program {
        let dir = dir.display().to_string();
        let fill = |word: &str| word.replace("{dir}", &dir).replace("{id}", id);
        self.exe = OsString::from(fill(&self.exe.to_string_lossy()));
        self.args = self.args.iter().map(|a| fill(a)).collect();
        self
    }

    /// Every run of it from now on goes through the sandbox.
    pub fn contain(mut self, contained: Contained) -> Program {
        self.contained = Some(Arc::new(contained));
        self
    }

    /// Its working directory, when it has one of its own.
    pub fn workdir(&self) -> Option<&Path> {
        self.contained.as_ref().map(|c| c.spec.workdir.as_path())
    }

    /// A file of the grader's that the program must read (a certificate, a
    /// key): copied into its working directory when it has one.
    pub fn hand(&self, file: &Path) -> Result<PathBuf, Failure> {
        match self.workdir() {
            Some(dir) => crate::lab::contain::workdir::give(file, dir),
            None => Ok(file.to_path_buf()),
        }
    }

    /// The argv of one run: through the sandbox when contained, with the
    /// status file it will write.
    fn argv(&self, extra: &[String]) -> Result<(Vec<OsString>, Option<Sandboxed>), Failure> {
        let mut own: Vec<OsString> = vec![self.exe.clone()];
        own.extend(self.args.iter().chain(extra).map(OsString::from));
        let Some(contained) = &self.contained else {
            return Ok((own, None));
        };
        let run = contained.runs.fetch_add(1, Ordering::Relaxed);
        let status = contained.status_dir.join(format!("run-{run}.status"));
        let mut spec = contained.spec.clone();
        spec.status = Some(status.clone());
        let mut argv = vec![self_exe()?.into_os_string()];
        argv.extend(spec.args());
        argv.extend(own);
        Ok((
            argv,
            Some(Sandboxed {
                status,
                limits: spec.limits,
                workdir: spec.workdir,
            }),
        ))
    }

    /// The program and its arguments, for the report.
    pub fn describe(&self) -> String {
        let mut words = vec![self.exe.to_string_lossy().into_owned()];
        words.extend(self.args.iter().cloned());
        words.join(" ")
    }

    fn command(&self, extra: &[String]) -> Result<(Command, Option<Sandboxed>), Failure> {
        let (argv, sandboxed) = self.argv(extra)?;
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        Ok((command, sandboxed))
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
        let (command, sandboxed) = self.command(extra)?;
        run(command, sandboxed, input, self.limit, complete)
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
        let (argv, sandboxed) = self.argv(extra)?;
        let mut command = Command::new(first);
        command
            .args(rest)
            .args(["sh", "-c", script, "grade"])
            .args(argv);
        run(
            command,
            sandboxed,
            "",
            self.limit + Duration::from_secs(5),
            complete,
        )
    }

    /// Starts it in the background (a server the grader will talk to).
    pub fn start(&self, extra: &[String]) -> Result<Running, Failure> {
        let (command, sandboxed) = self.command(extra)?;
        Running::start(command, sandboxed, "")
    }
}

/// A run through the sandbox: where its status goes, what it was allowed.
#[derive(Debug, Clone)]
struct Sandboxed {
    status: PathBuf,
    limits: Limits,
    workdir: PathBuf,
}

/// A started program whose output is being collected.
#[derive(Debug)]
pub struct Running {
    child: Child,
    sandboxed: Option<Sandboxed>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Set when either stream passed [`OUTPUT_CAP`].
    capped: Arc<AtomicBool>,
    readers: Vec<thread::JoinHandle<()>>,
    ending: Option<Ending>,
}

impl Running {
    fn start(
        mut command: Command,
        sandboxed: Option<Sandboxed>,
        input: &str,
    ) -> Result<Running, Failure> {
        fixed_environment(
            &mut command,
            sandboxed.as_ref().map(|s| s.workdir.as_path()),
        );
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
        let capped = Arc::new(AtomicBool::new(false));
        let readers = vec![
            collect(
                child.stdout.take(),
                Arc::clone(&stdout),
                Arc::clone(&capped),
            ),
            collect(
                child.stderr.take(),
                Arc::clone(&stderr),
                Arc::clone(&capped),
            ),
        ];
        Ok(Running {
            child,
            sandboxed,
            stdout,
            stderr,
            capped,
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
                None => Ending::Signalled(
                    std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0),
                ),
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
        let (usage, limits) = match &self.sandboxed {
            Some(s) => (Usage::read(&s.status), Some(s.limits)),
            None => (None, None),
        };
        Ran {
            stdout: lossy(&self.stdout),
            stderr: lossy(&self.stderr),
            ending: self.ending.unwrap_or(why),
            usage,
            limits,
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

/// The most of a program's output kept, per stream: a program that prints
/// forever cannot fill the grader's memory (the lab's largest output, a
/// floodme printed with a newline per read, is under 64 KiB).
pub const OUTPUT_CAP: usize = 1 << 20;

/// Put where the kept output ends, when there was more.
pub fn cut_marker() -> String {
    format!(
        "\n[pmulab: output cut here, after {} MiB]\n",
        OUTPUT_CAP >> 20
    )
}

fn collect(
    stream: Option<impl Read + Send + 'static>,
    into: Arc<Mutex<Vec<u8>>>,
    capped: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let Some(mut stream) = stream else {
            return;
        };
        let mut buf = [0u8; 64 * 1024];
        let mut cut = false;
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    // Past the cap the output is read and dropped, so the
                    // program is not blocked on a full pipe.
                    if let Ok(mut kept) = into.lock() {
                        let room = OUTPUT_CAP.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                        if n > room && !cut {
                            cut = true;
                            capped.store(true, Ordering::Relaxed);
                            kept.extend_from_slice(cut_marker().as_bytes());
                        }
                    }
                }
            }
        }
    })
}

fn run(
    command: Command,
    sandboxed: Option<Sandboxed>,
    input: &str,
    limit: Duration,
    complete: &dyn Fn(&str) -> bool,
) -> Result<Ran, Failure> {
    let mut running = Running::start(command, sandboxed, input)?;
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
        if running.capped.load(Ordering::Relaxed) {
            return Ok(running.finish(Ending::OutputLimit));
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
