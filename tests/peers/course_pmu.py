"""A TCP PMU written the way the course's server behaves (lab part 2).

One thread per client; the command is whatever the first recv() returns;
CMD_short:d sends n messages with one send() each and d seconds between them;
CMD_floodme sends the whole text with one sendall(); anything else gets an
ERROR line. Used as an independent peer for pmulab's PDC.

usage: course_pmu.py [--port P] [--count N] [--flood-file FILE]
Prints "listening on 127.0.0.1:<port>" once ready.
"""
import argparse
import socket
import threading
import time


def handle(conn, count, flood):
    with conn:
        command = conn.recv(1024).decode(errors="replace").strip()
        if command.startswith("CMD_short:"):
            try:
                delay = float(command.split(":", 1)[1])
            except ValueError:
                conn.sendall(b"ERROR: bad interval\n")
                return
            for i in range(count):
                conn.send(f"This is PMU data {i}".encode())
                if i + 1 < count:
                    time.sleep(delay)
        elif command == "CMD_floodme":
            conn.sendall(flood)
        else:
            conn.sendall(b"ERROR: unknown command\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=15)
    parser.add_argument("--flood-file")
    args = parser.parse_args()
    flood = b"Act I, scene 1. " * 3584
    if args.flood_file:
        with open(args.flood_file, "rb") as f:
            flood = f.read()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.port))
    server.listen(64)
    print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn, args.count, flood), daemon=True).start()


if __name__ == "__main__":
    main()
