"""A part 4 multicast receiver written the way a student writes it.

usage: student_mc_receiver.py <group> <port> [count]

Joins the group on the loopback interface (127.0.0.1, so nothing leaves the
machine), prints "listening on <group>:<port>" once ready, then each message
as "id: text", and exits after <count> messages (never, without a count).
"""
import socket
import struct
import sys


def main():
    group, port = sys.argv[1], int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((group, port))
    mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    print(f"listening on {group}:{port}", file=sys.stderr, flush=True)
    received = 0
    while count is None or received < count:
        data, _ = sock.recvfrom(65535)
        received += 1
        print(f"{data[:6].decode()}: {data[6:].decode()}", flush=True)


if __name__ == "__main__":
    main()
