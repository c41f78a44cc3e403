"""fleet.py - one `ksmvmm run` fleet under measurement: start, READY, probes, stop.

The READY time of each guest is the moment ksmvmm's stderr line 'gN: ready' is read (a
reader thread stamps every line with time.monotonic()). Probes read what the host says
about the process: Pss from /proc/PID/smaps_rollup, CPU from /proc/PID/stat and from the
engine thread's /proc/PID/task/TID/stat, and the engine's own figures from
`ksmctl stats --json` (None while that command is not available).
"""
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KSMVMM = os.path.join(ROOT, "build", "ksmvmm")
KSMCTL = os.path.join(ROOT, "build", "ksmctl")
CLK_TCK = os.sysconf("SC_CLK_TCK")
READY_RE = re.compile(r"workload: (\S+): ready \((\d+) pages filled\)")
IMAGE_RE = re.compile(r"workload: (\S+): loaded (\d+) MiB of RAM image")
ENGINE_THREAD = "ksm-engine"
POLL_S = 0.05
PR_SET_PDEATHSIG = 1


class FleetError(Exception):
    """The fleet did not start, died, or did not get ready in time."""


def _die_with_parent():
    """In the child before exec: SIGTERM ksmvmm if the benchmark itself is killed."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def end_process(proc, polite_s):
    """Wait up to @polite_s for @proc (already asked to end), then SIGTERM, then SIGKILL."""
    for sig, wait_s in ((None, polite_s), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if sig is not None and proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def smaps_rollup(pid):
    """Every line of /proc/PID/smaps_rollup as {key: KiB}."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def ksm_stat(pid):
    """/proc/PID/ksm_stat as {key: int or text} (host KSM's per-process view)."""
    out = {}
    with open(f"/proc/{pid}/ksm_stat") as f:
        for line in f:
            key, _, val = line.partition(" ")
            val = val.strip()
            out[key] = int(val) if val.lstrip("-").isdigit() else val
    return out


def proc_cpu_seconds(stat_path):
    """utime+stime of a /proc/.../stat file, in seconds."""
    with open(stat_path) as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()  # comm may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat


def host_busy_seconds():
    """CPU seconds all CPUs spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def other_ksmvmm(mine=None):
    """{pid: command line} of every ksmvmm process but @mine (other users of the machine:
    they compete for the CPU and, in host mode, for host KSM)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == mine:
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != "ksmvmm":
                    continue
            with open(f"/proc/{entry}/cmdline") as f:
                out[int(entry)] = f.read().replace("\0", " ").strip()
        except OSError:
            continue  # it ended while we looked
    return out


class Fleet:
    """A running ksmvmm process with COUNT workload guests."""

    def __init__(self, rundir, count, mem, profile, merge, extra_args=()):
        self.rundir = rundir
        self.count = count
        self.control = os.path.join(rundir, "control.sock")
        self.argv = [KSMVMM, "run", "--count", str(count), "--mem", mem,
                     "--guest", "workload", "--profile", profile, f"--merge={merge}",
                     "--control", self.control, "--console", os.path.join(rundir, "console"),
                     *extra_args]
        self.proc = None
        self.lines = []         # (monotonic time, stderr line)
        self.ready = {}         # guest name -> monotonic time of its READY
        self.pages_filled = {}  # guest name -> pages its fill phase wrote
        self.t_start = None
        self.engine_tid = None
        self.stats_error = None  # why `ksmctl stats --json` gave nothing, once it failed
        self._lock = threading.Lock()
        self._reader = None
        self._log = None

    def start(self):
        shutil.rmtree(self.rundir, ignore_errors=True)  # consoles of an earlier run
        os.makedirs(self.rundir)
        if len(self.control) > 100:
            raise FleetError(f"control socket path too long for AF_UNIX: {self.control}")
        self._log = open(os.path.join(self.rundir, "ksmvmm.log"), "w")
        self._log.write(" ".join(self.argv) + "\n")
        self._log.flush()  # before ksmvmm's own output goes to the same file
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.PIPE, text=True,
                                     errors="replace", preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            now = time.monotonic()
            line = line.rstrip("\n")
            self._log.write(f"{now - self.t_start:9.3f} {line}\n")
            self._log.flush()
            m = READY_RE.search(line)
            with self._lock:
                self.lines.append((now, line))
                if m and m.group(1) not in self.ready:
                    self.ready[m.group(1)] = now
                    self.pages_filled[m.group(1)] = int(m.group(2))

    def ram_images_loaded(self):
        """{guest: MiB} from ksmvmm's 'loaded N MiB of RAM image' lines (--ram-image)."""
        with self._lock:
            found = (IMAGE_RE.search(line) for _, line in self.lines)
            return {m.group(1): int(m.group(2)) for m in found if m}

    def stderr_tail(self, n=15):
        with self._lock:
            return "\n".join(line for _, line in self.lines[-n:])

    def check_alive(self):
        if self.proc.poll() is not None:
            raise FleetError(f"ksmvmm exited with status {self.proc.returncode}; "
                             f"last lines:\n{self.stderr_tail()}")

    def wait_ready(self, timeout_s):
        """Block until every guest said READY; returns the monotonic time of the last."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                if len(self.ready) >= self.count:
                    return max(self.ready.values())
            self.check_alive()
            if time.monotonic() > deadline:
                raise FleetError(f"only {len(self.ready)} of {self.count} guests READY "
                                 f"after {timeout_s} s; last lines:\n{self.stderr_tail()}")
            time.sleep(POLL_S)

    # --- probes -------------------------------------------------------------------

    def pss_kib(self):
        """Pss of the whole ksmvmm process, KiB (the host's accounting)."""
        with open(f"/proc/{self.proc.pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        raise FleetError(f"no Pss line in /proc/{self.proc.pid}/smaps_rollup")

    def rollup(self):
        """Every line of smaps_rollup, {key: KiB} (recorded at the end of a run)."""
        return smaps_rollup(self.proc.pid)

    def process_cpu(self):
        return proc_cpu_seconds(f"/proc/{self.proc.pid}/stat")

    def engine_thread_cpu(self):
        """CPU of the thread named ksm-engine (None if there is none: not --merge=vmm)."""
        if self.engine_tid is None:
            self.engine_tid = self._find_thread(ENGINE_THREAD)
            if self.engine_tid is None:
                return None
        try:
            return proc_cpu_seconds(f"/proc/{self.proc.pid}/task/{self.engine_tid}/stat")
        except FileNotFoundError:
            self.engine_tid = None  # the thread ended
            return None

    def _find_thread(self, comm):
        taskdir = f"/proc/{self.proc.pid}/task"
        for tid in os.listdir(taskdir):
            try:
                with open(f"{taskdir}/{tid}/comm") as f:
                    if f.read().strip() == comm:
                        return int(tid)
            except FileNotFoundError:
                continue  # a thread ended while we listed them
        return None

    def ksm_stat(self):
        """/proc/PID/ksm_stat as {key: int or text} (host KSM's per-process view)."""
        return ksm_stat(self.proc.pid)

    def ctl(self, *args, timeout_s=30):
        return subprocess.run([KSMCTL, "--control", self.control, *args],
                              capture_output=True, text=True, timeout=timeout_s)

    def stats(self):
        """`ksmctl stats --json` parsed, or None: before the control socket exists, or
        for good once the command failed (the reason is kept in stats_error)."""
        if self.stats_error or not os.path.exists(self.control):
            return None
        try:
            r = self.ctl("stats", "--json", timeout_s=10)
        except subprocess.TimeoutExpired:
            self.stats_error = "ksmctl stats --json timed out after 10 s"
            return None
        if r.returncode != 0:
            first = ((r.stderr or r.stdout).strip().splitlines() or ["(no output)"])[0]
            self.stats_error = f"ksmctl stats --json exited {r.returncode}: {first}"
            return None
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError as e:
            self.stats_error = f"ksmctl stats --json printed no JSON: {e}"
            return None

    def probe(self):
        """Each workload guest times its first store to up to 256 shared pages per vCPU
        (merged ones once merging converged): {guest: {samples, p50_ns, p99_ns, max_ns}}
        or {'error': text}. Run after measuring: it turns those pages private again."""
        r = self.ctl("probe", "--json", timeout_s=600)
        if r.returncode != 0:
            return {"error": (r.stderr or r.stdout).strip()[:200]}
        try:
            probes = json.loads(r.stdout).get("probes", [])
        except json.JSONDecodeError as e:
            return {"error": f"ksmctl probe printed no JSON: {e}"}
        return {p["name"]: p for p in probes if p.get("samples")}

    def verify(self):
        """Ask every guest to check its pages: {'ok': N, 'bad': N, 'output': text}."""
        r = self.ctl("verify", timeout_s=600)
        ok = sum(int(x) for x in re.findall(r"\bok=(\d+)", r.stdout))
        bad = sum(int(x) for x in re.findall(r"\bbad=(\d+)", r.stdout))
        return {"exit_status": r.returncode, "ok": ok, "bad": bad,
                "output": (r.stdout + r.stderr).strip()}

    def watcher(self, guest, window_ms, threshold_us):
        """A Watcher of one guest's stalls (see Watcher)."""
        return Watcher(self, guest, window_ms, threshold_us)

    # --- end ----------------------------------------------------------------------

    def stop(self):
        """End ksmvmm whatever state it is in: `ksmctl stop`, then SIGTERM, then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._try_ctl_stop()
        end_process(self.proc, 15)
        if self._reader:
            self._reader.join(timeout=5)
        if self._log:
            self._log.close()
            self._log = None

    def _try_ctl_stop(self):
        try:
            self.ctl("stop", timeout_s=10)
        except subprocess.TimeoutExpired:
            pass  # SIGTERM follows in stop()


class Watcher:
    """One guest watches for the stalls it notices (`ksmctl watch`), window after window,
    for as long as the run lasts: poll() collects a finished window and starts the next,
    finish() waits for the last. windows: the replies ({name, stalls, stall_ns, ...}) or
    {'error': text}."""

    def __init__(self, fl, guest, window_ms, threshold_us):
        self.fl, self.guest = fl, guest
        self.window_ms, self.threshold_us = window_ms, threshold_us
        self.proc = None
        self.windows = []

    def _start(self):
        self.proc = subprocess.Popen(
            [KSMCTL, "--control", self.fl.control, "--json", "watch", self.guest,
             str(self.window_ms), str(self.threshold_us)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def _collect(self):
        out, err = self.proc.communicate()
        self.proc = None
        try:
            reply = json.loads(out) if out.strip() else None
        except json.JSONDecodeError:
            reply = None
        if not isinstance(reply, dict) or not reply.get("ok"):
            reply = {"error": (err or out).strip()[:200] or "no reply"}
        self.windows.append(reply)

    def poll(self):
        if self.proc is None:
            self._start()
        elif self.proc.poll() is not None:
            self._collect()
            if "error" not in self.windows[-1]:
                self._start()

    def finish(self):
        if self.proc is not None:
            try:
                self.proc.wait(timeout=self.window_ms / 1000 + 60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self._collect()
        return self.windows


class NoWatcher:
    """What the sampler uses instead of a Watcher when no guest watches (--no-watch)."""

    def poll(self):
        pass

    def finish(self):
        return []
