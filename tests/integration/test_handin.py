"""test_handin - a host listener handed to a container that is already running,
at a random moment during a stream of passes, is counted at the next pass.

The agent runs log-only with a 200 ms watch interval; the container runs a
receiver from the start. At a random moment the listener reaches it one of
the ways the kernel offers: SCM_RIGHTS over a unix socket, pidfd_getfd(),
the holder process moved into the container's cgroup, or a holder forked
straight into it (clone3 with CLONE_INTO_CGROUP). The first pass that
starts after the hand-in must count the listener for the container.

Each way runs on the three holder searches: the BPF iterator driven by
events (with its safety-net full walk pushed out of reach, so the events
alone must find it), the iterator walking everything (PORTISO_HOLDERS=walk)
and the /proc walk (PORTISO_HOLDERS=proc). Ports 30500-30999.
"""
import os
import random
import subprocess
import time
import unittest

from agent_fixture import PYTHON, AgentTestCase, wait_for
from test_bpf import band_ports

BAND = (30500, 30999)
SLEEP = "exec sleep 1000"

# Runs in the container from the start and waits for the file argv[3]; then
# takes the listener the way argv[1] says and prints "got", and holds it.
RECEIVER = r"""
import array, ctypes, os, socket, sys, time
how, arg, go = sys.argv[1:4]
while not os.path.exists(go):
    time.sleep(0.005)
if how == "scm":
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.connect(arg)
    msg, anc, _, _ = u.recvmsg(16, socket.CMSG_SPACE(4))
    fds = array.array("i")
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % 4)])
    held = socket.socket(fileno=fds[0])
    u.close()
elif how == "getfd":
    with open(arg) as f:
        pid, fd = (int(x) for x in f.read().split())
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    held = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
    if held < 0:
        raise SystemExit("pidfd_getfd: %s" % os.strerror(ctypes.get_errno()))
print("got", flush=True)
while True:
    time.sleep(3600)
"""

# On the host: listen on argv[1]; then, as argv[2] says, either print
# "pid fd" into argv[3] (for pidfd_getfd) or, told by a line on stdin, fork a
# child straight into the cgroup directory argv[3] (clone3 with
# CLONE_INTO_CGROUP) that keeps the listener, and print "got".
HOLDER = r"""
import ctypes, os, socket, struct, sys, time
port, how, arg = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(4)
print("ready", os.getpid(), flush=True)
if how == "getfd":
    with open(arg + ".tmp", "w") as f:
        f.write("%d %d" % (os.getpid(), s.fileno()))
    os.rename(arg + ".tmp", arg)
elif how == "clone":
    sys.stdin.readline()
    cg = os.open(arg, os.O_RDONLY | os.O_DIRECTORY)
    # struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal,
    # stack, stack_size, tls, set_tid, set_tid_size, cgroup
    args = struct.pack("=11Q", 0x200000000, 0, 0, 0, 17, 0, 0, 0, 0, 0, cg)
    buf = ctypes.create_string_buffer(args)
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.syscall(435, buf, ctypes.c_size_t(len(args)))  # clone3
    if pid < 0:
        raise SystemExit("clone3: %s" % os.strerror(ctypes.get_errno()))
    if pid == 0:
        while True:
            time.sleep(3600)
    print("got", pid, flush=True)
while True:
    time.sleep(3600)
"""


class HandInCases:
    BACKEND = None  # None: events; "walk": iterator, everything; "proc": /proc walk

    def setUp(self):
        super().setUp()
        env = {"PORTISO_HOLDERS": self.BACKEND,
               # The safety-net full walk out of reach: events alone count.
               "PORTISO_HOLDERS_FULL_EVERY": "1000000" if self.BACKEND is None else None}
        for k, v in env.items():
            saved = os.environ.get(k)
            if v:
                os.environ[k] = v
            else:
                os.environ.pop(k, None)
            self.addCleanup(lambda k=k, saved=saved: os.environ.__setitem__(k, saved)
                            if saved is not None else os.environ.pop(k, None))
        self.root = self.cgroup_path()
        self.allocated, self.port = band_ports(2, *BAND)
        self.a = self.start_agent(container_ports_isolated_range=f"[{BAND[0]}-{BAND[1]}]",
                                  container_ports_watch_interval="200ms")
        self.a.launch("c1", SLEEP, ports=[self.allocated])
        self.a.wait_state("c1", "RUNNING")
        self.cgdir = os.path.join(self.root, "c1")

    def listening(self):
        c = self.a.containers()["c1"]
        return [p for r in c["listening"].get("range", [])
                for p in range(r["begin"], r["end"] + 1)]

    def random_moment(self):
        """Some passes, then a random point between two of them."""
        self.a.wait_scans(2)
        time.sleep(random.uniform(0, 0.4))

    def assert_counted_at_next_pass(self):
        """The hand-in is complete: the pass after the one now running (if
        any) must count it."""
        start = self.a.metrics()["network_ports/scans"]
        seen = wait_for(lambda: self.a.metrics()["network_ports/scans"] >= start + 2 and
                        (self.listening(),), interval=0.005, what="the next pass")
        self.assertIn(self.port, seen[0],
                      f"not counted at the pass after the hand-in (pass {start + 2})")

    def receiver(self, *argv):
        return self.spawn_in_cgroup(self.cgdir, [PYTHON, "-c", RECEIVER] + list(argv))

    # The host listener exists before the random moment in every case: a
    # new candidate makes the next pass walk everything anyway.
    def test_scm_rights(self):
        path, go = os.path.join(self.tmp, "hand.sock"), os.path.join(self.tmp, "go")
        rx = self.receiver("scm", path, go)
        self.listen([f"send:{self.port}={path}"])
        self.random_moment()
        open(go, "w").close()
        self.assertEqual(rx.stdout.readline().strip(), "got")
        self.assert_counted_at_next_pass()

    def test_pidfd_getfd(self):
        spec, go = os.path.join(self.tmp, "getfd"), os.path.join(self.tmp, "go")
        rx = self.receiver("getfd", spec, go)
        holder = self.spawn([PYTHON, "-c", HOLDER, str(self.port), "getfd", spec],
                            stdout=subprocess.PIPE, text=True)
        self.assertEqual(holder.stdout.readline().split()[0], "ready")
        wait_for(lambda: os.path.exists(spec), what="the holder's fd")
        self.random_moment()
        open(go, "w").close()
        self.assertEqual(rx.stdout.readline().strip(), "got")
        self.assert_counted_at_next_pass()

    def test_holder_moved_into_the_container(self):
        _, pid, _ = self.listen([f"tcp4:{self.port}"])
        self.random_moment()
        with open(os.path.join(self.cgdir, "cgroup.procs"), "w") as f:
            f.write(str(pid))
        self.assert_counted_at_next_pass()

    def test_holder_forked_into_the_container(self):
        holder = self.spawn([PYTHON, "-c", HOLDER, str(self.port), "clone", self.cgdir],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.assertEqual(holder.stdout.readline().split()[0], "ready")
        self.random_moment()
        holder.stdin.write("go\n")
        holder.stdin.flush()
        self.assertEqual(holder.stdout.readline().split()[0], "got")
        self.assert_counted_at_next_pass()


class TestHandInEvents(HandInCases, AgentTestCase):
    pass


class TestHandInFullWalk(HandInCases, AgentTestCase):
    BACKEND = "walk"


class TestHandInProcWalk(HandInCases, AgentTestCase):
    BACKEND = "proc"


if __name__ == "__main__":
    unittest.main()
