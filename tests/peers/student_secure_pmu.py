"""A part 5 secure PMU written the way a student writes it.

usage: student_secure_pmu.py <port> <certificate> <key> [--count N]

Listens on 127.0.0.1, wraps each connection in TLS, reads the command and
answers as the part 2 PMU. Prints "listening on 127.0.0.1:<port>" once ready.
"""
import argparse
import socket
import ssl
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("certificate")
    parser.add_argument("key")
    parser.add_argument("--count", type=int, default=15)
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.certificate, args.key)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.port))
    server.listen(8)
    print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
    while True:
        raw, _ = server.accept()
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                command = conn.recv(1024).decode().strip()
                if command.startswith("CMD_short:"):
                    delay = float(command.split(":", 1)[1])
                    for i in range(args.count):
                        conn.send(f"This is PMU data {i}".encode())
                        time.sleep(delay)
                elif command == "CMD_floodme":
                    conn.sendall(b"To be, or not to be. " * 2731)
                else:
                    conn.sendall(b"ERROR: unknown command\n")
        except (ssl.SSLError, OSError):
            pass


if __name__ == "__main__":
    main()
