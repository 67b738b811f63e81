# pyc37 as the PDC of pmulab c37-pmu (README, "A real PMU"): python3 docs/pyc37_demo.py
import logging; logging.disable(logging.CRITICAL)
from pyc37.pdc import Pdc
pdc = Pdc(pdc_id=7, pmu_ip="127.0.0.1", pmu_port=4712)
pdc.run()
print(pdc.get_header().get_header())
cfg = pdc.get_config()
print(cfg.get_station_name().strip(), [n.strip() for n in cfg.get_channel_names()], cfg.get_data_rate(), "frames/s")
pdc.start()
m = pdc.get().get_measurements()
print(m["time"], m["measurements"][0]["frequency"], m["measurements"][0]["phasors"][:2])
pdc.quit()
