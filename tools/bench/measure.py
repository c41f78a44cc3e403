"""measure.py - one measured run: a fleet in one merge mode, sampled from launch until settled.

Every SAMPLE_S the run records the process's Pss and CPU, the engine thread's CPU, ksmd's
CPU and (host mode) the KSM counters; every STATS_EVERY_S also the engine's own stats
(--merge=vmm). The saving of a sample is the baseline Pss (same fleet, --merge=off)
minus its Pss. A run ends when the saving has held still for window_s seconds and the
merger has provably looked at everything again since it last changed: host KSM has
completed a full scan since then (and three since READY: ksmd merges a page in the
second scan that sees its final content), our engine two passes (when its stats are
readable). Else it ends at timeout_s after READY, marked not converged.
"""
import os
import resource
import time

import fleet as fleetmod
import hostksm
import shield

SAMPLE_S = 0.1
STATS_EVERY_S = 0.5
READY_TIMEOUT_S = 300
TOL_MIN_KIB = 2048   # the saving "holds still" within max(2 MiB, 1% of it)
TOL_FRAC = 0.01
BASELINE_TOL_KIB = 1024
QUIET_WAIT_S = 60  # wait this long for other ksmvmm processes to end before a run
OTHERS_EVERY = 10   # look for other ksmvmm processes every this many samples
OTHER_LOAD_LIMIT = 0.25  # CPUs kept busy by others above which a run is "disturbed"
COLD_IDLE_INTERVAL_MS = 60000  # ours, cold: engine asleep until READY...
COLD_SCAN_RATE = 1             # ...and its pass at launch hashes next to nothing (RAM
                               # loaded from an image is there at launch)...
WATCH_GUEST = "g0"             # from the last READY on, this guest watches for stalls
WATCH_WINDOW_MS = 2000         # ...in windows this long (`ksmctl watch`)
WATCH_THRESHOLD_US = 20        # ...counting every gap longer than this
ENGINE_INTERVAL_MS = 100       # ...then back to its defaults (ksm_default_tunables)
ENGINE_SCAN_RATE = 0           # (no limit)
ENGINE_KEYS = ("passes", "pages_scanned", "pages_hashed", "merges", "zero_released",
               "cow_breaks", "pool_pages", "mappings_used", "cpu_seconds", "bytes_saved")


class Mode:
    """How a run merges: name in results, --merge value, host KSM tuning, when the merger
    starts (cold: at the last READY, on content that no longer changes; else at launch,
    as in production), limits."""

    def __init__(self, name, merge, ksm=None, cold=False, timeout_s=120, window_s=3.0,
                 watch=False):
        self.name = name
        self.merge = merge
        self.ksm = ksm  # (pages_to_scan, sleep_millisecs) for --merge=host
        self.cold = cold
        self.watch = watch  # from the last READY on, WATCH_GUEST times its stalls
        self.timeout_s = timeout_s
        self.window_s = window_s

    def describe(self):
        how = (f"--merge=host, pages_to_scan={self.ksm[0]} sleep_millisecs={self.ksm[1]}"
               if self.ksm else f"--merge={self.merge}")
        return (how + (", merging from the last READY" if self.cold else "") +
                (f", {WATCH_GUEST} busy watching for stalls" if self.watch else ""))

    def extra_args(self):
        """Ours, cold: the engine idles (one pass at start that may hash a page or two,
        then a long sleep) until `ksmctl set` wakes it at READY."""
        if self.cold and self.merge == "vmm":
            return ("--ksm-interval-ms", str(COLD_IDLE_INTERVAL_MS),
                    "--ksm-scan-rate", str(COLD_SCAN_RATE))
        return ()


def saving_kib(sample, baseline_kib):
    return baseline_kib - sample["pss_kib"]


def _engine_subset(stats):
    engine = stats.get("engine") if isinstance(stats, dict) else None
    if not isinstance(engine, dict):
        return None
    out = {k: engine.get(k) for k in ENGINE_KEYS}
    out["stall_us"] = engine.get("stall_us")
    out["pause_us"] = engine.get("pause_us")
    return out


def probe(fl, ksmd_stat, mode, with_stats):
    """One sample of everything cheap (and the engine stats when asked)."""
    s = {"t": round(time.monotonic() - fl.t_start, 3),
         "pss_kib": fl.pss_kib(),
         "proc_cpu": fl.process_cpu(),
         "engine_thread_cpu": fl.engine_thread_cpu() if mode.merge == "vmm" else None,
         "ksmd_cpu": fleetmod.proc_cpu_seconds(ksmd_stat)}
    if mode.merge == "host":
        s["ksm"] = hostksm.counters()
        s["cow_ksm"] = hostksm.cow_ksm()
    if with_stats:
        st = fl.stats()
        s["engine"] = _engine_subset(st) if st else None
    return s


def _last_change(post, baseline_kib):
    """Index of the last sample whose saving differs from the latest by more than the
    tolerance (0 if none did since READY)."""
    cur = saving_kib(post[-1], baseline_kib)
    tol = max(TOL_MIN_KIB, TOL_FRAC * abs(cur))
    for i in range(len(post) - 1, -1, -1):
        if abs(saving_kib(post[i], baseline_kib) - cur) > tol:
            return i
    return 0


def _looked_again(post, i_change, mode):
    """Has the merger gone over everything since sample i_change? ksmd merges a page in
    the second scan that sees its final content: the scan running at READY does not
    count, two more must complete."""
    if mode.merge == "host":
        scans = [s["ksm"]["full_scans"] for s in post]
        return scans[-1] - scans[0] >= 3 and scans[-1] - scans[i_change] >= 1
    passes = [s["engine"]["passes"] for s in post[i_change:]
              if s.get("engine") and s["engine"].get("passes") is not None]
    return not passes or passes[-1] - passes[0] >= 2


def settled(post, baseline_kib, mode):
    """Has the saving held still long enough after READY (post: samples since READY)?"""
    if len(post) < 2 or post[-1]["t"] - post[0]["t"] < mode.window_s:
        return False
    if baseline_kib is None:  # the --merge=off baseline: Pss itself holds still
        recent = [s["pss_kib"] for s in post if s["t"] >= post[-1]["t"] - mode.window_s]
        return max(recent) - min(recent) <= BASELINE_TOL_KIB
    i = _last_change(post, baseline_kib)
    if post[-1]["t"] - post[i]["t"] < mode.window_s:
        return False
    if saving_kib(post[-1], baseline_kib) < TOL_MIN_KIB:
        return False  # nothing merged yet: wait (or time out)
    return _looked_again(post, i, mode)


class Sampler:
    """The sampling loop of one fleet."""

    def __init__(self, fl, ksmd_pid, mode, baseline_kib, merger):
        self.fl = fl
        self.merger = merger  # told of the last READY; knows the host KSM settings
        self.ksmd_stat = f"/proc/{ksmd_pid}/stat"
        self.mode = mode
        self.baseline_kib = baseline_kib
        self.samples = []
        self.t_ready = None  # seconds after launch of the last READY
        self._last_stats = -1e9
        self.watcher = (fl.watcher(WATCH_GUEST, WATCH_WINDOW_MS, WATCH_THRESHOLD_US)
                        if mode.watch else fleetmod.NoWatcher())
        self.others = {}  # other ksmvmm processes seen during the run: pid -> command
        self.ksm_changed = []  # host KSM settings someone else changed: [t, settings]

    def _tick(self):
        now = time.monotonic()
        want = self.mode.merge == "vmm" and now - self._last_stats >= STATS_EVERY_S
        if want:
            self._last_stats = now
        self.samples.append(probe(self.fl, self.ksmd_stat, self.mode, want))
        if len(self.samples) % OTHERS_EVERY == 1:
            self._look_for_others()

    def _look_for_others(self):
        self.others.update(fleetmod.other_ksmvmm(self.fl.proc.pid))
        now = hostksm.settings()
        if now != self.merger.expected_settings() and (
                not self.ksm_changed or self.ksm_changed[-1][1] != now):
            self.ksm_changed.append([self.samples[-1]["t"], now])

    def _ready_time(self):
        if len(self.fl.ready) < self.fl.count:
            return None
        return round(max(self.fl.ready.values()) - self.fl.t_start, 3)

    def run(self):
        """Sample until settled or timed out; returns True if settled."""
        next_t = time.monotonic()
        while True:
            self.fl.check_alive()
            self._tick()
            if self.t_ready is None:
                self.t_ready = self._ready_time()
                self._check_ready_timeout()
                if self.t_ready is not None:
                    self.watcher.poll()  # the guest watches before merging starts
                    self.merger.at_ready()
            elif self._done():
                return self._settled_now()
            else:
                self.watcher.poll()
            next_t += SAMPLE_S
            time.sleep(max(0.0, next_t - time.monotonic()))

    def _check_ready_timeout(self):
        if self.t_ready is None and self.samples[-1]["t"] > READY_TIMEOUT_S:
            self.fl.wait_ready(0)  # raises FleetError with the details

    def post(self):
        return [s for s in self.samples if s["t"] >= self.t_ready]

    def _settled_now(self):
        return settled(self.post(), self.baseline_kib, self.mode)

    def _done(self):
        return (self._settled_now() or
                self.samples[-1]["t"] - self.t_ready > self.mode.timeout_s)


def slab_kib():
    """The kernel's slab memory, KiB (/proc/meminfo Slab): host KSM's bookkeeping lives
    there, not in any process's Pss."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return None


def finish_probes(fl, mode):
    """What is recorded once at the end of a run, before the fleet stops."""
    out = {"smaps_rollup_kib": fl.rollup(), "ksm_sysfs": hostksm.snapshot(),
           "slab_kib": slab_kib()}
    if mode.merge == "host":
        out["proc_ksm_stat"] = fl.ksm_stat()
    if mode.merge == "vmm":
        out["stats"] = fl.stats()
        out["stats_error"] = fl.stats_error
    return out


class Merger:
    """Starts and stops whoever merges in a run, at launch or (cold) at READY."""

    def __init__(self, mode, host, ksmd_pid):
        self.mode, self.host = mode, host
        self.ksmd_stat = f"/proc/{ksmd_pid}/stat"
        self.fl = None
        self.t_start = None         # seconds after launch the merger was started
        self.ksmd_cpu_at_start = None

    def before_launch(self):
        self.host.stop()
        if not self.mode.cold:
            self._start_host()
            self.t_start = 0.0

    def expected_settings(self):
        """What /sys/kernel/mm/ksm should say now, unless someone else changed it."""
        if self.mode.merge == "host" and self.t_start is not None:
            return {"run": hostksm.RUN_MERGE, "pages_to_scan": self.mode.ksm[0],
                    "sleep_millisecs": self.mode.ksm[1]}
        return {"run": hostksm.RUN_STOP}

    def at_ready(self):
        if not self.mode.cold:
            return
        self.t_start = round(time.monotonic() - self.fl.t_start, 3)
        if self.mode.merge == "host":
            self._start_host()
        elif self.mode.merge == "vmm":
            self._wake_engine()

    def _start_host(self):
        self.ksmd_cpu_at_start = fleetmod.proc_cpu_seconds(self.ksmd_stat)
        if self.mode.merge == "host":
            self.host.start(*self.mode.ksm)

    def _wake_engine(self):
        for key, value in (("scan_rate", ENGINE_SCAN_RATE),
                           ("interval_ms", ENGINE_INTERVAL_MS)):
            r = self.fl.ctl("set", key, str(value))
            if r.returncode != 0:
                raise fleetmod.FleetError(
                    f"a cold start of our engine needs `ksmctl set {key}`, which "
                    f"failed: {(r.stderr or r.stdout).strip()}")

    def after(self):
        if self.mode.merge == "host":
            self.host.unmerge()


def wait_quiet():
    """Wait up to QUIET_WAIT_S for other ksmvmm processes to end; returns what is left."""
    deadline = time.monotonic() + QUIET_WAIT_S
    others = fleetmod.other_ksmvmm()
    if others:
        print(f"   waiting up to {QUIET_WAIT_S} s for other ksmvmm processes to end: "
              f"{sorted(others)}", flush=True)
    while others and time.monotonic() < deadline:
        time.sleep(1)
        others = fleetmod.other_ksmvmm()
    if others:
        print(f"   WARNING: measuring while other ksmvmm processes run: {sorted(others)}",
              flush=True)
    return others


def run(scenario, mode, rundir, host, ksmd_pid, baseline_kib, verify):
    """Run one fleet of @scenario in @mode; returns the raw record of the run.
    Host KSM runs only in host mode (from launch, or from READY when cold), and after a
    host-mode run everything is unmerged (run=2) once the fleet is gone."""
    fl = fleetmod.Fleet(os.path.join(rundir, f"s{scenario['id']}-{mode.name}"),
                        scenario["count"], scenario["mem"], scenario["profile"], mode.merge,
                        tuple(scenario.get("extra_args", ())) + mode.extra_args())
    merger = Merger(mode, host, ksmd_pid)
    merger.fl = fl
    others_at_start = wait_quiet()
    load_at_start = os.getloadavg()
    try:
        merger.before_launch()
        rec = _measure(fl, mode, ksmd_pid, baseline_kib, verify, merger)
        rec["others_at_start"] = others_at_start
        rec["loadavg_at_start"] = load_at_start
        rec["loadavg_at_end"] = os.getloadavg()
        rec["merge_start_t"] = merger.t_start
        rec["ksmd_cpu_at_start"] = merger.ksmd_cpu_at_start
        return rec
    finally:
        with shield.shielded():
            fl.stop()
            merger.after()


def bench_cpu():
    """CPU of the benchmark itself and of the children it has reaped (ksmctl calls)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _other_load(samples, busy0, bench0, wall_s):
    """Average CPUs kept busy by everything but this fleet, ksmd and the benchmark."""
    ours = (samples[-1]["proc_cpu"] + samples[-1]["ksmd_cpu"] - samples[0]["ksmd_cpu"] +
            bench_cpu() - bench0)
    return max(0.0, (fleetmod.host_busy_seconds() - busy0 - ours) / wall_s)


def disturbances(rec):
    """Why the run's figures may not be clean: other users of the machine or of host
    KSM. Host KSM settings changed under a host-mode run make it invalid (run again)."""
    out = []
    if rec["host_ksm_changed_by_others"]:
        out.append(f"host KSM settings changed by another process: "
                   f"{rec['host_ksm_changed_by_others'][:3]}")
    if rec["others_during_run"]:
        out.append(f"{len(rec['others_during_run'])} other ksmvmm process(es) ran")
    if rec["other_load_cores"] > OTHER_LOAD_LIMIT:
        out.append(f"other processes kept {rec['other_load_cores']:.2f} CPUs busy")
    return out


def invalid(rec):
    """A host-mode run whose host KSM settings someone else changed measured nothing."""
    return rec["merge"] == "host" and bool(rec["host_ksm_changed_by_others"])


def _measure(fl, mode, ksmd_pid, baseline_kib, verify, merger):
    sampler = Sampler(fl, ksmd_pid, mode, baseline_kib, merger)
    t0, busy0, bench0 = time.monotonic(), fleetmod.host_busy_seconds(), bench_cpu()
    slab0 = slab_kib()
    fl.start()
    converged = sampler.run()
    watch = sampler.watcher.finish()
    other_load = _other_load(sampler.samples, busy0, bench0, time.monotonic() - t0)
    rec = {"mode": mode.name, "merge": mode.merge, "cold": mode.cold,
           "describe": mode.describe(), "host_ksm": mode.ksm, "window_s": mode.window_s,
           "timeout_s": mode.timeout_s, "argv": fl.argv,
           "converged": converged, "t_ready": sampler.t_ready,
           "ready_times": {g: round(t - fl.t_start, 3) for g, t in sorted(fl.ready.items())},
           "pages_filled": dict(sorted(fl.pages_filled.items())),
           "ram_image_loaded_mib": fl.ram_images_loaded(),
           "end": finish_probes(fl, mode), "samples": sampler.samples,
           "slab_kib_at_launch": slab0,
           "watch": {"guest": WATCH_GUEST, "window_ms": WATCH_WINDOW_MS,
                     "threshold_us": WATCH_THRESHOLD_US, "windows": watch} if mode.watch
           else None,
           "others_during_run": sampler.others,
           "host_ksm_changed_by_others": sampler.ksm_changed,
           "other_load_cores": other_load}
    rec["disturbed"] = disturbances(rec)
    if not fl.ram_images_loaded():
        rec["probe"] = fl.probe()
    if verify:
        rec["verify"] = fl.verify()
    rec["stderr_tail"] = fl.stderr_tail(30)
    rec["wall_s"] = round(time.monotonic() - t0, 1)
    return rec
