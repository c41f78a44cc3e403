#!/usr/bin/env python3
"""test_clones.py - scenario 6's parsing, figures and rendering (no KVM, no root).

Feeds tools/bench/clones.py's parsers the text ksmctl and the consoles produce, and
tools/bench/clonereport.py made-up raw records, and checks the figures, the targets
(met and not met) and the rendered section, also through bench.py's --render path.
"""
import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
import bench  # noqa: E402
import clonereport  # noqa: E402
import clones  # noqa: E402
import maplimit  # noqa: E402

MIB = 1024


def verify_rec(guests, bad=0):
    return {"exit_status": 0, "guests": guests, "ok": 1000 * guests, "bad": bad,
            "bad_guests": []}


def raw_scenario(counts=(1, 8)):
    out = clones.new_record(counts, with_big=True)
    c = out["clones"]
    c["snapshot"] = {"wall_s": 0.5, "one_pss_kib": 230 * MIB, "verify": verify_rec(1)}
    for n in counts:
        # live: 1 MiB per clone at 8 (0.39% of 256 MiB), 10 MiB per clone at 1 (3.9%)
        per = 10 * MIB if n == 1 else MIB
        c["live"].append({"n": n, "mem_mib": 256, "parent_pss_kib": 230 * MIB,
                          "clone_wall_s": 0.03 if n == 1 else 0.2,
                          "pss_after_kib": 230 * MIB + n * per, "running": n + 1,
                          "t_all_restored_s": 0.25, "verify": verify_rec(n + 1),
                          "vmm_log": ["snapshot: g0: forked, 58000 pages shared, "
                                      "paused 0.120 s"],
                          "pss_after_verify_kib": 240 * MIB})
        c["restore"].append({"n": n, "t_all_restored_s": 0.04, "running": n,
                             "vmm_log": ["ready", "snapshot: /s: 58000 pages in the pool "
                                         "in 0.031 s"],
                             "pss_birth_kib": 230 * MIB + n * 2 * MIB,
                             "verify": verify_rec(n, bad=1 if n == 8 else 0),
                             "pss_after_verify_kib": 250 * MIB})
        c["mutation"].append({"n": n, "clone": {"pss_kib": 300 * MIB, "verify":
                                                verify_rec(n + 1)},
                              "vmm": {"pss_kib": 400 * MIB,
                                      "verify": verify_rec(n + 1, bad=3 if n == 8 else 0)},
                              "host": {"skipped": "needs about 9000 MiB free"}})
    c["big"] = {"skipped": "needs about 3072 MiB free, 100 available"}
    return out


class Parsers(unittest.TestCase):
    def test_verify(self):
        text = "g0 VERIFY ok=100 bad=0\ng0-1 VERIFY ok=99 bad=2\nnoise\n"
        v = clones.parse_verify(text, 0)
        self.assertEqual((v["guests"], v["ok"], v["bad"], v["bad_guests"]),
                         (2, 199, 2, ["g0-1"]))
        self.assertFalse(clonereport.verify_ok(v, 2))
        self.assertTrue(clonereport.verify_ok(clones.parse_verify(text.replace("bad=2",
                                                                               "bad=0"), 0), 2))
        self.assertFalse(clonereport.verify_ok(clones.parse_verify("g0 VERIFY ok=1 bad=0", 0),
                                               2), "a missing guest must not pass")
        self.assertFalse(clonereport.verify_ok(clones.parse_verify("g0 VERIFY ok=1 bad=0", 1),
                                               1), "a failed ksmctl must not pass")

    def test_verify_one_by_one_keeps_each_guest(self):
        class Done:
            def __init__(self, out, status, err=""):
                self.stdout, self.returncode, self.stderr = out, status, err

        class FakeFleet:
            """g0-2's reply times out; its guest prints its verdict on its console later
            (after an older verdict already there)."""

            def __init__(self, rundir):
                self.rundir = rundir
                os.makedirs(os.path.join(rundir, "console"))
                self._console("g0-2", "boot\nVERIFY ok=5 bad=0\n")

            def _console(self, name, text):
                with open(os.path.join(self.rundir, "console", f"{name}.log"), "a") as f:
                    f.write(text)

            def check_alive(self):
                pass

            def ctl(self, *args, timeout_s):
                name = args[1]
                # ksmvmm's deadline ends before ksmctl's wait: a slow guest is reported
                assert args[2] == "--timeout" and int(args[3]) < timeout_s, args
                if name == "g0-2":
                    self._console(name, "VERIFY ok=9 bad=2\n")
                    return Done("g0-2 VERIFY error: Connection timed out\n", 1)
                return Done(f"{name} VERIFY ok=10 bad={3 if name == 'g0-1' else 0}\n", 0)

        with tempfile.TemporaryDirectory() as d:
            fl = FakeFleet(d)
            with self.assertRaises(clones.fleetmod.FleetError):
                clones.verify(fl, 3, ["g0", "g0-1", "g0-2"])
            per = []
            clones.verify_one(fl, "g0-1", per)
            clones.verify_one(fl, "g0-2", per)
            self.assertEqual([(g["name"], g["bad"], g["answered"]) for g in per],
                             [("g0-1", 3, True), ("g0-2", 0, False)])
            self.assertNotIn("console", per[0], "an answered guest is not waited for")
            self.assertIn("timed out", per[1]["reply"])
            self.assertEqual((per[1]["console"]["ok"], per[1]["console"]["bad"]), (9, 2),
                             "the verdict printed after the request, not the older one")
            v = clones.verify(fl, 2, ["g0", "g0"])
            self.assertEqual([g["name"] for g in v["per_guest"]], ["g0", "g0"])
            self.assertGreaterEqual(v["wall_s"], 0)

    def test_running(self):
        reply = {"ok": True, "guests": [{"name": "g0", "state": "running"},
                                        {"name": "g0-1", "state": "running"},
                                        {"name": "g0-2", "state": "starting"}]}
        self.assertEqual(clones.parse_running(json.dumps(reply)), ["g0", "g0-1"])

    def test_restored_count(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(clones.restored_count(os.path.join(d, "none"), "c"), 0)
            for name, text in (("c0.log", "boot\nRESTORED generation=0x1 guest=0\n"),
                               ("c1.log", "boot\n"),
                               ("c2.log", "x RESTORED generation=0x2\n"),  # not at a line start
                               ("g0.log", "RESTORED generation=0x3\n")):
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
            self.assertEqual(clones.restored_count(d, "c"), 1)
            self.assertEqual(clones.restored_count(d, "g0"), 1)


class Figures(unittest.TestCase):
    def setUp(self):
        self.scn = raw_scenario()
        self.figs = clonereport.add_figures(self.scn)

    def test_live(self):
        one, eight = self.figs["live"]
        self.assertAlmostEqual(one["added_per_clone_mib"], 10.0)
        self.assertAlmostEqual(one["birth_pct_of_ram"], 10 / 256 * 100)
        self.assertAlmostEqual(eight["added_per_clone_mib"], 1.0)
        self.assertAlmostEqual(eight["start_ms"], 200.0)
        self.assertTrue(eight["running_ok"] and eight["verify_ok"])
        self.assertAlmostEqual(eight["parent_paused_ms"], 120.0)

    def test_restore(self):
        one, eight = self.figs["restore"]
        self.assertAlmostEqual(eight["pss_per_guest_mib"], (230 + 16) / 8)
        self.assertAlmostEqual(eight["added_per_clone_mib"], 2.0)
        self.assertTrue(one["verify_ok"])
        self.assertAlmostEqual(one["pool_fill_ms"], 31.0)
        self.assertIsNone(clonereport.log_ms(["nothing here"], clonereport.POOL_RE))
        self.assertFalse(eight["verify_ok"], "bad=1 must show")

    def test_mutation(self):
        m = self.figs["mutation"][1]
        self.assertEqual(m["guests"], 9)
        self.assertAlmostEqual(m["saving_vs_vmm_mib"], 100.0)
        self.assertAlmostEqual(m["clone_over_vmm"], 0.75)
        self.assertIsNone(m["saving_vs_host_mib"])
        self.assertIn("9000", m["host_skipped"])

    def test_targets(self):
        t = self.scn["targets"]["clones"]
        self.assertFalse(t["live 1: Pss added at birth, % of RAM"]["met"])  # 3.9%
        self.assertTrue(t["live 8: Pss added at birth, % of RAM"]["met"])   # 0.39%
        self.assertTrue(t["live 1: start, ms"]["met"])                      # 30 ms
        self.assertFalse(t["live 8: start, ms"]["met"])                     # 200 ms
        self.assertTrue(t["restore 8: start, ms"]["met"])                   # 40 ms

    def test_failed_step_has_no_figures(self):
        scn = raw_scenario()
        scn["clones"]["live"][0] = {"n": 1}
        scn["errors"]["live clone 1"] = "ksmvmm exited with status 1\nmore"
        figs = clonereport.add_figures(scn)
        self.assertEqual([f["n"] for f in figs["live"]], [8])
        text = "\n".join(clonereport.md_section(scn, {}))
        self.assertIn("**live clone 1 failed**: `ksmvmm exited with status 1`", text)


class Steps(unittest.TestCase):
    """clones.scenario with its fleets faked: every step's record is in the checkpoint
    written right after it (a killed run keeps it), a failed step leaves its error."""

    def setUp(self):
        self.saved = {k: getattr(clones, k) for k in ("snapshot", "live", "restore",
                                                       "mutation_clones",
                                                       "mutation_independent", "big")}
        clones.snapshot = lambda ctx, d: {"wall_s": 1.0, "one_pss_kib": 230 * MIB}
        clones.live = lambda ctx, n: {"n": n}
        clones.restore = self.restore
        clones.mutation_clones = lambda ctx, n: {"pss_kib": n}
        clones.mutation_independent = lambda ctx, n, merge: {"pss_kib": n, "m": merge}
        clones.big = lambda ctx: {"skipped": "fake"}

    def tearDown(self):
        for k, v in self.saved.items():
            setattr(clones, k, v)

    @staticmethod
    def restore(ctx, d, n):
        if n == 8:
            raise clones.fleetmod.FleetError("restore of 8 broke")
        return {"n": n, "ok": True}

    def test_checkpoint_after_each_step(self):
        seen = []
        with tempfile.TemporaryDirectory() as d:
            ctx = {"rundir": d, "clone_counts": [1, 8], "clone_big": True,
                   "clone_steps": list(clones.STEPS),
                   "checkpoint": lambda scn: seen.append(json.loads(json.dumps(scn)))}
            out = clones.scenario(ctx)
        self.assertEqual(len(seen), 1 + 2 * 5 + 1)  # snapshot, 5 per count, big
        after_restore1 = seen[2]["clones"]
        self.assertEqual(after_restore1["restore"], [{"n": 1, "ok": True}])
        after_host8 = seen[-2]["clones"]
        self.assertEqual(after_host8["mutation"][1]["host"], {"pss_kib": 8, "m": "host"})
        self.assertEqual(seen[7]["clones"]["restore"][1], {"n": 8})  # failed: no figures
        self.assertIn("restore of 8 broke", out["errors"]["restore 8"])
        self.assertEqual(seen[-1]["clones"]["big"], {"skipped": "fake"})

    def test_failed_verify_keeps_the_measurement(self):
        rec = {"n": 32, "mem_mib": 1024, "parent_pss_kib": 1000 * MIB,
               "clone_wall_s": 40.0, "pss_after_kib": 1040 * MIB, "running": 33,
               "verify_error": "verify: 0 of 33 guests answered"}

        def failing_big(ctx):
            raise clones.StepError(rec["verify_error"], rec)
        clones.big = failing_big
        with tempfile.TemporaryDirectory() as d:
            out = clones.scenario({"rundir": d, "clone_counts": [32], "clone_big": True,
                                   "clone_steps": ["big"]})
        self.assertEqual(out["clones"]["big"]["clone_wall_s"], 40.0)
        text = "\n".join(clonereport.md_section(out, {}))
        self.assertIn("clone call 40000.0 ms, Pss added per clone 1.25 MiB, 33 running; "
                      "verify FAILED: verify: 0 of 33 guests answered", text)

    def test_steps_subset(self):
        with tempfile.TemporaryDirectory() as d:
            out = clones.scenario({"rundir": d, "clone_counts": [32], "clone_big": True,
                                   "clone_steps": ["big"]})
        c = out["clones"]
        self.assertEqual((c["live"], c["restore"], c["mutation"], c["snapshot"]),
                         ([], [], [], None))
        self.assertEqual(c["big"], {"skipped": "fake"})


class Merge(unittest.TestCase):
    """bench.py --render --with: scenario 6 steps of another run fill the gaps."""

    def test_fills_gaps_only(self):
        dst, src = raw_scenario((1, 8)), raw_scenario((8, 32))
        dst["clones"]["live"][1] = {"n": 8}  # failed in the first run
        dst["clones"]["mutation"][1]["host"] = None
        src["clones"]["snapshot"]["one_pss_kib"] = 200 * MIB
        src["clones"]["mutation"][0]["host"] = {"pss_kib": 500 * MIB,
                                                "verify": verify_rec(9)}
        src["clones"]["big"] = {**src["clones"]["live"][1], "n": 32, "mem_mib": 1024}
        src["produced"] = {"command": "second run", "git_commit": "abc"}
        taken = clonereport.merge(dst, src)
        self.assertEqual(taken, ["live 8", "live 32", "restore 32", "mutation 8: host",
                                 "mutation 32: clone", "mutation 32: vmm",
                                 "32 clones of 1 GiB"])
        figs = clonereport.add_figures(dst)
        self.assertEqual([f["n"] for f in figs["live"]], [1, 8, 32])
        r32 = figs["restore"][-1]
        self.assertAlmostEqual(r32["added_per_clone_mib"], (230 + 64 - 200) / 32,
                               msg="a merged restore uses its own run's booted guest")
        self.assertAlmostEqual(figs["restore"][0]["added_per_clone_mib"], 2.0)
        self.assertAlmostEqual(figs["mutation"][1]["saving_vs_host_mib"], 200.0)
        self.assertEqual(figs["big"]["n"], 32)
        text = "\n".join(clonereport.md_section(dst, {}))
        self.assertIn("come from another run: `second run` (commit abc)", text)


class SocketDir(unittest.TestCase):
    def test_refused_with_a_clear_message(self):
        with tempfile.TemporaryDirectory() as d:
            bench.check_socket_dir(d)  # a local directory holds a socket
            self.assertEqual(os.listdir(d), [], "the probe socket was not removed")
            deep = os.path.join(d, "x" * 120)  # too long for AF_UNIX
            with self.assertRaises(SystemExit) as e:
                bench.check_socket_dir(deep)
            self.assertIn("give --rundir on a local file system", str(e.exception.code))


class Render(unittest.TestCase):
    def test_section(self):
        scn = raw_scenario()
        text = "\n".join(clonereport.md_section(scn, {"kvm": "VT-x (kvm_intel)",
                                                      "nproc": 2, "mem_total_mib": 8000}))
        self.assertIn("## Scenario 6:", text)
        self.assertIn("| 8 | 200.0 | 250.0 | 120.0 | 1.00 | 0.39 | 240.0 | 9 | yes |", text)
        self.assertIn("| 9 | 300.0 | 400.0 | - | 100.0 | - | yes / NO / - |", text)
        self.assertIn("live 8: start, ms: 200.00 (target <= 50 ms) -> NOT met", text)
        self.assertIn("kvm VT-x (kvm_intel), CPUs 2, RAM 8000 MiB", text)
        self.assertIn("skipped (needs about 3072 MiB free", text)
        self.assertNotIn("vm.max_map_count", text)
        scn["clones"]["max_map_count"] = {"host": 65530, "used": 262144}
        text = "\n".join(clonereport.md_section(scn, {}))
        self.assertIn("`vm.max_map_count` was 262144 for this scenario, the host's 65530", text)

    def test_bench_render(self):
        res = {"version": 1, "command": "fake", "label": "fake", "started": "s",
               "finished": "f", "machine": {"kvm": "no /dev/kvm"},
               "scenarios": [raw_scenario((1,))]}
        with tempfile.TemporaryDirectory() as d:
            src, doc = os.path.join(d, "r.json"), os.path.join(d, "r.md")
            with open(src, "w") as f:
                json.dump(res, f)
            self.assertEqual(bench.main(["--render", src, "--doc", doc], root=d), 0)
            with open(doc) as f:
                text = f.read()
        self.assertIn("### Live clone (`ksmctl clone g0 --count N`)", text)
        self.assertIn("| 1 | 30.0 | 250.0 | 120.0 | 10.00 | 3.91 | 240.0 | 2 | yes |", text)
        self.assertNotIn("Scenario 6 (clones and restores) was not run", text)


class MapLimit(unittest.TestCase):
    """maplimit.py against a file standing in for /proc/sys/vm/max_map_count."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.sysctl = os.path.join(self.dir.name, "max_map_count")
        self.state = os.path.join(self.dir.name, "state", "saved.json")
        self.real, maplimit.SYSCTL = maplimit.SYSCTL, self.sysctl
        self.set(65530)

    def tearDown(self):
        maplimit.SYSCTL = self.real
        self.dir.cleanup()

    def set(self, value):
        with open(self.sysctl, "w") as f:
            f.write(f"{value}\n")

    def test_raise_and_restore(self):
        m = maplimit.MapLimit(self.state)
        self.assertEqual(m.raise_to(262144), {"host": 65530, "used": 262144})
        self.assertEqual(maplimit.read(), 262144)
        self.assertTrue(os.path.exists(self.state))
        m.restore()
        self.assertEqual(maplimit.read(), 65530)
        self.assertFalse(os.path.exists(self.state))
        m.restore()  # idempotent
        self.assertEqual(maplimit.read(), 65530)

    def test_never_lowered(self):
        self.set(1000000)
        m = maplimit.MapLimit(self.state)
        self.assertEqual(m.raise_to(262144), {"host": 1000000, "used": 1000000})
        m.restore()
        self.assertEqual(maplimit.read(), 1000000)

    def test_killed_run_is_repaired(self):
        maplimit.MapLimit(self.state).raise_to(262144)  # never restored: SIGKILL
        m = maplimit.MapLimit(self.state)
        self.assertEqual(m.recover(), 65530)
        self.assertEqual(maplimit.read(), 65530)
        self.assertIsNone(maplimit.MapLimit(self.state).recover())

    def test_unreadable_is_a_clear_error(self):
        os.unlink(self.sysctl)
        with self.assertRaisesRegex(maplimit.MapLimitError, "cannot read .*max_map_count"):
            maplimit.MapLimit(self.state).raise_to(262144)


if __name__ == "__main__":
    unittest.main()
