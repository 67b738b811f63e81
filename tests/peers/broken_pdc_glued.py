"""A broken part 2 PDC: it prints what it read, without splitting messages."""
import socket
import sys

sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
sock.send(sys.argv[3].encode())
data = b""
while chunk := sock.recv(4096):
    data += chunk
print(data.decode())
