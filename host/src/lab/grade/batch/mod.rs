//! `pmulab grade <part> --batch DIR`: a class graded in one command.
//!
//! Each submission is graded by a child `pmulab grade … --submission
//! ENTRY` started in a network namespace of its own (so its lab servers
//! never collide with another's), `jobs` at a time, each in its own slot
//! (its own unprivileged uid). The child writes the submission's record,
//! the course's JSON and its report into the results folder; this runner
//! shows progress, keeps what finished when stopped with Ctrl-C, and
//! writes the class's results at the end.

pub mod results;
pub mod submissions;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use results::Paths;
use serde_json::Value;
use submissions::Submission;

use crate::lab::contain::{Limits, Privilege, Protections, SLOT_VARIABLE, isolate_grading, reaped};
use crate::lab::launch::self_exe;
use crate::ui::failure::Failure;
use crate::ui::output::{say, tell};

/// A class to grade.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The lab part.
    pub part: u8,
    /// `--role`, as its name.
    pub role: Option<String>,
    /// The folder of submissions.
    pub dir: PathBuf,
    /// `--run`: how to start one.
    pub run: Option<String>,
    /// Submissions graded at once.
    pub jobs: u32,
    /// The results folder.
    pub out: PathBuf,
    /// `--shard K/N`.
    pub shard: Option<(u32, u32)>,
    /// Grade again what already has a record.
    pub regrade: bool,
    /// Go on without namespaces where they cannot be made.
    pub uncontained: bool,
    /// Each run's time limit.
    pub timeout: Duration,
    /// Each run's resource limits.
    pub limits: Limits,
}

/// The most one submission's whole grading may take, beyond the sum of
/// its runs' limits: a grader that hangs is stopped and said so.
fn grading_limit(batch: &Batch) -> Duration {
    batch.timeout * 8 + Duration::from_secs(60)
}

/// Grades the class, prints a line per submission and the summary.
pub fn run(batch: &Batch) -> Result<(), Failure> {
    let template = batch
        .run
        .as_deref()
        .map(submissions::split_template)
        .transpose()
        .map_err(Failure::usage)?;
    let privilege = containment(&Protections::probe(), batch.uncontained)?;
    results::prepare(&batch.out)?;
    let class = submissions::find(&batch.dir, &batch.out)?;
    let mine: Vec<Submission> = class
        .iter()
        .filter(|s| {
            batch
                .shard
                .is_none_or(|shard| submissions::in_shard(&s.id, shard))
        })
        .cloned()
        .collect();
    let (done, todo): (Vec<Submission>, Vec<Submission>) = mine
        .into_iter()
        .partition(|s| !batch.regrade && results::read_record(&batch.out, &s.id).is_some());
    say!(
        "pmulab grade: part {}, {} of {} submissions in {}{}{}; {} at a time, {}",
        batch.part,
        todo.len() + done.len(),
        class.len(),
        batch.dir.display(),
        batch
            .shard
            .map_or_else(String::new, |(k, n)| format!(" (shard {k}/{n})")),
        match done.len() {
            0 => String::new(),
            n => format!(", {n} already graded (skipped; --regrade grades them again)"),
        },
        batch.jobs,
        match privilege {
            Some(_) => format!("each contained ({})", batch.limits.describe()),
            None => "UNCONTAINED".to_string(),
        }
    )?;
    // Each slot's graders keep their scratch files here, removed after
    // each submission: a grading stopped midway leaves nothing behind.
    let scratch = std::env::temp_dir().join(format!("pmulab-batch-{}", std::process::id()));
    let total = todo.len();
    let queue = Arc::new(Mutex::new(VecDeque::from(todo)));
    let stop = Arc::new(AtomicBool::new(false));
    let on_interrupt = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    let progress = Arc::new(Progress::new(total));
    let workers: Vec<_> = (0..batch
        .jobs
        .min(u32::try_from(total).unwrap_or(u32::MAX))
        .max(1))
        .map(|slot| {
            let (queue, stop, progress) =
                (Arc::clone(&queue), Arc::clone(&stop), Arc::clone(&progress));
            let (batch, template) = (batch.clone(), template.clone());
            let tmp = scratch.join(format!("slot-{slot}"));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(submission) = next else { break };
                    progress.started();
                    let _ = std::fs::create_dir_all(&tmp);
                    let slot = Slot {
                        number: slot,
                        tmp: &tmp,
                    };
                    let outcome = grade_one(
                        &batch,
                        template.as_deref(),
                        &submission,
                        &slot,
                        privilege,
                        &stop,
                    );
                    let _ = std::fs::remove_dir_all(&tmp);
                    progress.finished(&submission.id, outcome.as_ref());
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    progress.clear();
    let summary = results::write_all(&batch.out)?;
    say!("\n{summary}")?;
    say!(
        "Results in {}: results.csv, results.jsonl, summary.txt; per submission course/, records/, reports/.",
        batch.out.display()
    )?;
    if stop.load(Ordering::Relaxed) {
        let left = queue.lock().map_or(0, |q| q.len());
        tell!(
            "pmulab grade: stopped by Ctrl-C: {} graded and kept, the one(s) running dropped, {left} not started; run the same command to go on",
            progress.done.load(Ordering::Relaxed)
        );
        return Err(Failure::interrupted());
    }
    Ok(())
}

/// How a class is contained: namespaces where they can be made; where they
/// cannot, a refusal unless told to go without (and then a warning).
fn containment(protections: &Protections, uncontained: bool) -> Result<Option<Privilege>, Failure> {
    match (protections.privilege, uncontained) {
        (Some(privilege), _) => Ok(Some(privilege)),
        (None, true) => {
            if let Some(missing) = protections.missing() {
                tell!("pmulab grade: warning: --uncontained: {missing}");
            }
            Ok(None)
        }
        (None, false) => Err(Failure::usage(format!(
            "refusing to grade a class without containment: {}; run as root or allow \
unprivileged user namespaces, or pass --uncontained to go without",
            protections
                .why_not
                .as_deref()
                .unwrap_or("namespaces cannot be made here")
        ))),
    }
}

/// Joins shards' results folders into `out` and prints the summary.
pub fn merge(from: &[PathBuf], out: &std::path::Path) -> Result<(), Failure> {
    let text = results::merge(from, out)?;
    say!("{text}")
}

/// A parallel slot: its number (its uid) and its graders' scratch folder.
struct Slot<'a> {
    number: u32,
    tmp: &'a std::path::Path,
}

/// Grades one submission in a child grader; its record, or `None` when it
/// was stopped by Ctrl-C (nothing kept).
fn grade_one(
    batch: &Batch,
    template: Option<&[String]>,
    submission: &Submission,
    slot: &Slot,
    privilege: Option<Privilege>,
    stop: &AtomicBool,
) -> Option<Value> {
    let start = Instant::now();
    let paths = Paths::of(&batch.out, &submission.id);
    let seconds = || (start.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    let program = match template {
        Some(words) => words.to_vec(),
        None => match submissions::default_command(submission, batch.part, batch.role.as_deref()) {
            Ok(words) => words,
            Err(reason) => {
                return Some(keep(
                    &paths,
                    results::failed_record(&submission.id, &reason, 0.0),
                ));
            }
        },
    };
    let partial = paths.record.with_extension("json.part");
    let _ = std::fs::remove_file(&partial);
    let report = match std::fs::File::create(&paths.report) {
        Ok(file) => file,
        Err(e) => {
            let reason = format!("cannot write {}: {e}", paths.report.display());
            return Some(results::failed_record(&submission.id, &reason, 0.0));
        }
    };
    let contained = privilege.is_some();
    let mut command = match child_grader(
        batch, submission, &program, &paths, &partial, report, contained,
    ) {
        Ok(command) => command,
        Err(e) => return Some(results::failed_record(&submission.id, &e.message, 0.0)),
    };
    command.env("TMPDIR", slot.tmp);
    match privilege {
        Some(privilege) => {
            command.env(SLOT_VARIABLE, slot.number.to_string());
            isolate_grading(&mut command, privilege);
        }
        None => {
            command.env(SLOT_VARIABLE, format!("bare:{}", slot.number));
        }
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let reason = format!("cannot start the grader: {e}");
            return Some(keep(
                &paths,
                results::failed_record(&submission.id, &reason, 0.0),
            ));
        }
    };
    let limit = grading_limit(batch);
    let status = loop {
        if stop.load(Ordering::Relaxed) {
            kill_group(&mut child);
            let _ = std::fs::remove_file(&partial);
            return None;
        }
        if start.elapsed() > limit {
            kill_group(&mut child);
            let reason = format!(
                "the grading took more than {} s and was stopped",
                limit.as_secs()
            );
            return Some(keep(
                &paths,
                results::failed_record(&submission.id, &reason, seconds()),
            ));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                let reason = format!("lost the grader: {e}");
                return Some(keep(
                    &paths,
                    results::failed_record(&submission.id, &reason, seconds()),
                ));
            }
        }
    };
    let record = std::fs::read_to_string(&partial)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok());
    let _ = std::fs::remove_file(&partial);
    let record = match record {
        Some(mut record) => {
            record["id"] = submission.id.clone().into();
            record["seconds"] = seconds().into();
            record
        }
        None => {
            // The grader could not grade it (a submission too large, a bad
            // --run): its last error line says why.
            let said = std::fs::read_to_string(&paths.report).unwrap_or_default();
            let reason = said
                .lines()
                .rev()
                .find(|l| l.contains("error:"))
                .map_or_else(
                    || format!("the grader ended with {status} and wrote no verdict"),
                    |l| {
                        l.split_once("error:")
                            .map_or(l, |(_, why)| why)
                            .trim()
                            .to_string()
                    },
                );
            results::failed_record(&submission.id, &reason, seconds())
        }
    };
    Some(keep(&paths, record))
}

/// Writes the record (the file a later run checks to skip it) and returns it.
fn keep(paths: &Paths, record: Value) -> Value {
    let _ = std::fs::write(&paths.record, format!("{record}\n"));
    record
}

/// The child `pmulab grade` for one submission.
fn child_grader(
    batch: &Batch,
    submission: &Submission,
    program: &[String],
    paths: &Paths,
    partial: &std::path::Path,
    report: std::fs::File,
    contained: bool,
) -> Result<Command, Failure> {
    let mut args: Vec<OsString> = vec!["grade".into(), batch.part.to_string().into()];
    if let Some(role) = &batch.role {
        args.extend(["--role".into(), role.into()]);
    }
    args.extend([
        "--timeout".into(),
        batch.timeout.as_secs_f64().to_string().into(),
        "--cpu".into(),
        batch.limits.cpu.as_secs().to_string().into(),
        "--memory".into(),
        (batch.limits.memory >> 20).to_string().into(),
        "--processes".into(),
        batch.limits.processes.to_string().into(),
        "--json".into(),
        paths.course.clone().into(),
        "--record".into(),
        partial.into(),
        "--submission".into(),
        submission.path.clone().into(),
    ]);
    args.push("--".into());
    args.extend(program.iter().map(OsString::from));
    // Under a reaper where namespaces work: stopping it stops everything.
    let mut command = match contained {
        true => reaped(&args)
            .map_err(|e| Failure::runtime(format!("cannot find the pmulab program: {e}")))?,
        false => {
            let mut command = Command::new(self_exe()?);
            command.args(&args);
            command
        }
    };
    let errors = report
        .try_clone()
        .map_err(|e| Failure::runtime(format!("{}: {e}", paths.report.display())))?;
    command
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(report)
        .stderr(errors)
        // Its own group: Ctrl-C reaches this runner only, which stops it.
        .process_group(0);
    Ok(command)
}

/// Stops a child grader and everything in its group.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: signalling the group our own child leads.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The progress line (on a terminal) and a line per finished submission.
struct Progress {
    total: usize,
    done: AtomicUsize,
    running: AtomicUsize,
    terminal: bool,
    lines: Mutex<()>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            done: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            terminal: std::io::stderr().is_terminal(),
            lines: Mutex::new(()),
        }
    }

    fn started(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
        self.draw();
    }

    fn finished(&self, id: &str, record: Option<&Value>) {
        self.running.fetch_sub(1, Ordering::Relaxed);
        let Some(record) = record else {
            return;
        };
        self.done.fetch_add(1, Ordering::Relaxed);
        let score = record["score"].as_f64().unwrap_or(0.0);
        let why = record["error"].as_str().map(str::to_string).or_else(|| {
            record["checks"]
                .as_array()?
                .iter()
                .find(|c| c["passed"].as_bool() == Some(false))
                .map(|c| {
                    format!(
                        "{}: {}",
                        c["name"].as_str().unwrap_or_default(),
                        c["reason"].as_str().unwrap_or_default()
                    )
                })
        });
        let contained = results::contained(record);
        let why = match (why, contained.first()) {
            (Some(why), Some(note)) => Some(format!("{why} ({note})")),
            (why, _) => why,
        };
        let line = match why {
            None => format!("  {id:<24} {score:>4} / 5"),
            Some(why) => {
                let why: String = why.chars().take(160).collect();
                format!("  {id:<24} {score:>4} / 5   {why}")
            }
        };
        let _guard = self.lines.lock();
        self.clear_line();
        let _ = say!("{line}");
        drop(_guard);
        self.draw();
    }

    fn draw(&self) {
        if !self.terminal {
            return;
        }
        let _guard = self.lines.lock();
        let done = self.done.load(Ordering::Relaxed);
        let width = 30;
        let filled = (done * width).checked_div(self.total).unwrap_or(width);
        eprint!(
            "\r[{}{}] {done}/{} graded · {} running ",
            "#".repeat(filled),
            "-".repeat(width - filled),
            self.total,
            self.running.load(Ordering::Relaxed)
        );
    }

    fn clear_line(&self) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }

    fn clear(&self) {
        let _guard = self.lines.lock();
        self.clear_line();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none_here() -> Protections {
        Protections {
            privilege: None,
            why_not: Some("not root, and unprivileged user namespaces are not allowed here".into()),
        }
    }

    #[test]
    fn a_class_is_refused_without_containment_unless_told() {
        let refused = containment(&none_here(), false)
            .err()
            .map(|f| (f.code, f.message));
        let Some((code, message)) = refused else {
            panic!("graded a class uncontained without being told");
        };
        assert_eq!(code, crate::ui::failure::EXIT_USAGE);
        assert!(
            message.contains("unprivileged user namespaces are not allowed"),
            "{message}"
        );
        assert!(message.contains("--uncontained"), "{message}");
        assert!(matches!(containment(&none_here(), true), Ok(None)));
        let root = Protections {
            privilege: Some(Privilege::Root),
            why_not: None,
        };
        // Told to go without where namespaces work: contained all the same.
        assert!(matches!(
            containment(&root, true),
            Ok(Some(Privilege::Root))
        ));
    }

    #[test]
    fn what_is_missing_is_said_protection_by_protection() {
        let Some(missing) = none_here().missing() else {
            panic!("nothing said missing");
        };
        for protection in [
            "WITHOUT a network namespace",
            "WITHOUT a mount namespace",
            "WITHOUT a pid namespace",
        ] {
            assert!(missing.contains(protection), "{missing}");
        }
    }
}
