"""perf script output -> folded stacks ("thread;root;...;leaf count"), C++ names shortened
(argument lists and template arguments dropped)."""
import collections
import re
import sys


def short(sym):
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    if not ("lambda" in sym and sym.startswith("saga::")):
        sym = re.sub(r"\(.*", "", sym)
    sym = re.sub(r"<.*", "", sym)
    return sym.strip()[:80] or "[unknown]"


stacks = collections.Counter()
frames, comm = [], None
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    if not line:
        if frames:
            stacks[";".join([comm or "?"] + list(reversed(frames)))] += 1
        frames, comm = [], None
    elif not line.startswith((" ", "\t")):
        comm = line.split()[0]
    else:
        parts = line.strip().split(" ", 1)
        if len(parts) == 2:
            frames.append(short(parts[1].rsplit(" (", 1)[0]))
if frames:
    stacks[";".join([comm or "?"] + list(reversed(frames)))] += 1
with open(sys.argv[2], "w") as f:
    for stack, n in stacks.most_common():
        f.write(f"{stack} {n}\n")
