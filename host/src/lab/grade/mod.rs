//! `pmulab grade <part> -- <program> [args…]`: the course's scoring system,
//! locally. For every scenario the grader runs the lab's servers itself,
//! runs the program with the part's prototype, and judges it by what its
//! own servers saw and what the program printed: a program that does
//! nothing scores 0.

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

use crate::ui::failure::Failure;
use program::Program;
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

/// Runs the grading and prints the report as it goes; `json`, if given,
/// receives the course's result (a path that cannot be written is refused
/// before anything runs).
pub fn run(
    plan: &Plan,
    program: &Program,
    json: Option<&Path>,
    show_output: bool,
) -> Result<(), Failure> {
    if let Some(path) = json {
        check_writable(path)?;
    }
    let scratch = Scratch::new(plan.part())?;
    let mut report = Report::start(plan.part(), &program.describe(), show_output)?;
    match plan {
        Plan::Part2 => part2::grade(&mut report, program)?,
        Plan::Part3 => part3::grade(&mut report, program, &scratch.0)?,
        Plan::Part4(roles) => part4::grade(&mut report, program, *roles, &scratch.0)?,
        Plan::SecurePmu(own) => part5::grade_pmu(&mut report, program, own.as_ref(), &scratch.0)?,
        Plan::SecurePdc => part5::grade_pdc(&mut report, program, &scratch.0)?,
        Plan::Part6 => part6::grade(&mut report, program)?,
    }
    let (score, all_passed) = report.finish()?;
    if let Some(path) = json {
        let json = format!(
            "{{\"max_grade\": {MAX_GRADE}, \"score\": {score}, \"success\": {}}}\n",
            u8::from(all_passed)
        );
        std::fs::write(path, json)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    match report.failures() {
        (0, _) => Ok(()),
        (failed, total) => Err(Failure::runtime(format!(
            "{failed} of {total} checks failed"
        ))),
    }
}
