#!/usr/bin/env python3
"""fleet.py - helpers for merge tests: stats, host accounting, ideal figures, audits.

Subcommands (all print what they check and exit non-zero on failure):
  pss PID                         print the process's Pss in bytes
  ideal CONSOLE_DIR               print ideal figures parsed from the guests' consoles
  converge SOCK PID CONSOLE_DIR BASELINE_PSS [TIMEOUT]
                                  wait until merges reach 95% of ideal, then check that
                                  Pss dropped by 90% of the ideal saving (skipped when
                                  BASELINE_PSS is -1)
  wait-merged SOCK MIN TIMEOUT    wait until the guests map at least MIN pool pages
  cow SOCK MIN TIMEOUT            wait for at least MIN copy-on-write breaks
  groups SOCK PID                 pagemap audit: no pool page shared across groups
  budget SOCK                     engine stayed under its mapping budget
  audit SOCK PID                  pagemap audit: per guest, the pages that map a pool page
                                  (present and file-backed, or not yet faulted in inside a
                                  pool mapping) agree with the engine's merged count
"""
import bisect
import fcntl
import glob
import json
import os
import re
import struct
import subprocess
import sys
import time

PAGE = 4096
KSMCTL = "build/ksmctl"


def pss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    raise SystemExit("no Pss in smaps_rollup")


def stats(sock):
    out = subprocess.run([KSMCTL, "--control", sock, "stats", "--json"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise SystemExit(f"ksmctl stats failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def ideal(console_dir):
    """Ideal merges and saving from the guests' own description of their memory."""
    guests = []
    for path in sorted(glob.glob(f"{console_dir}/*.log")):
        with open(path) as f:
            m = re.search(r"workload: (\d+) pages zero=(\d+) shared=(\d+) dup=(\d+)",
                          f.read())
        if not m:
            raise SystemExit(f"{path}: no workload line")
        guests.append([int(x) for x in m.groups()])
    n = len(guests)
    zero = sum(g[1] for g in guests)
    shared = guests[0][2]
    dup = sum(g[3] - max(1, g[3] // 4) if g[3] else 0 for g in guests)
    merged = n * shared + sum(g[3] for g in guests)
    saving = zero + (n - 1) * shared + dup
    return {"guests": n, "merged": merged if n > 1 else 0, "zero": zero,
            "saving_bytes": saving * PAGE if n > 1 else zero * PAGE}


def merged_now(st):
    return sum(g["pages_merged"] for g in st["guests"])


def converge(sock, pid, console_dir, baseline, timeout=180):
    want = ideal(console_dir)
    print(f"ideal: {want}")
    t0 = time.time()
    st = stats(sock)
    while merged_now(st) < 0.95 * want["merged"] and time.time() - t0 < timeout:
        time.sleep(0.5)
        st = stats(sock)
    took = time.time() - t0
    merged = merged_now(st)
    zero = sum(g["pages_zero"] for g in st["guests"])
    print(f"after {took:.1f}s: merged {merged} of ideal {want['merged']}, zero {zero} "
          f"of ideal {want['zero']}, engine {json.dumps(st['engine'])}")
    if merged < 0.95 * want["merged"] or zero < 0.95 * want["zero"]:
        raise SystemExit("FAIL: fewer than 95% of the ideal merges")
    if baseline < 0:
        return
    time.sleep(1)
    now = pss(pid)
    drop = baseline - now
    print(f"host Pss: baseline {baseline >> 20} MiB, now {now >> 20} MiB, drop "
          f"{drop >> 20} MiB, ideal saving {want['saving_bytes'] >> 20} MiB "
          f"({100.0 * drop / want['saving_bytes']:.1f}%)")
    if drop < 0.9 * want["saving_bytes"]:
        raise SystemExit("FAIL: host accounting dropped by less than 90% of the ideal")


def wait_merged(sock, minimum, timeout):
    """Wait until the guests together map at least @minimum pool pages."""
    t0 = time.time()
    merged = 0
    while time.time() - t0 < timeout:
        merged = merged_now(stats(sock))
        if merged >= minimum:
            print(f"{merged} pages merged after {time.time() - t0:.1f}s")
            return
        time.sleep(0.5)
    raise SystemExit(f"FAIL: only {merged} pages merged in {timeout}s")


def cow(sock, minimum, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = stats(sock)
        breaks = st["engine"]["cow_breaks"]
        if breaks >= minimum:
            print(f"{breaks} copy-on-write breaks after {time.time() - t0:.1f}s; "
                  f"merges {st['engine']['merges']}")
            return
        time.sleep(1)
    raise SystemExit(f"FAIL: only {breaks} copy-on-write breaks in {timeout}s")


def pagemap_entries(pid, ranges):
    """The /proc/PID/pagemap entry of every page in @ranges [(hva, size)]."""
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        for hva, size in ranges:
            f.seek(hva // PAGE * 8)
            data = f.read(size // PAGE * 8)
            for i in range(0, len(data), 8):
                yield int.from_bytes(data[i:i + 8], "little")


def pool_mapped(e):
    """Present and file-backed: the page maps a pool page."""
    return e >> 63 & 1 and e >> 61 & 1


def pfn(e):
    return e & ((1 << 55) - 1)


def zero_frames(pfns):
    """The frames among @pfns that are the kernel's zero page or its huge zero page
    (KPF_ZERO_PAGE in /proc/kpageflags; empty if that is unreadable). pagemap marks the
    huge zero page file-backed, so 512 frames of it, mapped where a guest read untouched
    memory, look like pool pages mapped by every guest (seen on the nested VM's 6.1)."""
    try:
        f = open("/proc/kpageflags", "rb")
    except OSError:
        return set()
    zero = set()
    with f:
        for p in pfns:
            f.seek(p * 8)
            if int.from_bytes(f.read(8), "little") >> 24 & 1:
                zero.add(p)
    return zero


def pagemap_pfns(pid, ranges):
    """PFNs of the present file-backed (pool) pages in @ranges [(hva, size)], less the
    zero page's."""
    pfns = {pfn(e) for e in pagemap_entries(pid, ranges) if pool_mapped(e)}
    zero = zero_frames(pfns)
    if zero:
        print(f"  ({len(zero)} file-backed frames are the zero page, not the pool: left out)")
    return pfns - zero


def groups(sock, pid):
    st = stats(sock)
    by_group = {}
    for g in st["guests"]:
        ranges = [(r["hva"], r["size"]) for r in g["ram"]]
        # Touch nothing: pages never faulted in since their merge are simply not counted.
        pf = pagemap_pfns(pid, ranges)
        by_group.setdefault(g["group"], set()).update(pf)
        print(f"{g['name']} (group {g['group']}): {len(pf)} pool pages mapped")
    names = sorted(by_group)
    if len(names) < 2:
        raise SystemExit("FAIL: want at least two groups")
    for i, a in enumerate(names):
        if not by_group[a]:
            raise SystemExit(f"FAIL: group {a} shares nothing: the audit would prove nothing")
        for b in names[i + 1:]:
            common = by_group[a] & by_group[b]
            if common:
                raise SystemExit(f"FAIL: {len(common)} pool pages shared by {a} and {b}")
    print("no pool page is mapped by guests of two groups")


def is_pool_file(path):
    """The engine's pool memfd, or a snapshot's memory file it maps in place (a file
    `memory` beside a `state`)."""
    if "ksmvmm-pool" in path:
        return True
    return path.endswith("/memory") and os.path.exists(os.path.dirname(path) + "/state")


def pool_vmas(pid):
    """[(start, end)] of the process's mappings of the engine's pool files."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and is_pool_file(fields[5].strip()):
                a, b = fields[0].split("-")
                out.append((int(a, 16), int(b, 16)))
    return out


def immutable(path):
    """Does @path have the immutable attribute (FS_IOC_GETFLAGS)?"""
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, 0x80086601, b"\0" * 8)[:4])[0]
    finally:
        os.close(fd)
    return bool(flags & 0x10)


def unfaulted_pool_pages(pid, ranges):
    """Pages of @ranges that lie in a pool mapping and are neither present nor swapped: a
    restored guest's page the guest has not touched yet maps the pool (a read faults the
    pool page in) without showing in the pagemap."""
    vmas, n = sorted(pool_vmas(pid)), 0
    starts = [v[0] for v in vmas]
    for hva, size in ranges:
        for i, e in enumerate(pagemap_entries(pid, [(hva, size)])):
            if e >> 63 & 1 or e >> 62 & 1:
                continue
            a = hva + i * PAGE
            k = bisect.bisect_right(starts, a) - 1
            n += k >= 0 and a < vmas[k][1]
    return n


def file_pages(pid, ranges):
    """Present file-backed (pool) pages in @ranges, counted per mapping, not per frame,
    the zero page's left out (see zero_frames)."""
    entries = [e for e in pagemap_entries(pid, ranges) if pool_mapped(e)]
    zero = zero_frames({pfn(e) for e in entries})
    return sum(1 for e in entries if pfn(e) not in zero)


def audit(sock, pid):
    """Call after every guest read all its pages (verify) and a quiet second: a page that
    maps the pool must be one the engine counts as merged (never more), and the engine's
    merged pages must be seen mapping the pool, less the few no guest reads."""
    time.sleep(1.0)
    st = stats(sock)
    total = 0
    for g in st["guests"]:
        ranges = [(r["hva"], r["size"]) for r in g["ram"]]
        seen, merged = file_pages(pid, ranges), g["pages_merged"]
        total += seen
        lazy = unfaulted_pool_pages(pid, ranges)
        print(f"{g['name']}: pagemap shows {seen} pool pages (+{lazy} in pool mappings, not "
              f"faulted in), engine counts {merged} merged, "
              f"{g.get('pages_reported', 0)} reported free")
        seen += lazy
        if seen > merged:
            raise SystemExit(f"FAIL: {g['name']} maps {seen - merged} pool pages the engine "
                             "does not count")
        if merged - seen > max(64, merged // 100):
            raise SystemExit(f"FAIL: {g['name']}: {merged - seen} pages counted as merged do "
                             "not map the pool")
    if total == 0:
        raise SystemExit("FAIL: nothing maps the pool: the audit would prove nothing")
    print("pagemap audit agrees with the engine")


def budget(sock):
    e = stats(sock)["engine"]
    print(f"mappings {e['mappings_used']} of {e['mappings_limit']}, state "
          f"{e['budget_state']}, skips {e['budget_skips']}")
    if e["mappings_used"] >= e["mappings_limit"]:
        raise SystemExit("FAIL: engine at or over the mapping limit")
    if e["budget_skips"] == 0:
        raise SystemExit("FAIL: the budget never held merging back: the test proves nothing")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "pss":
        print(pss(int(args[0])))
    elif cmd == "ideal":
        print(json.dumps(ideal(args[0])))
    elif cmd == "converge":
        converge(args[0], int(args[1]), args[2], int(args[3]),
                 int(args[4]) if len(args) > 4 else 180)
    elif cmd == "wait-merged":
        wait_merged(args[0], int(args[1]), int(args[2]))
    elif cmd == "cow":
        cow(args[0], int(args[1]), int(args[2]))
    elif cmd == "groups":
        groups(args[0], int(args[1]))
    elif cmd == "budget":
        budget(args[0])
    elif cmd == "audit":
        audit(args[0], int(args[1]))
    elif cmd == "immutable":
        print(1 if immutable(args[0]) else 0)
    else:
        raise SystemExit(f"unknown subcommand {cmd}")


main()
