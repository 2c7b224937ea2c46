"""test_scan - `portiso scan` end to end: real listeners in real cgroups.

Every case runs twice: on the cgroup v2 hierarchy (attribution by the
socket's cgroup id, holder search for sockets created elsewhere) and on the
v1 freezer path (no cgroup ids: every socket is found through the processes
that hold it). Ports 28000-28999 only (this suite's band).
"""
import json
import os
import subprocess
import unittest

import portiso_test
from portiso_test import PortisoTestCase


def expand(listening):
    """{"range":[{"begin":a,"end":b}]} -> sorted list of ports."""
    out = []
    for r in listening["range"]:
        out.extend(range(r["begin"], r["end"] + 1))
    return out


class ScanCases:
    """The cases; subclasses pick the hierarchy and a port base."""

    V1 = False
    HIERARCHY = None
    BASE = None

    def setUp(self):
        super().setUp()
        self.root_dir = self.cgroup_path(v1=self.V1)
        os.makedirs(self.root_dir, exist_ok=True)

    def cg(self, rel):
        path = self.cgroup_path(rel, v1=self.V1)
        os.makedirs(path, exist_ok=True)
        return path

    def scan_raw(self, *flags, root=None):
        argv = [portiso_test.CLI, "scan", f"--cgroups_hierarchy={self.HIERARCHY}",
                f"--cgroups_root={root or self.cgroups_root}"] + list(flags)
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)

    def scan(self, *flags):
        """Run scan --json; return {id: [ports]}."""
        p = self.scan_raw("--json", *flags)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(list(doc.keys()), ["containers"])
        return {c["id"]: expand(c["listening"]) for c in doc["containers"]}

    def test_families_attributed_to_their_cgroup(self):
        p = self.BASE
        self.listen([f"tcp4:{p}", f"dual:{p + 2}"], cgdir=self.cg("a"))
        self.listen([f"tcp6only:{p + 1}"], cgdir=self.cg("b"))
        self.assertEqual(self.scan(), {"a": [p, p + 2], "b": [p + 1]})

    def test_exact_json_shape(self):
        p = self.BASE + 10
        self.listen([f"tcp4:{p}"], cgdir=self.cg("a"))
        out = self.scan_raw("--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout,
                         '{"containers":[{"id":"a","listening":'
                         '{"range":[{"begin":%d,"end":%d}]}}]}\n' % (p, p))

    def test_global_json_before_the_command(self):
        """`portiso --json scan` prints the same JSON as `portiso scan --json`."""
        p = self.BASE + 15
        self.listen([f"tcp4:{p}"], cgdir=self.cg("a"))
        argv = [portiso_test.CLI, "--json", "scan", f"--cgroups_hierarchy={self.HIERARCHY}",
                f"--cgroups_root={self.cgroups_root}"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, self.scan_raw("--json").stdout)
        self.assertEqual(json.loads(out.stdout)["containers"][0]["id"], "a")

    def test_udp_only_with_protocols(self):
        p = self.BASE + 20
        self.listen([f"udp4:{p}", f"udp6:{p + 1}", f"tcp4:{p + 2}"], cgdir=self.cg("a"))
        self.assertEqual(self.scan(), {"a": [p + 2]})
        self.assertEqual(self.scan("--protocols=tcp"), {"a": [p + 2]})
        self.assertEqual(self.scan("--protocols=udp"), {"a": [p, p + 1]})
        self.assertEqual(self.scan("--protocols=tcp,udp"), {"a": [p, p + 1, p + 2]})

    def test_daemonized_grandchild(self):
        p = self.BASE + 30
        launcher, pid, _ = self.listen([f"tcp4:{p}"], cgdir=self.cg("a"), daemonize=True)
        launcher.wait(timeout=10)  # the parent exited: only the grandchild holds it
        self.assertNotEqual(pid, launcher.pid)
        with open(os.path.join(self.cg("a"), "cgroup.procs")) as f:
            self.assertIn(pid, [int(x) for x in f.read().split()])
        self.assertEqual(self.scan(), {"a": [p]})

    def test_socket_passed_in_over_scm_rights(self):
        p = self.BASE + 40
        path = os.path.join(self.tmp, "handover.sock")
        host, _, ports = self.listen([f"send:{p}={path}"])
        self.assertEqual(ports, [p])
        self.cg("b")  # an empty container: holds nothing
        self.listen([f"recv:{path}"], cgdir=self.cg("a"))
        # Created outside every container, held inside a: it counts for a,
        # whether or not the host process still holds it too.
        self.assertEqual(self.scan(), {"a": [p], "b": []})
        host.kill()
        host.wait(timeout=10)
        self.assertEqual(self.scan(), {"a": [p], "b": []})

    def test_host_listener_attributed_to_none(self):
        p = self.BASE + 50
        self.listen([f"tcp4:{p}", f"dual:{p + 1}"])
        self.cg("a")
        self.listen([f"tcp4:{p + 2}"], cgdir=self.cg("b"))
        self.assertEqual(self.scan(), {"a": [], "b": [p + 2]})

    def test_nested_cgroup_named_parent_child(self):
        p = self.BASE + 60
        self.listen([f"tcp4:{p}"], cgdir=self.cg("a/b"))
        self.listen([f"tcp4:{p + 1}"], cgdir=self.cg("a/b/c"))
        self.cg("a/d")
        self.assertEqual(self.scan(), {"a": [], "a/b": [p], "a/b/c": [p + 1], "a/d": []})

    def test_human_table(self):
        p = self.BASE + 70
        self.listen([f"tcp4:{p}", f"tcp4:{p + 2}"], cgdir=self.cg("a"))
        self.cg("a/b")
        self.cg("zz")
        out = self.scan_raw()
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "LISTENING"])
        rows = [l.split(None, 1) for l in lines[1:]]
        self.assertEqual(rows, [["a", f"[{p}-{p}, {p + 2}-{p + 2}]"], ["a/b", "-"], ["zz", "-"]])

    def test_missing_root_is_an_error(self):
        out = self.scan_raw(root=self.cgroups_root + "-missing")
        self.assertEqual(out.returncode, 1)
        self.assertEqual(len(out.stderr.splitlines()), 1, out.stderr)
        self.assertIn("does not exist", out.stderr)
        self.assertEqual(out.stdout, "")

    def test_empty_root_lists_nothing(self):
        self.assertEqual(self.scan(), {})

    def test_bad_flags(self):
        for flags in (["--bogus"], ["--protocols=sctp"], ["--cgroups_root"], ["extra"]):
            out = self.scan_raw(*flags)
            self.assertEqual(out.returncode, 2, flags)
            self.assertEqual(len(out.stderr.splitlines()), 1, (flags, out.stderr))
            self.assertEqual(out.stdout, "")


class TestScanV2(ScanCases, PortisoTestCase):
    HIERARCHY = "/sys/fs/cgroup"
    BASE = 28000


class TestScanV1Freezer(ScanCases, PortisoTestCase):
    V1 = True
    HIERARCHY = "/sys/fs/cgroup/freezer"
    BASE = 28200


class TestScanUsage(PortisoTestCase):
    needs_root = False

    def test_help(self):
        for argv in (["--help"], ["scan", "--help"]):
            out = subprocess.run([portiso_test.CLI] + argv, capture_output=True, text=True)
            self.assertEqual(out.returncode, 0)
            self.assertIn("Usage: portiso", out.stdout)
        out = subprocess.run([portiso_test.CLI, "--help"], capture_output=True, text=True)
        self.assertIn("scan", out.stdout)

    def test_unknown_command(self):
        out = subprocess.run([portiso_test.CLI, "nope"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 2)
        self.assertEqual(len(out.stderr.splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
