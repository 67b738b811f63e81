"""A part 4 sender that reads standard input with input() until it fails:
it sends every line, then dies of EOFError (exit status 1), as many
students' senders did.

usage: mc_sender_eof.py <group> <port> <sciper>
"""
import socket
import sys


def main():
    group, port, sciper = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    while True:
        line = input()
        sock.sendto((sciper + line).encode(), (group, port))


if __name__ == "__main__":
    main()
