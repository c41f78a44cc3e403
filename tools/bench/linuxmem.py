"""linuxmem.py - scenario 5: real Linux memory, from Debian guests booted under QEMU with TCG.

1. Boot N identical guests in QEMU (build/linux: Debian's kernel and the busybox
   initramfs), in parallel, and wait for KSMVMM-LINUX-READY on every serial log. Before
   the smoke-test /init, a small script of ours (rdinit=/bench-init, in a cpio archive
   appended to the initramfs; tools/initramfs-init is unchanged) does the same bit of
   work in every guest: files in the rootfs, gzip, sort, and 1 MiB of per-guest random
   state.
2. The reference a QEMU user gets today: QEMU marks guest RAM MADV_MERGEABLE, so host
   KSM at pages_to_scan=5000 sleep_millisecs=10 is started on the live guests once the
   QEMU processes' Pss held still; measured like a cold start of the other scenarios
   (the saving is the drop of the QEMU processes' summed Pss).
3. Each guest's RAM is saved over QMP (stop, pmemsave) to build/bench/linux-ram/gN.img;
   the images are reused while they are newer than the kernel and initramfs and were
   made with the same guests, command line and initramfs (--redump forces new ones).
4. bench.py then runs the usual modes on N workload guests whose RAM is those images
   (`ksmvmm run --ram-image`), and checks that every guest loaded its whole image.
"""
import gzip
import hashlib
import json
import os
import shlex
import statistics
import time

import figures
import fleet as fleetmod
import hostksm
import measure
import qemu
import shield

ROOT = fleetmod.ROOT
LINUX_DIR = os.path.join(ROOT, "build", "linux")
IMAGE_DIR = os.path.join(ROOT, "build", "bench", "linux-ram")
KERNEL = os.path.join(LINUX_DIR, "bzImage")
INITRD = os.path.join(LINUX_DIR, "initramfs.cpio.gz")
CMDLINE = "console=ttyS0 rdinit=/bench-init panic=-1"
DEFAULT_COUNT = 4
DEFAULT_MEM_MIB = 256
VMM_EXTRA_MIB = 16  # the workload guest's profile area starts 4 MiB into its RAM
BOOT_TIMEOUT_S = 300
PAGE = 4096
MIB = 1024.0
# Host KSM on live QEMU guests keeps saving in steps (transparent huge pages split and
# skipped pages retried scans later), so its saving must hold still longer than 3 s.
REFERENCE_MODE = measure.Mode("qemu-live", "host", (5000, 10), cold=True, timeout_s=240,
                              window_s=15.0)
SETTLE_MODE = measure.Mode("qemu-settle", "off", timeout_s=60, window_s=2.0)

# Runs as the guest's first process (rdinit=), then hands over to the smoke-test /init.
ACTIVITY = """#!/bin/busybox sh
# bench-init (tools/bench/linuxmem.py): the same small job in every guest before the
# smoke-test /init, so that its RAM holds page cache, heap and freed pages of a guest
# that ran something, plus 1 MiB of per-guest state.
bb=/bin/busybox
$bb mkdir -p /tmp/work /tmp/dev
cd /tmp/work || exit 1
$bb mknod /tmp/dev/urandom c 1 9
$bb tar -C / -cf rootfs.tar bin/busybox init
$bb gzip -9 -c rootfs.tar >rootfs.tar.gz
$bb gunzip -c rootfs.tar.gz | $bb md5sum >rootfs.md5
$bb seq 1 200000 | $bb sort -r | $bb tail -n 1000 >numbers.txt
$bb dd if=/tmp/dev/urandom of=state.bin bs=4096 count=256 2>/dev/null
$bb rm -f rootfs.tar
cd /
exec /init
"""


class LinuxMemError(Exception):
    """Scenario 5 cannot run: missing kernel, QEMU failure, bad images."""


# --- the guests' initramfs -----------------------------------------------------------

def newc_member(name, data, mode):
    """One member of a cpio archive in the kernel's "newc" format."""
    fields = (1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0)
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
    return _pad4(head) + _pad4(data)


def _pad4(data):
    return data + b"\0" * (-len(data) % 4)


def overlay_archive():
    """A gzipped cpio with /bench-init, to append to the initramfs (the kernel unpacks
    concatenated archives in order)."""
    cpio = newc_member("bench-init", ACTIVITY.encode(), 0o100755)
    cpio += newc_member("TRAILER!!!", b"", 0)
    return gzip.compress(cpio, mtime=0)


def build_initrd(workdir):
    """build/linux's initramfs + our overlay, written to @workdir; returns its path."""
    for path in (KERNEL, INITRD):
        if not os.path.exists(path):
            raise LinuxMemError(f"{path} is missing: run make build/linux/.done")
    with open(INITRD, "rb") as f:
        data = f.read() + overlay_archive()
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "initramfs-bench.cpio.gz")
    with open(path, "wb") as f:
        f.write(data)
    return path


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- images: where, fresh or not, what is in them -------------------------------------

def image_path(index):
    return os.path.join(IMAGE_DIR, f"g{index}.img")


def wanted_manifest(count, mem_mib, initrd):
    with open(os.path.join(LINUX_DIR, "kernel-package")) as f:
        package = f.read().strip()
    return {"count": count, "mem_mib": mem_mib, "cmdline": CMDLINE,
            "kernel_package": package, "initrd_sha256": _sha256(initrd)}


def stale_reason(want):
    """Why the images in IMAGE_DIR cannot be reused for @want (None: they can)."""
    try:
        with open(os.path.join(IMAGE_DIR, "manifest.json")) as f:
            have = json.load(f)
    except FileNotFoundError:
        return "no images yet"
    except (OSError, ValueError) as e:
        return f"unreadable manifest: {e}"
    diff = [k for k in want if have.get(k) != want[k]]
    if diff:
        return f"made with other {', '.join(diff)}"
    newest_input = max(os.path.getmtime(p) for p in (KERNEL, INITRD))
    for i in range(want["count"]):
        path = image_path(i)
        if not os.path.exists(path) or os.path.getsize(path) != want["mem_mib"] << 20:
            return f"{path} missing or of the wrong size"
        if os.path.getmtime(path) <= newest_input:
            return f"{path} is older than the kernel or initramfs"
    return None


def analyse_images(count):
    """Page-level content of the images: zero pages, distinct non-zero contents across
    the fleet, and the ideal saving (every zero page, every duplicate of a content)."""
    zero = bytes(PAGE)
    seen = set()
    per_image = []
    same_place = None
    for i in range(count):
        digests, nzero = [], 0
        with open(image_path(i), "rb") as f:
            for page in iter(lambda: f.read(PAGE), b""):
                if page == zero:
                    nzero += 1
                    digests.append(None)
                else:
                    digests.append(hashlib.blake2b(page, digest_size=16).digest())
        nonzero = [d for d in digests if d is not None]
        seen.update(nonzero)
        per_image.append({"pages": len(digests), "zero_pages": nzero,
                          "distinct_nonzero": len(set(nonzero))})
        same_place = (digests if same_place is None else
                      [a if a == b else None for a, b in zip(same_place, digests)])
    total = sum(p["pages"] for p in per_image)
    nzero = sum(p["zero_pages"] for p in per_image)
    return {"per_image": per_image, "pages": total, "zero_pages": nzero,
            "nonzero_pages": total - nzero, "distinct_nonzero_fleet": len(seen),
            "nonzero_in_every_guest_same_address": sum(d is not None for d in same_place),
            "ideal_saving_mib": (total - len(seen)) * PAGE / MIB / MIB,
            "ideal_saving_nonzero_mib": (total - nzero - len(seen)) * PAGE / MIB / MIB}


# --- the live QEMU guests -------------------------------------------------------------

def boot(rundir, count, mem_mib, initrd, binary):
    """Start @count QEMU guests at once; returns them (started, not yet READY)."""
    os.makedirs(rundir, exist_ok=True)
    guests = [qemu.LinuxGuest(rundir, f"q{i}", mem_mib, KERNEL, initrd, CMDLINE, binary)
              for i in range(count)]
    for g in guests:
        g.start()
    return guests


def wait_ready(guests, timeout_s=BOOT_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while not all(g.poll_ready() for g in guests):
        if time.monotonic() > deadline:
            late = [g for g in guests if g.t_ready is None]
            raise LinuxMemError(f"no KSMVMM-LINUX-READY from {[g.name for g in late]} "
                                f"after {timeout_s} s; {late[0].name}'s serial log ends:\n"
                                f"{late[0].serial_tail()}")
        time.sleep(qemu.POLL_S)


class LiveSampler:
    """Samples of the QEMU processes, shaped like measure's (so that figures.py applies):
    pss_kib and proc_cpu are sums over the guests."""

    def __init__(self, guests, ksmd_pid, t0):
        self.guests, self.t0 = guests, t0
        self.ksmd_stat = f"/proc/{ksmd_pid}/stat"
        self.samples = []
        self.others = {}
        self.ksm_changed = []
        self.expected = {"run": hostksm.RUN_STOP}

    def tick(self):
        for g in self.guests:
            g.check_alive()
        s = {"t": round(time.monotonic() - self.t0, 3),
             "pss_kib": sum(g.pss_kib() for g in self.guests),
             "proc_cpu": sum(g.cpu() for g in self.guests), "engine_thread_cpu": None,
             "ksmd_cpu": fleetmod.proc_cpu_seconds(self.ksmd_stat),
             "ksm": hostksm.counters(), "cow_ksm": hostksm.cow_ksm()}
        self.samples.append(s)
        if len(self.samples) % measure.OTHERS_EVERY == 1:
            self.others.update(fleetmod.other_ksmvmm())
            now = hostksm.settings()
            if now != self.expected and (not self.ksm_changed or
                                         self.ksm_changed[-1][1] != now):
                self.ksm_changed.append([s["t"], now])
        return s

    def until(self, done, timeout_s):
        """Sample every SAMPLE_S until done(samples since the call) or timeout; returns
        (those samples, done)."""
        start = len(self.samples)
        t_end = time.monotonic() + timeout_s
        next_t = time.monotonic()
        while True:
            self.tick()
            if done(self.samples[start:]):
                return self.samples[start:], True
            if time.monotonic() > t_end:
                return self.samples[start:], False
            next_t += measure.SAMPLE_S
            time.sleep(max(0.0, next_t - time.monotonic()))


def measure_live(guests, ctx, t0, busy0, bench0):
    """Host KSM at 5000/10 on the live QEMU guests, from a cold start once their Pss held
    still. Returns a run record shaped like measure.run's (host mode, cold)."""
    mode = REFERENCE_MODE
    sp = LiveSampler(guests, ctx["ksmd"], t0)
    load_at_start = os.getloadavg()
    before, still = sp.until(lambda post: measure.settled(post, None, SETTLE_MODE),
                             SETTLE_MODE.timeout_s)
    tail = [s["pss_kib"] for s in before if s["t"] >= before[-1]["t"] - SETTLE_MODE.window_s]
    baseline_kib = statistics.median(tail)
    ksmd_at_start = fleetmod.proc_cpu_seconds(sp.ksmd_stat)
    t_start = round(time.monotonic() - t0, 3)
    ctx["host"].start(*mode.ksm)
    sp.expected = {"run": hostksm.RUN_MERGE, "pages_to_scan": mode.ksm[0],
                   "sleep_millisecs": mode.ksm[1]}
    post, converged = sp.until(lambda p: measure.settled(p, baseline_kib, mode),
                               mode.timeout_s)
    ksm_stats = [g.ksm_stat() for g in guests]
    load_at_end = os.getloadavg()
    rec = {"mode": mode.name, "merge": "host", "cold": True, "describe":
           "QEMU/TCG guests, host KSM pages_to_scan=5000 sleep_millisecs=10 from a cold start",
           "host_ksm": mode.ksm, "window_s": mode.window_s, "timeout_s": mode.timeout_s,
           "argv": guests[0].argv, "converged": converged, "t_ready": t_start,
           "merge_start_t": t_start, "ksmd_cpu_at_start": ksmd_at_start,
           "last_guest_ready_t": round(max(g.t_ready for g in guests) - t0, 3),
           "ready_times": {g.name: round(g.t_ready - t0, 3) for g in guests},
           "pss_settled_before_start": still, "baseline_pss_kib": baseline_kib,
           "pages_filled": {},
           "end": {"proc_ksm_stat": {k: sum(s.get(k, 0) for s in ksm_stats)
                                     for k in ("ksm_rmap_items", "ksm_merging_pages")},
                   "proc_ksm_stat_per_guest": ksm_stats,
                   "smaps_rollup_kib": [g.rollup() for g in guests],
                   "ksm_sysfs": hostksm.snapshot()},
           "loadavg_at_start": load_at_start, "loadavg_at_end": load_at_end,
           "samples": sp.samples, "others_during_run": sp.others,
           "host_ksm_changed_by_others": sp.ksm_changed,
           "other_load_cores": measure._other_load(sp.samples, busy0, bench0,
                                                   time.monotonic() - t0)}
    rec["disturbed"] = measure.disturbances(rec)
    return rec


def dump_all(guests, want):
    """Save every guest's RAM to IMAGE_DIR and write the manifest last."""
    os.makedirs(IMAGE_DIR, exist_ok=True)
    manifest = os.path.join(IMAGE_DIR, "manifest.json")
    if os.path.exists(manifest):
        os.unlink(manifest)  # images being replaced are not reusable until it is back
    how = set()
    t = time.monotonic()
    for i, g in enumerate(guests):
        how.add(g.dump_ram(image_path(i)))
    with open(manifest, "w") as f:
        json.dump({**want, "dumped_by": sorted(how)}, f, indent=1)
    return {"dumped_by": sorted(how), "dump_s": round(time.monotonic() - t, 2)}


def live_phase(ctx, opts, initrd, want, dump):
    """Boot, measure host KSM on the live guests (unless its mode is deselected), dump
    their RAM if @dump; QEMU is always ended and host KSM unmerged."""
    binary = qemu.ensure_installed()
    rundir = os.path.join(ctx["rundir"], "s5-qemu")
    measure_it = not ctx["modes"] or REFERENCE_MODE.name in ctx["modes"]
    out = {"qemu": binary, "qemu_argv": None, "reference": None}
    if measure_it:
        measure.wait_quiet()
    ctx["host"].stop()
    t0, busy0, bench0 = time.monotonic(), fleetmod.host_busy_seconds(), measure.bench_cpu()
    guests = boot(rundir, opts["count"], opts["mem_mib"], initrd, binary)
    out["qemu_argv"] = guests[0].argv
    try:
        wait_ready(guests)
        out["boot_s"] = {g.name: round(g.t_ready - g.t_start, 2) for g in guests}
        print(f"   {len(guests)} QEMU guests READY after "
              f"{max(out['boot_s'].values()):.1f} s", flush=True)
        if measure_it:
            print("== scenario 5: host KSM 5000/10 on the live QEMU guests", flush=True)
            rec = out["reference"] = measure_live(guests, ctx, t0, busy0, bench0)
            last = rec["samples"][-1]
            print(f"   Pss {rec['baseline_pss_kib'] / MIB:.1f} -> {last['pss_kib'] / MIB:.1f} MiB "
                  f"after {last['t'] - rec['t_ready']:.1f} s, converged {rec['converged']}"
                  + (f"; disturbed: {'; '.join(rec['disturbed'])}" if rec["disturbed"] else ""),
                  flush=True)
        if dump:
            out.update(dump_all(guests, want))
    finally:
        with shield.shielded():
            for g in guests:
                g.quit()
            ctx["host"].unmerge()
    return out


# --- what bench.py calls ---------------------------------------------------------------

def prepare(ctx, opts):
    """Everything before our VMM's runs: initramfs, live QEMU guests (reference, dumps),
    image analysis. Returns the record scenario() and attach() use."""
    workdir = os.path.join(ROOT, "build", "bench", "linux-initrd")
    initrd = build_initrd(workdir)
    want = wanted_manifest(opts["count"], opts["mem_mib"], initrd)
    reason = "--redump" if opts["redump"] else stale_reason(want)
    print(f"   RAM images in {os.path.relpath(IMAGE_DIR, ROOT)}: "
          f"{'dumping anew (' + reason + ')' if reason else 'reused'}", flush=True)
    need_live = reason or not ctx["modes"] or REFERENCE_MODE.name in ctx["modes"]
    prep = {"opts": opts, "cmdline": CMDLINE, "initrd": initrd, "activity": ACTIVITY,
            "images_dumped": bool(reason), "images_stale_reason": reason}
    if need_live:
        prep.update(live_phase(ctx, opts, initrd, want, dump=bool(reason)))
    if reason and stale_reason(want):
        raise LinuxMemError(f"the RAM images are still not usable: {stale_reason(want)}")
    t = time.monotonic()
    prep["images"] = analyse_images(opts["count"])
    prep["images"]["analysis_s"] = round(time.monotonic() - t, 1)
    return prep


def image_mib(prep):
    return prep["opts"]["mem_mib"]


def loaded_check(prep):
    """A check of each run: every guest said it loaded the whole image."""
    want = image_mib(prep)

    def check(rec):
        got = rec.get("ram_image_loaded_mib", {})
        short = {g: mib for g, mib in got.items() if mib != want}
        if len(got) != prep["opts"]["count"] or short:
            return (f"RAM images not loaded whole: {got or 'no loaded line'} "
                    f"(want {want} MiB for each of {prep['opts']['count']} guests)")
        return None
    return check


def scenario(prep):
    """The scenario record for bench.run_scenario: N workload guests on the images."""
    o, im = prep["opts"], prep["images"]
    return {"id": 5, "count": o["count"], "mem": f"{o['mem_mib'] + VMM_EXTRA_MIB}M",
            "title": f"real Linux memory: {o['count']} Debian guests booted under QEMU/TCG "
                     f"({o['mem_mib']} MiB each), their RAM loaded into workload guests",
            "profile": "shared=0,zero=0",
            "profile_label": f"RAM images {os.path.relpath(IMAGE_DIR, ROOT)}/g%d.img, "
                             f"{o['mem_mib']} MiB each",
            "extra_args": ("--ram-image", os.path.join(IMAGE_DIR, "g%d.img")),
            "ideal_saving_mib": im["ideal_saving_mib"], "check_run": loaded_check(prep)}


def reference_record(prep):
    """What the scenario's JSON keeps of the live phase (samples included)."""
    keep = ("qemu", "qemu_argv", "boot_s", "cmdline", "activity", "images_dumped",
            "images_stale_reason", "dumped_by", "dump_s")
    return {k: prep.get(k) for k in keep}


def qemu_command(argv):
    """The QEMU command line for the report, paths relative to the source tree."""
    return " ".join(shlex.quote(a.replace(ROOT + "/", "")) for a in argv)


def attach(out, prep):
    """Put the live phase, the image analysis and the reference's figures into the
    scenario's result record @out."""
    o = prep["opts"]
    out["linux"] = reference_record(prep)
    out["ram_images"] = prep["images"]
    out["qemu_guest_ram_mib"] = o["count"] * o["mem_mib"]
    if prep.get("reference"):
        out["qemu_reference"] = {"run": prep["reference"]}
    reference_figures(out)


def reference_figures(out):
    """Figures of the live-QEMU run (same definitions as every run: figures.py) and the
    ratios of ours to it; also called again by bench.py --render."""
    if out.get("linux", {}).get("qemu_argv"):
        out["linux"]["qemu_command"] = qemu_command(out["linux"]["qemu_argv"])
    ref = out.get("qemu_reference")
    if not ref:
        return
    rec = ref["run"]
    fig = figures.run_figures(rec, rec["baseline_pss_kib"], out["qemu_guest_ram_mib"], None)
    fig["fill_time_s"] = rec["last_guest_ready_t"]  # launch to the last guest's READY
    merging = rec["end"]["proc_ksm_stat"].get("ksm_merging_pages")
    fig["ksm_merging_pages_mib"] = None if merging is None else merging * PAGE / MIB / MIB
    ref["figures"] = fig
    ours = out.get("figures", {})
    ref["ratios"] = {m: figures.ratios(ours[m], fig) for m in ("vmm-cold", "vmm")
                     if m in ours}
    ref["targets"] = figures.targets(ours["vmm-cold"], fig) if "vmm-cold" in ours else {}
