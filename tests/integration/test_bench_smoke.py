"""test_bench_smoke - the scale benchmark still runs and still agrees.

Runs bench/run.py (what `make bench` runs) on 10 containers for 2 passes and
checks that it exits 0, that portiso's answers equal the Mesos replica's on
IPv4 and include the IPv6 listeners the replica misses, that the holder
search ran in the kernel, and that the CSV and the plot were written. A
broken bench, a wrong replica or a wrong portiso pass fails here.

Then the churn benchmark (`--bench=churn`) at 3 and 6 containers, 50
listeners a second for 1 s, and storms of 3 launches and 5 kills: it exits
0, the agent saw the churner's listeners as events, and GET_HEALTH was
timed through both storms. Ports 29300-29399 and 29500-29799 only.
"""
import csv
import os
import subprocess
import sys
import unittest

import portiso_test
from portiso_test import PortisoTestCase


class TestBenchSmoke(PortisoTestCase):
    def bench_cgroups(self):
        base = portiso_test.cgroup_v2_mount()
        return {d for d in os.listdir(base) if d.startswith("portiso-bench-")}

    def test_ten_containers_two_passes(self):
        before = self.bench_cgroups()
        out_dir = os.path.join(self.tmp, "out")
        p = subprocess.run([sys.executable, os.path.join(portiso_test.ROOT, "bench", "run.py"),
                            f"--build={portiso_test.BUILD}", "--n=10", "--passes=2",
                            "--port-base=29300", f"--out={out_dir}", "--no-agent"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        self.assertIn("N=10: answers OK", p.stdout)
        self.assertIn("portiso == replica on IPv4 for 10/10", p.stdout)
        self.assertIn("IPv6 listeners seen by portiso only: 5/5", p.stdout)
        self.assertIn("holder search: bpf+events", p.stdout)
        self.assertRegex(p.stdout, r"paired pass / dump, median of the pairs: \d+\.\d\dx")
        with open(os.path.join(out_dir, "scale.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([r["tool"] for r in rows],
                         ["replica", "ss -ltnp", "ss -ltn", "portiso", "portiso move",
                          "portiso walk", "dump", "paired pass", "paired dump"])
        for r in rows:
            self.assertEqual(r["n"], "10")
            self.assertEqual(r["passes"], "2")
            self.assertGreater(float(r["median_ms"]), 0.0)
        self.assertTrue(os.path.getsize(os.path.join(out_dir, "scale.png")) > 0)
        # The workload's cgroups are gone (others' concurrent runs aside).
        self.assertEqual(self.bench_cgroups() - before, set())

    def test_churn_small(self):
        base = portiso_test.cgroup_v2_mount()
        before = {d for d in os.listdir(base) if d.startswith("portiso-bench-churn-")}
        out_dir = os.path.join(self.tmp, "out")
        p = subprocess.run([sys.executable, os.path.join(portiso_test.ROOT, "bench", "run.py"),
                            "--bench=churn", f"--build={portiso_test.BUILD}", "--n=3,6",
                            "--rates=50", "--seconds=1", "--storm-n=5", "--launches=3",
                            "--port-base=29500", f"--out={out_dir}"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        with open(os.path.join(out_dir, "churn.csv")) as f:
            rows = list(csv.DictReader(f))
        churn = [r for r in rows if r["part"] == "churn"]
        self.assertEqual([(r["n"], r["rate"]) for r in churn], [("3", "50"), ("6", "50")])
        for r in churn:
            self.assertGreater(int(r["made"]), 0, r)
            self.assertGreater(int(r["events"]), 0, f"the listeners were events: {r}")
            self.assertGreater(float(r["cpu_ms_per_event"]), 0.0, r)
        storms = {r["part"]: r for r in rows if r["part"] != "churn"}
        self.assertEqual(set(storms), {"launch_storm", "kill_storm"})
        for name, r in storms.items():
            self.assertGreater(int(r["n"]), 0, f"{name}: GET_HEALTH timed: {r}")
            self.assertGreater(float(r["max"]), 0.0, r)
        after = {d for d in os.listdir(base) if d.startswith("portiso-bench-churn-")}
        self.assertEqual(after - before, set())


if __name__ == "__main__":
    unittest.main()
