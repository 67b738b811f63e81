//! Small socket abilities that embedded-nal 0.9 lacks, as traits a stack
//! implements next to its embedded-nal ones.

use embedded_nal::TcpClientStack;

/// Closing only the sending direction of a TCP connection (a FIN), so the
/// socket can still read until the peer closes too.
///
/// A server that closes first with unread input makes its kernel answer
/// with a reset, and a reset can destroy the reply the peer has not read
/// yet. Half-closing, then reading until the peer's FIN, closes cleanly.
/// (smoltcp's `close` is exactly this; on a host it is `shutdown(SHUT_WR)`.)
pub trait HalfClose: TcpClientStack {
    /// Sends a FIN after whatever is queued; reads remain possible.
    fn half_close(&mut self, socket: &mut Self::TcpSocket) -> Result<(), Self::Error>;
}

impl<T: HalfClose> HalfClose for &mut T {
    fn half_close(&mut self, socket: &mut Self::TcpSocket) -> Result<(), Self::Error> {
        T::half_close(self, socket)
    }
}
