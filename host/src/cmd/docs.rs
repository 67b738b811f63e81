//! `pmulab completions <shell>` and `pmulab man <dir>`: what users expect
//! of a command line, generated from the same definitions as `--help`.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::ui::failure::Failure;
use crate::ui::output::say;

/// Writes the completion script for a shell to stdout.
pub fn completions(args: CompletionsArgs) -> Result<(), Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pmulab", &mut script);
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, &script).map_err(Failure::output)
}

/// Writes `pmulab.1` and `pmulab-<subcommand>.1` (and deeper, `pmulab-ca-sign.1`).
pub fn man(args: ManArgs) -> Result<(), Failure> {
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", args.dir.display())))?;
    let command = Cli::command();
    let mut written = 0;
    write_pages(&command, "pmulab", &args.dir, &mut written)?;
    say!("{written} man pages in {}", args.dir.display())
}

fn write_pages(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut usize,
) -> Result<(), Failure> {
    let page = command.clone().name(name.to_string());
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| Failure::runtime(format!("cannot render the man page of {name}: {e}")))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, roff)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    *written += 1;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
