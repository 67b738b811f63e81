"""pyc37's PMU with the standard's Annex D configuration (IDCODE 7734),
sending the Annex D data frame to PDCs that turned transmission on, at
about 30 frames/s. Prints "listening on 127.0.0.1:PORT" when ready.

    pyc37_pmu.py PORT
"""
import logging
import sys
import time

logging.disable(logging.CRITICAL)
from pyc37.pmu import Pmu

port = int(sys.argv[1])
pmu = Pmu(ip="127.0.0.1", port=port)
pmu.set_configuration()
pmu.set_header()
pmu.run()
print("listening on 127.0.0.1:%d" % port, flush=True)
while True:
    if pmu.clients:
        pmu.send(pmu.ieee_data_sample)
    time.sleep(1 / 30)
