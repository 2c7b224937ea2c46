"""test_linux - the src/linux/ kernel layer against the real kernel.

Drives sock_diag, cgroup and /proc fd code through build/tests/helpers/cgctl
(a thin CLI over liblinux) with real listeners (tests/helpers/listen.py) in
real cgroups, on the cgroup v2 hierarchy and on the v1 freezer hierarchy.
Ports used: 27000-27999 only.
"""
import os
import signal
import subprocess
import unittest

from portiso_test import (HELPERS, PortisoTestCase, alive, cgroup_v1_freezer, cgroup_v2_mount,
                          wait_for)

CGCTL = os.path.join(HELPERS, "cgctl")


class CgctlMixin:
    hierarchy = None  # None: cgctl's default (/sys/fs/cgroup)

    def cgctl(self, *args, ok=True):
        argv = [CGCTL] + ([f"--hierarchy={self.hierarchy}"] if self.hierarchy else []) + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if ok and p.returncode != 0:
            raise AssertionError(f"{argv} failed ({p.returncode}): {p.stderr.strip()}")
        return p if not ok else p.stdout

    def rel(self, sub=""):
        return f"{self.cgroups_root}/{sub}" if sub else self.cgroups_root

    def pids(self, sub, recursive=False):
        out = self.cgctl("pids", *(["-r"] if recursive else []), self.rel(sub))
        return sorted(int(x) for x in out.split())

    def dump(self, *flags):
        """{(kind, port): (addr, inode, cgroup_id)} for every listener."""
        out = {}
        for line in self.cgctl("dump", *flags).splitlines():
            kind, addr, port, inode, cgid = line.split()
            out[(kind, int(port))] = (addr, int(inode), int(cgid))
        return out


class SockDiagTest(CgctlMixin, PortisoTestCase):
    """Listeners found by sock_diag, attributed by cgroup id, held per pid."""

    def setUp(self):
        super().setUp()
        self.assertTrue(os.access(CGCTL, os.X_OK), f"{CGCTL} not built")
        self.cgroup_path()  # fails in CI / skips without a cgroup2 hierarchy

    def test_all_families_attributed_to_their_cgroup(self):
        cg = self.cgroup_path("c1")
        _, pid, ports = self.listen(
            ["tcp4:27001", "tcp6only:27002", "dual:27003", "udp4:27004", "udp6:27005"], cgdir=cg)
        self.assertEqual(ports, [27001, 27002, 27003, 27004, 27005])
        cgid = int(self.cgctl("id", self.rel("c1")))
        self.assertEqual(cgid, os.stat(cg).st_ino)  # the id is the directory's inode

        d = self.dump("--udp")
        want = {("tcp4", 27001): "0.0.0.0", ("tcp6", 27002): "::", ("tcp6", 27003): "::",
                ("udp4", 27004): "0.0.0.0", ("udp6", 27005): "::"}
        for key, addr in want.items():
            self.assertIn(key, d, f"{key} missing from dump")
            self.assertEqual(d[key][0], addr, key)
            self.assertEqual(d[key][2], cgid, f"{key} attributed to the wrong cgroup")
        # A dual-stack socket is one IPv6 socket, never also reported as IPv4.
        self.assertNotIn(("tcp4", 27003), d)

        tcp_only = self.dump()
        self.assertIn(("tcp4", 27001), tcp_only)
        self.assertFalse([k for k in tcp_only if k[0].startswith("udp")])
        udp_only = self.dump("--udp-only")
        self.assertIn(("udp4", 27004), udp_only)
        self.assertFalse([k for k in udp_only if k[0].startswith("tcp")])

        # The listener process holds exactly the sockets the dump reported.
        held = set(int(x) for x in self.cgctl("procfd", str(pid)).split())
        for key in want:
            self.assertIn(d[key][1], held, f"{key} inode not held by pid {pid}")

    def test_host_listener_has_other_cgroup_id(self):
        cg = self.cgroup_path("c1")
        self.listen(["tcp4:27011"], cgdir=cg)
        self.listen(["tcp4:27012"])  # in the test runner's own cgroup
        with open("/proc/self/cgroup") as f:
            own = [l.split(":", 2)[2].strip() for l in f if l.startswith("0::")][0]
        d = self.dump()
        self.assertEqual(d[("tcp4", 27011)][2], int(self.cgctl("id", self.rel("c1"))))
        self.assertNotEqual(d[("tcp4", 27012)][2], d[("tcp4", 27011)][2])
        self.assertEqual(d[("tcp4", 27012)][2], int(self.cgctl("id", own.lstrip("/") or "/")))

    def test_tiny_receive_buffer_regrows(self):
        cg = self.cgroup_path("c1")
        specs = [f"tcp4:{p}" for p in range(27020, 27036)] + ["udp6:27036"]
        self.listen(specs, cgdir=cg)
        full = self.dump("--udp")
        # 64 bytes cannot hold one message: every datagram is truncated until
        # the buffer has grown, and the dump must still come back complete.
        small = self.dump("--udp", "--bufsize=64")
        for p in range(27020, 27036):
            self.assertEqual(small[("tcp4", p)], full[("tcp4", p)])
        self.assertEqual(small[("udp6", 27036)], full[("udp6", 27036)])

    def test_unbound_and_connected_udp_are_not_listeners(self):
        cg = self.cgroup_path("c1")
        # A connected UDP socket (state ESTABLISHED) is not what ss -lu shows.
        code = ("import socket,sys,time\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                "s.bind(('127.0.0.1',27040)); s.connect(('127.0.0.1',27041))\n"
                "print('ready',flush=True); time.sleep(3600)\n")
        p = self.spawn_in_cgroup(cg, ["/usr/bin/python3", "-c", code])
        self.assertEqual(p.stdout.readline().strip(), "ready")
        self.listen(["udp4:27042"], cgdir=cg)
        d = self.dump("--udp")
        self.assertIn(("udp4", 27042), d)
        self.assertNotIn(("udp4", 27040), d)

    def test_procfd_of_gone_process_is_empty(self):
        p = subprocess.Popen(["/bin/true"])
        p.wait()
        r = self.cgctl("procfd", str(p.pid), ok=False)
        self.assertEqual((r.returncode, r.stdout), (0, ""))

    def test_procfd_sees_passed_socket(self):
        # A listening socket created outside the cgroup and passed in over a
        # unix socket is held by the receiving process.
        cg = self.cgroup_path("c1")
        path = os.path.join(self.tmp, "pass.sock")
        self.listen([f"send:27050={path}"])
        _, pid, _ = self.listen([f"recv:{path}"], cgdir=cg)
        d = self.dump()
        inode = d[("tcp4", 27050)][1]
        self.assertNotEqual(d[("tcp4", 27050)][2], int(self.cgctl("id", self.rel("c1"))))
        wait_for(lambda: inode in [int(x) for x in self.cgctl("procfd", str(pid)).split()],
                 what="passed socket in the receiver's fds")


class CgroupTestsMixin(CgctlMixin):
    """Tree management and kill, run on both hierarchies."""
    v1 = False

    def setUp(self):
        super().setUp()
        self.assertTrue(os.access(CGCTL, os.X_OK), f"{CGCTL} not built")
        self.base = self.cgroup_path(v1=self.v1)
        self.hierarchy = os.path.dirname(self.base)

    def test_create_attach_pids(self):
        self.cgctl("create", self.rel("a/b"))
        self.assertTrue(os.path.isdir(self.cgroup_path("a/b", v1=self.v1)))
        self.cgctl("create", self.rel("a/b"))  # existing is fine
        _, pa, _ = self.listen([], cgdir=self.cgroup_path("a", v1=self.v1))
        _, pb, _ = self.listen([], cgdir=self.cgroup_path("a/b", v1=self.v1))
        self.assertEqual(self.pids("a"), [pa])
        self.assertEqual(self.pids("a", recursive=True), sorted([pa, pb]))
        self.assertEqual(self.pids("a/b", recursive=True), [pb])

        p = self.spawn(["/bin/sleep", "600"])
        self.cgctl("attach", self.rel("a/b"), str(p.pid))
        self.assertEqual(self.pids("a/b"), sorted([pb, p.pid]))
        r = self.cgctl("pids", self.rel("missing"), ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_descendants_parents_first_skipping_dot_dirs(self):
        for d in ("a/b/c", "a/d", "b", ".supervisors/x", "a/.hidden"):
            self.cgctl("create", self.rel(d))
        out = self.cgctl("descendants", self.rel()).split()
        self.assertEqual(sorted(out), ["a", "a/b", "a/b/c", "a/d", "b"])
        for child in ("a/b", "a/b/c", "a/d"):
            parent = child.rsplit("/", 1)[0]
            self.assertLess(out.index(parent), out.index(child))
        self.assertEqual(self.cgctl("descendants", self.rel("a/b/c")), "")

    def test_kill_daemonized_and_nested_then_remove(self):
        cg = self.cgroup_path("k", v1=self.v1)
        _, daemon, _ = self.listen(["tcp4:0"], cgdir=cg, daemonize=True)
        nested, npid, _ = self.listen(["tcp4:0"], cgdir=self.cgroup_path("k/n", v1=self.v1))
        self.assertTrue(alive(daemon))
        self.assertEqual(self.pids("k", recursive=True), sorted([daemon, npid]))

        self.cgctl("kill", self.rel("k"))
        self.assertEqual(self.pids("k", recursive=True), [])
        self.assertEqual(nested.wait(timeout=10), -signal.SIGKILL)
        wait_for(lambda: not alive(daemon), what="daemonized listener gone")

        self.cgctl("remove", self.rel("k"))
        self.assertFalse(os.path.exists(cg))
        self.cgctl("remove", self.rel("k"))  # missing is fine
        self.cgctl("kill", self.rel("k"))  # nothing left to kill

    def test_kill_forking_workload(self):
        cg = self.cgroup_path("f", v1=self.v1)
        self.spawn_in_cgroup(cg, ["/bin/sh", "-c", "while :; do /bin/sleep 600 & done"])
        wait_for(lambda: len(self.pids("f")) > 20, what="forking workload to grow")
        self.cgctl("kill", self.rel("f"))
        self.assertEqual(self.pids("f", recursive=True), [])
        self.cgctl("remove", self.rel("f"))
        self.assertFalse(os.path.exists(cg))

    def test_remove_refuses_populated_cgroup(self):
        cg = self.cgroup_path("busy/inner", v1=self.v1)
        self.listen([], cgdir=cg)
        r = self.cgctl("remove", self.rel("busy"), ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("busy", r.stderr.lower())
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        self.assertTrue(os.path.isdir(cg))


class CgroupV2Test(CgroupTestsMixin, PortisoTestCase):
    v1 = False

    def test_detect_default_hierarchy(self):
        out = subprocess.run([CGCTL, "detect"], capture_output=True, text=True).stdout.split()
        self.assertEqual(out, ["v2", cgroup_v2_mount()])

    def test_detect_bad_hierarchy(self):
        for bad in ("/nonexistent/portiso", self.tmp):
            r = subprocess.run([CGCTL, f"--hierarchy={bad}", "detect"], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 1, bad)
            self.assertEqual(r.stdout, "")
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn(bad, r.stderr)

    def test_id_matches_directory_inode(self):
        self.cgctl("create", self.rel("x/y"))
        self.assertEqual(int(self.cgctl("id", self.rel("x/y"))),
                         os.stat(self.cgroup_path("x/y")).st_ino)

    def test_path_from_id_round_trip(self):
        self.cgctl("create", self.rel("x/y"))
        cgid = self.cgctl("id", self.rel("x/y")).strip()
        self.assertEqual(self.cgctl("path-of", cgid).strip(), self.rel("x/y"))
        self.cgctl("remove", self.rel("x"))
        r = self.cgctl("path-of", cgid, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file", r.stderr)


class CgroupV1FreezerTest(CgroupTestsMixin, PortisoTestCase):
    v1 = True

    def test_detect_freezer_path(self):
        out = self.cgctl("detect").split()
        self.assertEqual(out, ["v1-freezer", cgroup_v1_freezer()])

    def test_id_not_supported(self):
        self.cgctl("create", self.rel("x"))
        r = self.cgctl("id", self.rel("x"), ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
