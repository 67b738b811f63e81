"""A part 4 multicast sender written the way a student writes it.

usage: student_mc_sender.py <group> <port> <sciper>

Sends each line of standard input as <sciper><line>, out of the loopback
interface (127.0.0.1, so nothing leaves the machine).
"""
import socket
import sys


def main():
    group, port, sciper = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    for line in sys.stdin:
        sock.sendto((sciper + line.rstrip("\n")).encode(), (group, port))


if __name__ == "__main__":
    main()
