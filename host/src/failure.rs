//! A failed command: what to tell the user and which exit status to use.

use std::fmt::Display;

use crate::cli::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

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
