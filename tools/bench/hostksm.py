"""hostksm.py - the host kernel's KSM (/sys/kernel/mm/ksm, ksmd): tune it, read it, put it back.

The benchmark changes only run, pages_to_scan and sleep_millisecs. It saves them once
(HostKsm.save) and HostKsm.restore writes them back after unmerging everything
(run=2), so the host is left as it was found: callers put restore in a finally block.
The saved values also go to a file until restored, so that a benchmark killed with
SIGKILL is repaired by the next one (HostKsm.recover).
"""
import json
import os

SYSFS = "/sys/kernel/mm/ksm"
TOUCHED = ("pages_to_scan", "sleep_millisecs", "run")  # restored in this order: run last
RUN_STOP, RUN_MERGE, RUN_UNMERGE = 0, 1, 2


class HostKsmError(Exception):
    """Host KSM is missing or a setting could not be written."""


def _read(name):
    with open(os.path.join(SYSFS, name)) as f:
        return f.read().strip()


def _write(name, value):
    path = os.path.join(SYSFS, name)
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as e:
        raise HostKsmError(f"cannot write {value} to {path}: {e.strerror}") from e


def snapshot():
    """Every readable file of /sys/kernel/mm/ksm as {name: text} (for the record)."""
    out = {}
    for name in sorted(os.listdir(SYSFS)):
        try:
            out[name] = _read(name)
        except OSError as e:
            out[name] = f"unreadable: {e.strerror}"
    return out


def counters():
    """The counters the benchmark samples, as integers."""
    return {k: int(_read(k)) for k in ("pages_sharing", "pages_shared", "full_scans",
                                       "pages_scanned", "ksm_zero_pages")
            if os.path.exists(os.path.join(SYSFS, k))}


def settings():
    """The settings the benchmark changes: what {run} (and, while running, the tuning)
    are now; compared with what a run expects, to notice other users of host KSM."""
    run = int(_read("run"))
    out = {"run": run}
    if run == RUN_MERGE:
        out.update(pages_to_scan=int(_read("pages_to_scan")),
                   sleep_millisecs=int(_read("sleep_millisecs")))
    return out


def cow_ksm():
    """Copy-on-write faults on KSM pages since boot (/proc/vmstat cow_ksm), or None."""
    with open("/proc/vmstat") as f:
        for line in f:
            key, _, val = line.partition(" ")
            if key == "cow_ksm":
                return int(val)
    return None


def ksmd_pid():
    """Pid of the ksmd kernel thread."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() == "ksmd":
                    return int(entry)
        except OSError:
            continue  # the process went away while we listed /proc
    raise HostKsmError("no ksmd thread: is the kernel built with CONFIG_KSM?")


class HostKsm:
    """Save, tune, run and restore host KSM."""

    def __init__(self, state_file):
        if not os.path.isdir(SYSFS):
            raise HostKsmError(f"{SYSFS} is missing: the kernel has no KSM")
        self.state_file = state_file
        self.saved = None

    def recover(self):
        """If an earlier benchmark died before restoring, restore what it saved.
        Returns those settings, or None."""
        try:
            with open(self.state_file) as f:
                self.saved = json.load(f)
        except FileNotFoundError:
            return None
        found = dict(self.saved)
        self.restore()
        return found

    def save(self):
        """Remember the settings we will change. Call once, before any change."""
        self.saved = {k: _read(k) for k in TOUCHED}
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        with open(self.state_file, "w") as f:
            json.dump(self.saved, f)
        return dict(self.saved)

    def stop(self):
        """ksmd idle (run=0), merged pages left as they are."""
        _write("run", RUN_STOP)

    def start(self, pages_to_scan, sleep_millisecs):
        """Tune ksmd and let it merge every MADV_MERGEABLE area."""
        _write("pages_to_scan", pages_to_scan)
        _write("sleep_millisecs", sleep_millisecs)
        _write("run", RUN_MERGE)

    def unmerge(self):
        """Break every KSM page (run=2) and leave ksmd stopped."""
        _write("run", RUN_UNMERGE)
        _write("run", RUN_STOP)

    def restore(self):
        """Unmerge, then write back every saved setting (run last). Idempotent."""
        if self.saved is None:
            return
        self.unmerge()
        for k in TOUCHED:
            _write(k, self.saved[k])
        self.saved = None
        if os.path.exists(self.state_file):
            os.unlink(self.state_file)
