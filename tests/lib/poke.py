#!/usr/bin/env python3
"""poke.py PID SOCKET GUEST - flip one byte in the last page of GUEST's RAM (a unique
profile page whatever the profile) through /proc/PID/mem, as memory corruption would.
The guest's host address comes from `ksmctl stats --json`."""
import json
import subprocess
import sys

pid, sock, guest = sys.argv[1], sys.argv[2], sys.argv[3]
out = subprocess.run(["build/ksmctl", "--control", sock, "stats", "--json"],
                     capture_output=True, text=True, check=True).stdout
ram = next(g["ram"] for g in json.loads(out)["guests"] if g["name"] == guest)
last = ram[-1]
addr = last["hva"] + last["size"] - 4096 + 123
with open(f"/proc/{pid}/mem", "r+b", buffering=0) as f:
    f.seek(addr)
    b = f.read(1)
    f.seek(addr)
    f.write(bytes([b[0] ^ 0x5A]))
print(f"{guest}: flipped byte at host address {addr:#x}")
