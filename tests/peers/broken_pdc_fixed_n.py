"""A broken part 2 PDC: it assumes n = 15 instead of reading to the end."""
import socket
import sys

sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
sock.send(sys.argv[3].encode())
for i in range(15):
    print(f"This is PMU data {i}")
