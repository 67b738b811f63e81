"""pyc37's PDC against a C37.118.2 PMU: header, CFG-2, transmission on,
N data frames; prints what it decoded as JSON.

    pyc37_pdc.py PORT IDCODE FRAMES
"""
import json
import logging
import sys

logging.disable(logging.CRITICAL)
from pyc37.pdc import Pdc
from pyc37.frame import DataFrame

port, idcode, frames = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pdc = Pdc(pdc_id=idcode, pmu_ip="127.0.0.1", pmu_port=port)
pdc.run()
header = pdc.get_header()
config = pdc.get_config()
pdc.start()
data = []
while len(data) < frames:
    frame = pdc.get()
    if isinstance(frame, DataFrame):
        measurements = frame.get_measurements()
        m = measurements["measurements"][0]
        data.append({
            "time": measurements["time"],
            "frequency": m["frequency"],
            "rocof": m["rocof"],
            "phasors": m["phasors"],
        })
pdc.stop()
pdc.quit()
print(json.dumps({
    "header": header.get_header(),
    "station": config.get_station_name(),
    "channels": config.get_channel_names(),
    "data_rate": config.get_data_rate(),
    "format": list(config.get_data_format()),
    "nominal": config.get_fnom(),
    "data": data,
}))
