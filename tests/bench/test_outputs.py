#!/usr/bin/env python3
"""test_outputs.py - the benchmark writes only where it should (no KVM, no root).

Runs tools/bench/bench.py's main() in a scratch git repository (this repository's
.gitignore, a committed docs/performance.md and docs/bench/results.json) with the
measurement faked: run_all appends made-up scenario records, as the real one does after
each scenario. Everything after it is the real code: the choice of files, the
checkpoints, the rendering, the atomic writes, the publish-or-not decision. It checks
that bench-quick and failed or interrupted full runs leave every tracked file as it was
(`git status` clean, same bytes) and that a successful full run replaces both.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
import bench  # noqa: E402
import outputs  # noqa: E402
import shield  # noqa: E402

PUBLISHED_T90 = 9.87  # in the committed fake results: the quick report must show it


def fake_scenario(sid, t90, error=None):
    """A scenario record as run_scenario leaves it, figures only (no raw runs: recompute
    leaves such a record as it is)."""
    figs = {m: {"t90_s": t90, "final_saving_mib": 400.0 + sid, "merge_cpu_ms_per_mib": 1.5,
                "net_saving_mib": 399.0, "guest_stall_p99_us": 80.0, "converged": True}
            for m in ("vmm", "host-tuned", "vmm-cold", "host-tuned-cold")}
    return {"id": sid, "title": f"fake {sid}", "count": 4, "mem": "256M",
            "profile": "shared=50,zero=10", "guest_ram_mib": 1024, "runs": {},
            "figures": figs, "ratios": {}, "targets": {},
            "errors": {"vmm": error} if error else {}, "stats_errors": [],
            "failed_attempts": []}


def fake_results(ids, t90):
    return {"version": 1, "command": "fake", "label": "fake published run",
            "started": "2026-01-01 00:00:00 UTC", "finished": "2026-01-01 00:40:00 UTC",
            "machine": {"git_commit": "abc1234"}, "host_ksm_restored": True,
            "scenarios": [fake_scenario(i, t90) for i in ids]}


def fake_run_all(t90=0.25, interrupt_after=None, error_in=None):
    """A run_all that measures nothing: the scenarios asked for, checkpointed after
    each; raises Interrupted after @interrupt_after of them like a Ctrl-C would."""
    def run_all(args, res):
        res["host_ksm_saved"], res["host_ksm_after"] = {"run": "0"}, {"run": "0"}
        for n, sid in enumerate(args.scenarios):
            if n == interrupt_after:
                raise shield.Interrupted("interrupted by signal SIGINT")
            res["scenarios"].append(fake_scenario(sid, t90, "boom" if sid == error_in
                                                  else None))
            outputs.checkpoint(args.plan, res)
    return run_all


class Outputs(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="bench-outputs-")
        shutil.copy(os.path.join(REPO, ".gitignore"), self.root)
        os.makedirs(os.path.join(self.root, "docs", "bench"))
        self.write("docs/performance.md", "# the published report\n")
        self.write("docs/bench/results.json",
                   json.dumps(fake_results(bench.ALL_SCENARIOS, PUBLISHED_T90)))
        self.git("init", "-q")
        self.git("add", "-A")
        self.commit("published")
        self.tracked = {p: self.read(p) for p in ("docs/performance.md",
                                                  "docs/bench/results.json")}
        self.saved = (bench.preflight, bench.run_all, bench.machine)
        bench.preflight, bench.machine = (lambda rundir: None), (lambda: {"git_commit": "new"})

    def tearDown(self):
        bench.preflight, bench.run_all, bench.machine = self.saved
        shutil.rmtree(self.root)

    def git(self, *argv):
        return subprocess.run(["git", "-C", self.root] + list(argv), check=True,
                              capture_output=True, text=True).stdout

    def commit(self, msg):
        self.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", msg)

    def write(self, rel, text):
        with open(os.path.join(self.root, rel), "w") as f:
            f.write(text)

    def read(self, rel):
        with open(os.path.join(self.root, rel)) as f:
            return f.read()

    def exists(self, rel):
        return os.path.exists(os.path.join(self.root, rel))

    def run_main(self, argv, **fake):
        bench.run_all = fake_run_all(**fake)
        return bench.main(argv, root=self.root)

    def assert_tracked_untouched(self):
        self.assertEqual(self.git("status", "--porcelain", "--untracked-files=all"), "")
        for rel, text in self.tracked.items():
            self.assertEqual(self.read(rel), text, rel)

    def test_quick_writes_build_only(self):
        self.assertEqual(self.run_main(["--quick", "--label", "make bench-quick"]), 0)
        self.assert_tracked_untouched()
        res = json.loads(self.read("build/bench/quick.json"))
        self.assertEqual([s["id"] for s in res["scenarios"]], [1])
        doc = self.read("build/bench/quick.md")
        self.assertIn("from `build/bench/quick.json`", doc)
        self.assertIn(f"0.25 / {PUBLISHED_T90:.2f}", doc)  # ours now / published
        self.assertNotIn("## Scenario 2", doc)

    def test_quick_without_published_results_says_so(self):
        os.unlink(os.path.join(self.root, "docs/bench/results.json"))
        self.commit("no raw results")
        self.tracked.pop("docs/bench/results.json")
        self.assertEqual(self.run_main(["--quick"]), 0)
        self.assert_tracked_untouched()
        self.assertIn("does not exist yet", self.read("build/bench/quick.md"))

    def test_quick_survives_a_bad_published_file(self):
        self.write("docs/bench/results.json", "{not json")
        self.commit("torn raw results")
        self.tracked["docs/bench/results.json"] = "{not json"
        self.assertEqual(self.run_main(["--quick"]), 0)
        self.assert_tracked_untouched()
        self.assertIn("cannot read `docs/bench/results.json`",
                      self.read("build/bench/quick.md"))

    def test_runs_refuse_paths_in_the_source_tree(self):
        for argv in (["--quick", "--out", os.path.join(self.root, "docs/x.json")],
                     ["--quick", "--doc", os.path.join(self.root, "docs/performance.md")],
                     ["--scenarios", "2", "--doc", os.path.join(self.root, "README.md")]):
            with self.assertRaises(SystemExit, msg=argv):
                self.run_main(argv)
        self.assert_tracked_untouched()
        self.assertFalse(self.exists("build/bench"))

    def test_partial_run_writes_build_only(self):
        self.assertEqual(self.run_main(["--scenarios", "2,3"]), 0)
        self.assert_tracked_untouched()
        res = json.loads(self.read("build/bench/results.json"))
        self.assertEqual([s["id"] for s in res["scenarios"]], [2, 3])
        self.assertTrue(self.exists("build/bench/report.md"))

    def test_publish_replaces_both(self):
        self.assertEqual(self.run_main(["--publish", "--label", "make bench"]), 0)
        res = json.loads(self.read("docs/bench/results.json"))
        self.assertEqual([s["id"] for s in res["scenarios"]], list(bench.ALL_SCENARIOS))
        self.assertEqual(res["label"], "make bench")
        doc = self.read("docs/performance.md")
        self.assertIn("from `docs/bench/results.json`", doc)
        self.assertIn("## Scenario 5", doc)
        self.assertFalse(self.exists("build/bench/full.json"))  # published, not kept twice
        self.assertEqual(sorted(self.git("status", "--porcelain").split()),
                         sorted(["M", "M", "docs/bench/results.json", "docs/performance.md"]))
        leftovers = [n for n in os.listdir(os.path.join(self.root, "docs", "bench"))
                     if ".tmp" in n]
        self.assertEqual(leftovers, [])

    def test_interrupted_publish_keeps_the_published_run(self):
        self.assertEqual(self.run_main(["--publish"], interrupt_after=2), 1)
        self.assert_tracked_untouched()
        res = json.loads(self.read("build/bench/full.json"))
        self.assertEqual([s["id"] for s in res["scenarios"]], [1, 2])
        self.assertIn("SIGINT", res["aborted"])
        self.assertIn("Aborted", self.read("build/bench/full.md"))

    def test_failed_scenario_is_not_published(self):
        self.assertEqual(self.run_main(["--publish"], error_in=3), 1)
        self.assert_tracked_untouched()
        res = json.loads(self.read("build/bench/full.json"))
        self.assertEqual(res["scenarios"][2]["errors"], {"vmm": "boom"})

    def test_publish_takes_no_subset(self):
        for extra in (["--quick"], ["--scenarios", "1"], ["--modes", "vmm"], ["--no-watch"]):
            with self.assertRaises(SystemExit, msg=extra):
                self.run_main(["--publish"] + extra)
        self.assert_tracked_untouched()

    def test_render_writes_the_path_given(self):
        out = os.path.join(self.root, "build", "rendered.md")
        src = os.path.join(self.root, "docs/bench/results.json")
        self.assertEqual(bench.main(["--render", src, "--doc", out], root=self.root), 0)
        self.assert_tracked_untouched()
        self.assertIn(f"{PUBLISHED_T90:.2f}", self.read(out))

    def test_write_atomic_keeps_the_old_file_when_the_write_fails(self):
        path = os.path.join(self.root, "docs/performance.md")
        real_replace = os.replace

        def failing_replace(src, dst):
            raise OSError(28, "No space left on device")
        os.replace = failing_replace
        try:
            with self.assertRaises(OSError):
                outputs.write_atomic(path, "torn?")
        finally:
            os.replace = real_replace
        self.assert_tracked_untouched()
        with self.assertRaises(TypeError):  # not JSON: fails before any file is opened
            outputs.results_text({"x": object()})


if __name__ == "__main__":
    unittest.main(verbosity=1)
