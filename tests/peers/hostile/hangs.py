# A part 2 "PDC" that never connects and never ends.
import time
while True:
    time.sleep(60)
