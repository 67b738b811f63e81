//! `pmulab grade <part> -- <program> [args…]`: the course's scoring system,
//! locally. For every scenario the grader runs the lab's servers itself,
//! runs the program with the part's prototype, and judges it by what its
//! own servers saw and what the program printed: a program that does
//! nothing scores 0.

mod judge;
mod part2;
mod part3;
mod part4;
mod part5;
mod part6;
mod program;
mod report;
mod witness;

use std::path::{Path, PathBuf};

use crate::cli::{GradeArgs, GradeRole};
use crate::failure::Failure;
use program::Program;
use report::{MAX_GRADE, Report};

/// What to grade, checked before anything runs.
#[derive(Debug)]
enum Plan {
    Part2,
    Part3,
    Part4(part4::Roles),
    SecurePmu(Option<part5::OwnFiles>),
    SecurePdc,
    Part6,
}

fn plan(args: &GradeArgs) -> Result<Plan, Failure> {
    let own = match (&args.certificate, &args.key, &args.ca) {
        (None, None, None) => None,
        (Some(certificate), Some(key), Some(ca)) => Some(part5::OwnFiles {
            certificate: certificate.clone(),
            key: key.clone(),
            ca: ca.clone(),
        }),
        _ => {
            return Err(Failure::usage(
                "--certificate, --key and --ca go together: the certificate, its key, and the CA that signed it",
            ));
        }
    };
    if own.is_some() && !(args.part == 5 && matches!(args.role, None | Some(GradeRole::Pmu))) {
        return Err(Failure::usage(
            "--certificate, --key and --ca are for part 5's secure PMU",
        ));
    }
    if let Some(files) = &own {
        for path in [&files.certificate, &files.key, &files.ca] {
            if !path.is_file() {
                return Err(Failure::usage(format!("{} is not a file", path.display())));
            }
        }
    }
    let wrong_role = |role: GradeRole| {
        Failure::usage(format!(
            "--role {} is not a role of part {}: part 4 has receiver and sender, part 5 pmu and pdc",
            role.name(),
            args.part
        ))
    };
    Ok(match (args.part, args.role) {
        (2, None) => Plan::Part2,
        (3, None) => Plan::Part3,
        (4, None) => Plan::Part4(part4::Roles::Both),
        (4, Some(GradeRole::Receiver)) => Plan::Part4(part4::Roles::Receiver),
        (4, Some(GradeRole::Sender)) => Plan::Part4(part4::Roles::Sender),
        (5, None | Some(GradeRole::Pmu)) => Plan::SecurePmu(own),
        (5, Some(GradeRole::Pdc)) => Plan::SecurePdc,
        (6, None) => Plan::Part6,
        (_, Some(role)) => return Err(wrong_role(role)),
        (part, None) => {
            return Err(Failure::usage(format!(
                "part {part} is not graded: parts 2 to 6 are"
            )));
        }
    })
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

/// Runs the grading and prints the report as it goes.
pub fn run(args: GradeArgs) -> Result<(), Failure> {
    let plan = plan(&args)?;
    if let Some(path) = &args.json {
        check_writable(path)?;
    }
    let limit = crate::cmd::pdc::seconds(args.timeout, "--timeout")?;
    let program = Program::new(&args.program, limit)?;
    let scratch = Scratch::new(args.part)?;
    let mut report = Report::start(args.part, &program.describe(), args.show_output)?;
    match &plan {
        Plan::Part2 => part2::grade(&mut report, &program)?,
        Plan::Part3 => part3::grade(&mut report, &program, &scratch.0)?,
        Plan::Part4(roles) => part4::grade(&mut report, &program, *roles, &scratch.0)?,
        Plan::SecurePmu(own) => part5::grade_pmu(&mut report, &program, own.as_ref(), &scratch.0)?,
        Plan::SecurePdc => part5::grade_pdc(&mut report, &program, &scratch.0)?,
        Plan::Part6 => part6::grade(&mut report, &program)?,
    }
    let (score, all_passed) = report.finish()?;
    if let Some(path) = &args.json {
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
