"""clonereport.py - scenario 6's figures and its section of the report, from the raw
records tools/bench/clones.py keeps (pure: no process, no file; recomputed on --render).

The raw record of scenario 6 holds, under "clones": the clone counts run, the parent's
snapshot, one "live" and one "restore" record per count, one "mutation" triple per count
(the clone fleet, an independent fleet merged by our engine, one merged by host KSM) and
the optional "big" run (32 clones of a 1 GiB guest). Figures go to "clone_figures".
"""
import re

TARGET_BIRTH_PCT = 2.0  # a clone costs at most 2% of its RAM in Pss at birth...
TARGET_START_MS = 50.0  # ...and starts in at most 50 ms (256 MiB)
NA = "-"
NOT_ASKED = "not asked for"
FORK_RE = re.compile(r"forked, \d+ pages shared, paused ([\d.]+) s")
POOL_RE = re.compile(r"\d+ pages in the pool in ([\d.]+) s")


def _mib(kib):
    return None if kib is None else kib / 1024


def _div(a, b):
    return None if a is None or not b else a / b


def verify_ok(v, expect):
    """Did `ksmctl verify` answer for @expect guests, every one with bad=0?"""
    return bool(v) and v.get("exit_status") == 0 and v.get("guests") == expect and \
        v.get("bad") == 0


def live_figures(rec, ram_mib):
    """A live clone of N: start time (the ksmctl call) and Pss added per clone."""
    n = rec["n"]
    added = _div(_mib(rec["pss_after_kib"] - rec["parent_pss_kib"]), n)
    return {"n": n, "start_ms": rec["clone_wall_s"] * 1000,
            "all_restored_ms": _ms(rec.get("t_all_restored_s")),
            "parent_paused_ms": log_ms(rec.get("vmm_log"), FORK_RE),
            "added_per_clone_mib": added, "birth_pct_of_ram": _div(added, ram_mib / 100),
            "parent_pss_mib": _mib(rec["parent_pss_kib"]),
            "pss_after_verify_mib": _mib(rec.get("pss_after_verify_kib")),
            "running": rec.get("running"), "running_ok": rec.get("running") == n + 1,
            "verify_ok": verify_ok(rec.get("verify"), n + 1)}


def _ms(s):
    return None if s is None else s * 1000


def log_ms(lines, regex):
    """The seconds ksmvmm logged in its first line matching @regex, as ms (None if none):
    how long a live clone held its parent paused, or a restore took to fill the pool."""
    for line in lines or ():
        m = regex.search(line)
        if m:
            return float(m.group(1)) * 1000
    return None


def merge(dst, src):
    """Fill in the steps scenario 6 record @dst lacks (or failed) from @src, another
    run's (bench.py --render --with); each step taken keeps the run that produced it
    (src["produced"]). Returns the names of the steps taken."""
    a, b, prod = dst["clones"], src["clones"], src.get("produced")
    one = (b.get("snapshot") or {}).get("one_pss_kib")  # a restore's own reference
    taken = []
    for way, done, extra in (("live", "pss_after_kib", {}),
                             ("restore", "pss_birth_kib", {"one_pss_kib": one})):
        have = {r["n"] for r in a[way] if done in r}
        new = [r for r in b.get(way, []) if done in r and r["n"] not in have]
        a[way] = [r for r in a[way] if done in r] + [{**r, **extra, "produced": prod}
                                                     for r in new]
        a[way].sort(key=lambda r: r["n"])
        taken += [f"{way} {r['n']}" for r in new]
    taken += _merge_mutation(a, b, prod)
    mine, theirs = _asked(a.get("big")), _asked(b.get("big"))
    if theirs and not (mine or {}).get("pss_after_kib") and (
            theirs.get("pss_after_kib") or not mine):  # measured, or tried (not absent)
        a["big"] = {**theirs, "produced": prod}
        taken.append("32 clones of 1 GiB")
    a["counts"] = sorted(set(a["counts"]) | set(b["counts"]))
    if taken:
        a.setdefault("merged", []).append({"steps": taken, "produced": prod})
    return taken


def _asked(big):
    """The 1 GiB step's record, None when it was not asked for (nothing to merge)."""
    return None if not big or big.get("skipped") == NOT_ASKED else big


def _merge_mutation(a, b, prod):
    mine = {t["n"]: t for t in a["mutation"]}
    taken = []
    for t in b.get("mutation", []):
        dst = mine.setdefault(t["n"], {"n": t["n"]})
        for k in ("clone", "vmm", "host"):
            if not (dst.get(k) or {}).get("pss_kib") and (t.get(k) or {}).get("pss_kib"):
                dst[k] = {**t[k], "produced": prod}
                taken.append(f"mutation {t['n']}: {k}")
    a["mutation"] = sorted(mine.values(), key=lambda t: t["n"])
    return taken


def restore_figures(rec, one_kib, ram_mib):
    """N guests from a snapshot: start time, Pss per guest against one booted guest, and
    what each adds beyond one booted guest's Pss (the pool image is paid once). A
    restore merged from another run brings that run's one booted guest."""
    n = rec["n"]
    one_kib = rec.get("one_pss_kib") or one_kib
    added = _div(_mib(rec["pss_birth_kib"] - one_kib), n)
    return {"n": n, "start_ms": _ms(rec.get("t_all_restored_s")),
            "pool_fill_ms": log_ms(rec.get("vmm_log"), POOL_RE),
            "pss_per_guest_mib": _mib(rec["pss_birth_kib"] / n),
            "per_guest_pct_of_one": _div(rec["pss_birth_kib"] / n * 100, one_kib),
            "added_per_clone_mib": added, "birth_pct_of_ram": _div(added, ram_mib / 100),
            "pss_after_verify_mib": _mib(rec.get("pss_after_verify_kib")),
            "running": rec.get("running"), "running_ok": rec.get("running") == n,
            "verify_ok": verify_ok(rec.get("verify"), n)}


def mutation_figures(trio, n):
    """After the mutation phase: Pss of the N+1 clone fleet against N+1 guests booted
    independently, merged by our engine and by host KSM at 5000/10."""
    pss = {k: _mib(trio[k]["pss_kib"]) if trio.get(k) and "pss_kib" in trio[k] else None
           for k in ("clone", "vmm", "host")}
    out = {"n": n, "guests": n + 1, **{f"pss_{k}_mib": v for k, v in pss.items()}}
    for k in ("vmm", "host"):
        ok = pss["clone"] is not None and pss[k] is not None
        out[f"saving_vs_{k}_mib"] = pss[k] - pss["clone"] if ok else None
        out[f"clone_over_{k}"] = _div(pss["clone"], pss[k]) if ok else None
        out[f"{k}_skipped"] = (trio.get(k) or {}).get("skipped")
    for k in ("clone", "vmm", "host"):  # None: not measured (failed, skipped, not yet)
        out[f"{k}_verify_ok"] = verify_ok(trio[k].get("verify"), n + 1) if pss[k] is not None \
            else None
    return out


def add_figures(scn):
    """scn["clone_figures"] from scn["clones"] (the raw records)."""
    c = scn["clones"]
    ram = c["mem_mib"]
    snap = c.get("snapshot") or {}
    figs = {"live": [live_figures(r, ram) for r in c.get("live", []) if "pss_after_kib" in r],
            "restore": [restore_figures(r, snap.get("one_pss_kib"), ram)
                        for r in c.get("restore", []) if "pss_birth_kib" in r and
                        (snap or r.get("one_pss_kib"))]}
    figs["mutation"] = [mutation_figures(t, t["n"]) for t in c.get("mutation", [])]
    figs["snapshot_ms"] = _ms(snap.get("wall_s"))
    big = c.get("big")
    if big and "pss_after_kib" in big:
        figs["big"] = live_figures(big, big["mem_mib"])
    scn["clone_figures"] = figs
    scn["targets"] = {"clones": targets(figs)}
    return figs


def _target(value, limit, what):
    met = None if value is None else value <= limit
    return {"value": value, "target": f"<= {limit:g} {what}", "met": met}


def targets(figs):
    """The issue's targets per way and count: Pss at birth and start time."""
    out = {}
    for way in ("live", "restore"):
        for f in figs.get(way, []):
            out[f"{way} {f['n']}: Pss added at birth, % of RAM"] = \
                _target(f["birth_pct_of_ram"], TARGET_BIRTH_PCT, "%")
            out[f"{way} {f['n']}: start, ms"] = _target(f["start_ms"], TARGET_START_MS, "ms")
    return out


# --- rendering -------------------------------------------------------------------------

def fmt(value, spec="{:.1f}"):
    if value is None:
        return NA
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return spec.format(value) if spec else str(value)


def grid(header, rows):
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] +
            ["| " + " | ".join(r) + " |" for r in rows])


BIRTH_COLUMNS = (
    ("clones", "n", "{:d}"),
    ("start, ms", "start_ms", "{:.1f}"),
    ("all RESTORED, ms", "all_restored_ms", "{:.1f}"),
    ("parent paused (ksmvmm's log), ms", "parent_paused_ms", "{:.1f}"),
    ("Pss added per clone, MiB", "added_per_clone_mib", "{:.2f}"),
    ("% of its RAM", "birth_pct_of_ram", "{:.2f}"),
    ("process Pss after verify read every page, MiB", "pss_after_verify_mib", "{:.1f}"),
    ("running", "running", "{:d}"),
    ("verify bad=0", "verify_ok", None),
)
RESTORE_COLUMNS = (
    ("guests", "n", "{:d}"),
    ("start (launch to all RESTORED), ms", "start_ms", "{:.1f}"),
    ("of which pool filled from the file (ksmvmm's log), ms", "pool_fill_ms", "{:.1f}"),
    ("Pss per guest, MiB", "pss_per_guest_mib", "{:.1f}"),
    ("% of one booted guest", "per_guest_pct_of_one", "{:.1f}"),
    ("added per guest beyond one booted guest, MiB", "added_per_clone_mib", "{:.2f}"),
    ("% of its RAM", "birth_pct_of_ram", "{:.2f}"),
    ("Pss after verify read every page, MiB", "pss_after_verify_mib", "{:.1f}"),
    ("verify bad=0", "verify_ok", None),
)
MUTATION_COLUMNS = (
    ("guests", "guests", "{:d}"),
    ("clone fleet Pss, MiB", "pss_clone_mib", "{:.1f}"),
    ("independent, ours, MiB", "pss_vmm_mib", "{:.1f}"),
    ("independent, host 5000/10, MiB", "pss_host_mib", "{:.1f}"),
    ("saving vs ours, MiB", "saving_vs_vmm_mib", "{:.1f}"),
    ("saving vs host, MiB", "saving_vs_host_mib", "{:.1f}"),
    ("verify bad=0 (clones / ours / host)", None, None),
)


def _rows(figs, columns):
    rows = []
    for f in figs:
        row = []
        for _, key, spec in columns:
            if key is None:  # the three verify results of a mutation triple
                row.append(" / ".join(fmt(f[k]) for k in ("clone_verify_ok", "vmm_verify_ok",
                                                         "host_verify_ok")))
            else:
                row.append(fmt(f.get(key), spec))
        rows.append(row)
    return rows


def target_lines(scn):
    out = []
    for name, t in scn.get("targets", {}).get("clones", {}).items():
        met = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        out.append(f"{name}: {fmt(t['value'], '{:.2f}')} (target {t['target']}) -> {met}")
    return out


def _skips(figs):
    out = []
    for f in figs.get("mutation", []):
        for k, label in (("vmm", "ours"), ("host", "host KSM")):
            if f.get(f"{k}_skipped"):
                out.append(f"{f['guests']} guests, independent fleet merged by {label} not "
                           f"run: {f[f'{k}_skipped']}")
    return out


def md_section(scn, machine):
    """Scenario 6's section of docs/performance.md."""
    c, figs = scn["clones"], scn.get("clone_figures") or add_figures(scn)
    out = [f"## Scenario 6: {scn['title']}", "", METHOD.format(
        mem=c["mem"], profile=c["profile"], mutate=c["mutate_profile"],
        secs=c["mutate_s"], kvm=machine.get("kvm"), mem_total=machine.get("mem_total_mib"),
        nproc=machine.get("nproc")), ""]
    maps = c.get("max_map_count")
    if maps:
        out += [f"`vm.max_map_count` was {maps['used']} for this scenario, the host's "
                f"{maps['host']} before and after: each run of merged pages is a mapping, and "
                "33 guests cloned from a guest that rewrites its pages need more than the "
                "kernel's default 65530.", ""]
    out += [f"Snapshot of the parent (`ksmctl snapshot`): {fmt(figs.get('snapshot_ms'))} ms; "
            f"Pss of one booted guest: {fmt(_mib((c.get('snapshot') or {}).get('one_pss_kib')))}"
            " MiB.", ""]
    out += merged_lines(c)
    out += ["### Live clone (`ksmctl clone g0 --count N`)", ""]
    out += grid([h for h, _, _ in BIRTH_COLUMNS], _rows(figs["live"], BIRTH_COLUMNS)) + [""]
    out += ["### Restore (`ksmvmm run --restore DIR --count N`)", ""]
    out += grid([h for h, _, _ in RESTORE_COLUMNS], _rows(figs["restore"], RESTORE_COLUMNS))
    out += ["", f"### After {c['mutate_s']:g} s of mutation (`{c['mutate_profile']}`)", ""]
    out += grid([h for h, _, _ in MUTATION_COLUMNS], _rows(figs["mutation"], MUTATION_COLUMNS))
    out += [""] + ["- " + s for s in _skips(figs)] + ["", "Targets:", ""]
    out += ["- " + t for t in target_lines(scn)] + [""] + big_lines(c, figs)
    for m, e in scn.get("errors", {}).items():
        out.append(f"- **{m} failed**: `{e.splitlines()[0] if e else e}`")
    return out + [""]


def merged_lines(c):
    out = []
    for m in c.get("merged", []):
        p = m.get("produced") or {}
        out.append(f"Steps {', '.join(m['steps']) or '(none)'} come from another run: "
                   f"`{p.get('command')}` (commit {p.get('git_commit')}), "
                   f"{p.get('started')} to {p.get('finished') or 'its checkpoint (not finished)'}.")
    return out + [""] if out else []


def big_lines(c, figs):
    big = c.get("big")
    if not big:
        return ["32 clones of a 1 GiB guest: not run.", ""]
    if big.get("skipped"):
        return [f"32 clones of a 1 GiB guest: skipped ({big['skipped']}).", ""]
    f = figs.get("big")
    if not f:
        return [f"32 clones of a 1 GiB guest: failed ({big.get('error', '?')}).", ""]
    if big.get("verify_error"):
        return [f"32 clones of a 1 GiB guest: clone call {fmt(f['start_ms'])} ms, Pss "
                f"added per clone {fmt(f['added_per_clone_mib'], '{:.2f}')} MiB, "
                f"{fmt(f['running'], '{:d}')} running; verify FAILED: "
                f"{big['verify_error']}.", ""]
    return [f"32 clones of a 1 GiB guest (32 GiB of guest RAM and the parent's 1 GiB): "
            f"clone call {fmt(f['start_ms'])} ms, Pss added per clone "
            f"{fmt(f['added_per_clone_mib'], '{:.2f}')} MiB, process Pss after verify read "
            f"every page {fmt(f['pss_after_verify_mib'])} MiB, {fmt(f['running'], '{:d}')} "
            f"running, verify bad=0 on all 33: {fmt(f['verify_ok'])}.", ""]


METHOD = """Guests born shared. A parent workload guest of {mem} (profile `{profile}`, merged
by our engine) is either cloned live (`ksmctl clone g0 --count N`; start = the wall time of
that call, which returns once the N clones run; `ksmctl list` then counts them running) or
snapshotted once (`ksmctl snapshot`) and restored (`ksmvmm run --restore DIR --count N`;
start = launch of ksmvmm to the last `RESTORED` line on the N consoles, polled every 5 ms).
Pss is the ksmvmm process's (`smaps_rollup`), read right after the start (at birth): live,
(Pss after - Pss of the parent alone) / N; restore, Pss / N against one booted guest, and
(Pss - one booted guest's Pss) / N as what a guest adds. Mutation phase: the parent runs
`{mutate}`, is cloned, and the N+1 guests run {secs:g} s; then the Pss of that fleet
against N+1 guests booted independently with the same profile, merged by our engine and
by host KSM at 5000/10, each measured {secs:g} s after the clone or after its last READY
(median of the samples of the last 4 s). Every fleet is verified (`ksmctl verify`, bad=0 on every guest). Measured where
this report's machine table says: kvm {kvm}, CPUs {nproc}, RAM {mem_total} MiB (nested KVM
in QEMU/TCG is 3-10x slower than hardware, start times included)."""
