"""test_source_engines - the podman and docker workload sources against a
real Podman and a real Docker daemon.

Each test gets its own engine installation in its temp dir
(engine_fixture.py): Podman serving the Docker-compatible API with `podman
system service`, or dockerd; the agent follows it with
--workload_sources=api,<engine>. The same tests run against both. Containers
run busybox on the host network. Every port is picked free in 20000-23999 and isolated by the
agent's --container_ports_isolated_range=[20000-31999]; a container waits
for a go file before it listens where the test needs the agent to have
adopted it first.
"""
import os
import subprocess

from agent_fixture import AgentTestCase, wait_for
from engine_fixture import Docker, Podman, free_test_port

ISOLATED = "[20000-31999]"


def read(path):
    """A file's stripped text, "" while it does not exist."""
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""



class EngineSourceTests:
    """The tests, for an AgentTestCase that sets ENGINE."""

    ENGINE = None

    def setUp(self):
        super().setUp()
        self.engine = self.ENGINE(self)
        self.name = self.ENGINE.NAME
        self.taken = set()

    def port(self):
        p = free_test_port(taken=self.taken)
        self.taken.add(p)
        return p

    def start_engine_agent(self, **kw):
        kw.setdefault("workload_sources", f"api,{self.name}")
        kw.setdefault(f"{self.name}_socket", self.engine.socket)
        kw.setdefault("container_ports_isolated_range", ISOLATED)
        return self.start_agent(**kw)

    def cid(self, name):
        return f"{self.name}:{name}"

    def adopted(self, agent, name):
        return agent.containers().get(self.cid(name))

    def wait_adopted(self, agent, name, listening=None, timeout=20):
        def ok():
            c = self.adopted(agent, name)
            if not c or c["state"] != "RUNNING":
                return False
            if listening is not None:
                rs = c.get("listening", {}).get("range", [])
                return [(r["begin"], r["end"]) for r in rs] == listening
            return True
        wait_for(ok, timeout=timeout, what=f"{self.cid(name)} adopted ({self.adopted(agent, name)})")
        return self.adopted(agent, name)

    def ps_rows(self, agent):
        r = self.run_cli(agent, "ps")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split()[-2:], ["SOURCE", "LIMITATION"])
        return {l.split()[0]: l.split() for l in lines[1:]}

    def events(self, agent):
        r = self.run_cli(agent, "events")
        self.assertEqual(r.returncode, 0, r.stderr)
        return [l.split()[1:3] for l in r.stdout.splitlines()]

    def wait_exited(self, name, timeout=10):
        wait_for(lambda: not self.engine.running(name), timeout=timeout,
                 what=f"{self.name} to report {name} exited")
        return self.engine.inspect(name)["State"]


    def test_declarations_log_only(self):
        """Label and EXPOSE declare ports; undeclared and non-host containers are
        left alone; without enforcement a violation is only logged and shown."""
        p, e, r, q, p2 = (self.port() for _ in range(5))
        exposing = self.engine.import_image("localhost/portiso-test-busybox:exposing", expose=[e])
        a = self.start_engine_agent()
        self.engine.run("good", f"exec httpd -f -p {p}", label=f"[{p}-{p}]")
        self.engine.run("exposed", f"exec httpd -f -p {e}", image=exposing)
        self.engine.run("undeclared", f"exec httpd -f -p {r}")
        self.engine.run("bridged", "exec sleep 1000", label=f"[{p}-{p}]", network="none")
        self.engine.run("rogue", f"exec httpd -f -p {q}", label=f"[{p2}-{p2}]")

        good = self.wait_adopted(a, "good", listening=[(p, p)])
        self.assertEqual(good["source"], self.name)
        exposed = self.wait_adopted(a, "exposed", listening=[(e, e)])
        self.assertEqual(exposed["resources"][0]["ranges"]["range"], [{"begin": e, "end": e}])
        self.wait_adopted(a, "rogue", listening=[(q, q)])
        wait_for(lambda: a.metrics()["network_ports/violations"] >= 1, what="the violation")
        a.wait_scans(3)

        names = set(a.containers())
        self.assertNotIn(self.cid("undeclared"), names)
        self.assertNotIn(self.cid("bridged"), names)
        for name in ("good", "exposed", "undeclared", "rogue"):
            self.assertTrue(self.engine.running(name), name)
        self.assertTrue(self.engine.listening(r))
        rows = self.ps_rows(a)
        self.assertEqual(rows[self.cid("good")][2:], ["RUNNING", f"[{p}-{p}]", f"[{p}-{p}]", "-",
                                                      self.name, "-"])
        self.assertEqual(rows[self.cid("rogue")][2], "RUNNING")
        self.assertIn(["violation", self.cid("rogue")], self.events(a))
        m = a.metrics()
        self.assertEqual(m["network_ports/containers_killed"], 0)
        self.assertEqual(m["containerizer/containers_adopted"], 3)
        self.assertIn(f"Container {self.cid('rogue')} is listening on unallocated port(s): "
                      f"[{q}-{q}] (not enforced", a.log())
        self.assertIn(f"{self.name}: container undeclared", a.log())

        # Removing a container in the engine forgets it.
        self.engine.rm("good")
        wait_for(lambda: self.cid("good") not in a.containers(), what="good forgotten")

    def test_violator_stopped_through_engine(self):
        """Instant detection (the watch interval is an hour): a container that
        starts listening on an undeclared port is stopped through Podman within
        a second, and Podman, portiso ps, events, log and metrics all say so."""
        p, q, p2 = self.port(), self.port(), self.port()
        a = self.start_engine_agent(enforce_container_ports=True,
                                    container_ports_watch_interval="1hrs")
        if a.metrics()["network_ports/instant_detection"] != 1:
            self.fail("instant detection is not available on this machine")
        self.engine.run("good", f"exec httpd -f -p {p}", label=f"[{p}-{p}]")
        self.engine.run("rogue", self.engine.wait_go("rogue") + f"exec httpd -f -p {q}",
                    label=f"[{p2}-{p2}]")
        self.wait_adopted(a, "good", listening=[(p, p)])
        self.wait_adopted(a, "rogue")

        t0 = self.engine.go("rogue")
        state = self.wait_exited("rogue")
        stopped_after = self.engine.finished_at("rogue") - t0
        self.assertLess(stopped_after, 1.0, f"stopped {stopped_after:.3f} s after go")
        self.assertEqual(state["ExitCode"], 137)
        self.assertIn("kill", self.engine.event_statuses("rogue", since=t0))

        wait_for(lambda: self.adopted(a, "rogue")["state"] == "TERMINATED",
                 what="rogue terminated")
        rows = self.ps_rows(a)
        self.assertEqual(rows[self.cid("rogue")][2], "TERMINATED")
        self.assertEqual(rows[self.cid("rogue")][-1], f"[{q}-{q}]")
        self.assertEqual(rows[self.cid("good")][2], "RUNNING")
        kinds = [k for k, c in self.events(a) if c == self.cid("rogue")]
        self.assertEqual(kinds[-3:], ["violation", "stopping", "ended"])
        self.assertIn(f"Container {self.cid('rogue')} is listening on unallocated port(s): "
                      f"[{q}-{q}]; destroying it", a.log())
        self.assertEqual(a.metrics()["network_ports/containers_killed"], 1)
        t = self.adopted(a, "rogue")["termination"]
        self.assertEqual(t["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertTrue(self.engine.running("good"))

    def test_bind_prevention(self):
        """With --container_ports_prevent_bind an adopted container's bind to an
        undeclared port fails with EPERM; its declared port binds."""
        p, q = self.port(), self.port()
        a = self.start_engine_agent(enforce_container_ports=True, container_ports_prevent_bind=True)
        if a.metrics()["network_ports/prevent_bind"] != 1:
            self.fail("bind prevention is not available on this machine")
        self.engine.run("binder", self.engine.wait_go("binder") +
                    f"nc -l -p {q} 2>/ctl/q.err; echo $? >/ctl/q.rc; exec httpd -f -p {p}",
                    label=f"[{p}-{p}]")
        self.wait_adopted(a, "binder")
        self.engine.go("binder")
        rc = wait_for(lambda: read(os.path.join(self.engine.ctl, "q.rc")), what="nc to fail")
        self.assertIn("Operation not permitted", read(os.path.join(self.engine.ctl, "q.err")))  # EPERM
        self.assertNotEqual(rc, "0")
        self.wait_adopted(a, "binder", listening=[(p, p)])
        a.wait_scans(3)
        self.assertTrue(self.engine.running("binder"))
        self.assertEqual(a.metrics()["network_ports/violations"], 0)

    def test_found_at_start_up(self):
        """Containers started while the agent is down are found when it starts
        (from the engine, not from checkpoints), and again after a restart."""
        p, q, p2 = self.port(), self.port(), self.port()
        self.engine.run("good", f"exec httpd -f -p {p}", label=f"[{p}-{p}]")
        self.engine.run("rogue", f"exec httpd -f -p {q}", label=f"[{p2}-{p2}]")
        self.engine.wait_running("good")
        self.engine.wait_running("rogue")
        wait_for(lambda: self.engine.listening(q), what="rogue to listen")

        a = self.start_engine_agent(enforce_container_ports=True)
        self.wait_adopted(a, "good", listening=[(p, p)])
        self.assertEqual(self.wait_exited("rogue")["ExitCode"], 137)
        self.assertIn(f"{self.name}: following the engine", a.log())
        meta = os.path.join(self.tmp, "work", "meta", "containers")
        self.assertEqual([d for d in os.listdir(meta) if d.startswith(self.name)], [])

        a.stop()
        b = self.start_engine_agent(enforce_container_ports=True)
        self.wait_adopted(b, "good", listening=[(p, p)])
        self.assertTrue(self.engine.running("good"))

    def test_engine_service_restart(self):
        """The agent keeps working while the engine's API service is down and
        follows it again once it is back."""
        p, q, p2 = self.port(), self.port(), self.port()
        a = self.start_engine_agent(enforce_container_ports=True)
        self.engine.run("good", f"exec httpd -f -p {p}", label=f"[{p}-{p}]")
        self.wait_adopted(a, "good", listening=[(p, p)])

        self.engine.stop_service()
        wait_for(lambda: "engine API on" in a.log(), what="the agent to notice")
        self.assertEqual(a.get("/health")[0], 200)
        a.wait_scans(2)
        self.assertEqual(self.adopted(a, "good")["state"], "RUNNING")

        self.engine.start_service()
        wait_for(lambda: a.log().count(f"{self.name}: following the engine") >= 2, timeout=20,
                 what="the agent to reconnect")
        self.engine.run("rogue", f"exec httpd -f -p {q}", label=f"[{p2}-{p2}]")
        self.assertEqual(self.wait_exited("rogue")["ExitCode"], 137)
        self.assertTrue(self.engine.running("good"))
        self.assertEqual(self.adopted(a, "good")["state"], "RUNNING")


class TestPodmanSource(EngineSourceTests, AgentTestCase):
    ENGINE = Podman


class TestDockerSource(EngineSourceTests, AgentTestCase):
    ENGINE = Docker
