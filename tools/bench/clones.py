"""clones.py - scenario 6: guests born shared, by live clone and by restore (the runs).

For each clone count N: a live clone of a READY 256 MiB guest, a restore of N guests from
its snapshot, and a mutation phase (clone fleet against independent fleets merged by our
engine and by host KSM at 5000/10), then optionally 32 clones of a 1 GiB guest. Every
fleet is verified (bad=0 on every guest) before its figures count. Raw records only;
tools/bench/clonereport.py computes the figures and renders them.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import time

import clonereport
import fleet as fleetmod
import shield

COUNTS = (1, 8, 32)
MEM_MIB = 256
PROFILE = "shared=50,zero=10"
MUTATE_PROFILE = PROFILE + ",mutate=10@2000"
MUTATE_S = 20.0
SETTLE_S = 2.0       # after READY: zero pages released, the parent's Pss steady
READY_TIMEOUT_S = 600
RESTORE_TIMEOUT_S = 600
VERIFY_TIMEOUT_S = 1800
# ksmvmm's deadline for one verify request (`ksmctl verify --timeout`): ksmctl's own
# wait, VERIFY_TIMEOUT_S, ends after it, so a slow guest is reported, not cut off.
VERIFY_DEADLINE = str(VERIFY_TIMEOUT_S - 60)
RESTORED_POLL_S = 0.005
TAIL_S = 4.0         # the mutation phase's Pss: median of its last TAIL_S
BIG = {"count": 32, "mem_mib": 1024}
HOST_KSM = (5000, 10)
RESTORED_RE = re.compile(r"^RESTORED generation=", re.M)
VERIFY_RE = re.compile(r"^(\S+) VERIFY ok=(\d+) bad=(\d+)$", re.M)
CONSOLE_VERIFY_RE = re.compile(r"^VERIFY ok=(\d+) bad=(\d+)", re.M)
CLONED_RE = re.compile(r"^g0 cloned: g0-\d+$", re.M)


def mem_available_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def _fleet(ctx, name, count, mem_mib, profile, merge="vmm"):
    return fleetmod.Fleet(os.path.join(ctx["rundir"], f"s6-{name}"), count, f"{mem_mib}M",
                          profile, merge)


def restored_count(console_dir, prefix):
    """How many consoles named PREFIX*.log hold a RESTORED line."""
    n = 0
    try:
        names = [e for e in os.listdir(console_dir) if e.startswith(prefix)
                 and e.endswith(".log")]
    except FileNotFoundError:
        return 0
    for e in names:
        with open(os.path.join(console_dir, e), errors="replace") as f:
            n += bool(RESTORED_RE.search(f.read()))
    return n


def wait_restored(fl, prefix, n, timeout_s):
    """Block until @n consoles PREFIX* say RESTORED; the monotonic time it was seen."""
    console, deadline = os.path.join(fl.rundir, "console"), time.monotonic() + timeout_s
    while restored_count(console, prefix) < n:
        fl.check_alive()
        if time.monotonic() > deadline:
            raise fleetmod.FleetError(f"only {restored_count(console, prefix)} of {n} "
                                      f"guests RESTORED after {timeout_s} s")
        time.sleep(RESTORED_POLL_S)
    return time.monotonic()


def parse_verify(text, status):
    """`ksmctl verify`'s output as {exit_status, guests, ok, bad, bad_guests}."""
    lines = VERIFY_RE.findall(text)
    return {"exit_status": status, "guests": len(lines),
            "ok": sum(int(o) for _, o, _ in lines), "bad": sum(int(b) for _, _, b in lines),
            "bad_guests": [g for g, _, b in lines if int(b)]}


class StepError(fleetmod.FleetError):
    """A step failed after it measured something: @rec keeps what it measured."""

    def __init__(self, msg, rec):
        super().__init__(msg)
        self.rec = rec


def verify(fl, expect, names=None):
    """Every guest checks its pages; FleetError unless @expect guests say bad=0. With
    @names, one `ksmctl verify NAME` each (ksmctl waits 600 s at most for one reply:
    33 guests of 1 GiB nested take longer than that together); each guest's answer and
    wall time are kept in "per_guest", the whole wall time in "wall_s"."""
    t0, per_guest = time.monotonic(), []
    if names:
        runs = [verify_one(fl, name, per_guest) for name in names]
        r = runs[0]
        r.stdout = "".join(x.stdout for x in runs)
        r.stderr = "".join(x.stderr for x in runs)
        r.returncode = max(x.returncode for x in runs)
    else:
        r = fl.ctl("verify", "--timeout", VERIFY_DEADLINE, timeout_s=VERIFY_TIMEOUT_S)
    v = parse_verify(r.stdout, r.returncode)
    v["wall_s"] = time.monotonic() - t0
    if per_guest:
        v["per_guest"] = per_guest
    if not clonereport.verify_ok(v, expect):
        raise fleetmod.FleetError(f"verify: {v['guests']} of {expect} guests answered, "
                                  f"bad={v['bad']} {v['bad_guests'][:4]}, exit "
                                  f"{r.returncode}: {(r.stderr or '').strip()[:200]}")
    return v


def console_verdicts(fl, name):
    """The guest's own 'VERIFY ok=N bad=N' lines on its console, [(ok, bad)]."""
    try:
        with open(os.path.join(fl.rundir, "console", f"{name}.log"), errors="replace") as f:
            return [(int(o), int(b)) for o, b in CONSOLE_VERIFY_RE.findall(f.read())]
    except FileNotFoundError:
        return []


def wait_console_verdict(fl, name, seen, t0):
    """After a failed reply: block until the guest's console shows a verdict beyond the
    @seen it had before the request (past ksmvmm's deadline the guest goes on checking,
    and a verify beside it would be refused as busy). {ok, bad, wall_s} or None
    once VERIFY_TIMEOUT_S from @t0 passed."""
    while time.monotonic() - t0 < VERIFY_TIMEOUT_S:
        got = console_verdicts(fl, name)
        if len(got) > seen:
            ok, bad = got[seen]
            return {"ok": ok, "bad": bad, "wall_s": time.monotonic() - t0}
        fl.check_alive()
        time.sleep(1.0)
    return None


def verify_one(fl, name, per_guest):
    """`ksmctl verify NAME`; its answer and wall time appended to @per_guest (and printed:
    a nested run of 33 guests of 1 GiB verifies for a long time). If the reply failed,
    the guest's own verdict on its console is waited for and kept as "console" (the
    reply still counts as failed), so that the next guest does not verify beside it."""
    t0, seen = time.monotonic(), len(console_verdicts(fl, name))
    r = fl.ctl("verify", name, "--timeout", VERIFY_DEADLINE, timeout_s=VERIFY_TIMEOUT_S)
    one = parse_verify(r.stdout, r.returncode)
    rec = {"name": name, "exit_status": r.returncode, "wall_s": time.monotonic() - t0,
           "ok": one["ok"], "bad": one["bad"], "answered": one["guests"] == 1}
    if r.returncode:
        rec["reply"] = (r.stdout + r.stderr).strip()[:200]
        rec["console"] = wait_console_verdict(fl, name, seen, t0)
    per_guest.append(rec)
    print(f"   verify {name}: ok={rec['ok']} bad={rec['bad']} exit {r.returncode} "
          f"in {rec['wall_s']:.1f} s {rec.get('reply', '')} console {rec.get('console')}",
          flush=True)
    return r


def parse_running(text):
    """Names of the running guests in `ksmctl --json list`'s reply."""
    return [g["name"] for g in json.loads(text).get("guests", [])
            if g.get("state") == "running"]


def running(fl):
    return parse_running(ctl_json(fl, "list"))


def ctl_json(fl, *args):
    """A control command with --json (a global option: before the command)."""
    r = subprocess.run([fleetmod.KSMCTL, "--control", fl.control, "--json", *args],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise fleetmod.FleetError(f"ksmctl --json {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def snapshot_log(fl, since=0.0):
    """ksmvmm's own 'snapshot: ' lines read after monotonic time @since (its timing of
    the fork or of loading the pool, clonereport.log_seconds)."""
    with fl._lock:
        return [line for t, line in fl.lines if t >= since and "snapshot: " in line]


def parent(ctx, name, mem_mib, profile):
    """A started 1-guest fleet, READY and settled; (fleet, its Pss in KiB)."""
    fl = _fleet(ctx, name, 1, mem_mib, profile)
    fl.start()
    fl.wait_ready(READY_TIMEOUT_S)
    time.sleep(SETTLE_S)
    return fl, fl.pss_kib()


def clone(fl, n):
    """`ksmctl clone g0 --count n`: its wall time in s, checked (N lines, N+1 running)."""
    t0 = time.monotonic()
    r = fl.ctl("clone", "g0", "--count", str(n), timeout_s=RESTORE_TIMEOUT_S)
    wall = time.monotonic() - t0
    if r.returncode != 0 or len(CLONED_RE.findall(r.stdout)) != n:
        raise fleetmod.FleetError(f"clone of {n} failed (exit {r.returncode}): "
                                  f"{(r.stdout + r.stderr).strip()[:300]}")
    return t0, wall


def live(ctx, n, mem_mib=MEM_MIB, name=None, one_by_one=False):
    """Live clone of N from a READY parent: the raw record (a failed verify raises a
    StepError that keeps it)."""
    fl, pss0 = parent(ctx, name or f"live-{n}", mem_mib, PROFILE)
    try:
        t0, wall = clone(fl, n)
        rec = {"n": n, "mem_mib": mem_mib, "parent_pss_kib": pss0, "clone_wall_s": wall,
               "pss_after_kib": fl.pss_kib(), "running": len(running(fl))}
        rec["vmm_log"] = snapshot_log(fl, t0)
        rec["t_all_restored_s"] = wait_restored(fl, "g0-", n, RESTORE_TIMEOUT_S) - t0
        rec["pss_after_restored_kib"] = fl.pss_kib()
        names = ["g0"] + [f"g0-{k}" for k in range(1, n + 1)] if one_by_one else None
        if one_by_one:  # a long verify follows: what it measured so far, in the log
            print(f"   before verify: {summary(rec)}, pss_after_restored_kib "
                  f"{rec['pss_after_restored_kib']}, running {rec['running']}", flush=True)
        try:
            rec["verify"] = verify(fl, n + 1, names)
        except fleetmod.FleetError as e:
            rec["verify_error"] = str(e)
            raise StepError(str(e), rec) from e
        rec["pss_after_verify_kib"] = fl.pss_kib()
        return rec
    finally:
        with shield.shielded():
            fl.stop()


def snapshot(ctx, snapdir):
    """Snapshot a READY parent to @snapdir: {wall_s, one_pss_kib (one booted guest)}."""
    fl, pss0 = parent(ctx, "snapshot", MEM_MIB, PROFILE)
    try:
        t0 = time.monotonic()
        r = fl.ctl("snapshot", "g0", snapdir, timeout_s=RESTORE_TIMEOUT_S)
        wall = time.monotonic() - t0
        if r.returncode != 0:
            raise fleetmod.FleetError(f"snapshot failed: {(r.stdout + r.stderr).strip()}")
        return {"wall_s": wall, "one_pss_kib": pss0, "verify": verify(fl, 1)}
    finally:
        with shield.shielded():
            fl.stop()


def restore(ctx, snapdir, n):
    """N guests from the snapshot: the raw record."""
    fl = _fleet(ctx, f"restore-{n}", n, MEM_MIB, PROFILE)
    fl.argv = [fleetmod.KSMVMM, "run", "--restore", snapdir, "--count", str(n), "--name",
               "c", "--control", fl.control, "--console", os.path.join(fl.rundir, "console")]
    try:
        fl.start()
        t_all = wait_restored(fl, "c", n, RESTORE_TIMEOUT_S)
        rec = {"n": n, "t_all_restored_s": t_all - fl.t_start, "pss_birth_kib": fl.pss_kib(),
               "running": len(running(fl)), "vmm_log": snapshot_log(fl)}
        rec["verify"] = verify(fl, n)
        rec["pss_after_verify_kib"] = fl.pss_kib()
        return rec
    finally:
        with shield.shielded():
            fl.stop()


def sample_for(fl, secs):
    """Pss every 0.5 s for @secs: (samples [t, KiB], median of the last TAIL_S)."""
    t0, out = time.monotonic(), []
    while time.monotonic() - t0 < secs:
        fl.check_alive()
        out.append([round(time.monotonic() - t0, 2), fl.pss_kib()])
        time.sleep(0.5)
    tail = [k for t, k in out if t >= secs - TAIL_S] or [out[-1][1]]
    return out, statistics.median(tail)


def mutation_clones(ctx, n):
    fl, pss0 = parent(ctx, f"mut-clone-{n}", MEM_MIB, MUTATE_PROFILE)
    try:
        clone(fl, n)
        samples, pss = sample_for(fl, MUTATE_S)
        return {"parent_pss_kib": pss0, "samples": samples, "pss_kib": pss,
                "verify": verify(fl, n + 1)}
    finally:
        with shield.shielded():
            fl.stop()


def mutation_independent(ctx, n, merge):
    """N+1 guests booted on their own, merged by @merge ("vmm", or "host" at 5000/10)."""
    need = (n + 1) * MEM_MIB * 1.25 if merge == "host" else MEM_MIB * 4
    if mem_available_mib() < need:
        return {"skipped": f"needs about {need:.0f} MiB free before host KSM catches up, "
                f"{mem_available_mib()} MiB available"}
    fl = _fleet(ctx, f"mut-{merge}-{n}", n + 1, MEM_MIB, MUTATE_PROFILE, merge)
    host = ctx["host"]
    try:
        host.stop()
        if merge == "host":
            host.start(*HOST_KSM)
        fl.start()
        t_ready = fl.wait_ready(READY_TIMEOUT_S) - fl.t_start
        samples, pss = sample_for(fl, MUTATE_S)
        return {"t_ready_s": t_ready, "samples": samples, "pss_kib": pss,
                "verify": verify(fl, n + 1)}
    finally:
        with shield.shielded():
            fl.stop()
            if merge == "host":
                host.unmerge()


def big(ctx):
    """32 clones of a 1 GiB guest, if the machine's RAM allows."""
    need = BIG["mem_mib"] * 3
    if mem_available_mib() < need:
        return {"skipped": f"needs about {need} MiB free, {mem_available_mib()} available"}
    rec = live(ctx, BIG["count"], BIG["mem_mib"], "big", one_by_one=True)
    rec["mem_mib"] = BIG["mem_mib"]
    return rec


def _step(ctx, out, label, put, fn, *args):
    """Run one step and @put its record (None if it failed) into @out; a FleetError is
    kept in out["errors"][label], not raised. The partial scenario is checkpointed after
    each step (a long run that is killed keeps the steps it finished)."""
    print(f"== scenario 6: {label}", flush=True)
    try:
        rec = fn(*args)
        print(f"   {summary(rec)}", flush=True)
    except (fleetmod.FleetError, OSError, ValueError, subprocess.TimeoutExpired) as e:
        out["errors"][label] = str(e)
        print(f"   FAILED: {e}", flush=True)
        rec = getattr(e, "rec", None)  # what it measured before it failed
    put(rec)
    if ctx.get("checkpoint"):
        ctx["checkpoint"](out)
    return rec


def summary(rec):
    keys = ("clone_wall_s", "t_all_restored_s", "wall_s", "pss_kib", "pss_after_kib",
            "pss_birth_kib", "skipped")
    return ", ".join(f"{k} {rec[k]:.3f}" if isinstance(rec[k], float) else f"{k} {rec[k]}"
                     for k in keys if k in rec)


STEPS = ("live", "restore", "mutation", "big")


def new_record(counts, with_big):
    c = {"counts": list(counts), "mem": f"{MEM_MIB}M", "mem_mib": MEM_MIB,
         "profile": PROFILE, "mutate_profile": MUTATE_PROFILE, "mutate_s": MUTATE_S,
         "live": [], "restore": [], "mutation": [], "snapshot": None,
         "big": None if with_big else {"skipped": clonereport.NOT_ASKED}}
    return {"id": 6, "title": f"clones and restores of a {MEM_MIB} MiB guest, "
            f"{', '.join(map(str, counts))} at a time", "count": max(counts),
            "mem": c["mem"], "profile": PROFILE, "guest_ram_mib": max(counts) * MEM_MIB,
            "runs": {}, "figures": {}, "ratios": {}, "targets": {}, "errors": {},
            "stats_errors": [], "failed_attempts": [], "clones": c}


def mutation_steps(ctx, out, n):
    """The mutation phase of N clones: the clone fleet, then the independent fleets."""
    trio = {"n": n}
    out["clones"]["mutation"].append(trio)  # in every checkpoint, filled as it goes
    for k, fn, args in (("clone", mutation_clones, (ctx, n)),
                        ("vmm", mutation_independent, (ctx, n, "vmm")),
                        ("host", mutation_independent, (ctx, n, "host"))):
        _step(ctx, out, f"mutation {n}: {k}", lambda r, k=k: trio.update({k: r}), fn, *args)


def scenario(ctx):
    """Scenario 6 whole: the record bench.py keeps (figures included)."""
    steps = ctx["clone_steps"]
    out = new_record(ctx["clone_counts"], ctx["clone_big"] and "big" in steps)
    c = out["clones"]
    c["max_map_count"] = ctx.get("max_map_count")
    snapdir = os.path.join(ctx["rundir"], "s6-snapshot.dir")
    shutil.rmtree(snapdir, ignore_errors=True)
    if "restore" in steps:
        _step(ctx, out, "snapshot", lambda r: c.update(snapshot=r), snapshot, ctx, snapdir)
    for n in c["counts"]:
        if "live" in steps:
            _step(ctx, out, f"live clone {n}", lambda r: c["live"].append(r or {"n": n}),
                  live, ctx, n)
        if c["snapshot"]:
            _step(ctx, out, f"restore {n}", lambda r: c["restore"].append(r or {"n": n}),
                  restore, ctx, snapdir, n)
        if "mutation" in steps:
            mutation_steps(ctx, out, n)
    if c["big"] is None:
        _step(ctx, out, "32 clones of 1 GiB",
              lambda r: c.update(big=r or {"error": out["errors"].get("32 clones of 1 GiB")}),
              big, ctx)
    shutil.rmtree(snapdir, ignore_errors=True)
    clonereport.add_figures(out)
    return out
