"""figures.py - the figures of a run, computed from its raw samples, and ours/host ratios.

Conventions (docs/performance.md repeats them):
- saving = Pss of the --merge=off baseline fleet - Pss of the run (host accounting);
  final saving = median saving over the last window_s seconds of the run.
- time to X% = seconds from the last guest's READY until the saving reaches X% of the
  final saving, interpolated linearly between the two samples around that moment (0 if
  it already had at READY).
- merge CPU = CPU of whoever merges, counted from the fleet's launch (both mergers work
  during the fill): ksmd's utime+stime delta for host KSM; for ours engine.cpu_seconds
  from `ksmctl stats --json`, or, while that is unavailable, the ksm-engine thread's
  utime+stime from /proc (merge_cpu_source says which).
- CPU per MiB = merge CPU until 99% of the final saving / final saving.
"""
import statistics

MIB = 1024.0
SAMPLE_FLOOR_S = 0.1  # shortest span a rate is computed over
RMAP_ITEM_BYTES = 64  # sizeof(struct ksm_rmap_item) on 64-bit (mm/ksm.c): one per page
PCTS = (50, 90, 99)
GUEST_MEASURED_NOTE = ("guest stall: in separate runs (vmm-watch, host-tuned-watch, and "
                       "the --merge=off baseline for the floor), from the last READY to "
                       "the end, guest g0 reads its memory in a loop timing every read "
                       "(`ksmctl watch`, 2 s windows); every gap above 20 us is a stall "
                       "it noticed - paused by merging, a fault on a remapped page, or "
                       "the host preempting its vCPU; "
                       "first write: `ksmctl probe` after the run, the guests' median "
                       "p50 (not for RAM-image scenarios)")


def interp(samples, key, t):
    """Value of samples[*][key] at time t, linearly interpolated (None if unknown)."""
    pts = [(s["t"], key(s)) for s in samples if key(s) is not None]
    if not pts or t is None:
        return None
    if t <= pts[0][0]:
        return pts[0][1]
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return pts[-1][1]


def engine_field(name):
    return lambda s: (s.get("engine") or {}).get(name)


def _ksmd_cpu(s):
    return s["ksmd_cpu"]


def _thread_cpu(s):
    return s["engine_thread_cpu"]


def _proc_cpu(s):
    return s["proc_cpu"]


def merge_cpu_key(run):
    """(source name, key function, value when the merger started) of the run's merging
    CPU: it is counted from launch, or from READY for a cold start."""
    samples = run["samples"]
    if run["merge"] == "host":
        return "ksmd utime+stime (/proc)", _ksmd_cpu, run["ksmd_cpu_at_start"]
    if any(engine_field("cpu_seconds")(s) is not None for s in samples):
        source, key = "engine.cpu_seconds (ksmctl stats)", engine_field("cpu_seconds")
    else:
        source, key = "ksm-engine thread utime+stime (/proc; stats unavailable)", _thread_cpu
    at_start = interp(samples, key, run["merge_start_t"]) if run.get("cold") else 0.0
    return source, key, at_start


def final_saving_kib(post, baseline_kib, window_s):
    end = post[-1]["t"]
    tail = [baseline_kib - s["pss_kib"] for s in post if s["t"] >= end - window_s]
    return statistics.median(tail)


def time_to(post, baseline_kib, target_kib, t_ready):
    """Seconds from READY until the saving first reached @target_kib, interpolated
    linearly between the two samples around the crossing (they are SAMPLE_S apart)."""
    prev = None
    for s in post:
        saving = baseline_kib - s["pss_kib"]
        if saving >= target_kib:
            t = s["t"]
            if prev is not None and saving > prev[1]:
                t = prev[0] + (s["t"] - prev[0]) * (target_kib - prev[1]) / (saving - prev[1])
            return round(max(t, t_ready) - t_ready, 3)
        prev = (s["t"], saving)
    return None


def ideal_saving_mib(run, profile):
    """What the profile allows: every zero page, and (n-1)/n of each shared page (a page
    shared by all n guests is kept once). Other keys (dup, mutate) are not counted.
    None without a profile (guests whose RAM came from elsewhere)."""
    filled = list(run["pages_filled"].values())
    n = len(filled)
    if not n or not profile:
        return None
    pct = dict(kv.split("=", 1) for kv in profile.split(","))
    frac = int(pct.get("zero", 0)) / 100 + int(pct.get("shared", 0)) / 100 * (n - 1) / n
    return sum(filled) * frac * 4 / MIB


def _sub(a, b):
    return None if a is None or b is None else a - b


def _div(a, b):
    return None if a is None or not b else a / b


def cpu_figures(run, post, times):
    """Merge CPU (from launch) at 90%, 99% and the end; process CPU from READY."""
    source, key, at_launch = merge_cpu_key(run)
    t_ready, end = run["t_ready"], post[-1]["t"]
    when = {p: None if times[p] is None else times[p] + t_ready for p in PCTS}
    merge_at = {p: _sub(interp(post, key, when[p]), at_launch) for p in PCTS}
    after_ready = _sub(interp(post, key, end), interp(post, key, t_ready))
    proc_ready = post[0]["proc_cpu"]
    span = max(end - t_ready, SAMPLE_FLOOR_S)
    return {
        "merge_cpu_source": source,
        "merge_cpu_to_t90_s": merge_at[90], "merge_cpu_to_t99_s": merge_at[99],
        "merge_cpu_to_end_s": _sub(interp(post, key, end), at_launch),
        "merge_cpu_after_ready_pct": None if after_ready is None else 100 * after_ready / span,
        "process_cpu_after_ready_pct": 100 * (post[-1]["proc_cpu"] - proc_ready) / span,
        "process_cpu_ready_to_t90_s": _sub(interp(post, _proc_cpu, when[90]), proc_ready),
        "process_cpu_ready_to_end_s": post[-1]["proc_cpu"] - proc_ready,
        "process_cpu_launch_to_end_s": post[-1]["proc_cpu"],
        "ksmd_cpu_during_run_s": post[-1]["ksmd_cpu"] - run["samples"][0]["ksmd_cpu"],
        "engine_thread_cpu_end_s": post[-1]["engine_thread_cpu"],
    }


def engine_figures(run, post):
    """Stall and counters from the engine's stats at the end (None if unavailable)."""
    end = (run["end"].get("stats") or {}).get("engine") or {}
    stall = end.get("stall_us") or {}
    pause = end.get("pause_us") or {}
    first = next((s["engine"] for s in post if s.get("engine")), None)
    last = next((s["engine"] for s in reversed(post) if s.get("engine")), None)
    delta = (lambda k: _sub(last.get(k), first.get(k))) if first and last else (lambda k: None)
    return {"stall_p50_us": stall.get("p50"), "stall_p99_us": stall.get("p99"),
            "stall_max_us": stall.get("max"), "stall_count": stall.get("count"),
            "pause_p99_us": pause.get("p99"), "pause_max_us": pause.get("max"),
            "engine_cpu_seconds_end": end.get("cpu_seconds"),
            "cow_breaks_after_ready": delta("cow_breaks"),
            "merges_after_ready": delta("merges"),
            "engine_bytes_saved_mib": _div(end.get("bytes_saved"), MIB * MIB)}


def host_figures(run, post):
    first, last = post[0], post[-1]
    rmap_items = (run["end"].get("proc_ksm_stat") or {}).get("ksm_rmap_items")
    return {"cow_breaks_after_ready": _sub(last.get("cow_ksm"), first.get("cow_ksm")),
            "merges_after_ready": None,  # host KSM counts no merges, only current sharing
            "pages_sharing_end": last["ksm"].get("pages_sharing"),
            "pages_shared_end": last["ksm"].get("pages_shared"),
            "full_scans_after_ready": last["ksm"]["full_scans"] - first["ksm"]["full_scans"],
            "stall_p50_us": None, "stall_p99_us": None, "stall_max_us": None,
            "kernel_metadata_mib_est": _div(rmap_items and rmap_items * RMAP_ITEM_BYTES,
                                            MIB * MIB)}


def slab_growth_mib(run):
    """How much the kernel's slab grew from the run's launch to its end, MiB."""
    a, b = run.get("slab_kib_at_launch"), (run.get("end") or {}).get("slab_kib")
    return None if a is None or b is None else (b - a) / MIB


def run_figures(run, baseline_kib, guest_ram_mib, profile, ideal_mib=None, base_slab_mib=None):
    """Every figure of one run (run: the raw record of measure.run plus merge, window_s).
    @ideal_mib, when given, is the ideal saving (else it follows from @profile)."""
    post = [s for s in run["samples"] if s["t"] >= run["t_ready"]]
    final = final_saving_kib(post, baseline_kib, run["window_s"])
    times = {p: time_to(post, baseline_kib, final * p / 100, run["t_ready"]) if final > 0
             else None for p in PCTS}
    ideal = ideal_mib if ideal_mib is not None else ideal_saving_mib(run, profile)
    fig = {"converged": run["converged"], "other_load_cores": run.get("other_load_cores"),
           "disturbed": bool(run.get("disturbed")), "final_saving_mib": final / MIB,
           "final_saving_pct": 100 * final / MIB / guest_ram_mib,
           "ideal_saving_mib": ideal, "pct_of_ideal": _div(100 * final / MIB, ideal),
           "saving_at_ready_mib": (baseline_kib - post[0]["pss_kib"]) / MIB,
           "fill_time_s": run["t_ready"],
           "measured_after_ready_s": post[-1]["t"] - run["t_ready"],
           "pss_before_mib": baseline_kib / MIB, "pss_after_mib": (baseline_kib - final) / MIB,
           "t50_s": times[50], "t90_s": times[90], "t99_s": times[99],
           "first_write_cost_us": None, "guest_measured_note": GUEST_MEASURED_NOTE}
    fig.update(cpu_figures(run, post, times))
    cpu99 = fig["merge_cpu_to_t99_s"]
    fig["merge_cpu_ms_per_mib"] = _div(None if cpu99 is None else 1000 * cpu99, final / MIB)
    fig["mib_per_merge_cpu_s"] = _div(final / MIB, fig["merge_cpu_to_t99_s"])
    fig.update(host_figures(run, post) if run["merge"] == "host" else engine_figures(run, post))
    fig.update(probe_figures(run))
    fig.update(watch_figures(run))
    fig["kernel_slab_vs_baseline_mib"] = _sub(slab_growth_mib(run), base_slab_mib)
    fig["net_saving_mib"] = _sub(fig["final_saving_mib"], fig["kernel_slab_vs_baseline_mib"])
    if "verify" in run:
        fig["verify_bad"] = run["verify"]["bad"]
        fig["verify_ok"] = run["verify"]["ok"]
    return fig


def probe_figures(run):
    """First write to a merged page, as the guests timed it (`ksmctl probe`): the median
    of the guests' p50, and the largest p99."""
    probes = [p for k, p in run.get("probe", {}).items() if k != "error"]
    if not probes:
        return {}
    p50s = sorted(p["p50_ns"] for p in probes)
    return {"first_write_cost_us": p50s[len(p50s) // 2] / 1000,
            "first_write_p99_us": max(p["p99_ns"] for p in probes) / 1000}


WATCH_KEYS = ("guest_stall_p50_us", "guest_stall_p99_us", "guest_stall_max_us",
              "guest_stalls", "guest_stalls_per_s", "guest_stalled_pct", "guest_watched_s")


def watch_figures(run):
    """Stalls the watching guest noticed (`ksmctl watch` windows): p50 / p99 / max over
    all of them, how many per second watched, and the share of the time they took."""
    windows = [w for w in (run.get("watch") or {}).get("windows", []) if "error" not in w]
    if not windows:
        return {k: None for k in WATCH_KEYS}
    stalls = sorted(ns for w in windows for ns in w.get("stall_ns", []))
    watched_s = sum(w["watched_ns"] for w in windows) / 1e9
    pct = (lambda q: stalls[min(len(stalls) - 1, len(stalls) * q // 100)] / 1000
           if stalls else 0.0)
    return {"guest_stall_p50_us": pct(50), "guest_stall_p99_us": pct(99),
            "guest_stall_max_us": stalls[-1] / 1000 if stalls else 0.0,
            "guest_stalls": sum(w["stalls"] for w in windows),
            "guest_stalls_per_s": _div(sum(w["stalls"] for w in windows), watched_s),
            "guest_stalled_pct": _div(100 * sum(w["stalled_ns"] for w in windows) / 1e9,
                                      watched_s),
            "guest_watched_s": watched_s}


RATIO_KEYS = ("final_saving_mib", "net_saving_mib", "fill_time_s", "t50_s", "t90_s", "t99_s",
              "merge_cpu_to_t90_s", "merge_cpu_to_t99_s", "merge_cpu_ms_per_mib",
              "mib_per_merge_cpu_s",
              "merge_cpu_after_ready_pct", "process_cpu_after_ready_pct", "pss_after_mib",
              "guest_stall_p99_us", "guest_stalled_pct", "first_write_cost_us")


def ratios(ours, host):
    """ours/host for every figure where both exist and host is not zero."""
    return {k: _div(ours.get(k), host.get(k)) for k in RATIO_KEYS}


def targets(ours, host):
    """The issue's targets, against host KSM at 5000/10: each {value, target, met}."""
    r = ratios(ours, host)

    def check(value, text, ok, why=None):
        out = {"value": value, "target": text, "met": None if value is None else ok(value)}
        if value is None:
            out["why"] = why or "a figure is missing"
        return out

    t90_why = ("host KSM was at 90% already when the last guest became READY"
               if host.get("t90_s") == 0 else None)

    saving_gap = _sub(ours.get("final_saving_mib"), host.get("final_saving_mib"))
    net_gap = _sub(ours.get("net_saving_mib"), host.get("net_saving_mib"))
    return {
        "time_to_90": check(r["t90_s"], "ours/host <= 0.2 (5x shorter)", lambda v: v <= 0.2,
                            t90_why),
        "cpu_per_mib": check(r["merge_cpu_ms_per_mib"], "ours/host <= 0.333 (3x lower)",
                             lambda v: v <= 1 / 3),
        "final_saving": check(saving_gap, "ours - host >= -1 MiB (at least equal)",
                              lambda v: v >= -1.0),
        "final_saving_net_of_kernel_slab": check(
            net_gap, "ours - host >= -1 MiB, each net of its kernel slab growth",
            lambda v: v >= -1.0, "slab not measured"),
        "stall_p99": check(ours.get("guest_stall_p99_us"), "<= 1000 us (guest-measured)",
                           lambda v: v <= 1000,
                           "no guest watched in these runs: see the from-launch group, "
                           "whose figure comes from the busy-guest run"),
        "engine_pause_p99": check(ours.get("stall_p99_us"),
                                  "<= 1000 us (engine-measured; our own target)",
                                  lambda v: v <= 1000, "no engine stats"),
        "stall_max": check(ours.get("stall_max_us"),
                           "<= 10000 us (engine-measured; our own target)",
                           lambda v: v <= 10000),
    }
