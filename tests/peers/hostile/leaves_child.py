# A hostile part 2 "PDC": starts a daemon in a session of its own, then exits.
import subprocess
subprocess.Popen(["sleep", "3141"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("left a child behind", flush=True)
