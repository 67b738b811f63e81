"""A part 5 secure PMU written the way a student writes it.

usage: student_secure_pmu.py <port> <certificate> <key> [--count N] [--mode MODE]

Listens on 127.0.0.1, wraps each connection in TLS, reads the command and
answers as the part 2 PMU. Prints "listening on 127.0.0.1:<port>" once ready.

The modes are the mistakes a grader must catch, and one habit it must
accept:
  tls       the working PMU (default)
  keep-open the working PMU that never closes a connection it served
  plain     forgets TLS: answers in plaintext
  silent    completes the handshake, reads the command, sends nothing
  wrong     sends something else before "This is PMU data 0"
"""
import argparse
import socket
import ssl
import time


def answer(conn, command, count, mode):
    if mode == "silent":
        time.sleep(30)
        return
    if mode == "wrong":
        conn.send(b"Hello from the PMU")
    if command.startswith("CMD_short:"):
        delay = float(command.split(":", 1)[1])
        for i in range(count):
            conn.send(f"This is PMU data {i}".encode())
            time.sleep(delay)
    elif command == "CMD_floodme":
        conn.sendall(b"To be, or not to be. " * 2731)
    else:
        conn.sendall(b"ERROR: unknown command\n")
    if mode == "keep-open":
        time.sleep(30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("certificate")
    parser.add_argument("key")
    parser.add_argument("--count", type=int, default=15)
    parser.add_argument("--mode", default="tls",
                        choices=["tls", "keep-open", "plain", "silent", "wrong"])
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
            if args.mode == "plain":
                with raw:
                    command = raw.recv(1024).decode(errors="replace").strip()
                    answer(raw, command, args.count, args.mode)
                continue
            with context.wrap_socket(raw, server_side=True) as conn:
                command = conn.recv(1024).decode().strip()
                answer(conn, command, args.count, args.mode)
        except (ssl.SSLError, OSError):
            pass


if __name__ == "__main__":
    main()
