"""test_source_cgroups - the cgroups workload source (--adopt_dir).

The test makes its own "units": cgroups below <v2 mount>/<cgroups_root>-units
(outside the agent's cgroups root, as a systemd or Nomad cgroup would be),
with real listeners in them, and declares them in *.conf files. Ports are
picked free in 20000-23999 and isolated by [20000-31999].
"""
import os
import threading
import time

from agent_fixture import AgentTestCase, wait_for
from engine_fixture import free_test_port
from portiso_test import cgroup_v2_mount, kill_cgroup_tree


class TestCgroupsSource(AgentTestCase):
    def setUp(self):
        super().setUp()
        base = cgroup_v2_mount()
        if base is None:
            self.fail("no cgroup2 hierarchy on this machine")
        self.units_rel = f"{self.cgroups_root}-units"
        self.units = os.path.join(base, self.units_rel)
        os.makedirs(self.units)
        self.addCleanup(self._remove_units)
        self.adopt_dir = os.path.join(self.tmp, "adopt.d")
        os.makedirs(self.adopt_dir)
        self.taken = set()

    def _remove_units(self):
        kill_cgroup_tree(self.units)
        self.assertFalse(os.path.exists(self.units), f"{self.units} left behind")

    def port(self):
        p = free_test_port(taken=self.taken)
        self.taken.add(p)
        return p

    def declare(self, name, text):
        """Write adopt.d/name atomically (as an editor or a config tool would)."""
        tmp = os.path.join(self.adopt_dir, f".{name}.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.adopt_dir, name))

    def start(self, **kw):
        return self.start_agent(workload_sources="api,cgroups", adopt_dir=self.adopt_dir,
                                container_ports_isolated_range="[20000-31999]",
                                enforce_container_ports=True, **kw)

    def cid(self, unit):
        """The id the agent gives a cgroup: '/' and '.' become '_'."""
        return "cgroups:" + f"{self.units_rel}/{unit}".replace("/", "_").replace(".", "_")

    def unit(self, name, port):
        """A cgroup with a listener on port in it; returns (cgroup dir, Popen)."""
        path = os.path.join(self.units, name)
        p, _, _ = self.listen([f"tcp4:{port}"], cgdir=path)
        return path, p

    def test_adopt_change_remove(self):
        p, p2 = self.port(), self.port()
        a = self.start()
        _, proc = self.unit("web.service", p)
        self.declare("web.conf", f"# the web unit\ncgroup = {self.units_rel}/web.service\n"
                                 f"ports = [{p}-{p}]\n")
        cid = self.cid("web.service")
        wait_for(lambda: (a.containers().get(cid) or {}).get("listening", {}).get("range")
                 == [{"begin": p, "end": p}], what=f"{cid} adopted and listening")
        c = a.containers()[cid]
        self.assertEqual((c["state"], c["source"]), ("RUNNING", "cgroups"))
        a.wait_scans(3)
        self.assertIsNone(proc.poll())

        # The declaration changes: p is not allowed any more.
        self.declare("web.conf", f"cgroup = {self.units_rel}/web.service\nports = [{p2}-{p2}]\n")
        wait_for(lambda: proc.poll() is not None, what="the unit's listener to be killed")
        a.wait_state(cid, "TERMINATED")
        t = a.containers()[cid]["termination"]
        self.assertEqual(t["limitation"]["resources"][0]["ranges"]["range"],
                         [{"begin": p, "end": p}])
        self.assertTrue(os.path.isdir(os.path.join(self.units, "web.service")),
                        "the unit's cgroup belongs to its owner")

        # The declaration goes: so does the container.
        os.unlink(os.path.join(self.adopt_dir, "web.conf"))
        wait_for(lambda: cid not in a.containers(), what=f"{cid} forgotten")
        self.assertIn(f"Forgot adopted container {cid}", a.log())

    def cgroup_procs(self, path):
        with open(os.path.join(path, "cgroup.procs")) as f:
            return f.read().split()

    def health_prober(self, agent):
        """Poll /health until the returned event is set; the answers (a status
        or the error) land in the returned list."""
        done, answers = threading.Event(), []

        def probe():
            while not done.is_set():
                try:
                    answers.append(agent.request("GET", "/health", timeout=2)[0])
                except OSError as e:
                    answers.append(repr(e))
                done.wait(0.01)
        t = threading.Thread(target=probe)
        t.start()
        self.addCleanup(t.join)
        self.addCleanup(done.set)
        return done, answers

    def test_violation_ends_the_whole_unit_and_keeps_its_cgroup(self):
        p, q = self.port(), self.port()
        a = self.start()
        path, web = self.unit("api.service", p)
        helper = self.spawn_in_cgroup(path, ["/bin/sleep", "600"])
        self.declare("api.conf", f"cgroup = {self.units_rel}/api.service\nports = [{p}-{p}]\n")
        cid = self.cid("api.service")
        wait_for(lambda: (a.containers().get(cid) or {}).get("listening", {}).get("range")
                 == [{"begin": p, "end": p}], what=f"{cid} adopted and listening")
        wait_for(lambda: len(self.cgroup_procs(path)) == 2, what="the helper in the unit's cgroup")

        done, answers = self.health_prober(a)
        # Not waited for: the agent may kill it before it says it is ready.
        violator = self.spawn_in_cgroup(path, ["/usr/bin/python3", self.LISTEN, f"tcp4:{q}"])
        a.wait_state(cid, "TERMINATED")
        done.set()
        for proc in (violator, web, helper):
            proc.wait(timeout=10)
        self.assertEqual(self.cgroup_procs(path), [], "everything in the unit is killed")
        self.assertTrue(os.path.isdir(path), "the unit's cgroup belongs to its owner")
        t = a.containers()[cid]["termination"]
        self.assertEqual(t["limitation"]["resources"][0]["ranges"]["range"],
                         [{"begin": q, "end": q}])
        self.assertTrue(answers)
        self.assertEqual(set(answers), {200}, "/health answers while the unit is stopped")
        self.assertNotIn("after the kill", a.log())

    def test_kill_container_ends_an_adopted_unit(self):
        p = self.port()
        a = self.start()
        path, web = self.unit("job.scope", p)
        self.declare("job.conf", f"cgroup = {self.units_rel}/job.scope\nports = [{p}-{p}]\n")
        cid = self.cid("job.scope")
        a.wait_state(cid, "RUNNING")

        waiter = {}
        t = threading.Thread(target=lambda: waiter.update(a.wait(cid), answered=True))
        t.start()
        self.addCleanup(t.join)
        wait_for(lambda: a.metrics().get("api/pending_waits", 0) >= 1 or "answered" in waiter,
                 what="the WAIT_CONTAINER call to be waiting")
        a.kill(cid)
        web.wait(timeout=10)
        t.join(timeout=20)
        # As for a destroy in Mesos: the answer is the exit status alone, and
        # the agent, not the unit's parent, knows none.
        self.assertIn("answered", waiter, "WAIT_CONTAINER answers once the unit ended")
        self.assertNotIn("limitation", waiter)
        self.assertNotIn("exit_status", waiter)
        self.assertEqual(a.state(cid), "TERMINATED")
        self.assertEqual(self.cgroup_procs(path), [])
        self.assertTrue(os.path.isdir(path), "the unit's cgroup belongs to its owner")
        self.assertIn(f"Stopping cgroups container {cid} through cgroups", a.log())

    def test_glob_follows_cgroups(self):
        p, q = self.port(), self.port()
        self.declare("scopes.conf", f"cgroup = {self.units_rel}/*.web.scope\nports = [{p}-{p}]\n")
        self.declare("bad.conf", "cgroup = x\nports = foo\n")
        self.declare("notes.txt", "not a declaration")
        a = self.start()
        self.assertIn(f"Ignoring {self.adopt_dir}/bad.conf: line 2: ports:", a.log())

        # Cgroups that appear after the agent started are found.
        pa, proc_a = self.unit("a.web.scope", p)
        ida = self.cid("a.web.scope")
        wait_for(lambda: (a.containers().get(ida) or {}).get("listening", {}).get("range")
                 == [{"begin": p, "end": p}], what=f"{ida} adopted")
        _, proc_b = self.unit("b.web.scope", q)
        idb = self.cid("b.web.scope")
        wait_for(lambda: proc_b.poll() is not None, what="the violator to be killed")
        a.wait_state(idb, "TERMINATED")
        self.assertIsNone(proc_a.poll())
        self.assertNotIn(self.cid("other.scope"), a.containers())

        # A cgroup that disappears is forgotten.
        proc_a.kill()
        proc_a.wait()
        def empty():
            with open(os.path.join(pa, "cgroup.procs")) as f:
                return not f.read().strip()
        wait_for(empty, what="a.web.scope to be empty")
        os.rmdir(pa)
        wait_for(lambda: ida not in a.containers(), what=f"{ida} forgotten")
        self.assertEqual(a.get("/health")[0], 200)
