//! `pmulab __sandbox` (internal): the grader's sandbox around one run of
//! a program; see `lab::contain::sandbox`.

use std::time::Duration;

use crate::cli::SandboxArgs;
use crate::lab::contain::Limits;
use crate::lab::contain::sandbox::{self, Spec};
use crate::ui::failure::Failure;

/// Runs the program in the sandbox and ends as it ended.
pub fn run(args: SandboxArgs) -> Result<(), Failure> {
    let spec = Spec {
        workdir: args.workdir,
        user: args.uid.zip(args.gid),
        namespaces: args.namespaces,
        reaper: args.reaper,
        limits: Limits {
            cpu: Duration::from_secs(args.cpu),
            memory: args.memory,
            processes: args.processes,
            file_size: args.file_size,
            open_files: args.open_files,
        },
        status: args.status,
    };
    sandbox::run(&spec, &args.program)
}
