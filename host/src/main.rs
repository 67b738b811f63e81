//! `pmulab`: the lab's programs and servers on one command line.

//!
//! Layers, arrows pointing down only: `main` → `cmd` (one module per
//! subcommand) → `cli` (typed arguments), `lab` (CA, launching, grader) and
//! `net` (stacks, serve loop) → `ui` (failures, log, output).

mod analysis;
mod cli;
mod cmd;
mod lab;
mod net;
mod ui;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use ui::failure::{EXIT_OK, EXIT_USAGE};
use ui::output::{self, tell};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    raise_open_file_limit();
    let log = ui::log::Log::new(cli.verbose);
    let result = match cli.command {
        Command::Pdc(args) => cmd::pdc::run(args, &log),
        Command::Pmu(args) => cmd::pmu::run(args, &log),
        Command::WsPmu(args) => cmd::pmu::run_ws(args, &log),
        Command::SecurePmu(args) => cmd::pmu::run_secure(args, &log),
        Command::SecurePdc(args) => cmd::pdc::run_secure(args, &log),
        Command::Ca(command) => cmd::ca::run(command),
        Command::Reset(args) => cmd::reset::run(args, &log),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Grade(args) => cmd::grade::run(args),
        Command::Sandbox(args) => cmd::sandbox::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Capture(args) => cmd::capture::run(args),
        Command::States(args) => cmd::states::run(args),
        Command::CodeC(args) => cmd::echo_pair::code_c(args),
        Command::CodeD(args) => cmd::echo_pair::code_d(args),
        Command::C37Pmu(args) => cmd::c37::pmu(args, &log),
        Command::C37Pdc(args) => cmd::c37::pdc(args),
        Command::Load(args) => cmd::load::run(args),
        Command::ResetPmu(args) => cmd::reset_pmu::run(args, &log),
        Command::Receiver(args) => cmd::multicast::receiver(args, &log),
        Command::Sender(args) => cmd::multicast::sender(args, &log),
        Command::Bot(args) => cmd::multicast::bot(args, &log),
        Command::UdpReceiver(args) => cmd::basics::udp_receiver(args),
        Command::UdpSender(args) => cmd::basics::udp_sender(args),
        Command::EchoServer(args) => cmd::basics::echo_server(args, &log),
        Command::EchoClient(args) => cmd::basics::echo_client(args),
        Command::Completions(args) => cmd::docs::completions(args),
        Command::Man(args) => cmd::docs::man(args),
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(failure) => {
            if !failure.message.is_empty() {
                tell!(
                    "{}: {} {}",
                    program_name(),
                    output::error_label(),
                    failure.message
                );
            }
            ExitCode::from(failure.code)
        }
    }
}

/// Help and version on stdout, exit 0; any other parse error in pmulab's
/// one error style, `pmulab SUB: error: …`, with clap's usage after it.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayVersion => {
            let _ = output::say_line(format_args!("pmulab {}", env!("CARGO_PKG_VERSION")));
            return ExitCode::from(EXIT_OK);
        }
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(EXIT_OK);
        }
        _ => {}
    }
    let rendered = e.render().to_string();
    let text = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    tell!(
        "{}: {} {}",
        program_name(),
        output::error_label(),
        text.trim_end()
    );
    ExitCode::from(EXIT_USAGE)
}

/// `pmulab` and the subcommand (`pmulab ca sign`) the arguments name.
fn program_name() -> String {
    let mut command = Cli::command();
    let mut name = "pmulab".to_string();
    for arg in std::env::args().skip(1) {
        if arg.starts_with('-') {
            continue;
        }
        let Some(sub) = command.find_subcommand(&arg).cloned() else {
            break;
        };
        name = format!("{name} {}", sub.get_name());
        command = sub;
    }
    name
}

/// A server holds a descriptor per session and per closing connection:
/// `--max-sessions 1024` needs more than the usual soft limit of 1024.
/// The soft limit goes up to the hard one (at most 65536), as servers do.
fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit on this process with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            let wanted = limit.rlim_max.min(65_536);
            if limit.rlim_cur < wanted {
                limit.rlim_cur = wanted;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}
