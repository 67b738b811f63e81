//! `pmulab`: the lab's programs and servers on one command line.

mod ca;
mod cli;
mod cmd;
mod failure;
mod grade;
mod launch;
mod log;
mod net;
mod output;
mod rng;
mod stats;
mod tls_config;
mod ws_client;
mod x509_chain;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_open_file_limit();
    let log = log::Log::new(cli.verbose);
    let (name, result) = match cli.command {
        Command::Pdc(args) => ("pdc", cmd::pdc::run(args, &log)),
        Command::Pmu(args) => ("pmu", cmd::pmu::run(args, &log)),
        Command::WsPmu(args) => ("ws-pmu", cmd::ws_pmu::run(args, &log)),
        Command::SecurePmu(args) => ("secure-pmu", cmd::pmu::run_secure(args, &log)),
        Command::SecurePdc(args) => ("secure-pdc", cmd::pdc::run_secure(args, &log)),
        Command::Ca(command) => ("ca", cmd::ca::run(command)),
        Command::Reset(args) => ("reset", cmd::reset::run(args, &log)),
        Command::Serve(args) => ("serve", cmd::serve::run(args)),
        Command::Grade(args) => ("grade", grade::run(args)),
        Command::Demo => ("demo", cmd::demo::run()),
        Command::Load(args) => ("load", cmd::load::run(args)),
        Command::ResetPmu(args) => ("reset-pmu", cmd::reset_pmu::run(args, &log)),
        Command::Receiver(args) => ("receiver", cmd::multicast::receiver(args, &log)),
        Command::Sender(args) => ("sender", cmd::multicast::sender(args, &log)),
        Command::Bot(args) => ("bot", cmd::multicast::bot(args, &log)),
        Command::UdpReceiver(args) => ("udp-receiver", cmd::basics::udp_receiver(args)),
        Command::UdpSender(args) => ("udp-sender", cmd::basics::udp_sender(args)),
        Command::EchoServer(args) => ("echo-server", cmd::basics::echo_server(args, &log)),
        Command::EchoClient(args) => ("echo-client", cmd::basics::echo_client(args)),
    };
    match result {
        Ok(()) => ExitCode::from(cli::EXIT_OK),
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("pmulab {name}: error: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
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
