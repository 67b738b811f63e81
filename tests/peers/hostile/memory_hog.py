# A hostile part 2 "PDC": takes memory 64 MiB at a time, touching every page.
chunks = []
while True:
    chunks.append(bytearray(b"x" * (64 << 20)))
