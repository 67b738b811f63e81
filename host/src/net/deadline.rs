//! A blocking TCP stream whose reads share one deadline.
//!
//! Why: SO_RCVTIMEO bounds each read, so a client sending a byte just
//! before every timeout (a slowloris) would hold a thread forever. Here
//! every read waits at most until the deadline, however many bytes came.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A [`TcpStream`] with an optional deadline for all its reads together.
#[derive(Debug)]
pub struct DeadlineStream {
    stream: TcpStream,
    deadline: Option<Instant>,
    /// The per-read timeout once the deadline is lifted.
    after: Option<Duration>,
}

impl DeadlineStream {
    /// Reads on `stream` fail with `TimedOut` once `deadline` has passed.
    pub fn new(stream: TcpStream, deadline: Instant) -> Self {
        DeadlineStream {
            stream,
            deadline: Some(deadline),
            after: None,
        }
    }

    /// Lifts the deadline; from now on each read waits at most `timeout`.
    pub fn lift_deadline(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.deadline = None;
        self.after = timeout;
        self.stream.set_read_timeout(timeout)
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        self.stream.read(buf)
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
