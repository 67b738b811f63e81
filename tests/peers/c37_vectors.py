"""Prints pyc37's IEEE C37.118.2 Annex D sample frames (the ones its Pmu
class carries as ieee_cfg2_sample, ieee_data_sample, ieee_command_sample),
built with a fixed time so they are the same every run, and a header frame,
as JSON: {name: hex}. pyc37 is an independent implementation: pmulab must
decode these and encode them back byte for byte."""
import json
import logging

logging.disable(logging.CRITICAL)

from pyc37.frame import CommandFrame, ConfigFrame2, DataFrame, HeaderFrame

SOC = 1149577200  # the standard's example: 2006-06-06 06:00:00 UTC
FRASEC = 463000

cfg2 = ConfigFrame2(
    7734, 1000000, 1, "Station A", 7734, (False, False, True, False), 4, 3, 1,
    ["VA", "VB", "VC", "I1", "ANALOG1", "ANALOG2", "ANALOG3",
     "BREAKER 1 STATUS", "BREAKER 2 STATUS", "BREAKER 3 STATUS",
     "BREAKER 4 STATUS", "BREAKER 5 STATUS", "BREAKER 6 STATUS",
     "BREAKER 7 STATUS", "BREAKER 8 STATUS", "BREAKER 9 STATUS",
     "BREAKER A STATUS", "BREAKER B STATUS", "BREAKER C STATUS",
     "BREAKER D STATUS", "BREAKER E STATUS", "BREAKER F STATUS",
     "BREAKER G STATUS"],
    [(915527, "v"), (915527, "v"), (915527, "v"), (45776, "i")],
    [(1, "pow"), (1, "rms"), (1, "peak")], [(0x0000, 0xffff)],
    60, 22, 30, soc=SOC, frasec=FRASEC)
data = DataFrame(
    7734, ("ok", True, "timestamp", False, False, False, 0, "<10", 0),
    [(14635, 0), (-7318, -12676), (-7318, 12675), (1092, 0)], 2500, 0,
    [100, 1000, 10000], [0x3c12], cfg2, soc=SOC, frasec=FRASEC)
command = CommandFrame(7734, "start", None, soc=SOC, frasec=FRASEC)
header = HeaderFrame(7734, "Hello I'm a PMU from pyc37", soc=SOC, frasec=FRASEC)

print(json.dumps({
    "cfg2": cfg2.convert2bytes().hex(),
    "data": data.convert2bytes().hex(),
    "command": command.convert2bytes().hex(),
    "header": header.convert2bytes().hex(),
}))
