# A hostile part 2 "PDC": looks at the network it was given, from inside.
import socket
print("interfaces:", " ".join(name for _, name in socket.if_nameindex()), flush=True)
with open("/proc/net/route") as f:
    routes = f.read().splitlines()[1:]
print("ipv4 routes:", len(routes), flush=True)
with open("/proc/net/dev") as f:
    print("devices:", " ".join(l.split(":")[0].strip() for l in f.read().splitlines()[2:]), flush=True)
