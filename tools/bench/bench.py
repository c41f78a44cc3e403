#!/usr/bin/env python3
"""bench.py - ksmvmm's in-VMM merging against the host kernel's KSM, in one run, as ratios.

Each scenario runs one fleet of workload guests with --merge=off (baseline), --merge=vmm
(ours) and --merge=host (host KSM at 5000/10 and at its defaults 100/20); see
docs/performance.md for what is measured and how. The results (every raw number and the
machine) and the report rendered from them go where tools/bench/outputs.py says: a full
run with --publish (make bench) replaces docs/bench/results.json and docs/performance.md
once it finished without an error; every other run writes under build/bench/ only.

Needs root (it tunes /sys/kernel/mm/ksm). Host KSM's run, pages_to_scan and
sleep_millisecs are saved first and restored on every exit path, signals included;
every ksmvmm started is stopped. Each fleet's control socket lives under --rundir, which
must be a local file system (nested, under tools/kvm-in-qemu.sh, the repository is a 9p
mount that holds no socket: give --rundir /tmp/bench-runs).

    tools/bench/bench.py --quick          # scenario 1 -> build/bench/quick.{json,md}
    tools/bench/bench.py --publish        # scenarios 1-6 -> docs/ (make bench)
    tools/bench/bench.py --scenarios 6    # clones and restores only -> build/bench/
    tools/bench/bench.py --scenarios 5    # real Linux memory only -> build/bench/
    tools/bench/bench.py --render docs/bench/results.json --doc docs/performance.md
                                          # only render a report from a results file
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the modules below
import clonereport  # noqa: E402 (after the line above on purpose)
import clones
import figures
import fleet as fleetmod
import hostksm
import linuxmem
import maplimit
import measure
import outputs
import qemu
import report
import shield

ROOT = fleetmod.ROOT
HOST_KSM_STATE = os.path.join(ROOT, "build", "bench", "host-ksm.saved.json")
MAP_LIMIT_STATE = os.path.join(ROOT, "build", "bench", "max-map-count.saved.json")
BASE_PROFILE = "shared=50,zero=10"

SCENARIOS = (
    {"id": 1, "title": "4 x 256 MiB, 50% identical + 10% zero + 40% unique",
     "count": 4, "mem": "256M", "profile": BASE_PROFILE},
    {"id": 2, "title": "the same, shuffled placement",
     "count": 4, "mem": "256M", "profile": BASE_PROFILE + ",placement=shuffled"},
    {"id": 3, "title": "16 x 64 MiB (many small guests)",
     "count": 16, "mem": "64M", "profile": BASE_PROFILE},
    {"id": 4, "title": "mutation running (10% of pages rewritten at 2000 pages/s per guest)",
     "count": 4, "mem": "256M", "profile": BASE_PROFILE + ",mutate=10@2000",
     "timeouts": {"vmm": 90, "host-tuned": 120, "host-default": 240}},
)
QUICK_SCENARIOS = (1,)
ALL_SCENARIOS = (1, 2, 3, 4, 5, 6)
ATTEMPTS = 2
QUICK_HOST_DEFAULT_TIMEOUT_S = 110


QUICK_MODES = ("vmm", "host-tuned", "host-default", "vmm-cold", "host-tuned-cold",
               "vmm-watch", "host-tuned-watch")


def modes_for(scenario, quick, watch=True):
    """The measured modes of a scenario (the baseline is separate)."""
    t = dict(scenario.get("timeouts", {}))
    if quick:  # 3 full scans at 5,000 pages/s do not fit in 5 minutes with the rest
        t.setdefault("host-default", QUICK_HOST_DEFAULT_TIMEOUT_S)
    out = []
    for cold, suffix in ((False, ""), (True, "-cold")):
        out += [measure.Mode("vmm" + suffix, "vmm", cold=cold, timeout_s=t.get("vmm", 120)),
                measure.Mode("host-tuned" + suffix, "host", (5000, 10), cold=cold,
                             timeout_s=t.get("host-tuned", 180))]
    if watch:  # one guest busy from READY on, timing its stalls (figures.WATCH_KEYS)
        out += [measure.Mode("vmm-watch", "vmm", timeout_s=t.get("vmm", 120), watch=True),
                measure.Mode("host-tuned-watch", "host", (5000, 10), watch=True,
                             timeout_s=t.get("host-tuned", 180))]
    for cold, suffix in ((False, ""), (True, "-cold")):  # the slow ones last
        out.append(measure.Mode("host-default" + suffix, "host", (100, 20), cold=cold,
                                timeout_s=t.get("host-default", 360)))
    return out


BASELINE_MODE = measure.Mode("off", "off", timeout_s=60, window_s=2.0, watch=True)
BASELINE_QUIET_MODE = measure.Mode("off", "off", timeout_s=60, window_s=2.0)


def scenario5_linux_qemu(ctx):
    """Scenario 5, real Linux memory (tools/bench/linuxmem.py): N Debian guests under
    QEMU/TCG, host KSM measured on them live (the reference a QEMU user gets today),
    their RAM dumped over QMP, then the usual modes on N workload guests whose RAM is
    those dumps. Returns a scenario record like run_scenario's, plus the reference."""
    opts = ctx["linux"]
    print(f"== scenario 5: {opts['count']} Linux guests x {opts['mem_mib']} MiB under "
          "QEMU/TCG", flush=True)
    try:
        prep = linuxmem.prepare(ctx, opts)
    except (linuxmem.LinuxMemError, qemu.QemuError, OSError) as e:
        print(f"   FAILED: {e}", flush=True)
        out = new_record({"id": 5, "title": "real Linux memory from QEMU guests",
                          "count": opts["count"], "mem": f"{opts['mem_mib']}M",
                          "profile": "-"})
        out["errors"]["linux"] = str(e)
        return out
    scn = linuxmem.scenario(prep)
    out = run_scenario(scn, ctx)
    linuxmem.attach(out, prep)
    print(report.reference_text(out), flush=True)
    return out


# --- the machine ---------------------------------------------------------------------

def _first_line_with(path, prefix):
    with open(path) as f:
        for line in f:
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    return None


def kvm_kind():
    mods = {m for m in ("kvm_pvm", "kvm_intel", "kvm_amd") if os.path.isdir(f"/sys/module/{m}")}
    kind = ("PVM (kvm_pvm: software virtualization, no VT-x)" if "kvm_pvm" in mods else
            "VT-x (kvm_intel)" if "kvm_intel" in mods else
            "SVM (kvm_amd)" if "kvm_amd" in mods else "unknown")
    return kind if os.path.exists("/dev/kvm") else "no /dev/kvm"


def git_commit():
    r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def machine():
    mem_kib = int(_first_line_with("/proc/meminfo", "MemTotal").split()[0])
    with open("/proc/sys/vm/max_map_count") as f:
        max_map = int(f.read())
    return {"nproc": len(os.sched_getaffinity(0)), "mem_total_mib": mem_kib // 1024,
            "kernel": platform.release(), "cpu_model": _first_line_with("/proc/cpuinfo",
                                                                          "model name"),
            "kvm": kvm_kind(), "max_map_count": max_map, "git_commit": git_commit(),
            "python": platform.python_version()}


# --- scenarios -----------------------------------------------------------------------

def baseline_pss_kib(rec):
    post = [s["pss_kib"] for s in rec["samples"] if s["t"] >= rec["t_ready"]]
    tail = post[-max(1, int(rec["window_s"] / measure.SAMPLE_S)):]
    return sorted(tail)[len(tail) // 2]


def guest_ram_mib(scn):
    return scn["count"] * int(scn["mem"].rstrip("M"))


def checked_run(scn, mode, ctx, base_kib):
    """measure.run, then the scenario's own check of the run (FleetError if it fails)."""
    rec = measure.run(scn, mode, ctx["rundir"], ctx["host"], ctx["ksmd"], base_kib,
                      ctx["verify"] and mode.merge != "off")
    problem = scn["check_run"](rec) if "check_run" in scn else None
    if problem:
        raise fleetmod.FleetError(problem)
    return rec


def run_with_retry(scn, mode, ctx, base_kib, out):
    """measure.run, tried ATTEMPTS times (another user of the machine may kill our
    ksmvmm); failures are kept in out["errors"] / out["failed_attempts"]."""
    rec = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            rec = checked_run(scn, mode, ctx, base_kib)
            out["errors"].pop(mode.name, None)
            if not measure.invalid(rec) or attempt == ATTEMPTS:
                return rec
            out["failed_attempts"].append({"mode": mode.name, "attempt": attempt,
                                           "error": "; ".join(rec["disturbed"])})
            print(f"   INVALID (attempt {attempt} of {ATTEMPTS}): {rec['disturbed']}",
                  flush=True)
        except fleetmod.FleetError as e:
            out["errors"][mode.name] = str(e)
            out["failed_attempts"].append({"mode": mode.name, "attempt": attempt,
                                           "error": str(e)})
            print(f"   FAILED (attempt {attempt} of {ATTEMPTS}): {e}", flush=True)
    return rec


def measure_modes(scn, ctx, base_kib, out):
    """Run every mode of @scn into @out (runs, figures, errors)."""
    for mode in modes_for(scn, ctx["quick"], ctx["watch"]):
        if ctx["modes"] and mode.name not in ctx["modes"]:
            continue
        print(f"== scenario {scn['id']}: {mode.describe()}", flush=True)
        rec = run_with_retry(scn, mode, ctx, base_kib, out)
        if rec is None:
            continue
        out["runs"][mode.name] = rec
        fig = add_figures(out, mode.name, base_kib)
        if rec["disturbed"]:
            print(f"   disturbed: {'; '.join(rec['disturbed'])}", flush=True)
        print_summary(fig)


def print_summary(fig):
    t90, cpu = (report.fmt(fig[k], "{:.2f}") for k in ("t90_s", "merge_cpu_to_t99_s"))
    print(f"   saving {fig['final_saving_mib']:.1f} MiB, t90 {t90} s, merge CPU to 99% "
          f"{cpu} s, converged {fig['converged']}", flush=True)


def add_figures(out, name, base_kib):
    """Compute the figures of run @name of scenario record @out from its raw samples."""
    rec = out["runs"][name]
    base = out["runs"].get("off")
    fig = figures.run_figures(rec, base_kib, out["guest_ram_mib"], out["profile"],
                              out.get("ideal_saving_mib"),
                              figures.slab_growth_mib(base) if base else None)
    out["figures"][name] = fig
    err = rec["end"].get("stats_error")
    if err and err not in out["stats_errors"]:
        out["stats_errors"].append(err)
    return fig


def recompute(res):
    """Figures and ratios again from the raw runs (--render: the doc always follows the
    raw numbers and the current definitions)."""
    for out in res["scenarios"]:
        if "clones" in out:
            clonereport.add_figures(out)
            continue
        if "baseline_pss_mib" not in out:
            continue
        out.update(figures={}, ratios={}, targets={})
        if "off" in out["runs"]:
            out["baseline_guest_stall"] = figures.watch_figures(out["runs"]["off"])
        for name in out["runs"]:
            if name != "off":
                add_figures(out, name, out["baseline_pss_mib"] * 1024)
        add_ratios(out)
        linuxmem.reference_figures(out)


def add_ratios(out):
    """ours/host ratios and the issue's targets, per group of modes. The guest-measured
    stalls of a mode come from its -watch run (the one where a guest watched)."""
    figs = out["figures"]
    for name in [n for n in figs if n.endswith("-watch")]:
        base = name[:-len("-watch")]
        if base in figs:
            figs[base].update({k: figs[name].get(k) for k in figures.WATCH_KEYS})
            figs[base]["guest_stall_from"] = name
    for group, _, (ours, tuned, dflt) in report.GROUPS:
        if ours not in figs:
            continue
        r = {key: figures.ratios(figs[ours], figs[m])
             for key, m in (("vs_host_tuned", tuned), ("vs_host_default", dflt)) if m in figs}
        out["ratios"][group] = r
        if tuned in figs:
            out["targets"][group] = figures.targets(figs[ours], figs[tuned])


def new_record(scn):
    """The empty result record of a scenario."""
    return {**{k: scn[k] for k in ("id", "title", "count", "mem", "profile")},
            **{k: scn[k] for k in ("profile_label", "ideal_saving_mib") if k in scn},
            "guest_ram_mib": guest_ram_mib(scn), "runs": {}, "figures": {}, "ratios": {},
            "targets": {}, "errors": {}, "stats_errors": [], "failed_attempts": []}


def run_scenario(scn, ctx):
    out = new_record(scn)
    print(f"== scenario {scn['id']}: --merge=off baseline", flush=True)
    base = run_with_retry(scn, BASELINE_MODE if ctx["watch"] else BASELINE_QUIET_MODE, ctx,
                          None, out)
    if base is None:
        print(report.text_table(out), flush=True)
        return out
    out["runs"]["off"] = base
    base_kib = baseline_pss_kib(base)
    out["baseline_pss_mib"] = base_kib / 1024
    out["baseline_fill_time_s"] = base["t_ready"]
    out["baseline_guest_stall"] = figures.watch_figures(base)
    measure_modes(scn, ctx, base_kib, out)
    add_ratios(out)
    print(report.text_table(out), flush=True)
    return out


# --- results -------------------------------------------------------------------------

def renderer(published=None, why_not=None):
    """The report's text from results and the path of their file; with the published
    run's results (or why there are none) for a report that compares with them."""
    def render(res, raw_path):
        res["notes"] = report.not_measured_notes(res)
        compare = report.md_comparison(res, published, why_not) if published or why_not \
            else []
        return report.markdown(res, raw_path, compare)
    return render


def quick_renderer(root):
    """bench-quick's report: its own figures beside the published run's, if any."""
    pub, why_not = outputs.load_published(root)
    try:
        if pub:
            recompute(pub)
    except Exception as e:  # noqa: BLE001 (an old or odd file must not cost the run)
        pub, why_not = None, f"cannot use `{outputs.PUBLISHED_RESULTS}`: {e!r}"
    return renderer(pub, why_not)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_all(args, res):
    """Every scenario, host KSM saved before and restored after whatever happens."""
    host = hostksm.HostKsm(HOST_KSM_STATE)
    stale = host.recover()
    if stale:
        print(f"bench: restored host KSM settings left by a killed benchmark: {stale}",
              file=sys.stderr)
        res["host_ksm_recovered"] = stale
    maps = maplimit.MapLimit(MAP_LIMIT_STATE)
    stale = maps.recover()
    if stale is not None:
        print(f"bench: restored vm.max_map_count {stale} left by a killed benchmark",
              file=sys.stderr)
        res["max_map_count_recovered"] = stale
    ctx = {"host": host, "ksmd": hostksm.ksmd_pid(), "rundir": args.rundir,
           "verify": not args.no_verify, "modes": args.modes, "quick": args.quick,
           "watch": not args.no_watch, "clone_counts": args.clone_counts,
           "clone_big": not args.no_clone_big, "clone_steps": args.clone_steps,
           "linux": {"count": args.linux_guests, "mem_mib": args.linux_mem,
                     "redump": args.redump}}
    res["host_ksm_before"] = hostksm.snapshot()
    res["host_ksm_saved"] = host.save()
    try:
        for scn in SCENARIOS:
            if scn["id"] in args.scenarios:
                res["scenarios"].append(run_scenario(scn, ctx))
                outputs.checkpoint(args.plan, res)
        if 5 in args.scenarios:
            res["scenarios"].append(scenario5_linux_qemu(ctx))
            outputs.checkpoint(args.plan, res)
        if 6 in args.scenarios:
            ctx["max_map_count"] = maps.raise_to(maplimit.SCENARIO6)
            print(f"bench: vm.max_map_count {ctx['max_map_count']['used']} for scenario 6 "
                  f"(the host's {ctx['max_map_count']['host']} is put back after)", flush=True)
            ctx["checkpoint"] = lambda scn: outputs.checkpoint(
                args.plan, {**res, "scenarios": res["scenarios"] + [scn]})
            res["scenarios"].append(clones.scenario(ctx))
            print("\n".join(clonereport.target_lines(res["scenarios"][-1])), flush=True)
            outputs.checkpoint(args.plan, res)
    finally:
        with shield.shielded():
            try:
                maps.restore()
            finally:
                host.restore()
            res["max_map_count_after"] = maplimit.read()
            res["host_ksm_after"] = hostksm.snapshot()


def check_host_restored(res):
    before, after = res.get("host_ksm_saved", {}), res.get("host_ksm_after", {})
    bad = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
    if bad:
        print(f"bench: WARNING host KSM not restored: {bad}", file=sys.stderr)
    return not bad


def parse_args(argv):
    p = argparse.ArgumentParser(description="ksmvmm vs host KSM benchmark")
    p.add_argument("--quick", action="store_true",
                   help="scenario 1 only, no cold start of host KSM at its defaults "
                   "(make bench-quick); writes build/bench/quick.json and quick.md")
    p.add_argument("--publish", action="store_true",
                   help="the full run of make bench: every scenario and mode; once it "
                   "finished without an error it replaces docs/bench/results.json and "
                   "docs/performance.md (until then build/bench/full.json and full.md)")
    p.add_argument("--scenarios", help="comma-separated scenario ids (default 1,2,3,4,5,6)")
    p.add_argument("--modes", help="subset of vmm,host-tuned,host-default and the same with "
                   "-cold, and (scenario 5) qemu-live, host KSM on the live QEMU guests "
                   "(default: all; --quick: all but host-default-cold)")
    p.add_argument("--linux-guests", type=int, default=linuxmem.DEFAULT_COUNT,
                   help="scenario 5: Linux guests under QEMU (%(default)s)")
    p.add_argument("--linux-mem", type=int, default=linuxmem.DEFAULT_MEM_MIB, metavar="MIB",
                   help="scenario 5: RAM of each, MiB (%(default)s)")
    p.add_argument("--redump", action="store_true",
                   help="scenario 5: dump the guests' RAM again even if build/bench/"
                   "linux-ram holds fresh images")
    p.add_argument("--clone-counts", default=",".join(map(str, clones.COUNTS)),
                   help="scenario 6: clone counts (%(default)s)")
    p.add_argument("--clone-steps", default=",".join(clones.STEPS),
                   help="scenario 6: which of its steps run (%(default)s)")
    p.add_argument("--no-clone-big", action="store_true",
                   help="scenario 6: skip 32 clones of a 1 GiB guest (else run when the "
                   "machine's RAM allows)")
    p.add_argument("--out", help="results JSON, under build/ or outside the repository "
                   "(default build/bench/quick.json with --quick, else results.json)")
    p.add_argument("--doc", help="markdown report, same rule (default build/bench/quick.md "
                   "with --quick, else report.md); with --render: any path")
    p.add_argument("--rundir", default=os.path.join(ROOT, "build", "bench", "runs"),
                   help="consoles and ksmvmm logs of each run (%(default)s)")
    p.add_argument("--no-verify", action="store_true", help="skip `ksmctl verify` after runs")
    p.add_argument("--no-watch", action="store_true",
                   help="skip the runs where a guest watches for stalls (vmm-watch, "
                   "host-tuned-watch)")
    p.add_argument("--label", help="how the run was invoked, for the doc (e.g. make bench)")
    p.add_argument("--render", metavar="JSON", help="only render --doc (default "
                   "build/bench/report.md) from the results file JSON")
    p.add_argument("--with", dest="with_results", metavar="JSON", action="append",
                   help="with --render: also show the scenarios of this results file "
                   "that the first one lacks (e.g. a scenario 5 run kept aside), and of "
                   "scenario 6 the steps it lacks or failed (repeatable)")
    a = p.parse_args(argv)
    if a.publish and (a.quick or a.scenarios or a.modes or a.no_watch or a.no_verify or
                      a.out or a.doc or a.render):
        p.error("--publish is the whole benchmark to its fixed files: it takes none of "
                "--quick, --scenarios, --modes, --no-watch, --no-verify, --out, --doc, "
                "--render")
    ids = QUICK_SCENARIOS if a.quick else ALL_SCENARIOS
    a.scenarios = [int(x) for x in a.scenarios.split(",")] if a.scenarios else list(ids)
    a.clone_counts = [int(x) for x in a.clone_counts.split(",")]
    if not all(1 <= n <= 64 for n in a.clone_counts):
        p.error("--clone-counts wants numbers 1..64")
    a.clone_steps = a.clone_steps.split(",")
    if not set(a.clone_steps) <= set(clones.STEPS):
        p.error(f"--clone-steps wants some of {','.join(clones.STEPS)}")
    a.modes = a.modes.split(",") if a.modes else (list(QUICK_MODES) if a.quick else None)
    if not 1 <= a.linux_guests <= 64 or not 64 <= a.linux_mem <= 2048:
        p.error("--linux-guests wants 1..64 and --linux-mem 64..2048 (MiB: RAM below "
                "QEMU's and ksmvmm's 32-bit holes, so that a dump is one flat range)")
    return a


def preflight(rundir):
    if os.geteuid() != 0:
        sys.exit("bench: needs root to tune /sys/kernel/mm/ksm")
    for path in (fleetmod.KSMVMM, fleetmod.KSMCTL):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {path} is missing: run make first")
    check_socket_dir(rundir)


def check_socket_dir(rundir):
    """Each fleet's control socket lives under @rundir: refuse a file system that cannot
    hold one (the repository's 9p mount inside tools/kvm-in-qemu.sh) before any run."""
    os.makedirs(rundir, exist_ok=True)
    path = os.path.join(rundir, f"probe.{os.getpid()}.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(path)
    except OSError as e:
        sys.exit(f"bench: cannot create a control socket under {rundir} ({e}): "
                 "give --rundir on a local file system, e.g. --rundir /tmp/bench-runs")
    finally:
        s.close()
        if os.path.exists(path):
            os.unlink(path)


def scenarios_from(path, skip_ids, option):
    """The scenarios of results file @path whose ids are not in @skip_ids, each marked
    with the run that produced it (for --with)."""
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"bench: {option}: cannot read {path}: {e}")
    produced = {k: old.get(k) for k in ("command", "label", "started", "finished")}
    produced["git_commit"] = old.get("machine", {}).get("git_commit")
    kept = [scn for scn in old.get("scenarios", []) if scn["id"] not in skip_ids]
    for scn in kept:
        scn.setdefault("produced", produced)
    return kept


def run_kind(args):
    return "full" if args.publish else "quick" if args.quick else "other"


def failures(res):
    """Why a run's results must not replace the published ones (empty: they may)."""
    out = [f"aborted: {res['aborted']}"] if res.get("aborted") else []
    if not res.get("host_ksm_restored", False):
        out.append("host KSM settings not restored")
    if res.get("max_map_count_after", res["machine"].get("max_map_count")) != \
            res["machine"].get("max_map_count"):
        out.append("vm.max_map_count not restored")
    ids = [scn["id"] for scn in res["scenarios"]]
    out += [f"scenario {i} missing" for i in ALL_SCENARIOS if i not in ids]
    out += [f"scenario {scn['id']} {mode} failed: {err.splitlines()[0] if err else err}"
            for scn in res["scenarios"] for mode, err in scn.get("errors", {}).items()]
    return out


def render_only(args, root):
    """--render: a report from a results file, to --doc or build/bench/report.md."""
    try:
        with open(args.render) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"bench: --render: cannot read {args.render}: {e}")
    for path in args.with_results or ():
        have = {scn["id"]: scn for scn in res["scenarios"]}
        for scn in scenarios_from(path, [], "--with"):
            if scn["id"] not in have:
                res["scenarios"].append(scn)
            elif "clones" in scn and "clones" in have[scn["id"]]:
                clonereport.merge(have[scn["id"]], scn)
        res["scenarios"].sort(key=lambda scn: scn["id"])
    recompute(res)
    doc = args.doc or os.path.join(root, outputs.BUILD, "report.md")
    outputs.write_atomic(doc, renderer()(res, os.path.relpath(args.render, root)))
    print(f"report: {doc}")
    return 0


def finish(args, res, root):
    """Write (and for --publish, publish) the run's results and report. 0 if the run
    succeeded."""
    why = failures(res)
    render = quick_renderer(root) if args.quick else renderer()
    out, doc = outputs.finish(args.plan, res, not why, render)
    print(f"\nresults: {os.path.relpath(out, root)}, report: {os.path.relpath(doc, root)}")
    if why and args.publish:
        print("bench: NOT published, docs/bench/results.json and docs/performance.md are "
              "as they were: " + "; ".join(why), file=sys.stderr)
    return 1 if res.get("aborted") or not res.get("host_ksm_restored") or \
        (args.publish and why) else 0


def main(argv, root=ROOT):
    args = parse_args(argv)
    if args.render:
        return render_only(args, root)
    try:
        args.plan = outputs.plan(root, run_kind(args), args.out, args.doc)
    except outputs.OutputError as e:
        sys.exit(f"bench: {e}")
    preflight(args.rundir)
    script = os.path.relpath(sys.argv[0], ROOT)
    cmd = "python3 " + " ".join(shlex.quote(a) for a in [script] + argv)
    res = {"version": 1, "command": cmd, "label": args.label or cmd, "started": now_iso(),
           "machine": machine(), "scenarios": []}
    shield.install()
    try:
        run_all(args, res)
    except (shield.Interrupted, hostksm.HostKsmError, maplimit.MapLimitError) as e:
        res["aborted"] = str(e)
        print(f"bench: {e}", file=sys.stderr)
    res["finished"] = now_iso()
    res["scenarios"].sort(key=lambda scn: scn["id"])
    self_cpu = resource.getrusage(resource.RUSAGE_SELF)
    res["bench_own_cpu_s"] = self_cpu.ru_utime + self_cpu.ru_stime
    res["host_ksm_restored"] = check_host_restored(res)
    try:
        with shield.shielded():  # a Ctrl-C now waits until the results are written
            return finish(args, res, root)
    except shield.Interrupted as e:
        print(f"bench: {e} (after the results were written)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
