//! `pmulab grade <part> -- <program> [args…]`: checks what was asked of
//! the grader — part, role, files — before anything runs, then hands the
//! plan to the grader (`lab::grade`): one program, contained, or a whole
//! class with `--batch`, or shards joined with `--merge`.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use crate::cli::GradeArgs;
use crate::cli::values::GradeRole;
use crate::lab::contain::{self, Limits, Protections, SLOT_VARIABLE, isolate_grading};
use crate::lab::grade::batch::{self, Batch};
use crate::lab::grade::part4::Roles;
use crate::lab::grade::part5::OwnFiles;
use crate::lab::grade::program::Program;
use crate::lab::grade::{self, Containment, Options, Plan};
use crate::ui::failure::{EXIT_INTERRUPTED, Failure};
use crate::ui::output::tell;

/// Grades the program (or the class) and prints the report.
pub fn run(args: GradeArgs) -> Result<(), Failure> {
    let plan = plan(&args)?;
    let limits = Limits {
        cpu: Duration::from_secs(args.cpu),
        memory: args.memory << 20,
        processes: args.processes,
        ..Limits::default()
    };
    if !args.merge.is_empty() {
        let out = args
            .out
            .as_deref()
            .ok_or_else(|| Failure::usage("--merge needs --out, the folder to join them into"))?;
        return batch::merge(&args.merge, out);
    }
    if let Some(dir) = &args.batch {
        return batch::run(&Batch {
            part: args.part,
            role: args.role.map(|r| r.name().to_string()),
            dir: dir.clone(),
            run: args.run.clone(),
            jobs: args.jobs.unwrap_or_else(default_jobs),
            out: args
                .out
                .clone()
                .unwrap_or_else(|| format!("grades-part{}", args.part).into()),
            shard: args.shard,
            regrade: args.regrade,
            uncontained: args.uncontained,
            timeout: args.timeout,
            limits,
        });
    }
    let program = Program::new(&args.program, args.timeout)?;
    let options = |containment| Options {
        json: args.json.as_deref(),
        record: args.record.as_deref(),
        show_output: args.show_output,
        containment,
        limits,
        submission: args.submission.as_deref(),
    };
    // Started by a grader (this one, or a batch): `N`, in a namespace of
    // its own in slot N; `bare:N`, uncontained in slot N.
    let slot = std::env::var(SLOT_VARIABLE).unwrap_or_default();
    if let Some(slot) = slot.strip_prefix("bare:").and_then(|s| s.parse().ok()) {
        return grade::run(&plan, program, &options(Containment::Bare { slot }));
    }
    if let Ok(slot) = slot.parse() {
        contain::loopback_up()
            .map_err(|e| Failure::runtime(format!("cannot bring loopback up: {e}")))?;
        let containment = Containment::Namespaces {
            privilege: contain::privilege_here(),
            slot,
        };
        return grade::run(&plan, program, &options(containment));
    }
    let protections = Protections::probe();
    match (protections.privilege, args.uncontained) {
        (Some(privilege), false) => regrade_inside(privilege),
        _ => {
            if let Some(missing) = protections.missing() {
                tell!("pmulab grade: warning: {missing}");
            }
            grade::run(&plan, program, &options(Containment::Bare { slot: 0 }))
        }
    }
}

/// Runs this same command again in a network namespace of its own, and
/// ends as it ended (its report goes straight to the terminal).
fn regrade_inside(privilege: contain::Privilege) -> Result<(), Failure> {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let mut command = contain::reaped(&args)
        .map_err(|e| Failure::runtime(format!("cannot find the pmulab program: {e}")))?;
    // Its scratch files in a folder this one removes, however it ends.
    let scratch = std::env::temp_dir().join(format!("pmulab-grade-run-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", scratch.display())))?;
    command.env(SLOT_VARIABLE, "0").env("TMPDIR", &scratch);
    isolate_grading(&mut command, privilege);
    // Ctrl-C reaches the inner grader too: this one waits for it to end.
    let _ = ctrlc::set_handler(|| {});
    let status = command.status();
    let _ = std::fs::remove_dir_all(&scratch);
    let status =
        status.map_err(|e| Failure::runtime(format!("cannot start the contained grader: {e}")))?;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(Failure {
            code: u8::try_from(code).unwrap_or(1),
            message: String::new(),
        }),
        (None, Some(libc::SIGINT)) => Err(Failure {
            code: EXIT_INTERRUPTED,
            message: String::new(),
        }),
        (None, signal) => Err(Failure::runtime(format!(
            "the contained grader was ended by signal {}",
            signal.unwrap_or(0)
        ))),
    }
}

/// One submission per core.
fn default_jobs() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
}

fn plan(args: &GradeArgs) -> Result<Plan, Failure> {
    let own = match (&args.certificate, &args.key, &args.ca) {
        (None, None, None) => None,
        (Some(certificate), Some(key), Some(ca)) => Some(OwnFiles {
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
        (4, None) => Plan::Part4(Roles::Both),
        (4, Some(GradeRole::Receiver)) => Plan::Part4(Roles::Receiver),
        (4, Some(GradeRole::Sender)) => Plan::Part4(Roles::Sender),
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
