"""Inclusive share of the samples whose stack holds a frame matching each pattern (a
substring; "a\\|b" for either)."""
import sys

stacks = []
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    stacks.append((stack.split(";"), int(n)))
total = sum(n for _, n in stacks) or 1
print(f"{total} samples")
for pattern in sys.argv[2:]:
    alts = pattern.split("\\|")
    hit = sum(n for frames, n in stacks if any(a in f for f in frames for a in alts))
    print(f"{100 * hit / total:6.1f}%  {pattern}")
