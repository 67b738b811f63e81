//! The kernel's TCP socket table, read the way `ss` reads it: a netlink
//! sock_diag dump for IPv4 and IPv6. Recv-Q and Send-Q mean what they mean
//! in `ss`: for a listening socket, the connections waiting to be accepted
//! and the backlog; otherwise, bytes not yet read and not yet acknowledged.

use std::io;
use std::net::SocketAddr;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

use super::state::TcpState;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketRow {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub state: TcpState,
    pub recv_q: u32,
    pub send_q: u32,
    /// 0 for sockets no file refers to any more (TIME-WAIT, orphans).
    pub inode: u32,
}

/// A netlink socket for dumping the table.
pub struct SocketTable {
    socket: Socket,
    buf: Vec<u8>,
    sequence: u32,
}

impl std::fmt::Debug for SocketTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketTable").finish_non_exhaustive()
    }
}

fn decode_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {e}"))
}

impl SocketTable {
    pub fn open() -> io::Result<SocketTable> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NetlinkAddr::new(0, 0))?;
        Ok(SocketTable {
            socket,
            buf: vec![0; 1 << 16],
            sequence: 0,
        })
    }

    /// Every TCP socket of both families.
    pub fn dump(&mut self) -> io::Result<Vec<SocketRow>> {
        let mut rows = Vec::new();
        self.dump_family(AF_INET, &mut rows)?;
        self.dump_family(AF_INET6, &mut rows)?;
        Ok(rows)
    }

    fn dump_family(&mut self, family: u8, rows: &mut Vec<SocketRow>) -> io::Result<()> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = self.sequence;
        let socket_id = match family {
            AF_INET => SocketId::new_v4(),
            _ => SocketId::new_v6(),
        };
        let mut request = NetlinkMessage::new(
            header,
            SockDiagMessage::InetRequest(InetRequest {
                family,
                protocol: IPPROTO_TCP,
                extensions: ExtensionFlags::empty(),
                states: StateFlags::all(),
                socket_id,
            })
            .into(),
        );
        request.finalize();
        let mut out = vec![0; request.buffer_len()];
        request.serialize(&mut out);
        self.socket.send(&out, 0)?;
        loop {
            let size = self.socket.recv(&mut &mut self.buf[..], 0)?;
            let mut at = 0;
            while at < size {
                let message = NetlinkMessage::<SockDiagMessage>::deserialize(&self.buf[at..size])
                    .map_err(decode_error)?;
                let len = message.header.length as usize;
                match message.payload {
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) => {
                        return Err(decode_error(format!("{e:?}")));
                    }
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                        let h = &response.header;
                        if let Some(state) = TcpState::from_linux(h.state) {
                            rows.push(SocketRow {
                                local: SocketAddr::new(
                                    h.socket_id.source_address,
                                    h.socket_id.source_port,
                                ),
                                peer: SocketAddr::new(
                                    h.socket_id.destination_address,
                                    h.socket_id.destination_port,
                                ),
                                state,
                                recv_q: h.recv_queue,
                                send_q: h.send_queue,
                                inode: h.inode,
                            });
                        }
                    }
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                at += len;
            }
        }
    }
}
