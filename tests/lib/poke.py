#!/usr/bin/env python3
"""poke.py PID MEMSIZE INDEX - flip one byte in a profile page of the INDEX-th guest RAM
mapping of a running ksmvmm, through /proc/PID/mem, as memory corruption would."""
import sys

def size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1]] if s[-1] in units else int(s)

pid, mem, index = sys.argv[1], size(sys.argv[2]), int(sys.argv[3])
regions = []
with open(f"/proc/{pid}/maps") as f:
    for line in f:
        addr, perms = line.split()[:2]
        lo, hi = (int(x, 16) for x in addr.split("-"))
        if hi - lo == mem and perms.startswith("rw"):
            regions.append(lo)
regions.sort()
if index >= len(regions):
    sys.exit(f"only {len(regions)} guest RAM mappings of {mem} bytes found")
# The last page of guest RAM is a unique profile page whatever the profile is.
addr = regions[index] + mem - 4096 + 123
with open(f"/proc/{pid}/mem", "r+b", buffering=0) as f:
    f.seek(addr)
    b = f.read(1)
    f.seek(addr)
    f.write(bytes([b[0] ^ 0x5A]))
print(f"flipped byte at host address {addr:#x}")
