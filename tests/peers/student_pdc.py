"""A PDC written the way a student writes it (lab part 2).

usage: student_pdc.py <server> <port> <command>

Reads until the PMU closes, then splits the glued stream on the message
prefix and prints one message per line (floodme: the whole text).
"""
import socket
import sys

PREFIX = "This is PMU data "


def main():
    server, port, command = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((server, port))
    sock.send(command.encode())
    chunks = []
    while True:
        data = sock.recv(4096)
        if not data:
            break
        chunks.append(data)
    sock.close()
    text = b"".join(chunks).decode()
    if command == "CMD_floodme":
        sys.stdout.write(text)
        return
    if text.startswith("ERROR"):
        print(text.strip(), file=sys.stderr)
        sys.exit(1)
    for part in text.split(PREFIX)[1:]:
        print(PREFIX + part)


if __name__ == "__main__":
    main()
