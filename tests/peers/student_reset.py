"""A part 3 PDC written the way a student writes it.

usage: student_reset.py <server> <port>

Resolves the name for IPv4 and IPv6, sends RESET:20 to every address, waits
up to a second for an answer from either, and retries; prints the answer and
the number of requests.
"""
import select
import socket
import sys


def main():
    server, port = sys.argv[1], int(sys.argv[2])
    sockets = []
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            infos = socket.getaddrinfo(server, port, family, socket.SOCK_DGRAM)
        except socket.gaierror:
            continue
        s = socket.socket(family, socket.SOCK_DGRAM)
        sockets.append((s, infos[0][4]))
    requests = 0
    while True:
        requests += 1
        for s, addr in sockets:
            try:
                s.sendto(b"RESET:20", addr)
            except OSError:
                pass
        ready, _, _ = select.select([s for s, _ in sockets], [], [], 1.0)
        for s in ready:
            try:
                data = s.recv(1024)
            except OSError:
                continue
            print(data.decode())
            print(f"requests: {requests}")
            return


if __name__ == "__main__":
    main()
