//! Running programs as child processes: pmulab's own, for `serve`, `demo`
//! and `grade` (start one, wait until it says it is ready, read what it
//! printed, stop it), and a user's command that `capture` and `states`
//! watch ([`spawn_watched`]).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::ui::failure::Failure;

/// This very program, to start its other subcommands.
pub fn self_exe() -> Result<PathBuf, Failure> {
    std::env::current_exe()
        .map_err(|e| Failure::runtime(format!("cannot find the pmulab program: {e}")))
}

/// A started server; stopped when dropped.
#[derive(Debug)]
pub struct Launched {
    /// What it is, for messages.
    pub name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The line that said it was ready.
    pub ready_line: String,
}

impl Launched {
    /// Starts `pmulab <args>` and waits (up to 10 s) for a stderr line
    /// containing `marker`. Its own process group, so Ctrl-C reaches only the caller.
    pub fn start(name: &str, args: &[String], marker: &str) -> Result<Launched, Failure> {
        let mut child = Command::new(self_exe()?)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| Failure::runtime(format!("cannot start the {name}: {e}")))?;
        let lines = forward_lines(child.stderr.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.contains(marker) => {
                    return Ok(Launched {
                        name: name.to_string(),
                        child,
                        lines,
                        ready_line: line,
                    });
                }
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let said = seen.join(" / ");
                    return Err(Failure::runtime(format!(
                        "the {name} did not start{}",
                        if said.is_empty() {
                            String::new()
                        } else {
                            format!(": {said}")
                        }
                    )));
                }
            }
        }
    }

    /// The address after "listening on " in its ready line.
    pub fn address(&self) -> Option<std::net::SocketAddr> {
        let rest = self.ready_line.split("listening on ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    }

    /// Lines it printed since it was ready.
    pub fn drain(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Whether it has exited, with its status.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops it (SIGTERM, then SIGKILL after a second).
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        self.stop();
    }
}

fn forward_lines(stream: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(stream) = stream {
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// What a finished program printed.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit code; `None` if killed (by the time limit or a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Whether the time limit ended it.
    pub timed_out: bool,
}

/// Runs `program args…` with `input` on stdin, killing it after `limit`.
pub fn run(
    program: &std::ffi::OsStr,
    args: &[String],
    input: &str,
    limit: Duration,
) -> Result<Finished, Failure> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| Failure::runtime(format!("cannot run {}: {e}", program.to_string_lossy())))?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_string();
        thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, input.as_bytes());
        });
    }
    let out = collect(child.stdout.take());
    let err = collect(child.stderr.take());
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // The whole process group: a wrapper's children hold the output pipes open.
            // SAFETY: signalling the group our own child leads.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.kill();
            match child.wait() {
                Ok(status) => break status,
                Err(e) => {
                    return Err(Failure::runtime(format!(
                        "cannot wait for the program: {e}"
                    )));
                }
            }
        }
        thread::sleep(Duration::from_millis(10));
    };
    Ok(Finished {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
    })
}

fn collect(stream: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut stream) = stream {
            let _ = stream.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs pmulab itself with `args`.
pub fn run_self(args: &[String], limit: Duration) -> Result<Finished, Failure> {
    run(self_exe()?.as_os_str(), args, "", limit)
}

/// Starts a user's `command` beside a command that reports on it: its
/// standard output goes to our standard error, since our standard output
/// is the report; `env` is added to its environment.
pub fn spawn_watched(
    command: &[String],
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<Child, Failure> {
    use std::os::fd::AsFd;
    let Some((program, rest)) = command.split_first() else {
        return Err(Failure::usage("the command after -- is empty"));
    };
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::inherit());
    let mut cmd = Command::new(program);
    cmd.args(rest).stdout(stdout);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.spawn()
        .map_err(|e| Failure::runtime(format!("cannot run {program}: {e}")))
}
