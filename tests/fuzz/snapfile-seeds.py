#!/usr/bin/env python3
"""snapfile-seeds.py - seeds for fuzz_snapfile from a real snapshot's state file.

Usage: snapfile-seeds.py STATE OUTDIR. The state file comes from a real guest on KVM, e.g.
`tools/kvm-in-qemu.sh -- build/tests/vmstate-probe build/seed-snap` (its state has a vCPU
and a VM section). The first byte of each seed is fuzz_snapfile's mode (see that file).
"""
import struct
import sys


def sections(state):
    ram = struct.unpack_from("<Q", state, 16)[0]
    pos = 24 + 8 * ((ram + (2 << 20) - 1) // (2 << 20))
    head = state[:pos]
    out = []
    while pos < len(state) - 8:
        tag, index, n = struct.unpack_from("<IIQ", state, pos)
        out.append((tag, index, state[pos:pos + 16 + n], state[pos + 16:pos + 16 + n]))
        pos += 16 + n
    return head, out


def main():
    state = open(sys.argv[1], "rb").read()
    out = sys.argv[2]
    head, secs = sections(state)
    seeds = {"state": b"\0" + state, "state-notrailer": b"\1" + state[:-8]}
    for tag, index, whole, body in secs:
        kind = {0x80000003: "vm", 0x80000004: "vcpu"}.get(tag, "tag%x" % tag)
        seeds["%s%d-only" % (kind, index)] = b"\1" + head + whole
        if kind in ("vm", "vcpu"):
            seeds["%s%d-body" % (kind, index)] = (b"\2" if kind == "vcpu" else b"\3") + body
    for name, data in seeds.items():
        open("%s/%s" % (out, name), "wb").write(data)
        print("%s: %d bytes" % (name, len(data)))


main()
