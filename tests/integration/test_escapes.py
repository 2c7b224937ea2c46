"""test_escapes - the ways a task could listen on a port it was not allocated
without the agent noticing, or with bind prevention on without being refused,
closed one by one through the real agent.

- A listening socket created on the host and handed (SCM_RIGHTS) to a process
  in a cgroup the task made below its container: the holder search covers
  every cgroup below a container (on the BPF iterator driven by events, on
  the iterator walking everything, PORTISO_HOLDERS=walk, and on the /proc
  walk, PORTISO_HOLDERS=proc), with and without
  --container_ports_prevent_bind.
- A socket created in such a sub-cgroup, handed to a second one, the first
  removed before a pass saw it: it counts for the container through its
  holder.
- With --container_ports_prevent_bind, autobinds (bind() to port 0, listen()
  without bind(), UDP sendto() without bind() when UDP counts) get EPERM
  unless every port the kernel could pick is allowed. listen() and sendto()
  need the BPF LSM; where the kernel has none the agent says so once and the
  listener is still killed by detection.

Ports: allocations and unallocated listeners in 30000-30499. The autobind
tests isolate [30000-65535], which holds the ephemeral range (32768-60999
here); nothing outside this test's cgroups is affected.
"""
import os
import subprocess
import unittest

from agent_fixture import PYTHON, AgentTestCase, limitation_ports, wait_for
from portiso_test import ROOT
from test_bpf import band_ports

PIN_BASE = "/sys/fs/bpf/portiso"
SLEEP = "exec sleep 1000"
BAND = (30000, 30499)
AUTOBIND_ISOLATED = "[30000-65535]"
NOT_PREVENTED = "Autobinds (listen() or UDP sendmsg() without bind()) are not prevented"

# Tries each KIND:PORT spec of listen.py in turn and prints "SPEC ok|EPERM|<error>".
PROBE = """
import sys
sys.path.insert(0, %r)
import listen
for spec in sys.argv[1:]:
    kind, port = spec.split(":", 1)
    try:
        listen.make(kind, port).close()
        print(spec, "ok")
    except PermissionError:
        print(spec, "EPERM")
    except OSError as e:
        print(spec, e)
""" % os.path.join(ROOT, "tests", "helpers")


def ephemeral_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = (int(x) for x in f.read().split())
    return lo, hi


class EscapeTestCase(AgentTestCase):
    BACKEND = None  # None: the BPF search with events; "walk": without; "proc": /proc

    def setUp(self):
        self.addCleanup(self._remove_pins)
        super().setUp()
        saved = os.environ.get("PORTISO_HOLDERS")
        if self.BACKEND:
            os.environ["PORTISO_HOLDERS"] = self.BACKEND
        else:
            os.environ.pop("PORTISO_HOLDERS", None)
        self.addCleanup(lambda: os.environ.__setitem__("PORTISO_HOLDERS", saved) if saved
                        else os.environ.pop("PORTISO_HOLDERS", None))
        self.root = self.cgroup_path()

    def _remove_pins(self):
        if getattr(self, "cgroups_root", None):
            self.remove_pins()

    def agent(self, **kw):
        kw.setdefault("container_ports_isolated_range", f"[{BAND[0]}-{BAND[1]}]")
        kw.setdefault("enforce_container_ports", True)
        return self.start_agent(**kw)

    def sub(self, rel):
        path = self.cgroup_path(rel)
        os.makedirs(path, exist_ok=True)
        return path

    def hand_in(self, port, cgdir):
        """A host listener on port, handed over SCM_RIGHTS to a process in cgdir."""
        path = os.path.join(self.tmp, f"hand-{port}.sock")
        _, _, ports = self.listen([f"send:{port}={path}"])
        self.assertEqual(ports, [port])
        self.listen([f"recv:{path}"], cgdir=cgdir)

    def assert_killed_for(self, a, id, port):
        w = a.wait(id)
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(limitation_ports(w), [(port, port)])


class HolderEscapeCases:
    def held_below(self, prevent):
        allocated, unallocated, nested_port = band_ports(3, *BAND)
        a = self.agent(container_ports_prevent_bind=prevent)
        a.launch("c1", SLEEP, ports=[allocated])
        a.launch("c2", SLEEP, ports=[allocated])
        a.launch("c2/n1", SLEEP)
        a.wait_state("c2/n1", "RUNNING")
        # c1's task made c1/made/deeper (a dot name too: nothing is hidden).
        self.hand_in(unallocated, self.sub("c1/.made/deeper"))
        self.assert_killed_for(a, "c1", unallocated)
        # Below a nested container: counts for it, and so for its root.
        self.hand_in(nested_port, self.sub("c2/n1/own"))
        self.assert_killed_for(a, "c2", nested_port)
        self.assertEqual(limitation_ports(a.wait("c2/n1")), [(nested_port, nested_port)])

    def test_host_listener_held_in_a_sub_cgroup_is_killed(self):
        self.held_below(prevent=False)

    def test_host_listener_held_in_a_sub_cgroup_is_killed_with_prevention(self):
        self.held_below(prevent=True)

    def test_socket_of_a_removed_sub_cgroup_held_from_another_is_killed(self):
        allocated, unallocated = band_ports(2, *BAND)
        # No instant detection and a slow timer: the pass that follows the
        # scenario is the first to see the listener, when s1 is gone already.
        a = self.agent(container_ports_instant_detection=False,
                       container_ports_watch_interval="3secs")
        a.launch("c1", SLEEP, ports=[allocated])
        a.wait_state("c1", "RUNNING")
        a.wait_scans(1, timeout=15)
        # s1 creates the listener and hands it to s2, then s1's process ends
        # and s1 is removed.
        path = os.path.join(self.tmp, "s1.sock")
        sender, _, _ = self.listen([f"send:{unallocated}={path}"], cgdir=self.sub("c1/s1"))
        self.listen([f"recv:{path}"], cgdir=self.sub("c1/s2"))
        sender.kill()
        sender.wait()
        wait_for(lambda: _rmdir(self.cgroup_path("c1/s1")), what="c1/s1 removed")
        self.assert_killed_for(a, "c1", unallocated)


def _rmdir(path):
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


class TestHolderEscapesDefault(HolderEscapeCases, EscapeTestCase):
    pass


class TestHolderEscapesFullWalk(HolderEscapeCases, EscapeTestCase):
    BACKEND = "walk"


class TestHolderEscapesProcWalk(HolderEscapeCases, EscapeTestCase):
    BACKEND = "proc"


class TestAutobindPrevention(EscapeTestCase):
    def probe(self, container, *specs):
        """{spec: "ok" | "EPERM" | error} for calls made inside container's cgroup."""
        procs = os.path.join(self.root, container, "cgroup.procs")
        p = subprocess.run(["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, PYTHON, "-c",
                            PROBE] + list(specs), capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            # Killed, most likely: the agent's warnings say what it saw.
            warnings = [l[:300] for a in self.agents for l in a.log().splitlines()
                        if l.startswith(("W", "E"))]
            self.fail(f"probe in {container} ended {p.returncode}: {p.stderr}\n"
                      + "\n".join(warnings[-10:]))
        return dict(line.split(" ", 1) for line in p.stdout.splitlines())

    def lsm(self, a):
        """True where the agent attached the autobind (LSM) hooks; else it
        said so, exactly once."""
        n = a.log().count(NOT_PREVENTED)
        self.assertIn(n, (0, 1), a.log())
        return n == 0

    def test_port_zero_binds_refused_unless_the_ephemeral_range_is_allowed(self):
        allocated, = band_ports(1, *BAND)
        lo, hi = ephemeral_range()
        a = self.agent(container_ports_prevent_bind=True, container_ports_protocols="tcp,udp",
                       container_ports_isolated_range=AUTOBIND_ISOLATED)
        a.launch("c1", SLEEP, ports=[allocated])
        a.launch("c1/n1", SLEEP)
        a.launch("wide", SLEEP, ports=[allocated, (lo, hi)])
        a.wait_state("c1/n1", "RUNNING")
        self.assertEqual(self.probe("c1", "tcp4:0", "dual:0", "udp4:0", "udp6:0"),
                         {"tcp4:0": "EPERM", "dual:0": "EPERM", "udp4:0": "EPERM",
                          "udp6:0": "EPERM"})
        self.assertEqual(self.probe("c1/n1", "tcp4:0", "udp4:0"),
                         {"tcp4:0": "EPERM", "udp4:0": "EPERM"})
        # Explicit allocated ports still bind; a container allocated the whole
        # ephemeral range may autobind.
        self.assertEqual(self.probe("c1", f"tcp4:{allocated}", f"udp4:{allocated}"),
                         {f"tcp4:{allocated}": "ok", f"udp4:{allocated}": "ok"})
        self.assertEqual(self.probe("wide", "tcp4:0", "udp4:0", "listen0:0", "udpsend:9"),
                         {"tcp4:0": "ok", "udp4:0": "ok", "listen0:0": "ok", "udpsend:9": "ok"})
        for id in ("c1", "wide"):
            self.assertEqual(a.state(id), "RUNNING")
        if self.lsm(a):
            self.assertEqual(self.probe("c1", "listen0:0", "udpsend:9"),
                             {"listen0:0": "EPERM", "udpsend:9": "EPERM"})
        a.kill("c1")
        a.kill("wide")
        a.wait("c1")
        a.wait("wide")

    def test_refused_udp_binds_never_get_their_container_killed(self):
        # Instant detection reports a UDP bind from post_bind, before bind
        # prevention's post_bind refuses it and the kernel undoes it. Checked
        # at once, the socket could still be seen: the container of a task
        # that was only told EPERM got killed (the probe died of SIGKILL,
        # every run of 40 x 200 binds before the fix).
        allocated, = band_ports(1, *BAND)
        a = self.agent(container_ports_prevent_bind=True, container_ports_protocols="tcp,udp",
                       container_ports_isolated_range=AUTOBIND_ISOLATED)
        a.launch("c1", SLEEP, ports=[allocated])
        a.launch("c1/n1", SLEEP)
        a.wait_state("c1/n1", "RUNNING")
        for container in ("c1", "c1/n1") * 5:
            out = self.probe(container, *(["udp4:0", "udp6:0"] * 100))
            self.assertEqual(set(out.values()), {"EPERM"}, out)
        self.assertEqual(a.state("c1"), "RUNNING")
        a.kill("c1")
        a.wait("c1")

    def test_udp_port_zero_allowed_when_udp_does_not_count(self):
        allocated, = band_ports(1, *BAND)
        a = self.agent(container_ports_prevent_bind=True,
                       container_ports_isolated_range=AUTOBIND_ISOLATED)
        a.launch("c1", SLEEP, ports=[allocated])
        a.wait_state("c1", "RUNNING")
        self.assertEqual(self.probe("c1", "udp4:0", "udpsend:9", "tcp4:0"),
                         {"udp4:0": "ok", "udpsend:9": "ok", "tcp4:0": "EPERM"})
        a.kill("c1")
        a.wait("c1")

    def test_listen_without_bind_refused_or_else_killed(self):
        allocated, = band_ports(1, *BAND)
        a = self.agent(container_ports_prevent_bind=True,
                       container_ports_isolated_range=AUTOBIND_ISOLATED)
        a.launch("c1", self.listener_cmd("c1", "listen0:0"), ports=[allocated])
        w = a.wait("c1")
        if self.lsm(a):
            # listen() failed with EPERM: the task exited without listening.
            self.assertNotIn("reason", w)
            self.assertFalse(os.path.exists(self.ready_file("c1")))
        else:
            # Not prevented here: detection kills it, on a port the kernel picked.
            self.assertEqual(w["state"], "TASK_FAILED")
            self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
            (port, end), = limitation_ports(w)
            lo, hi = ephemeral_range()
            self.assertEqual(port, end)
            self.assertTrue(lo <= port <= hi, port)
            # One warning, however often prevention was attached.
            a.launch("c2", SLEEP, ports=[allocated])
            a.wait_state("c2", "RUNNING")
            self.assertEqual(a.log().count(NOT_PREVENTED), 1)
            a.kill("c2")
            a.wait("c2")


if __name__ == "__main__":
    unittest.main()
