#!/usr/bin/env python3
"""report.py - checks of `ksmctl report` on real guests (docs/reports.md).

Subcommands (each prints what it checks and exits non-zero on failure):
  attribution SOCK PID CONSOLE_DIR [ENDED]
        per-guest figures add up to the totals; cost + saved is each guest's touched
        memory; the fleet's figures match the ideal ones of the profile; the host's Pss
        (read here, not trusted from the report) agrees with the fleet's cost within the
        documented tolerance, and would NOT agree if sharing were ignored. ENDED: the
        number of guests expected to have ended.
  schema FILE      FILE (a report --json) validates against docs/report-schema.json
  matrix SOCK SETS CROSS_MAX
        SETS like "g0,g1/g2,g3": the matrix is symmetric, guests of a set share at least
        95% of what they map, guests of different sets share at most CROSS_MAX pages
  png FILE W H     FILE is a PNG of W x H pixels
  svg FILE W H     FILE is an SVG (xmllint-valid) of W x H
  history FILE     FILE (history --csv) has the documented header and growing counters
"""
import json
import struct
import subprocess
import sys
import time

PAGE = 4096
MIB = 1 << 20
KSMCTL = "build/ksmctl"
SUMMED = ["mem_bytes", "cost_bytes", "private_pages", "shared_pages", "shared_cost_bytes",
          "zero_pages", "empty_pages", "saved_bytes", "merges", "cow_breaks"]


def fail(msg):
    raise SystemExit(f"FAIL: {msg}")


def pss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    fail("no Pss in smaps_rollup")


def report(sock):
    out = subprocess.run([KSMCTL, "--control", sock, "report", "--json"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        fail(f"ksmctl report failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def check_sums(r):
    """Every summed figure of the totals and of each group is the sum over its guests."""
    for key in SUMMED:
        total = sum(g[key] for g in r["guests"])
        if total != r["totals"][key]:
            fail(f"totals.{key} = {r['totals'][key]}, sum over guests = {total}")
        for grp in r["groups"]:
            members = [g for g in r["guests"] if g["group"] == grp["name"]]
            if sum(g[key] for g in members) != grp[key]:
                fail(f"group {grp['name']}: {key} is not the sum over its guests")
    if r["totals"]["guests"] != len(r["guests"]):
        fail("totals.guests is not the number of guests")
    print(f"per-guest figures add up to the totals ({len(r['guests'])} guests, "
          f"{len(r['groups'])} groups)")


def check_identities(r):
    """cost + saved = touched memory; shares of the pool add up to the pool."""
    for g in r["guests"]:
        touched = g["mem_bytes"] - g["empty_pages"] * PAGE
        if abs(g["cost_bytes"] + g["saved_bytes"] - touched) > 2:
            fail(f"{g['name']}: cost {g['cost_bytes']} + saved {g['saved_bytes']} != touched "
                 f"{touched}")
        if g["shared_cost_bytes"] != g["cost_bytes"] - g["private_pages"] * PAGE:
            fail(f"{g['name']}: shared_cost_bytes is not cost - private")
    t = r["totals"]
    # A pool page serves only the guests that map it, so the shares add up to the pool,
    # but for pages created in the pass running now (no mapping yet) and the shares of
    # ended guests (still mapped, part of their cost).
    slack = 0.01 * t["pool_bytes"] + 64 * PAGE + t["ended_cost_bytes"]
    if not 0 <= t["pool_bytes"] - t["shared_cost_bytes"] <= slack:
        fail(f"shares of the pool {t['shared_cost_bytes']} vs pool {t['pool_bytes']}")
    print("each guest: cost + saved = touched memory; shares of the pool add up to the pool")


def check_ideal(r, console_dir):
    cons = parse_consoles(console_dir)
    t = r["totals"]
    live = {g["name"] for g in r["guests"]}
    n = len(live)
    # Ended guests keep their memory mapped: a shared page has k = every guest mappers.
    k = len(cons)
    unique = sum(c["unique"] for name, c in cons.items() if name in live)
    shared = next(iter(cons.values()))["shared"]
    zero = sum(c["zero"] for name, c in cons.items() if name in live)
    ideal_cost = (unique + n * shared / k) * PAGE
    ideal_saved = (zero + n * shared * (k - 1) / k) * PAGE
    print(f"ideal (profile, {n} running guests of {k}): cost {ideal_cost / MIB:.1f} MiB, saved "
          f"{ideal_saved / MIB:.1f} MiB; report: cost {t['cost_bytes'] / MIB:.1f} MiB, saved "
          f"{t['saved_bytes'] / MIB:.1f} MiB")
    if not 0.95 * ideal_saved <= t["saved_bytes"] <= 1.05 * ideal_saved:
        fail("saved bytes are not within 5% of the ideal")
    # Each guest also holds a few pages outside the profile (its program, page tables).
    if not ideal_cost <= t["cost_bytes"] + 64 * PAGE <= 1.05 * ideal_cost + 512 * PAGE:
        fail("cost is not within 5% of the ideal")


def parse_consoles(console_dir):
    import glob
    import re
    out = {}
    for path in sorted(glob.glob(f"{console_dir}/*.log")):
        with open(path) as f:
            m = re.search(r"workload: (\d+) pages zero=(\d+) shared=(\d+) dup=(\d+) "
                          r"unique=(\d+)", f.read())
        if m:
            name = path.rsplit("/", 1)[1][:-4]
            out[name] = dict(zip(["pages", "zero", "shared", "dup", "unique"],
                                 map(int, m.groups())))
    return out


def check_host(r, pid):
    h = r["host"]
    if h is None:
        fail("the report has no host accounting")
    mine = pss(pid)
    accounted = r["totals"]["cost_bytes"] + r["totals"]["ended_cost_bytes"]
    tol = 16 * MIB + sum_ram(r) // 32
    print(f"host Pss: report {h['pss_bytes'] / MIB:.1f} MiB, read here {mine / MIB:.1f} MiB; "
          f"accounted {accounted / MIB:.1f} MiB; difference {(mine - accounted) / MIB:+.1f} "
          f"MiB; tolerance {tol / MIB:.1f} MiB; pool difference "
          f"{h['pool_difference_bytes'] / MIB:+.2f} MiB")
    if h["accounted_bytes"] != accounted or h["tolerance_bytes"] != tol:
        fail("the report's accounted or tolerance figure is not as documented")
    if abs(h["pss_bytes"] - mine) > 0.05 * mine:
        fail("the report's Pss is not the process's Pss")
    if abs(mine - accounted) > tol or not h["agrees"]:
        fail("the host's Pss does not agree with the fleet's cost")
    if abs(h["pool_difference_bytes"]) > MIB:
        fail("Pss_Shmem is not the pool")
    touched = sum(g["mem_bytes"] - g["empty_pages"] * PAGE for g in r["guests"])
    if abs(mine - touched - r["totals"]["ended_cost_bytes"]) <= tol:
        fail("ignoring sharing would agree too: the check proves nothing")
    print("host accounting agrees with the fleet's cost; without sharing it would not")


def sum_ram(r):
    return (sum(g["mem_bytes"] for g in r["guests"]) +
            r["totals"]["ended_guests"] * (r["guests"][0]["mem_bytes"] if r["guests"] else 0))


def attribution(sock, pid, console_dir, ended=0):
    # The engine settles between passes: retry a few times if a pass was mid-way.
    for attempt in range(5):
        r = report(sock)
        try:
            if len(r["ended"]) != ended or r["totals"]["ended_guests"] != ended:
                fail(f"want {ended} ended guests, report has {len(r['ended'])}")
            check_sums(r)
            check_identities(r)
            check_ideal(r, console_dir)
            check_host(r, pid)
            return
        except SystemExit as e:
            if attempt == 4:
                raise
            print(f"retrying ({e})")
            time.sleep(2)


def schema(path):
    import jsonschema
    with open("docs/report-schema.json") as f:
        s = json.load(f)
    jsonschema.Draft7Validator.check_schema(s)
    with open(path) as f:
        doc = json.load(f)
    jsonschema.Draft7Validator(s).validate(doc)
    bad = json.loads(json.dumps(doc))
    bad["totals"]["unexpected"] = 1
    if jsonschema.Draft7Validator(s).is_valid(bad):
        fail("the schema accepts unknown members: it checks too little")
    print(f"{path} validates against docs/report-schema.json (version {doc['version']})")


def matrix(sock, sets, cross_max):
    groups = [s.split(",") for s in sets.split("/")]
    r = report(sock)
    m = r["matrix"]
    names, pages = m["guests"], m["pages"]
    n = len(names)
    idx = {name: i for i, name in enumerate(names)}
    for a in range(n):
        for b in range(n):
            if pages[a][b] != pages[b][a]:
                fail(f"matrix not symmetric at {names[a]},{names[b]}")
            if pages[a][b] > min(pages[a][a], pages[b][b]):
                fail(f"{names[a]},{names[b]} share more than one of them maps")
    print("matrix:\n" + "\n".join(f"  {names[a]:>4} {pages[a]}" for a in range(n)))
    for gi, ga in enumerate(groups):
        for gj, gb in enumerate(groups):
            for x in ga:
                for y in gb:
                    if x == y:
                        continue
                    v, i, j = pages[idx[x]][idx[y]], idx[x], idx[y]
                    if gi == gj and v < 0.95 * min(pages[i][i], pages[j][j]):
                        fail(f"{x} and {y} should share nearly all they map, share {v}")
                    if gi == gj and v < 1000:
                        fail(f"{x} and {y} share only {v} pages: the test proves nothing")
                    if gi != gj and v > cross_max:
                        fail(f"{x} and {y} should share at most {cross_max}, share {v}")
    print(f"matrix symmetric; sets {groups} share inside, at most {cross_max} across")


def png(path, w, h):
    with open(path, "rb") as f:
        head = f.read(33)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        fail(f"{path} is not a PNG")
    pw, ph = struct.unpack(">II", head[16:24])
    if (pw, ph) != (w, h):
        fail(f"{path} is {pw}x{ph}, want {w}x{h}")
    print(f"{path}: PNG {pw}x{ph}")


def svg(path, w, h):
    subprocess.run(["xmllint", "--noout", path], check=True)
    import xml.etree.ElementTree as ET
    root = ET.parse(path).getroot()
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        fail(f"{path}: root element is {root.tag}")
    sw, sh = (float(root.get(k).rstrip("pt")) for k in ("width", "height"))
    if (sw, sh) != (w, h):
        fail(f"{path} is {sw}x{sh}, want {w}x{h}")
    print(f"{path}: valid SVG {sw:.0f}x{sh:.0f}")


def history(path):
    import csv
    with open(path) as f:
        rows = list(csv.DictReader(f))
    want = ["time", "uptime_s", "bytes_saved", "cost_bytes", "merges", "cow_breaks",
            "zero_pages", "pool_pages", "cpu_seconds"]
    if not rows or list(rows[0].keys())[:len(want)] != want:
        fail(f"{path}: header is not {want}")
    for key in ("uptime_s", "merges", "cow_breaks", "cpu_seconds"):
        vals = [float(r[key]) for r in rows]
        if vals != sorted(vals):
            fail(f"{path}: {key} is not monotonic")
    if float(rows[-1]["bytes_saved"]) <= 0:
        fail(f"{path}: nothing saved in the last sample")
    print(f"{path}: {len(rows)} samples, counters monotonic")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "attribution":
        attribution(args[0], int(args[1]), args[2], int(args[3]) if len(args) > 3 else 0)
    elif cmd == "schema":
        schema(args[0])
    elif cmd == "matrix":
        matrix(args[0], args[1], int(args[2]))
    elif cmd == "png":
        png(args[0], int(args[1]), int(args[2]))
    elif cmd == "svg":
        svg(args[0], float(args[1]), float(args[2]))
    elif cmd == "history":
        history(args[0])
    else:
        fail(f"unknown subcommand {cmd}")


main()
