"""A broken part 5 client: it does not verify the PMU's certificate."""
import argparse
import socket
import ssl

parser = argparse.ArgumentParser()
parser.add_argument("command")
parser.add_argument("ca")
parser.add_argument("--port", type=int, default=5003)
args = parser.parse_args()
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", args.port)) as raw:
    with context.wrap_socket(raw) as tls:
        tls.sendall(args.command.encode())
        while data := tls.recv(4096):
            print(data.decode(), flush=True)
