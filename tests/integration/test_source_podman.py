"""test_source_podman - the podman workload source against a real Podman.

A Podman installation lives in each test's temp dir (podman_fixture.py) and
serves the Docker-compatible API with `podman system service`; the agent
follows it with --workload_sources=api,podman. Containers run busybox on the
host network. Every port is picked free in 20000-23999 and isolated by the
agent's --container_ports_isolated_range=[20000-31999]; a container waits
for a go file before it listens where the test needs the agent to have
adopted it first.
"""
import os
import subprocess

from agent_fixture import AgentTestCase, wait_for
from podman_fixture import Podman, free_test_port

ISOLATED = "[20000-31999]"


def read(path):
    """A file's stripped text, "" while it does not exist."""
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""



class PodmanSourceTestCase(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.pm = Podman(self)
        self.pm.start_service()
        self.taken = set()

    def port(self):
        p = free_test_port(taken=self.taken)
        self.taken.add(p)
        return p

    def start_podman_agent(self, **kw):
        kw.setdefault("workload_sources", "api,podman")
        kw.setdefault("podman_socket", self.pm.socket)
        kw.setdefault("container_ports_isolated_range", ISOLATED)
        return self.start_agent(**kw)

    @staticmethod
    def adopted(agent, name):
        return agent.containers().get(f"podman:{name}")

    def wait_adopted(self, agent, name, listening=None, timeout=20):
        def ok():
            c = self.adopted(agent, name)
            if not c or c["state"] != "RUNNING":
                return False
            if listening is not None:
                rs = c["listening"]["range"] if "listening" in c else []
                return [(r["begin"], r["end"]) for r in rs] == listening
            return True
        wait_for(ok, timeout=timeout, what=f"podman:{name} adopted ({self.adopted(agent, name)})")
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
        wait_for(lambda: not self.pm.running(name), timeout=timeout,
                 what=f"podman to report {name} exited")
        return self.pm.inspect(name)["State"]


class TestPodmanSource(PodmanSourceTestCase):
    def test_declarations_log_only(self):
        """Label and EXPOSE declare ports; undeclared and non-host containers are
        left alone; without enforcement a violation is only logged and shown."""
        p, e, r, q, p2 = (self.port() for _ in range(5))
        exposing = self.pm.import_image("localhost/portiso-test-busybox:exposing", expose=[e])
        a = self.start_podman_agent()
        self.pm.run("good", f"exec httpd -f -p {p}", label=f"[{p}-{p}]")
        self.pm.run("exposed", f"exec httpd -f -p {e}", image=exposing)
        self.pm.run("undeclared", f"exec httpd -f -p {r}")
        self.pm.run("bridged", "exec sleep 1000", label=f"[{p}-{p}]", network="none")
        self.pm.run("rogue", f"exec httpd -f -p {q}", label=f"[{p2}-{p2}]")

        good = self.wait_adopted(a, "good", listening=[(p, p)])
        self.assertEqual(good["source"], "podman")
        exposed = self.wait_adopted(a, "exposed", listening=[(e, e)])
        self.assertEqual(exposed["resources"][0]["ranges"]["range"], [{"begin": e, "end": e}])
        self.wait_adopted(a, "rogue", listening=[(q, q)])
        wait_for(lambda: a.metrics()["network_ports/violations"] >= 1, what="the violation")
        a.wait_scans(3)

        names = set(a.containers())
        self.assertNotIn("podman:undeclared", names)
        self.assertNotIn("podman:bridged", names)
        for name in ("good", "exposed", "undeclared", "rogue"):
            self.assertTrue(self.pm.running(name), name)
        self.assertTrue(self.pm.listening(r))
        rows = self.ps_rows(a)
        self.assertEqual(rows["podman:good"][2:], ["RUNNING", f"[{p}-{p}]", f"[{p}-{p}]",
                                                   "podman", "-"])
        self.assertEqual(rows["podman:rogue"][2], "RUNNING")
        self.assertIn(["violation", "podman:rogue"], self.events(a))
        m = a.metrics()
        self.assertEqual(m["network_ports/containers_killed"], 0)
        self.assertEqual(m["containerizer/containers_adopted"], 3)
        self.assertIn(f"Container podman:rogue is listening on unallocated port(s): [{q}-{q}] "
                      "(not enforced", a.log())
        self.assertIn("podman: container undeclared", a.log())

        # Removing a container in Podman forgets it.
        self.pm.podman("rm", "-f", "-t", "0", "good")
        wait_for(lambda: "podman:good" not in a.containers(), what="podman:good forgotten")

    def test_violator_stopped_through_podman(self):
        """Instant detection (the watch interval is an hour): a container that
        starts listening on an undeclared port is stopped through Podman within
        a second, and Podman, portiso ps, events, log and metrics all say so."""
        p, q, p2 = self.port(), self.port(), self.port()
        a = self.start_podman_agent(enforce_container_ports=True,
                                    container_ports_watch_interval="1hrs")
        if a.metrics()["network_ports/instant_detection"] != 1:
            self.fail("instant detection is not available on this machine")
        self.pm.run("good", f"exec httpd -f -p {p}", label=f"[{p}-{p}]")
        self.pm.run("rogue", self.pm.wait_go("rogue") + f"exec httpd -f -p {q}",
                    label=f"[{p2}-{p2}]")
        self.wait_adopted(a, "good", listening=[(p, p)])
        self.wait_adopted(a, "rogue")

        t0 = self.pm.go("rogue")
        state = self.wait_exited("rogue")
        stopped_after = self.pm.finished_at("rogue") - t0
        self.assertLess(stopped_after, 1.0, f"stopped {stopped_after:.3f} s after go")
        self.assertEqual(state["ExitCode"], 137)
        ev = self.pm.podman("events", "--stream=false", "--since=5m", "--filter",
                            "container=rogue", "--format", "{{.Status}}").stdout.split()
        self.assertIn("kill", ev)

        wait_for(lambda: self.adopted(a, "rogue")["state"] == "TERMINATED",
                 what="podman:rogue terminated")
        rows = self.ps_rows(a)
        self.assertEqual(rows["podman:rogue"][2], "TERMINATED")
        self.assertEqual(rows["podman:rogue"][-1], f"[{q}-{q}]")
        self.assertEqual(rows["podman:good"][2], "RUNNING")
        kinds = [k for k, c in self.events(a) if c == "podman:rogue"]
        self.assertEqual(kinds[-3:], ["violation", "stopping", "ended"])
        self.assertIn(f"Container podman:rogue is listening on unallocated port(s): [{q}-{q}]; "
                      "destroying it", a.log())
        self.assertEqual(a.metrics()["network_ports/containers_killed"], 1)
        t = self.adopted(a, "rogue")["termination"]
        self.assertEqual(t["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertTrue(self.pm.running("good"))

    def test_bind_prevention(self):
        """With --container_ports_prevent_bind an adopted container's bind to an
        undeclared port fails with EPERM; its declared port binds."""
        p, q = self.port(), self.port()
        a = self.start_podman_agent(enforce_container_ports=True, container_ports_prevent_bind=True)
        if a.metrics()["network_ports/prevent_bind"] != 1:
            self.fail("bind prevention is not available on this machine")
        self.pm.run("binder", self.pm.wait_go("binder") +
                    f"nc -l -p {q} 2>/ctl/q.err; echo $? >/ctl/q.rc; exec httpd -f -p {p}",
                    label=f"[{p}-{p}]")
        self.wait_adopted(a, "binder")
        self.pm.go("binder")
        rc = wait_for(lambda: read(os.path.join(self.pm.ctl, "q.rc")), what="nc to fail")
        self.assertIn("Operation not permitted", read(os.path.join(self.pm.ctl, "q.err")))  # EPERM
        self.assertNotEqual(rc, "0")
        self.wait_adopted(a, "binder", listening=[(p, p)])
        a.wait_scans(3)
        self.assertTrue(self.pm.running("binder"))
        self.assertEqual(a.metrics()["network_ports/violations"], 0)

    def test_found_at_start_up(self):
        """Containers started while the agent is down are found when it starts
        (from Podman, not from checkpoints), and again after a restart."""
        p, q, p2 = self.port(), self.port(), self.port()
        self.pm.run("good", f"exec httpd -f -p {p}", label=f"[{p}-{p}]")
        self.pm.run("rogue", f"exec httpd -f -p {q}", label=f"[{p2}-{p2}]")
        self.pm.wait_running("good")
        self.pm.wait_running("rogue")
        wait_for(lambda: self.pm.listening(q), what="rogue to listen")

        a = self.start_podman_agent(enforce_container_ports=True)
        self.wait_adopted(a, "good", listening=[(p, p)])
        self.assertEqual(self.wait_exited("rogue")["ExitCode"], 137)
        self.assertIn("podman: following the engine", a.log())
        meta = os.path.join(self.tmp, "work", "meta", "containers")
        self.assertEqual([d for d in os.listdir(meta) if d.startswith("podman")], [])

        a.stop()
        b = self.start_podman_agent(enforce_container_ports=True)
        self.wait_adopted(b, "good", listening=[(p, p)])
        self.assertTrue(self.pm.running("good"))

    def test_podman_service_restart(self):
        """The agent keeps working while Podman's API service is down and
        follows it again once it is back."""
        p, q, p2 = self.port(), self.port(), self.port()
        a = self.start_podman_agent(enforce_container_ports=True)
        self.pm.run("good", f"exec httpd -f -p {p}", label=f"[{p}-{p}]")
        self.wait_adopted(a, "good", listening=[(p, p)])

        self.pm.stop_service()
        wait_for(lambda: "engine API on" in a.log(), what="the agent to notice")
        self.assertEqual(a.get("/health")[0], 200)
        a.wait_scans(2)
        self.assertEqual(self.adopted(a, "good")["state"], "RUNNING")

        self.pm.start_service()
        wait_for(lambda: a.log().count("podman: following the engine") >= 2, timeout=20,
                 what="the agent to reconnect")
        self.pm.run("rogue", f"exec httpd -f -p {q}", label=f"[{p2}-{p2}]")
        self.assertEqual(self.wait_exited("rogue")["ExitCode"], 137)
        self.assertTrue(self.pm.running("good"))
        self.assertEqual(self.adopted(a, "good")["state"], "RUNNING")
