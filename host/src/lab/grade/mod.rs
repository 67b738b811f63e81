//! `pmulab grade <part> -- <program> [args…]`: the course's scoring system,
//! locally. For every scenario the grader runs the lab's servers itself,
//! runs the program with the part's prototype, and judges it by what its
//! own servers saw and what the program printed: a program that does
//! nothing scores 0.

pub mod batch;
mod judge;
mod part2;
mod part3;
pub mod part4;
pub mod part5;
mod part6;
pub mod program;
mod report;
mod witness;

use std::path::{Path, PathBuf};

use crate::lab::contain::sandbox::Spec;
use crate::lab::contain::{Limits, Privilege, SANDBOX_UID_BASE, workdir};
use crate::ui::failure::Failure;
use program::{Contained, Program};
use report::{MAX_GRADE, Report};

/// What to grade.
#[derive(Debug)]
pub enum Plan {
    /// Part 2: the TCP PDC.
    Part2,
    /// Part 3: the UDP reset PDC.
    Part3,
    /// Part 4: the multicast receiver, sender, or both.
    Part4(part4::Roles),
    /// Part 5: the secure PMU, with fresh certificates or the student's own.
    SecurePmu(Option<part5::OwnFiles>),
    /// Part 5: a TLS PDC (not what the course graded).
    SecurePdc,
    /// Part 6: the WebSocket PDC.
    Part6,
}

impl Plan {
    /// The lab part.
    pub fn part(&self) -> u8 {
        match self {
            Plan::Part2 => 2,
            Plan::Part3 => 3,
            Plan::Part4(_) => 4,
            Plan::SecurePmu(_) | Plan::SecurePdc => 5,
            Plan::Part6 => 6,
        }
    }
}

/// Refuses a `--json` path that cannot be written, before any run.
fn check_writable(path: &Path) -> Result<(), Failure> {
    let existed = path.exists();
    let opened = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path);
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    opened.map(|_| ()).map_err(|e| {
        Failure::usage(format!(
            "--json {}: cannot write there ({e}); nothing was graded",
            path.display()
        ))
    })
}

/// A scratch directory for one grading, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(part: u8) -> Result<Scratch, Failure> {
        let dir = std::env::temp_dir().join(format!(
            "pmulab-grade-{part}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How one grading contains the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Containment {
    /// Pid and mount namespaces for each run, inside the grading's own
    /// network namespace; `slot` picks the unprivileged uid (as root).
    Namespaces {
        /// How the namespaces are made.
        privilege: Privilege,
        /// The parallel slot (0 for a single grading).
        slot: u32,
    },
    /// No namespaces: a working directory, a clean environment, limits,
    /// and (as root) the unprivileged uid of `slot`.
    Bare {
        /// The parallel slot.
        slot: u32,
    },
}

/// Everything about one grading besides the plan and the program.
#[derive(Debug)]
pub struct Options<'a> {
    /// The course's JSON result goes here.
    pub json: Option<&'a Path>,
    /// The whole verdict (checks and reasons) as JSON goes here.
    pub record: Option<&'a Path>,
    /// Print every test's output.
    pub show_output: bool,
    /// How the program is contained.
    pub containment: Containment,
    /// Its resource limits.
    pub limits: Limits,
    /// A submission (file or folder) copied into its working directory;
    /// `{dir}` in its arguments is that directory, `{id}` the entry's name.
    pub submission: Option<&'a Path>,
}

/// Gives `program` its working directory (a copy of the submission, or of
/// the files its command line names) and its sandbox.
fn contain(program: Program, options: &Options, scratch: &Path) -> Result<Program, Failure> {
    let workdir = scratch.join("work");
    let status_dir = scratch.join("status");
    for dir in [&workdir, &status_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    }
    let program = match options.submission {
        Some(submission) => {
            workdir::copy_submission(submission, &workdir)?;
            let id = submission
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            program.substitute(&workdir, &id)
        }
        None => {
            // A relative path on its command line is a file of its own.
            for file in program.local_files() {
                let target = workdir.join(&file);
                if let Some(parent) = target.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                std::fs::copy(&file, &target)
                    .map_err(|e| Failure::runtime(format!("copying {}: {e}", file.display())))?;
            }
            program
        }
    };
    let (user, namespaces) = match options.containment {
        Containment::Namespaces {
            privilege: Privilege::Root,
            slot,
        } => {
            let id = SANDBOX_UID_BASE + slot;
            workdir::hand_over(&workdir, id, id)?;
            (Some((id, id)), true)
        }
        Containment::Namespaces { .. } => (None, true),
        // Without namespaces, root still gives the program away to an
        // unprivileged uid: root is exempt from the process limit.
        // SAFETY: a getter with no arguments.
        Containment::Bare { slot } if unsafe { libc::geteuid() } == 0 => {
            let id = SANDBOX_UID_BASE + slot;
            workdir::hand_over(&workdir, id, id)?;
            (Some((id, id)), false)
        }
        Containment::Bare { .. } => (None, false),
    };
    let spec = Spec {
        workdir,
        user,
        namespaces,
        reaper: false,
        limits: options.limits,
        status: None,
    };
    Ok(program.contain(Contained::new(spec, status_dir)))
}

/// Runs the grading and prints the report as it goes; `json`, if given,
/// receives the course's result and `record` the whole verdict (a path
/// that cannot be written is refused before anything runs).
pub fn run(plan: &Plan, program: Program, options: &Options) -> Result<(), Failure> {
    for path in [options.json, options.record].into_iter().flatten() {
        check_writable(path)?;
    }
    let scratch = Scratch::new(plan.part())?;
    let described = program.describe();
    let program = &contain(program, options, &scratch.0)?;
    let mut report = Report::start(plan.part(), &described, options.show_output)?;
    match plan {
        Plan::Part2 => part2::grade(&mut report, program)?,
        Plan::Part3 => part3::grade(&mut report, program, &scratch.0)?,
        Plan::Part4(roles) => part4::grade(&mut report, program, *roles, &scratch.0)?,
        Plan::SecurePmu(own) => part5::grade_pmu(&mut report, program, own.as_ref(), &scratch.0)?,
        Plan::SecurePdc => part5::grade_pdc(&mut report, program, &scratch.0)?,
        Plan::Part6 => part6::grade(&mut report, program)?,
    }
    let (score, all_passed) = report.finish()?;
    if let Some(path) = options.json {
        let json = format!(
            "{{\"max_grade\": {MAX_GRADE}, \"score\": {score}, \"success\": {}}}\n",
            u8::from(all_passed)
        );
        std::fs::write(path, json)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(path) = options.record {
        let record = serde_json::json!({
            "part": plan.part(),
            "program": described,
            "score": score,
            "max": MAX_GRADE,
            "success": all_passed,
            "checks": report.checks_json(),
            "contained": report.containment_json(),
        });
        crate::ui::output::write_json(path, &record)?;
    }
    match report.failures() {
        (0, _) => Ok(()),
        (failed, total) => Err(Failure::runtime(format!(
            "{failed} of {total} checks failed"
        ))),
    }
}
