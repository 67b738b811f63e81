# A hostile part 2 "PDC": tries to write outside its working directory.
import glob, os
targets = ["/root/pmulab-pwned", "/tmp/pmulab-pwned", "/var/tmp/pmulab-pwned"]
targets += [h + "/pmulab-pwned" for h in glob.glob("/home/*")]
for path in targets:
    try:
        with open(path, "w") as f:
            f.write("pwned\n")
        print("WROTE", path, flush=True)
    except OSError as e:
        print("refused", path, "-", e.strerror, flush=True)
with open("allowed.txt", "w") as f:
    f.write("my own directory is fine\n")
print("wrote allowed.txt in", os.getcwd(), flush=True)
