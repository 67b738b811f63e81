"""A C37.118.2 PDC over UDP built from pyc37's frames (pyc37's own PDC
speaks TCP only): commands are pyc37's CommandFrame bytes sent by UDP,
every datagram that comes back is decoded by pyc37. Asks for CFG-2, turns
transmission on, reads N data frames, turns it off; prints JSON (with
the first datagrams in hex, for tshark); a summary line on stderr.

    pyc37_udp_pdc.py PORT IDCODE FRAMES
"""
import json
import socket
import sys

from pyc37.frame import CommandFrame, CommonFrame, ConfigFrame2, DataFrame

port, idcode, frames = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pmu = ("127.0.0.1", port)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(5)


def command(name):
    sock.sendto(CommandFrame(idcode, name).convert2bytes(), pmu)


raw = []


def receive(cfg=None):
    datagram, source = sock.recvfrom(65535)
    assert source == pmu, source
    if len(raw) < 4:
        raw.append(datagram.hex())
    return len(datagram), CommonFrame.convert2frame(datagram, cfg)


command("cfg2")
_, cfg = receive()
assert isinstance(cfg, ConfigFrame2), type(cfg)
command("start")
data = []
sizes = set()
while len(data) < frames:
    size, frame = receive(cfg)
    if isinstance(frame, DataFrame):
        sizes.add(size)
        m = frame.get_measurements()
        data.append({
            "time": m["time"],
            "frequency": m["measurements"][0]["frequency"],
            "phasors": m["measurements"][0]["phasors"],
        })
command("stop")
# After "stop", nothing more comes.
sock.settimeout(0.3)
late = 0
try:
    while True:
        _, frame = receive(cfg)
        late += 1
except socket.timeout:
    pass
print(
    f"pyc37 over UDP: {cfg.get_station_name().strip()!r} at {cfg.get_data_rate()} frames/s; "
    f"{len(data)} data frames, {data[0]['time']:.2f} to {data[-1]['time']:.2f}, "
    f"in datagrams of {sorted(sizes)} bytes; {late} after turn-off",
    file=sys.stderr,
)
print(json.dumps({
    "station": cfg.get_station_name(),
    "channels": cfg.get_channel_names(),
    "data_rate": cfg.get_data_rate(),
    "datagram_sizes": sorted(sizes),
    "data": data,
    "after_stop": late,
    "raw": raw,
}))
