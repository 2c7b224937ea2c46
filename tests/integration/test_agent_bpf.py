"""test_agent_bpf - the agent's eBPF features end to end: bind prevention kept in
step with launches, UPDATE_CONTAINER and cleanups, holding while the agent is
stopped and leaving nothing behind; instant detection killing a violator long
before the next periodic pass; UDP in both.

Binds are tried by a probe process placed in a container's cgroup (as any
process of the container would be). The probe binds and never listens: a
listener on an unallocated port is what enforcement rightly kills, and the
probe must not race it. Listeners are real listen.py processes.
Ports used: 26000-26999 only (the isolated range of every agent here).
"""
import os
import subprocess
import time
import unittest

from agent_fixture import PYTHON, AgentTestCase, limitation_ports, wait_for
from portiso_test import ROOT
from test_bpf import BPFCTL, band_ports, bpftool_json

PIN_BASE = "/sys/fs/bpf/portiso"
ISOLATED = "[26000-26999]"
SLEEP = "exec sleep 1000"

# Tries each KIND:PORT spec of listen.py in turn and prints "SPEC ok|EPERM|<error>".
PROBE = """
import sys
sys.path.insert(0, %r)
import listen
for spec in sys.argv[1:]:
    kind, port = spec.split(":", 1)
    try:
        listen.make(kind, port, listen=False).close()
        print(spec, "ok")
    except PermissionError:
        print(spec, "EPERM")
    except OSError as e:
        print(spec, e)
""" % os.path.join(ROOT, "tests", "helpers")


# Opens and closes a TCP listener on port argv[1], argv[2] times.
CHURN = ("import socket, sys, time\n"
         "for i in range(int(sys.argv[2])):\n"
         "    s = socket.socket()\n"
         "    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "    s.bind((\"0.0.0.0\", int(sys.argv[1])))\n"
         "    s.listen(1)\n"
         "    s.close()\n"
         "    time.sleep(0.02)\n")


class AgentBpfTestCase(AgentTestCase):
    def setUp(self):
        # Registered before the fixture's cleanups so it runs after them, once
        # the agents are stopped: whatever a failed test left pinned goes.
        self.addCleanup(self._remove_pins)
        super().setUp()
        self.root = self.cgroup_path()  # fails in CI / skips without cgroup2
        self.pin_dir = os.path.join(PIN_BASE, self.cgroups_root)

    def _remove_pins(self):
        root = getattr(self, "cgroups_root", None)
        if root and os.path.isdir(os.path.join(PIN_BASE, root)):
            subprocess.run([BPFCTL, f"--cgroups-root={root}", "prevent-destroy"],
                           capture_output=True, timeout=60)

    def agent(self, **kw):
        kw.setdefault("container_ports_isolated_range", ISOLATED)
        kw.setdefault("enforce_container_ports", True)
        return self.start_agent(**kw)

    def probe(self, container, *specs):
        """{spec: "ok" | "EPERM" | error} for binds made inside container's cgroup."""
        procs = os.path.join(self.root, container, "cgroup.procs")
        p = subprocess.run(["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, PYTHON, "-c",
                            PROBE] + list(specs), capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return dict(line.split(" ", 1) for line in p.stdout.splitlines())

    def our_links(self):
        root_id = os.stat(self.root).st_ino
        return [l for l in bpftool_json("link", "show") if l.get("cgroup_id") == root_id]

    def assert_nothing_of_portiso_left(self, prog_ids, map_ids):
        wait_for(lambda: not os.path.exists(self.pin_dir), what=f"{self.pin_dir} removed")
        self.assertEqual(self.our_links(), [])
        wait_for(lambda: not prog_ids & {p["id"] for p in bpftool_json("prog", "show")},
                 what="programs freed")
        wait_for(lambda: not map_ids & {m["id"] for m in bpftool_json("map", "show")},
                 what="maps freed")

    def kernel_objects(self):
        """(prog ids, map ids) of the prevention attached to our cgroups root."""
        progs = {l["prog_id"] for l in self.our_links()}
        maps = set()
        for p in progs:
            maps |= set(bpftool_json("prog", "show", "id", str(p)).get("map_ids", []))
        return progs, maps


class TestBindPrevention(AgentBpfTestCase):
    def setUp(self):
        super().setUp()
        # a1..a3 allocated, u1 and u2 isolated but not allocated.
        self.a1, self.a2, self.a3, self.u1, self.u2 = band_ports(5)

    def test_unallocated_binds_denied_allocated_allowed_and_update(self):
        a1, a2, a3, u1 = self.a1, self.a2, self.a3, self.u1
        a = self.agent(container_ports_prevent_bind=True)
        flags = {f["name"]: f["value"] for f in a.call("GET_FLAGS")["get_flags"]["flags"]}
        self.assertEqual(flags["container_ports_prevent_bind"], "true")
        self.assertEqual(a.metrics()["network_ports/prevent_bind"], 1)

        a.launch("c1", SLEEP, ports=[a1, a2, a3])
        a.launch("c1/n1", SLEEP)
        self.assertEqual(self.probe("c1", f"tcp4:{u1}", f"tcp6only:{u1}", f"dual:{u1}"),
                         {f"tcp4:{u1}": "EPERM", f"tcp6only:{u1}": "EPERM",
                          f"dual:{u1}": "EPERM"})
        self.assertEqual(self.probe("c1", f"tcp4:{a1}", f"tcp6only:{a2}", f"dual:{a3}", "tcp4:0"),
                         {f"tcp4:{a1}": "ok", f"tcp6only:{a2}": "ok", f"dual:{a3}": "ok",
                          "tcp4:0": "ok"})
        # A nested container shares its root's allocation.
        self.assertEqual(self.probe("c1/n1", f"tcp4:{u1}", f"tcp4:{a2}"),
                         {f"tcp4:{u1}": "EPERM", f"tcp4:{a2}": "ok"})

        a.update("c1", [a1, a2, a3, u1])
        self.assertEqual(self.probe("c1/n1", f"tcp4:{u1}", f"dual:{u1}"),
                         {f"tcp4:{u1}": "ok", f"dual:{u1}": "ok"})
        self.assertEqual(a.state("c1"), "RUNNING")
        a.kill("c1")
        a.wait("c1")

    def test_udp_socket_on_a_port_taken_away_is_killed_after_a_second_look(self):
        # Bind prevention refuses u1 once the UPDATE took it away, so a socket
        # there is first looked at again (a refused UDP bind shows for an
        # instant): the socket bound before stays and must still be killed.
        a1, u1 = self.a1, self.u1
        a = self.agent(container_ports_prevent_bind=True, container_ports_protocols="tcp,udp")
        a.launch("c1", self.listener_cmd("c1", f"udp4:{u1}"), ports=[a1, u1])
        self.assertEqual(self.wait_listening("c1"), [u1])
        a.update("c1", [a1])  # the next pass sees it
        w = a.wait("c1")
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(limitation_ports(w), [(u1, u1)])
        self.assertGreaterEqual(a.metrics()["network_ports/violations"], 1)

    def test_denial_holds_while_agent_is_stopped_and_after_restart(self):
        a1, u1 = self.a1, self.u1
        a = self.agent(container_ports_prevent_bind=True)
        a.launch("c1", SLEEP, ports=[a1])
        self.assertEqual(a.stop(), 0)
        self.assertTrue(os.path.isdir(self.pin_dir))
        self.assertEqual(self.probe("c1", f"tcp4:{u1}", f"tcp4:{a1}"),
                         {f"tcp4:{u1}": "EPERM", f"tcp4:{a1}": "ok"})

        a = self.agent(container_ports_prevent_bind=True)
        self.assertIn("re-adopted", a.log())
        self.assertEqual(a.state("c1"), "RUNNING")
        self.assertEqual(self.probe("c1", f"tcp4:{u1}", f"tcp4:{a1}"),
                         {f"tcp4:{u1}": "EPERM", f"tcp4:{a1}": "ok"})
        a.update("c1", [a1, u1])
        self.assertEqual(self.probe("c1", f"tcp4:{u1}"), {f"tcp4:{u1}": "ok"})
        a.kill("c1")
        a.wait("c1")

    def test_nothing_left_after_the_last_container(self):
        a = self.agent(container_ports_prevent_bind=True)
        a.launch("c1", SLEEP, ports=[self.a1])
        a.launch("c2", SLEEP, ports=[self.a2])
        progs, maps = self.kernel_objects()
        # bind4/6 and post_bind4/6, plus the two autobind (LSM) hooks where
        # the kernel loads them; maps: config, allocs, denials and its zero.
        lsm = "Autobinds" not in a.log()
        self.assertEqual((len(progs), len(maps)), (6 if lsm else 4, 4))

        a.kill("c1")
        a.wait("c1")
        self.assertTrue(os.path.isdir(self.pin_dir), "removed while c2 still needs it")
        self.assertEqual(self.probe("c2", f"tcp4:{self.a1}"), {f"tcp4:{self.a1}": "EPERM"})
        a.kill("c2")
        a.wait("c2")
        a.remove("c1")
        a.remove("c2")
        self.assert_nothing_of_portiso_left(progs, maps)

    def test_pins_removed_when_containers_ended_while_agent_was_down(self):
        a = self.agent(container_ports_prevent_bind=True)
        a.launch("c1", SLEEP, ports=[self.a1])
        progs, maps = self.kernel_objects()
        a.stop()
        with open(os.path.join(self.root, "c1", "cgroup.kill"), "w") as f:
            f.write("1")

        # Ended means its supervisor has recorded the exit and gone too.
        def empty(cgroup):
            with open(os.path.join(self.root, cgroup, "cgroup.procs")) as f:
                return not f.read()
        wait_for(lambda: empty("c1"), what="c1 emptied")
        wait_for(lambda: empty(".supervisors"), what="c1's supervisor gone")
        a = self.agent(container_ports_prevent_bind=True)
        self.assertEqual(a.state("c1"), "TERMINATED")
        self.assert_nothing_of_portiso_left(progs, maps)

    def test_pins_removed_when_restarted_without_prevention(self):
        a = self.agent(container_ports_prevent_bind=True)
        a.launch("c1", SLEEP, ports=[self.a1])
        progs, maps = self.kernel_objects()
        a.stop()
        a = self.agent()
        self.assertEqual(a.metrics()["network_ports/prevent_bind"], 0)
        self.assert_nothing_of_portiso_left(progs, maps)
        self.assertEqual(self.probe("c1", f"tcp4:{self.u1}"), {f"tcp4:{self.u1}": "ok"})
        a.kill("c1")
        a.wait("c1")

    def test_udp_prevented_only_with_udp(self):
        a1, u2 = self.a1, self.u2
        a = self.agent(container_ports_prevent_bind=True)
        a.launch("c1", SLEEP, ports=[a1])
        self.assertEqual(self.probe("c1", f"udp4:{u2}"), {f"udp4:{u2}": "ok"})
        a.kill("c1")
        a.wait("c1")
        a.stop()
        a = self.agent(container_ports_prevent_bind=True, container_ports_protocols="tcp,udp")
        a.launch("c2", SLEEP, ports=[a1])
        self.assertEqual(self.probe("c2", f"udp4:{u2}", f"udp6:{u2}", f"udp4:{a1}"),
                         {f"udp4:{u2}": "EPERM", f"udp6:{u2}": "EPERM", f"udp4:{a1}": "ok"})
        a.kill("c2")
        a.wait("c2")


class TestInstantDetection(AgentBpfTestCase):
    def destroyed_within(self, a, id, kind, limit=1.0):
        """Launch a container that listens on an unallocated port with kind;
        return the seconds from the launch (which precedes its listen()) to the
        container being destroyed. The listener's ready file is no clock:
        detection may kill it before it is written."""
        allocated, port = band_ports(2)
        a.launch(id, self.listener_cmd(id, f"{kind}:{port}"), ports=[allocated])
        launched = time.monotonic()
        w = a.wait(id)
        elapsed = time.monotonic() - launched
        self.assertEqual(w["state"], "TASK_FAILED")
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(limitation_ports(w), [(port, port)])
        self.assertLess(elapsed, limit)
        return elapsed

    def test_violator_destroyed_within_a_second_with_an_hour_interval(self):
        a = self.agent(container_ports_watch_interval="1hrs")
        flags = {f["name"]: f["value"] for f in a.call("GET_FLAGS")["get_flags"]["flags"]}
        self.assertEqual(flags["container_ports_instant_detection"], "true")
        self.assertEqual(a.metrics()["network_ports/instant_detection"], 1)
        self.destroyed_within(a, "bad4", "tcp4")
        self.destroyed_within(a, "bad6", "dual")

    def test_udp_bind_detected_with_tcp_udp(self):
        a = self.agent(container_ports_watch_interval="1hrs", container_ports_protocols="tcp,udp")
        self.destroyed_within(a, "udp", "udp4")

    def test_each_event_checks_its_own_container_without_a_full_pass(self):
        """Root, nested, IPv6-only and UDP violations are each found from
        their event alone: with an hour's interval, no full pass runs after
        the one at start, and every kill is an event check's."""
        a = self.agent(container_ports_watch_interval="1hrs", container_ports_protocols="tcp,udp")
        scans = a.metrics()["network_ports/scans"]
        checks = a.metrics()["network_ports/event_checks"]
        self.destroyed_within(a, "root4", "tcp4")
        allocated, port = band_ports(2)
        a.launch("parent", SLEEP, ports=[allocated])
        a.launch("parent/kid", self.listener_cmd("parent/kid", f"tcp4:{port}"))
        w = a.wait("parent", timeout=10)
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(limitation_ports(w), [(port, port)])
        self.assertEqual(limitation_ports(a.wait("parent/kid")), [(port, port)])
        self.destroyed_within(a, "only6", "tcp6only")
        self.destroyed_within(a, "udp", "udp6")
        m = a.metrics()
        self.assertEqual(m["network_ports/scans"], scans, "a full pass ran")
        self.assertGreaterEqual(m["network_ports/event_checks"], checks + 4)
        self.assertGreaterEqual(m["network_ports/listen_events"], 4)
        self.assertEqual(m["network_ports/listen_events_dropped"], 0)
        self.assertEqual(m["network_ports/violations"], 4)

    def test_allocated_listeners_churn_without_full_passes(self):
        a = self.agent(container_ports_watch_interval="1hrs")
        scans = a.metrics()["network_ports/scans"]
        allocated, = band_ports(1)
        a.launch("ok", f"{PYTHON} -c '{CHURN}' {allocated} 20 && exec sleep 1000",
                 ports=[allocated])
        wait_for(lambda: a.metrics()["network_ports/event_checks"] >= 20,
                 what="20 event checks")
        self.assertEqual(a.state("ok"), "RUNNING")
        self.assertEqual(a.metrics()["network_ports/scans"], scans)
        self.assertEqual(a.metrics()["network_ports/violations"], 0)
        a.kill("ok")
        a.wait("ok")

    def test_detection_off_leaves_it_to_the_periodic_pass(self):
        allocated, port = band_ports(2)
        a = self.agent(container_ports_watch_interval="1hrs",
                       container_ports_instant_detection=False)
        self.assertEqual(a.metrics()["network_ports/instant_detection"], 0)
        a.launch("bad", self.listener_cmd("bad", f"tcp4:{port}"), ports=[allocated])
        self.wait_listening("bad")
        scans = a.metrics()["network_ports/scans"]
        # An allowed listen in another container would trigger a pass if
        # detection were on; with it off, nothing runs until the hour is up.
        self.launch_listener(a, "good", [f"tcp4:{allocated}"], ports=[allocated])
        self.assertEqual(a.metrics()["network_ports/scans"], scans)
        self.assertEqual(a.state("bad"), "RUNNING")
        for id in ("bad", "good"):
            a.kill(id)
            a.wait(id)


if __name__ == "__main__":
    unittest.main()
