# A hostile part 2 "PDC": prints without end.
import sys
line = "This is not PMU data " * 4 + "\n"
while True:
    sys.stdout.write(line)
