//! A connected TCP socket of any embedded-nal stack as the byte stream
//! embedded-tls reads and writes.
//!
//! embedded-tls blocks: it reads until a record is whole and writes until a
//! record is out. [`Link`] keeps the stack and the socket; a [`Wire`] is a
//! handle on the link that blocks by parking the stack (WFI on a board),
//! never by spinning, and gives up after the link's patience, so a silent
//! peer cannot hold the board for ever.
//!
//! Between records, once the session is open, a read does not block: the
//! link follows TLS's record framing (a 5-byte header carrying the length),
//! and at a record boundary with nothing to read it returns no bytes and
//! notes why ([`Stop`]). embedded-tls then gives up this read with its
//! state intact, and the TLS stack tells its driver "would block" (or "end
//! of stream"), so the driver's own idle timeout governs the wait for the
//! PMU's next message — not the link's patience.

use core::cell::RefCell;
use core::time::Duration;

use embedded_io::ErrorKind;
use embedded_nal::{TcpClientStack, TcpError, TcpErrorKind, nb};
use pmulab_core::nal::Park;
use pmulab_core::time::Clock;

/// A TLS record header: content type, version, length.
const HEADER: usize = 5;

/// Why a read between records returned no bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Nothing has arrived yet.
    Stalled,
    /// The peer closed the connection between records.
    Ended,
}

/// The stack below TLS, its one socket, and where the stream is in TLS's
/// records.
pub struct Link<S: TcpClientStack> {
    pub(super) stack: S,
    pub(super) socket: Option<S::TcpSocket>,
    patience: Duration,
    /// Once the session is open: reads between records do not block.
    open: bool,
    /// Bytes of the next record's header seen so far, and those bytes.
    header: [u8; HEADER],
    seen: usize,
    /// Bytes of the current record's body still to come.
    left: usize,
    stop: Option<Stop>,
}

impl<S: TcpClientStack> core::fmt::Debug for Link<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Link")
            .field("connected", &self.socket.is_some())
            .field("patience", &self.patience)
            .finish_non_exhaustive()
    }
}

impl<S: TcpClientStack + Park + Clock> Link<S> {
    /// A link over `stack` whose blocking reads and writes wait at most
    /// `patience` each.
    pub fn new(stack: S, patience: Duration) -> Self {
        Link {
            stack,
            socket: None,
            patience,
            open: false,
            header: [0; HEADER],
            seen: 0,
            left: 0,
            stop: None,
        }
    }

    /// The stack below (for its clock).
    pub fn stack(&self) -> &S {
        &self.stack
    }

    /// The stack below (to wait on it between connections).
    pub fn stack_mut(&mut self) -> &mut S {
        &mut self.stack
    }

    /// The handshake is over: from now on reads between records return at once.
    pub(super) fn opened(&mut self) {
        self.open = true;
    }

    /// Why the last read between records returned nothing, if it did.
    pub(super) fn take_stop(&mut self) -> Option<Stop> {
        self.stop.take()
    }

    fn between_records(&self) -> bool {
        self.seen == 0 && self.left == 0
    }

    /// Follows the record framing over `bytes` read from the socket.
    fn account(&mut self, mut bytes: &[u8]) {
        while let Some((&first, rest)) = bytes.split_first() {
            if self.left > 0 {
                let take = self.left.min(bytes.len());
                self.left -= take;
                bytes = &bytes[take..];
            } else {
                self.header[self.seen] = first;
                self.seen += 1;
                if self.seen == HEADER {
                    self.left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                    self.seen = 0;
                }
                bytes = rest;
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if buf.is_empty() {
            return Ok(0);
        }
        let between = self.between_records();
        let deadline = self.stack.now() + self.patience;
        let socket = self.socket.as_mut().ok_or(ErrorKind::NotConnected)?;
        loop {
            let ended = match self.stack.receive(socket, buf) {
                Ok(0) => true,
                Ok(n) => {
                    self.account(&buf[..n]);
                    return Ok(n);
                }
                Err(nb::Error::WouldBlock) if between && self.open => {
                    self.stop = Some(Stop::Stalled);
                    return Ok(0);
                }
                Err(nb::Error::WouldBlock) => {
                    if self.stack.now() >= deadline {
                        return Err(ErrorKind::TimedOut);
                    }
                    self.stack.park(Some(deadline));
                    false
                }
                Err(nb::Error::Other(e)) => match e.kind() {
                    TcpErrorKind::PipeClosed => true,
                    _ => return Err(ErrorKind::ConnectionReset),
                },
            };
            if ended {
                if between {
                    self.stop = Some(Stop::Ended);
                }
                return Ok(0);
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = self.stack.now() + self.patience;
        let socket = self.socket.as_mut().ok_or(ErrorKind::NotConnected)?;
        loop {
            match self.stack.send(socket, buf) {
                Ok(n) => return Ok(n),
                Err(nb::Error::WouldBlock) => {
                    if self.stack.now() >= deadline {
                        return Err(ErrorKind::TimedOut);
                    }
                    self.stack.park(Some(deadline));
                }
                Err(nb::Error::Other(_)) => return Err(ErrorKind::BrokenPipe),
            }
        }
    }
}

/// A handle on a [`Link`]: what embedded-tls reads from and writes to.
pub struct Wire<'l, S: TcpClientStack>(pub(super) &'l RefCell<Link<S>>);

impl<S: TcpClientStack> core::fmt::Debug for Wire<'_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Wire")
    }
}

impl<S: TcpClientStack> embedded_io::ErrorType for Wire<'_, S> {
    type Error = ErrorKind;
}

impl<S: TcpClientStack + Park + Clock> embedded_io::Read for Wire<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        // The link is borrowed only inside these calls, which do not nest.
        self.0
            .try_borrow_mut()
            .map_err(|_| ErrorKind::Other)?
            .read(buf)
    }
}

impl<S: TcpClientStack + Park + Clock> embedded_io::Write for Wire<'_, S> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0
            .try_borrow_mut()
            .map_err(|_| ErrorKind::Other)?
            .write(buf)
    }

    /// Moves what was written onto the network now (one poll) rather than
    /// at the next wait.
    fn flush(&mut self) -> Result<(), ErrorKind> {
        let mut link = self.0.try_borrow_mut().map_err(|_| ErrorKind::Other)?;
        let now = link.stack.now();
        link.stack.park(Some(now));
        Ok(())
    }
}
