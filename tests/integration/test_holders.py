"""test_holders - the holder search behind ports_collect(), all three ways.

Sockets created outside every container but held inside one are found only
by the holder search: the in-kernel iterator (the default where BPF works)
or the /proc walk (PORTISO_HOLDERS=proc, and the fallback). Every socket kind
goes through it here: a host process creates TCP IPv4, IPv6-only, dual-stack
and UDP IPv4/IPv6 sockets, then forks a child that moves itself into
container a and daemonizes (double fork + setsid), so a grandchild whose
parent has exited holds them; a TCP listener goes to container b's process
over SCM_RIGHTS; one host listener stays on the host. Each backend (the
iterator driven by events, the iterator walking every container with
PORTISO_HOLDERS=walk, the /proc walk) must give the same answer through `portiso scan` and through bench-portiso-pass, which also
says which backend answered. Holders in cgroups made below a container count
for it. Ports 29100-29299 only.
"""
import json
import os
import random
import subprocess
import unittest

import portiso_test
from portiso_test import PortisoTestCase, wait_for
from test_bpf import port_is_free

# Create sockets on the host, then hand them to a daemonized grandchild inside
# the cgroup whose cgroup.procs is argv[1]; print "ready <grandchild pid>".
HOLDER = r"""
import os, socket, sys, time
procs, base = sys.argv[1], int(sys.argv[2])
def tcp(fam, port, v6only=None):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port))
    s.listen(4)
    return s
def udp(fam, port):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port))
    return s
socks = [tcp(socket.AF_INET, base), tcp(socket.AF_INET6, base + 1, 1),
         tcp(socket.AF_INET6, base + 2, 0), udp(socket.AF_INET, base + 3),
         udp(socket.AF_INET6, base + 4)]
r, w = os.pipe()
if os.fork() == 0:
    with open(procs, "w") as f:
        f.write("0")
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.write(w, b"%d\n" % os.getpid())
    while True:
        time.sleep(3600)
os.wait()
pid = os.read(r, 64).decode().strip()
for s in socks:
    s.close()  # only the grandchild in the container holds them now
print("ready", pid, flush=True)
while True:
    time.sleep(3600)
"""


class HolderCases:
    BACKEND = None  # None: the default (BPF where available); "proc": the /proc walk
    BAND = None  # first port of the class' band of 50

    def setUp(self):
        super().setUp()
        saved = os.environ.get("PORTISO_HOLDERS")
        if self.BACKEND:
            os.environ["PORTISO_HOLDERS"] = self.BACKEND
        else:
            os.environ.pop("PORTISO_HOLDERS", None)
        self.addCleanup(lambda: os.environ.__setitem__("PORTISO_HOLDERS", saved) if saved
                        else os.environ.pop("PORTISO_HOLDERS", None))
        self.root_dir = self.cgroup_path()
        os.makedirs(self.root_dir, exist_ok=True)
        self.BASE = self.free_base()

    def free_base(self):
        """A base port of the class' 50-port band whose 12 ports are all free
        now (the band is shared with concurrent runs of this test)."""
        bases = list(range(self.BAND, self.BAND + 50 - 12))
        random.shuffle(bases)
        for b in bases:
            if all(port_is_free(p) for p in range(b, b + 12)):
                return b
        raise AssertionError(f"no 12 free ports in [{self.BAND}-{self.BAND + 49}]")

    def cg(self, rel):
        path = self.cgroup_path(rel)
        os.makedirs(path, exist_ok=True)
        return path

    def build(self):
        """The scenario; returns the expected {container: ports} (TCP and UDP)."""
        p = self.BASE
        holder = self.spawn(["/usr/bin/python3", "-c", HOLDER,
                             os.path.join(self.cg("a"), "cgroup.procs"), str(p)],
                            stdout=subprocess.PIPE, text=True)
        line = holder.stdout.readline().split()
        self.assertEqual(line[:1], ["ready"], "holder did not start")
        grandchild = int(line[1])
        with open(os.path.join(self.cg("a"), "cgroup.procs")) as f:
            self.assertEqual([int(x) for x in f.read().split()], [grandchild])

        path = os.path.join(self.tmp, "handover.sock")
        host, _, ports = self.listen([f"send:{p + 5}={path}"])
        self.assertEqual(ports, [p + 5])
        self.listen([f"recv:{path}"], cgdir=self.cg("b"))
        self.listen([f"tcp4:{p + 6}"])  # stays on the host: nobody's
        self.cg("c")  # an empty container
        return {"a": [p, p + 1, p + 2, p + 3, p + 4], "b": [p + 5], "c": []}

    def scan(self):
        out = subprocess.run([portiso_test.CLI, "scan", "--cgroups_hierarchy=/sys/fs/cgroup",
                              f"--cgroups_root={self.cgroups_root}", "--protocols=tcp,udp",
                              "--json"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = {}
        for c in json.loads(out.stdout)["containers"]:
            got[c["id"]] = [p for r in c["listening"]["range"]
                            for p in range(r["begin"], r["end"] + 1)]
        return got

    def pass_timer(self, containers):
        """bench-portiso-pass over a hand-written manifest: (answers, backend)."""
        manifest = os.path.join(self.tmp, "manifest.txt")
        with open(manifest, "w") as f:
            f.write(f"v2 {portiso_test.cgroup_v2_mount()}\nroot {self.cgroups_root}\n")
            for c in containers:
                f.write(f"container {c} {self.cgroups_root}/{c} - - 0\n")
            f.write("host - -\nprocs 0\n")
        timer = os.path.join(portiso_test.BUILD, "bench", "scale", "bench-portiso-pass")
        out = subprocess.run([timer, f"--manifest={manifest}", "--passes=2", "--udp"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        got, backend = {}, None
        for line in out.stdout.splitlines():
            w = line.split()
            if w[0] == "listening":
                got[w[1]] = [] if w[2] == "-" else [int(x) for x in w[2].split(",")]
            elif w[0] == "backend":
                backend = w[1]
        return got, backend

    def expected_backend(self):
        return {"proc": "proc", "walk": "bpf"}.get(self.BACKEND, "bpf+events")

    def test_every_kind_held_inside(self):
        want = self.build()
        self.assertEqual(self.scan(), want)
        got, backend = self.pass_timer(want)
        self.assertEqual(got, want)
        self.assertEqual(backend, self.expected_backend())

    def test_holder_gone_means_listener_gone(self):
        want = self.build()
        self.assertEqual(self.scan(), want)
        # Kill container a's holder: the sockets close and nothing is left for a.
        portiso_test.kill_cgroup_tree(self.cg("a"))
        self.cg("a")
        wait_for(lambda: self.scan()["a"] == [], what="a's sockets to close")
        want["a"] = []
        self.assertEqual(self.pass_timer(want)[0], want)


    def test_held_in_cgroups_below_the_containers(self):
        """A host listener held in a cgroup made below container a; one made
        in b/s1, handed to b/s2, s1 removed: both count (pass timer only:
        `portiso scan` takes every cgroup for a container)."""
        p = self.BASE + 10
        path = os.path.join(self.tmp, "below.sock")
        self.listen([f"send:{p}={path}"])
        self.listen([f"recv:{path}"], cgdir=self.cg("a/made/deeper"))
        path = os.path.join(self.tmp, "gone.sock")
        sender, _, _ = self.listen([f"send:{p + 1}={path}"], cgdir=self.cg("b/s1"))
        self.listen([f"recv:{path}"], cgdir=self.cg("b/s2"))
        sender.kill()
        sender.wait()
        wait_for(lambda: _rmdir(self.cgroup_path("b/s1")), what="b/s1 removed")
        self.cg("c")
        want = {"a": [p], "b": [p + 1], "c": []}
        got, backend = self.pass_timer(want)
        self.assertEqual(got, want)
        self.assertEqual(backend, self.expected_backend())


def _rmdir(path):
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


class TestHoldersDefault(HolderCases, PortisoTestCase):
    BAND = 29100


class TestHoldersFullWalk(HolderCases, PortisoTestCase):
    BACKEND = "walk"
    BAND = 29150


class TestHoldersProcWalk(HolderCases, PortisoTestCase):
    BACKEND = "proc"
    BAND = 29200


if __name__ == "__main__":
    unittest.main()
