"""The course's TLS PDC, as it behaved (lab part 5).

usage: course_tls_client.py <command> <ca-certificate> [--port P]

Connects to localhost (IPv4), verifies the server's chain against the CA
with no host-name check and no SNI, sends the command, and prints each read.
"""
import argparse
import socket
import ssl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("ca")
    parser.add_argument("--port", type=int, default=5003)
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(args.ca)
    with socket.create_connection(("127.0.0.1", args.port)) as raw:
        with context.wrap_socket(raw) as tls:
            tls.sendall(args.command.encode())
            while True:
                data = tls.recv(4096)
                if not data:
                    break
                print(data.decode(), flush=True)


if __name__ == "__main__":
    main()
