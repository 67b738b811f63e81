"""A part 4 receiver that prints without flush=True: with standard output
on a pipe, its lines wait in Python's buffer, and are lost when it is
stopped — on the course's scorer as on pmulab's.

usage: mc_receiver_unflushed.py <group> <port>
"""
import socket
import struct
import sys


def main():
    group, port = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((group, port))
    mreq = struct.pack("4sl", socket.inet_aton(group), socket.INADDR_ANY)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    while True:
        data, _ = sock.recvfrom(65535)
        print(data[:6].decode(), data[6:].decode())


if __name__ == "__main__":
    main()
