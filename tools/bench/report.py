"""report.py - the benchmark's tables (terminal, docs/performance.md, build/bench/quick.md)
from a results file."""
import clonereport
import figures

# Figures are grouped by when the mergers start; each group compares ours with host KSM
# tuned (5000/10) and at its defaults (100/20): (key, title, (ours, tuned, default)).
GROUPS = (
    ("from_launch", "mergers on from launch, as in production",
     ("vmm", "host-tuned", "host-default")),
    ("from_ready", "mergers started at the last READY (cold start on static content)",
     ("vmm-cold", "host-tuned-cold", "host-default-cold")),
    ("busy_guest", "mergers on from launch, guest g0 busy from the last READY on (reading "
     "its memory and timing every stall it notices; the guest-measured rows above come "
     "from these runs)", ("vmm-watch", "host-tuned-watch", "host-default-watch")),
)
MODE_LABELS = ("ours", "host 5000/10", "host 100/20")
RATIO_COLUMNS = (("vs_host_tuned", "ours/host 5000/10"), ("vs_host_default", "ours/host 100/20"))

# (label, figure key, format); format None: text as is.
ROWS = (
    ("final saving, MiB", "final_saving_mib", "{:.1f}"),
    ("final saving, % of guest RAM", "final_saving_pct", "{:.1f}"),
    ("final saving, % of profile ideal", "pct_of_ideal", "{:.1f}"),
    ("host KSM metadata in kernel slab, not in Pss (est.), MiB", "kernel_metadata_mib_est",
     "{:.1f}"),
    ("kernel slab growth beyond the baseline's (measured), MiB",
     "kernel_slab_vs_baseline_mib", "{:.1f}"),
    ("final saving net of that slab growth, MiB", "net_saving_mib", "{:.1f}"),
    ("fill: launch to last READY, s", "fill_time_s", "{:.2f}"),
    ("saving at last READY, MiB", "saving_at_ready_mib", "{:.1f}"),
    ("time to 50% of final, s", "t50_s", "{:.2f}"),
    ("time to 90% of final, s", "t90_s", "{:.2f}"),
    ("time to 99% of final, s", "t99_s", "{:.2f}"),
    ("merge CPU to 90%, s", "merge_cpu_to_t90_s", "{:.2f}"),
    ("merge CPU to 99%, s", "merge_cpu_to_t99_s", "{:.2f}"),
    ("merge CPU per MiB saved, ms", "merge_cpu_ms_per_mib", "{:.2f}"),
    ("MiB saved per merge CPU-s", "mib_per_merge_cpu_s", "{:.0f}"),
    ("merge CPU after READY, % of a core", "merge_cpu_after_ready_pct", "{:.1f}"),
    ("ksmvmm process CPU after READY, % of a core", "process_cpu_after_ready_pct", "{:.1f}"),
    ("seconds measured after READY", "measured_after_ready_s", "{:.1f}"),
    ("guest-measured stall p50, us", "guest_stall_p50_us", "{:.0f}"),
    ("guest-measured stall p99, us", "guest_stall_p99_us", "{:.0f}"),
    ("guest-measured stall max, us", "guest_stall_max_us", "{:.0f}"),
    ("guest-measured stalls per second", "guest_stalls_per_s", "{:.0f}"),
    ("guest-measured time stalled, %", "guest_stalled_pct", "{:.2f}"),
    ("engine: merge pause p50, us", "stall_p50_us", "{:.0f}"),
    ("engine: merge pause p99, us", "stall_p99_us", "{:.0f}"),
    ("engine: merge pause max, us", "stall_max_us", "{:.0f}"),
    ("time to park vCPUs p99, us (pause_us)", "pause_p99_us", "{:.0f}"),
    ("time to park vCPUs max, us (pause_us)", "pause_max_us", "{:.0f}"),
    ("guest first write to merged page p50, us", "first_write_cost_us", "{:.1f}"),
    ("guest first write to merged page p99, us", "first_write_p99_us", "{:.1f}"),
    ("copy-on-write breaks after READY (host: system-wide)", "cow_breaks_after_ready",
     "{:.0f}"),
    ("merges after READY", "merges_after_ready", "{:.0f}"),
    ("verify: bad pages", "verify_bad", "{:.0f}"),
    ("converged (else timed out)", "converged", None),
    ("CPUs kept busy by other processes", "other_load_cores", "{:.2f}"),
    ("disturbed (see notes)", "disturbed", None),
)
NA = "-"


def fmt(value, spec):
    if value is None:
        return NA
    if spec is None or isinstance(value, bool):
        return "yes" if value is True else "no" if value is False else str(value)
    return spec.format(value)


def _cells(scn, group, key, spec):
    gkey, _, modes = group
    figs, rats = scn.get("figures", {}), scn.get("ratios", {}).get(gkey, {})
    row = [fmt(figs.get(m, {}).get(key), spec) for m in modes]
    for r, _ in RATIO_COLUMNS:
        row.append(fmt(rats.get(r, {}).get(key), "{:.2f}"))
    return row


def table_rows(scn, group):
    header = ["figure"] + list(MODE_LABELS) + [c for _, c in RATIO_COLUMNS]
    rows = [[label] + _cells(scn, group, key, spec) for label, key, spec in ROWS]
    return header, rows


def groups_run(scn):
    """The groups of which at least one mode ran (or failed)."""
    done = set(scn.get("figures", {})) | set(scn.get("errors", {}))
    return [g for g in GROUPS if done & set(g[2])]


def scenario_title(scn):
    base = scn.get("baseline_pss_mib")
    what = scn.get("profile_label") or f"profile {scn['profile']}"
    return (f"scenario {scn['id']}: {scn['count']} x {scn['mem']}, {what} "
            f"(guest RAM {scn['guest_ram_mib']:.0f} MiB; --merge=off baseline Pss "
            f"{fmt(base, '{:.1f}')} MiB, filled in "
            f"{fmt(scn.get('baseline_fill_time_s'), '{:.1f}')} s)")


def floor_line(scn):
    """The guest-measured stalls of the --merge=off baseline: what the host alone costs."""
    f = scn.get("baseline_guest_stall") or {}
    if f.get("guest_stall_p99_us") is None:
        return None
    return (f"Guest-measured stalls without any merging (the --merge=off baseline, the "
            f"floor): p50 {f['guest_stall_p50_us']:.0f} us, p99 {f['guest_stall_p99_us']:.0f}"
            f" us, max {f['guest_stall_max_us']:.0f} us, {f['guest_stalls_per_s']:.0f} per "
            f"second, {f['guest_stalled_pct']:.2f}% of the time.")


def target_lines(scn, gkey):
    out = []
    for name, t in scn.get("targets", {}).get(gkey, {}).items():
        met = {True: "MET", False: "NOT MET", None: f"not measured ({t.get('why')})"}[t["met"]]
        out.append(f"{name}: {fmt(t['value'], '{:.3f}')} (target {t['target']}) -> {met}")
    return out


def _text_grid(header, rows):
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))
    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def text_table(scn):
    out = [scenario_title(scn)]
    for group in groups_run(scn):
        header, rows = table_rows(scn, group)
        out += ["", f"[{group[1]}]"] + _text_grid(header, rows)
        out += ["  targets vs host KSM 5000/10: " + t for t in target_lines(scn, group[0])]
    out += [f"  error in {m}: {e}" for m, e in scn.get("errors", {}).items()]
    if floor_line(scn):
        out.append(floor_line(scn))
    return "\n".join(out)


def md_table(scn, group):
    return md_grid(*table_rows(scn, group))


def md_grid(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def md_machine(m):
    keys = ("cpu_model", "nproc", "mem_total_mib", "kernel", "kvm", "max_map_count",
            "git_commit")
    return ["| " + k + " | " + str(m.get(k)) + " |" for k in keys]


def md_scenario(scn):
    out = [f"## Scenario {scn['id']}: {scn['title']}", "", scenario_title(scn) + ".", ""]
    if scn.get("produced"):
        p = scn["produced"]
        out += [f"From an earlier run: `{p.get('label')}` (`{p.get('command')}`, commit "
                f"{p.get('git_commit')}), {p.get('started')} to {p.get('finished')}.", ""]
    if "linux" in scn:
        out += [LINUX_METHOD, ""] + ["- " + line for line in linux_lines(scn)] + [""]
    if floor_line(scn):
        out += [floor_line(scn), ""]
    for group in groups_run(scn):
        out += [f"### {group[1][0].upper()}{group[1][1:]}", ""] + md_table(scn, group) + [""]
        tl = target_lines(scn, group[0])
        if tl:
            out += ["Targets against host KSM at 5000/10:", ""] + ["- " + t for t in tl] + [""]
    if scn.get("qemu_reference"):
        out += [f"### {REFERENCE_TITLE}", ""] + md_grid(*reference_rows(scn)) + [""]
        tl = reference_target_lines(scn)
        out += ["Targets of ours (cold) against the live QEMU guests with host KSM at "
                "5000/10:", ""] + ["- " + t for t in tl] + [""]
    for m, e in scn.get("errors", {}).items():
        out.append(f"- **{m} failed**: `{e}`")
    return out + [""]


# --- scenario 5: real Linux memory and the live-QEMU reference -----------------------

LINUX_METHOD = """Scenario 5 boots the Linux guests of `make test-linux` (Debian's kernel, busybox
initramfs, no disk, no network) under QEMU with TCG, all at once, each with `-m` of the
image size and one vCPU. A script appended to the initramfs (`rdinit=/bench-init`, see
`tools/bench/linuxmem.py`) does the same small job in every guest before the usual `/init`
(files in the rootfs, gzip, sort, 1 MiB of per-guest random state). Then:
(1) the reference a QEMU user gets today: QEMU marks guest RAM `MADV_MERGEABLE`, so host
KSM at 5000/10 is started on the live guests once the summed Pss of the QEMU processes
held still for 2 s, and measured like a cold start (saving = drop of that Pss; times
from the moment ksmd was started), except that its saving must hold still for 15 s, not
3 s, to count as converged: on live QEMU guests it keeps falling in steps for a while
(huge pages split, pages ksmd skipped retried some scans later); (2) each guest is
stopped and its RAM (guest-physical 0 to its size: all RAM, below QEMU's 32-bit hole)
saved over QMP (`pmemsave`) to `build/bench/linux-ram/gN.img`, reused while newer than
the kernel and initramfs (`--redump` forces new dumps); (3) the modes above run on
workload guests whose profile pages are those images (`ksmvmm run --ram-image`, RAM =
image + 16 MiB, every run checks ksmvmm said it loaded each whole image; `ksmctl verify`
compares every page with the checksum the guest took at start). Ours loads every page of
an image, zero pages included, while a QEMU guest's never-touched RAM costs nothing: the
Pss rows of the reference table compare what each fleet costs before and after merging."""

REFERENCE_TITLE = ("Reference: host KSM on the live QEMU guests (what a QEMU user gets "
                   "today) vs ours on their RAM, both cold starts")
REFERENCE_MODES = ("qemu-live", "vmm-cold", "host-tuned-cold")
REFERENCE_LABELS = ("QEMU live, host 5000/10", "ours on the dumps", "host 5000/10 on the dumps",
                    "ours/QEMU live")
REFERENCE_RELABEL = {
    "pct_of_ideal": "final saving, % of the images' ideal",
    "fill_time_s": "launch to last READY (QEMU: the Linux boot), s",
    "t50_s": "time to 50% of final (from the merger's start), s",
}
REFERENCE_ROWS = (
    ("Pss of the guests' processes before merging, MiB", "pss_before_mib", "{:.1f}"),
    ("Pss after merging, MiB", "pss_after_mib", "{:.1f}"),
) + tuple((REFERENCE_RELABEL.get(r[1], r[0]),) + r[1:] for r in ROWS if r[1] in (
    "final_saving_mib", "final_saving_pct", "pct_of_ideal", "kernel_metadata_mib_est",
    "fill_time_s", "t50_s", "t90_s", "t99_s", "merge_cpu_to_t90_s", "merge_cpu_to_t99_s",
    "merge_cpu_ms_per_mib", "mib_per_merge_cpu_s", "merge_cpu_after_ready_pct",
    "measured_after_ready_s", "guest_stall_p99_us", "stall_p99_us", "stall_max_us",
    "verify_bad", "converged",
    "other_load_cores", "disturbed")) + (
    ("host KSM: pages of the processes merged (ksm_merging_pages), MiB",
     "ksm_merging_pages_mib", "{:.1f}"),
    ("host KSM: pages_sharing at the end (whole host), MiB", "pages_sharing_mib", "{:.1f}"),
    ("host KSM: full scans after start", "full_scans_after_ready", "{:.0f}"),
)


def reference_rows(scn):
    """(header, rows) of the reference table: QEMU live vs ours and host KSM on the dumps."""
    ref = scn["qemu_reference"]
    figs = {**scn.get("figures", {}), "qemu-live": ref.get("figures", {})}
    ratio = ref.get("ratios", {}).get("vmm-cold", {})
    rows = []
    for label, key, spec in REFERENCE_ROWS:
        cells = [fmt(_ref_value(figs.get(m, {}), key), spec) for m in REFERENCE_MODES]
        rows.append([label] + cells + [fmt(ratio.get(key), "{:.2f}")])
    return ["figure"] + list(REFERENCE_LABELS), rows


def _ref_value(fig, key):
    if key == "pages_sharing_mib":
        pages = fig.get("pages_sharing_end")
        return None if pages is None else _pages_mib(pages)
    return fig.get(key)


def reference_target_lines(scn):
    return target_lines({"targets": {"ref": scn["qemu_reference"].get("targets", {})}}, "ref")


def _pages_mib(pages):
    return pages * 4 / 1024


def linux_lines(scn):
    """The Linux guests and their RAM images, in a few lines."""
    lx, im = scn["linux"], scn.get("ram_images") or {}
    mib = _pages_mib
    out = [f"QEMU: `{lx.get('qemu_command') or '(not started: images reused)'}`"]
    if lx.get("boot_s"):
        out.append("boot to KSMVMM-LINUX-READY, s: " +
                   ", ".join(f"{g} {t:.1f}" for g, t in lx["boot_s"].items()))
    out.append("RAM images: " + (f"dumped in this run ({lx.get('images_stale_reason')}) by "
                                 f"{', '.join(lx.get('dumped_by') or [])} in "
                                 f"{fmt(lx.get('dump_s'), '{:.1f}')} s"
                                 if lx.get("images_dumped") else "reused from an earlier run"))
    if im:
        out.append(f"image content: {mib(im['pages']):.0f} MiB in all, zero pages "
                   f"{mib(im['zero_pages']):.1f} MiB, non-zero {mib(im['nonzero_pages']):.1f} "
                   f"MiB of which {mib(im['distinct_nonzero_fleet']):.1f} MiB distinct across "
                   f"the fleet; non-zero pages identical at the same address in every guest "
                   f"{mib(im['nonzero_in_every_guest_same_address']):.1f} MiB")
        out.append(f"ideal saving on the images: {im['ideal_saving_mib']:.1f} MiB (every zero "
                   f"page and every duplicate; duplicates of non-zero pages alone "
                   f"{im['ideal_saving_nonzero_mib']:.1f} MiB)")
    return out


def reference_text(scn):
    """The scenario-5 extras for the terminal."""
    out = [f"scenario {scn['id']} images:"] + ["  " + line for line in linux_lines(scn)]
    if scn.get("qemu_reference"):
        out += ["", f"[{REFERENCE_TITLE}]"] + _text_grid(*reference_rows(scn))
        out += ["  targets vs QEMU live: " + t for t in reference_target_lines(scn)]
    return "\n".join(out)


METHOD = """## How it is measured

- Each scenario runs the same fleet (`ksmvmm run --guest workload`, same profile and seed)
  with `--merge=off` (the baseline), `--merge=vmm` (ours), `--merge=host` with host KSM
  at `pages_to_scan=5000 sleep_millisecs=10`, and at the defaults
  `pages_to_scan=100 sleep_millisecs=20`; each merger on from launch and from the last
  READY, and ours and host KSM at 5000/10 once more with a busy guest (below). Host KSM
  is stopped during the other runs, unmerged (`run=2`) after each host run, and its
  settings are restored at the end.
- **Saving** is judged by the host: Pss of the ksmvmm process (`/proc/PID/smaps_rollup`)
  of the baseline minus Pss of the run, sampled every 100 ms. The final saving is the
  median over the run's last 3 s. A run ends once the saving held still (within
  max(2 MiB, 1%)) for 3 s *and* the merger went over everything again since it last
  changed (ksmd: a full scan since then and three since READY, as ksmd merges a page in
  the second scan that sees its final content; ours: two passes when its stats are
  readable); otherwise at its timeout (row "converged").
- Two groups of runs: mergers **on from launch** (production: both work while the
  guests fill their memory, so both may be done by READY) and mergers **started at the
  last READY** (a cold start on content that no longer changes; the issue's reference
  figure for host KSM is of this kind). For ours, the cold start launches the engine
  with `--ksm-interval-ms 60000 --ksm-scan-rate 1` (its pass at launch hashes a page or
  two, then it sleeps) and wakes it at READY with `ksmctl set scan_rate 0` and
  `ksmctl set interval_ms 100`; the row "saving at last READY" shows what that first
  pass already merged. For host KSM, `run=1` is written at READY.
- **Time to X%** counts from the last guest's READY (ksmvmm's stderr line `gN: ready`)
  to the moment the saving reached X% of the final saving, interpolated linearly
  between the two 100 ms samples around it; about 0 means it was there at READY (a
  merger on from launch may finish while the guests fill).
- **Merge CPU** counts from the moment the merger starts (the fleet's launch, or READY
  for a cold start): ksmd's utime+stime for host KSM; for ours
  `engine.cpu_seconds` from `ksmctl stats --json` or, when that is unavailable, the
  `ksm-engine` thread's utime+stime from /proc (see `merge_cpu_source` in the JSON).
  CPU per MiB = merge CPU until 99% of the final saving / final saving. The whole ksmvmm
  process CPU is shown too (it includes the vCPU threads and, for ours, the merges' pauses).
- **Guest-measured stall**: in two more runs per scenario, ours and host KSM at 5000/10
  from launch (`vmm-watch`, `host-tuned-watch`; and in the --merge=off baseline, which
  gives the floor the host alone causes), guest g0 is busy from the last READY to the
  end of the run: it reads its own pages in a loop and times each read with the TSC
  (`ksmctl watch g0 2000 20`, window after window). Every gap above 20 us between two
  reads is a stall it noticed: its vCPU parked by our engine, a fault on a page that was
  remapped under it (ours and host KSM both cause those: a merged page must be mapped
  again), or the host preempting the vCPU. p50 / p99 / max are over all stalls of the
  run. These runs are separate because a running guest changes the mergers' times:
  every merge of one of its pages must reach its vCPU (ours parks it; host KSM's
  page-table changes make KVM drop the running vCPU's mappings of those pages), so
  their own table shows both mergers with a busy guest; in the other tables no guest
  watches (after READY the guests only wait, or, in scenario 4, keep rewriting pages).
- **Engine: merge pause** is how long our engine kept a guest's vCPUs parked per batch
  (`engine.stall_us`), as the engine measures it; host KSM parks nothing.
- `make bench-quick` stops host KSM at its defaults 110 s after READY (it needs about
  three full scans of ~52 s each to converge), so that column is usually "not
  converged" there and its final saving a lower bound; `make bench` waits up to 360 s.
- Pss charges our engine's bookkeeping (per-page state, hash index: user memory of the
  ksmvmm process) against our saving; host KSM's bookkeeping (one 64-byte `rmap_item`
  per scanned page, stable and unstable tree nodes) lives in kernel slab and is not in
  any process's Pss. The row "host KSM metadata" estimates it as
  `ksm_rmap_items` (/proc/PID/ksm_stat) x 64 bytes, for comparison. It is also
  measured: `Slab` of /proc/meminfo at the end of a run minus at its launch, minus the
  same growth in the --merge=off baseline run ("kernel slab growth beyond the
  baseline's"; the machine's other activity makes it a few MiB noisy). "Final saving
  net of that slab growth" subtracts it, for ours and host KSM alike; the target row
  "final_saving" uses the Pss saving alone.
- Copy-on-write breaks: ours from `engine.cow_breaks`; host KSM's from `cow_ksm` in
  /proc/vmstat, which counts every process of the machine (and a `run=2` unmerge).
- The machine is shared: other processes' CPU use during each run is measured from
  /proc/stat and shown; a run is marked disturbed when they kept more than 0.25 CPU
  busy, when other ksmvmm processes ran, or when someone else changed host KSM's
  settings (such a host-mode run is invalid and measured again once).
- Ratios are ours/host: below 1 is better for times and CPU, above 1 for saving and
  MiB per CPU-s.
- What each target writes: `make bench` (`bench.py --publish`, all five scenarios)
  keeps its results in `build/bench/full.json` while it runs and, only once every
  scenario ran without an error, replaces `docs/bench/results.json` (every raw sample,
  tracked) and this file, rendered from it, each through a temporary file and a rename.
  A run that fails or is interrupted leaves both as they were; its results stay in
  `build/bench/full.json` and `full.md`. `make bench-quick` writes only
  `build/bench/quick.json` and `build/bench/quick.md` (its report, with the published
  run's scenario 1 beside its own) and never a tracked file; other `bench.py` runs write
  `build/bench/results.json` and `report.md`. `bench.py --render FILE --doc PATH`
  renders a report from a results file.
"""


def run_line(res):
    """How and when the run of @res was made."""
    how = f"`{res['command']}`"
    if res.get("label") and res["label"] != res["command"]:
        how = f"`{res['label']}`, which ran {how}"
    return f"{how} on {res['started']} (finished {res.get('finished', '?')})"


def produced_by(res):
    aborted = f" **Aborted: {res['aborted']}**" if res.get("aborted") else ""
    return f"Produced by {run_line(res)}.{aborted}"


SUMMARY_COLUMNS = (
    ("time to 90%, s: ours / host", "t90_s", "{:.2f}"),
    ("merge CPU per MiB, ms: ours / host", "merge_cpu_ms_per_mib", "{:.2f}"),
    ("saving (Pss), MiB: ours / host", "final_saving_mib", "{:.1f}"),
    ("saving net of kernel slab, MiB: ours / host", "net_saving_mib", "{:.1f}"),
    ("guest-measured stall p99, us: ours / host", "guest_stall_p99_us", "{:.0f}"),
)


def md_summary(res):
    """One row per scenario and start, ours against host KSM at 5000/10."""
    header = ["scenario", "mergers"] + [c[0] for c in SUMMARY_COLUMNS]
    rows = []
    for scn in res["scenarios"]:
        figs = scn.get("figures", {})
        for gkey, title, (ours, tuned, _) in GROUPS[:2]:
            if ours not in figs or tuned not in figs:
                continue
            cells = [f"{fmt(figs[ours].get(k), f)} / {fmt(figs[tuned].get(k), f)}"
                     for _, k, f in SUMMARY_COLUMNS]
            rows.append([str(scn["id"]), "from launch" if gkey == "from_launch" else
                         "from READY"] + cells)
    if not rows:
        return []
    return (["## Summary against host KSM at 5000/10", "",
             "Details, ratios and the targets per scenario below; the guest-measured "
             "stall comes from the runs where guest g0 is busy (from launch).", ""] +
            md_grid(header, rows))


COMPARE_MODES = (("ours", 0), ("host 5000/10", 1))


def md_comparison(res, pub, why_not):
    """This run's figures beside those of the published run @pub, scenario by scenario
    (bench-quick's report); @why_not says why there is no @pub."""
    out = ["## Against the published full run", ""]
    if not pub:
        return out + [f"Nothing to compare with: {why_not}.", ""]
    out += [f"Each cell: this run / the published run ({run_line(pub)}, commit "
            f"{pub.get('machine', {}).get('git_commit')}).", ""]
    header = ["scenario", "mergers", "merger"] + [c[0].split(":")[0] for c in SUMMARY_COLUMNS]
    published = {scn["id"]: scn.get("figures", {}) for scn in pub.get("scenarios", [])}
    rows = []
    for scn in res["scenarios"]:
        old = published.get(scn["id"], {})
        for gkey, _, modes in GROUPS[:2]:
            for label, i in COMPARE_MODES:
                new_fig, old_fig = scn.get("figures", {}).get(modes[i]), old.get(modes[i])
                if new_fig is None and old_fig is None:
                    continue
                cells = [f"{fmt((new_fig or {}).get(k), f)} / {fmt((old_fig or {}).get(k), f)}"
                         for _, k, f in SUMMARY_COLUMNS]
                rows.append([str(scn["id"]), "from launch" if gkey == "from_launch" else
                             "from READY", label] + cells)
    return out + (md_grid(header, rows) if rows else ["No scenario in common."]) + [""]


def markdown(res, raw_path, compare=()):
    """The report of results @res, read from @raw_path (relative to the repository);
    @compare: lines put after the summary (md_comparison)."""
    m = res["machine"]
    out = ["# Performance: in-VMM merging vs host KSM", "",
           f"Generated by `tools/bench/bench.py` from `{raw_path}`; do not edit.",
           "", produced_by(res), "", "| machine | |", "|---|---|"]
    out += md_machine(m) + [""] + md_summary(res) + [""] + list(compare) + [METHOD]
    for scn in res["scenarios"]:
        out += clonereport.md_section(scn, m) if "clones" in scn else md_scenario(scn)
    out += ["## Notes: not measured, disturbances", ""] + ["- " + n for n in res["notes"]]
    out += ["", f"Raw numbers: `{raw_path}`; the benchmark's own CPU: "
            f"{fmt(res.get('bench_own_cpu_s'), '{:.1f}')} s.", ""]
    return "\n".join(out)


def contention_notes(res):
    """Runs that shared the machine with other ksmvmm processes, and failed attempts."""
    out = []
    for scn in res["scenarios"]:
        runs = dict(scn.get("runs", {}))
        if scn.get("qemu_reference"):
            runs["qemu-live (the live QEMU reference)"] = scn["qemu_reference"]["run"]
        for name, run in runs.items():
            if run.get("disturbed"):
                load = run.get("loadavg_at_start")
                load = f" (load average {load[0]:.1f} at its start)" if load else ""
                out.append(f"Scenario {scn['id']} {name} was disturbed: "
                           f"{'; '.join(run['disturbed'])}{load}. Its times, "
                           "and to a lesser degree its CPU figures, are not clean.")
        for f in scn.get("failed_attempts", []):
            out.append(f"Scenario {scn['id']} {f['mode']}: attempt {f['attempt']} failed: "
                       f"`{f['error'].splitlines()[0]}`.")
    return out


def not_measured_notes(res):
    notes = ["Guest-measured figures: " + figures.GUEST_MEASURED_NOTE + "."]
    if not any(scn["id"] == 5 for scn in res["scenarios"]):
        notes.append("Scenario 5 (real Linux memory from QEMU guests) was not run "
                     "(`bench.py --scenarios 5`; `make bench` runs it).")
    if not any(scn["id"] == 6 for scn in res["scenarios"]):
        notes.append("Scenario 6 (clones and restores) was not run (`bench.py --scenarios "
                     "6`; `make bench` runs it).")
    notes += contention_notes(res)
    errs = sorted({e for scn in res["scenarios"] for e in scn.get("stats_errors", [])})
    for e in errs:
        notes.append("Engine statistics unavailable in some runs, engine figures are '-': "
                     f"`{e}`.")
    return notes
