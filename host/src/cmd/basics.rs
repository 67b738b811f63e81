//! Part 1: the four small programs that introduce sockets. They are
//! deliberately plain blocking std code, as the lab shows them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use crate::cli::{EchoClientArgs, EchoServerArgs, UdpReceiverArgs, UdpSenderArgs};
use crate::net::resolve::ipv4_first;
use crate::net::stack::with_advice;
use crate::ui::failure::Failure;
use crate::ui::log::Log;
use crate::ui::output::{say, tell};

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_507;
/// The echo client reads back in pieces this small, to show that a stream
/// has no message boundaries.
const ECHO_PIECE: usize = 16;

/// Prints the sender and the text of every datagram, forever (or `--count`).
pub fn udp_receiver(args: UdpReceiverArgs) -> Result<(), Failure> {
    let addr = SocketAddr::new(args.bind, args.port);
    let socket = UdpSocket::bind(addr)
        .map_err(|e| Failure::runtime(format!("cannot listen on {addr}: {}", with_advice(&e))))?;
    let local = socket.local_addr().map_err(Failure::runtime)?;
    tell!("listening for UDP datagrams on {local}");
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut stdout = std::io::stdout().lock();
    let mut received = 0u64;
    while args.max_messages.is_none_or(|n| received < n) {
        let (len, from) = socket.recv_from(&mut buf).map_err(Failure::runtime)?;
        let text = String::from_utf8_lossy(&buf[..len]);
        writeln!(stdout, "from {from}: {text}")
            .and_then(|()| stdout.flush())
            .map_err(Failure::output)?;
        received += 1;
    }
    Ok(())
}

/// Sends one datagram and prints "Message sent".
pub fn udp_sender(args: UdpSenderArgs) -> Result<(), Failure> {
    let to = ipv4_first(&args.host, args.port)?;
    let local: SocketAddr = match to {
        SocketAddr::V4(_) => "0.0.0.0:0".parse().map_err(Failure::runtime)?,
        SocketAddr::V6(_) => "[::]:0".parse().map_err(Failure::runtime)?,
    };
    let socket = UdpSocket::bind(local).map_err(Failure::runtime)?;
    if args.message.len() > MAX_DATAGRAM {
        return Err(Failure::usage(format!(
            "the message is {} bytes; a UDP datagram holds at most {MAX_DATAGRAM}",
            args.message.len()
        )));
    }
    socket
        .send_to(args.message.as_bytes(), to)
        .map_err(|e| Failure::runtime(format!("cannot send to {to}: {e}")))?;
    say!("Message sent")?;
    Ok(())
}

/// Echoes each connection's bytes back, one connection at a time.
pub fn echo_server(args: EchoServerArgs, log: &Log) -> Result<(), Failure> {
    let addr = SocketAddr::new(args.bind, args.port);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(Failure::runtime)?;
    // The lab sets SO_REUSEADDR so a restarted server can bind at once.
    socket.set_reuse_address(true).map_err(Failure::runtime)?;
    socket
        .bind(&addr.into())
        .and_then(|()| socket.listen(16))
        .map_err(|e| Failure::runtime(format!("cannot listen on {addr}: {}", with_advice(&e))))?;
    let listener: std::net::TcpListener = socket.into();
    let local = listener.local_addr().map_err(Failure::runtime)?;
    tell!("echo server listening on {local}");
    let mut served = 0u64;
    while args.max_connections.is_none_or(|n| served < n) {
        let (mut stream, peer) = listener.accept().map_err(Failure::runtime)?;
        served += 1;
        let echoed = echo(&mut stream);
        match echoed {
            Ok(n) => log.info(format_args!("{peer}: echoed {n} bytes")),
            // One broken client must not stop the server.
            Err(e) => tell!("{peer}: {e}"),
        }
    }
    Ok(())
}

fn echo(stream: &mut TcpStream) -> std::io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Sends a sentence, reads the echo in 16-byte pieces and prints each.
pub fn echo_client(args: EchoClientArgs) -> Result<(), Failure> {
    let to = ipv4_first(&args.host, args.port)?;
    let mut stream = TcpStream::connect(to)
        .map_err(|e| Failure::runtime(format!("cannot connect to {to}: {e}")))?;
    let sentence = args.sentence.as_bytes();
    stream.write_all(sentence).map_err(Failure::runtime)?;
    let mut received = 0;
    let mut piece = [0u8; ECHO_PIECE];
    let mut stdout = std::io::stdout().lock();
    while received < sentence.len() {
        let n = stream.read(&mut piece).map_err(Failure::runtime)?;
        if n == 0 {
            return Err(Failure::runtime(format!(
                "the server closed after echoing {received} of {} bytes",
                sentence.len()
            )));
        }
        received += n;
        writeln!(
            stdout,
            "received: {:?}",
            String::from_utf8_lossy(&piece[..n])
        )
        .map_err(Failure::output)?;
    }
    Ok(())
}
