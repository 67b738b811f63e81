"""A UDP PMU written the way the course's server behaves (lab part 3).

For each datagram RESET:n it picks X uniformly in 0..n and answers OFFSET=X,
but only `if random() >= p`. It listens on one family (the course's server
switched between IPv4 and IPv6 with the time of day).

usage: course_udp_pmu.py [--port P] [--loss p] [--family 4|6] [--seed S]
Prints "listening on <addr>" once ready.
"""
import argparse
import random
import socket


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loss", type=float, default=0.4)
    parser.add_argument("--family", choices=["4", "6"], default="4")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    family, host = (socket.AF_INET, "127.0.0.1") if args.family == "4" else (socket.AF_INET6, "::1")
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, args.port))
    port = sock.getsockname()[1]
    shown = f"{host}:{port}" if args.family == "4" else f"[{host}]:{port}"
    print(f"listening on {shown}", flush=True)
    while True:
        data, addr = sock.recvfrom(1024)
        text = data.decode(errors="replace").strip()
        if not text.startswith("RESET:"):
            continue
        try:
            n = int(text.split(":", 1)[1])
        except ValueError:
            continue
        if random.random() >= args.loss:
            sock.sendto(f"OFFSET={random.randint(0, n)}".encode(), addr)


if __name__ == "__main__":
    main()
