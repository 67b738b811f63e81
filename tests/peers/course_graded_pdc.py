"""A part 2 PDC the course graded 5/5, in the shape students published it.

usage: course_graded_pdc.py [--hang] <server> <port> <command>

It splits CMD_short messages on their prefix, but prints the floodme as it
reads it: print() of every 1024-byte read, so a line break is added after
each read. With --hang it never exits after printing (a while-True loop
that ignores the end of the stream), which the course's scorer tolerated
by stopping it.
"""
import socket
import sys
import time

PREFIX = "This is PMU data "


def main():
    hang = "--hang" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--hang"]
    server, port, command = args[0], int(args[1]), args[2]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((server, port))
    sock.send(command.encode())
    if command == "CMD_floodme":
        while True:
            data = sock.recv(1024)
            if not data:
                break
            print(data.decode(), flush=True)
    else:
        text = ""
        while True:
            data = sock.recv(1024)
            if not data:
                break
            text += data.decode()
        for part in text.split(PREFIX)[1:]:
            print(PREFIX + part, flush=True)
    while hang:
        time.sleep(1)


if __name__ == "__main__":
    main()
