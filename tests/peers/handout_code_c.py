"""The handout's Code C (lab part 1.2): a TCP server on localhost:5002 with
SO_REUSEADDR that reads an 8-byte piece, echoes it and closes that
connection, then waits for the next one.

usage: handout_code_c.py [--port P]   (5002 by default; 0 picks a free one)
Prints "listening on 127.0.0.1:<port>" once ready, and each piece it echoes.
"""
import argparse
import socket


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5002)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("localhost", args.port))
    sock.listen(1)
    print(f"listening on 127.0.0.1:{sock.getsockname()[1]}", flush=True)
    while True:
        connection, client_address = sock.accept()
        try:
            data = connection.recv(8)
            print(f"received {data!r}", flush=True)
            if data:
                connection.sendall(data)
        finally:
            connection.close()


if __name__ == "__main__":
    main()
