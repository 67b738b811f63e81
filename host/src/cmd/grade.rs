//! `pmulab grade <part> -- <program> [args…]`: checks what was asked of
//! the grader — part, role, files — before anything runs, then hands the
//! plan to the grader (`lab::grade`).

use crate::cli::GradeArgs;
use crate::cli::values::GradeRole;
use crate::lab::grade::part4::Roles;
use crate::lab::grade::part5::OwnFiles;
use crate::lab::grade::program::Program;
use crate::lab::grade::{self, Plan};
use crate::ui::failure::Failure;

/// Grades the program and prints the report.
pub fn run(args: GradeArgs) -> Result<(), Failure> {
    let plan = plan(&args)?;
    let program = Program::new(&args.program, args.timeout)?;
    grade::run(&plan, &program, args.json.as_deref(), args.show_output)
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
