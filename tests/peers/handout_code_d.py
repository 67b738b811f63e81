"""The handout's Code D (lab part 1.2): a TCP client that sends a sentence
to localhost:5002, reads 16-byte pieces until it has as many bytes as it
sent, then loops forever (until it is killed).

usage: handout_code_d.py [--port P]
"""
import argparse
import socket


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5002)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect(("localhost", args.port))
    message = b"Oh Romeo, Romeo! wherefore art thou Romeo?"
    sock.sendall(message)
    amount_received = 0
    amount_expected = len(message)
    while amount_received < amount_expected:
        data = sock.recv(16)
        amount_received += len(data)
        print(f"received {data!r}", flush=True)
        if not data:
            break
    while True:
        pass


if __name__ == "__main__":
    main()
