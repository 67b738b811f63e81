//! Quiet by default; `-v` adds one line per event, on stderr.

use std::io::Write;
use std::time::Instant;

/// The verbosity the user asked for, and when the program started.
#[derive(Debug)]
pub struct Log {
    verbosity: u8,
    start: Instant,
}

impl Log {
    /// A log at `verbosity` (the number of `-v`).
    pub fn new(verbosity: u8) -> Self {
        Log {
            verbosity,
            start: Instant::now(),
        }
    }

    /// Whether `-v` was given.
    pub fn verbose(&self) -> bool {
        self.verbosity > 0
    }

    /// A line shown with `-v`, stamped with seconds since start.
    pub fn info(&self, args: std::fmt::Arguments<'_>) {
        if self.verbose() {
            self.line(args);
        }
    }

    /// A line always shown (start-up, warnings).
    pub fn always(&self, args: std::fmt::Arguments<'_>) {
        self.line(args);
    }

    fn line(&self, args: std::fmt::Arguments<'_>) {
        let t = self.start.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        // A closed stderr is not worth failing a server for.
        let _ = writeln!(err, "[{t:9.3}] {args}");
    }
}
