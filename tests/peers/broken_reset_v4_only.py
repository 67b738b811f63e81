"""A broken part 3 client: it asks over IPv4 only."""
import socket
import sys

addr = socket.getaddrinfo(sys.argv[1], int(sys.argv[2]), socket.AF_INET, socket.SOCK_DGRAM)[0][4]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1.0)
requests = 0
while True:
    requests += 1
    sock.sendto(b"RESET:20", addr)
    try:
        print(sock.recv(100).decode())
        print(f"requests: {requests}")
        break
    except OSError:
        pass
