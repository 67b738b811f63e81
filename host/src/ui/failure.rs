//! A failed command: what to tell the user and which exit status to use.

use std::fmt::Display;

/// Exit status when the program worked.
pub const EXIT_OK: u8 = 0;
/// Exit status for a network, file or protocol failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for a bad command line (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status when the PMU answered `ERROR:`.
pub const EXIT_REFUSED: u8 = 3;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a subcommand failed.
#[derive(Debug)]
pub struct Failure {
    /// The process's exit status.
    pub code: u8,
    /// One line for the user, saying what went wrong and, where it helps, what to do.
    pub message: String,
}

impl Failure {
    /// A network, file or protocol failure (exit status 1).
    pub fn runtime(message: impl Display) -> Self {
        Failure {
            code: EXIT_FAILURE,
            message: message.to_string(),
        }
    }

    /// A bad argument that clap could not catch (exit status 2).
    pub fn usage(message: impl Display) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.to_string(),
        }
    }

    /// The PMU refused the command (exit status 3).
    pub fn refused(message: impl Display) -> Self {
        Failure {
            code: EXIT_REFUSED,
            message: message.to_string(),
        }
    }

    /// Ctrl-C, after the summary so far was printed (exit status 130).
    pub fn interrupted() -> Self {
        Failure {
            code: EXIT_INTERRUPTED,
            message: "interrupted".into(),
        }
    }

    /// Stdout failed. A closed pipe (`| head`) is no error: the reader has
    /// what it wanted, so the command stops quietly with status 0.
    pub fn output(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure {
                code: EXIT_OK,
                message: String::new(),
            },
            _ => Failure::runtime(format!("cannot write the output: {e}")),
        }
    }
}
