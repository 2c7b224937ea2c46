"""Agent restarts: containers outlive the agent, are recovered and isolated
again, and report exits that happened while the agent was down. Each test
runs two agents, one after the other, on the same work_dir, runtime_dir and
cgroups root. Ports 31400-31499."""
import os
import subprocess
import unittest

from agent_fixture import AgentTestCase, limitation_ports, wait_for
from portiso_test import AGENT, alive, cgroup_v1_freezer, cgroup_v2_mount, free_port

SLEEP = "exec sleep 1000"
ENFORCING = {"isolation": "network/ports", "enforce_container_ports": True}


class TestRecovery(AgentTestCase):
    def restart(self, old, **flags):
        """Stop `old` (its containers keep running) and start a new agent."""
        self.assertEqual(old.stop(), 0, old.log())
        return self.start_agent(**flags)

    def test_misbehaving_flat_container_killed_after_restart(self):
        a = self.start_agent(isolation="")
        self.launch_listener(a, "flat", ["tcp4:31400"], ports=[31401])
        self.assertEqual(a.state("flat"), "RUNNING")
        pid = a.containers()["flat"]["container_status"]["executor_pid"]

        self.assertEqual(a.stop(), 0, a.log())
        self.assertTrue(alive(pid), "stopping the agent killed the container")
        b = self.start_agent(**ENFORCING)
        w = b.wait("flat")
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(limitation_ports(w), [(31400, 31400)])
        self.assertEqual(w["exit_status"], 9)
        wait_for(lambda: not alive(pid), what="the container's process to be gone")

    def test_behaving_flat_container_left_alone_after_restart(self):
        a = self.start_agent(isolation="")
        self.launch_listener(a, "calm", ["tcp4:31410"], ports=[31410])
        pid = a.containers()["calm"]["container_status"]["executor_pid"]

        b = self.restart(a, **ENFORCING)
        b.wait_scans(4)
        self.assertEqual(b.state("calm"), "RUNNING")
        self.assertTrue(alive(pid))
        self.assertEqual(b.containers()["calm"]["listening"],
                         {"range": [{"begin": 31410, "end": 31410}]})
        b.kill("calm")
        self.assertEqual(b.wait("calm")["exit_status"], 9)

    def test_misbehaving_nested_container_kills_group_after_restart(self):
        a = self.start_agent(isolation="")
        a.launch("tg", SLEEP, ports=[31420])
        a.wait_state("tg", "RUNNING")
        self.launch_listener(a, "tg/rogue", ["tcp4:31421"])
        a.launch("tg/idle", SLEEP)
        a.wait_state("tg/idle", "RUNNING")

        b = self.restart(a, **ENFORCING)
        for cid in ("tg", "tg/rogue", "tg/idle"):
            w = b.wait(cid)
            self.assertEqual(w.get("reason"), "REASON_CONTAINER_LIMITATION", cid)
            self.assertEqual(limitation_ports(w), [(31421, 31421)], cid)

    def test_behaving_nested_container_left_alone_after_restart(self):
        a = self.start_agent(isolation="")
        a.launch("tg", SLEEP, ports=[31430])
        a.wait_state("tg", "RUNNING")
        self.launch_listener(a, "tg/web", ["tcp4:31430"])

        b = self.restart(a, **ENFORCING)
        b.wait_scans(4)
        self.assertEqual(b.state("tg"), "RUNNING")
        self.assertEqual(b.state("tg/web"), "RUNNING")
        self.assertEqual(b.containers()["tg"]["listening"],
                         {"range": [{"begin": 31430, "end": 31430}]})
        b.kill("tg")
        self.assertEqual(b.wait("tg/web")["exit_status"], 9)

    def test_exit_while_agent_down_is_reported(self):
        a = self.start_agent()
        go = os.path.join(self.tmp, "go")
        a.launch("late", f"while [ ! -e {go} ]; do sleep 0.05; done; exit 3")
        a.launch("late2", SLEEP)
        a.wait_state("late", "RUNNING")
        pid = a.containers()["late"]["container_status"]["executor_pid"]
        self.assertEqual(a.stop(), 0, a.log())

        open(go, "w").close()
        wait_for(lambda: not alive(pid), what="the container to exit while the agent is down")

        b = self.start_agent()
        self.assertEqual(b.wait("late")["exit_status"], 3 << 8)
        self.assertEqual(b.state("late"), "TERMINATED")
        self.assertEqual(b.state("late2"), "RUNNING")
        b.remove("late")
        b.kill("late2")
        b.wait("late2")

    def test_terminated_container_survives_restart(self):
        a = self.start_agent(enforce_container_ports=True)
        self.launch_violator(a, "gone", ["tcp4:31440"], ports=[31441])
        w1 = a.wait("gone")
        b = self.restart(a, enforce_container_ports=True)
        self.assertEqual(b.wait("gone"), w1)
        b.remove("gone")
        self.assertEqual(b.containers(), {})


class TestOneAgentPerRoot(AgentTestCase):
    def second_agent(self, **kw):
        """Run another agent next to the test's first one; return how it exited."""
        argv = [AGENT, f"--port={free_port()}"] + self.agent_flags(**kw)
        return subprocess.run(argv, capture_output=True, text=True, timeout=15,
                              stdin=subprocess.DEVNULL)

    def test_second_agent_on_the_same_root_or_work_dir_refuses_to_start(self):
        a = self.start_agent()
        a.launch("c1", SLEEP, ports=[31490])
        a.wait_state("c1", "RUNNING")
        pid = a.containers()["c1"]["container_status"]["executor_pid"]

        # Same cgroups root, its own work dir: it would take c1 for an orphan.
        other = os.path.join(self.tmp, "other")
        p = self.second_agent(work_dir=other + "/work", runtime_dir=other + "/run")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("another portiso-agent is using", p.stderr)
        self.assertIn(self.cgroups_root, p.stderr)

        # Same work dir, its own cgroups root: it would fight over checkpoints.
        p = self.second_agent(cgroups_root=self.cgroups_root + "-other")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("another portiso-agent is using", p.stderr)
        self.assertIn(os.path.join(self.tmp, "work"), p.stderr)
        # Refused at the work dir, it made no cgroup of its own.
        for base in filter(None, (cgroup_v2_mount(), cgroup_v1_freezer())):
            self.assertFalse(os.path.exists(os.path.join(base, self.cgroups_root + "-other")))

        self.assertTrue(alive(pid), "a refused agent killed the container")
        self.assertEqual(a.state("c1"), "RUNNING")
        self.assertEqual(a.get("/health")[0], 200)
        # Once the first agent is gone, the lock is free again.
        b = self.restart_same(a)
        self.assertEqual(b.state("c1"), "RUNNING")

    def restart_same(self, old):
        self.assertEqual(old.stop(), 0, old.log())
        return self.start_agent()


class TestAgentCrash(AgentTestCase):
    def test_sigkill_during_a_burst_of_launches_loses_nothing(self):
        """The agent dies at an arbitrary point of many launches (SIGKILL: no
        clean-up at all). The next agent knows every container that runs, and
        nothing runs, or holds a cgroup, that no agent knows of."""
        import signal
        import threading

        a = self.start_agent()
        launched, errors = [], []

        def launcher(k):
            for i in range(40):
                cid = f"w{k}-{i}"
                try:
                    a.launch(cid, SLEEP, ports=[31495])
                    launched.append(cid)
                except Exception as e:  # the agent died under us
                    errors.append(e)
                    return

        threads = [threading.Thread(target=launcher, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: len(launched) >= 15, what="some launches")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        for t in threads:
            t.join()
        self.assertTrue(errors, "the agent was killed after every launch had finished")

        b = self.start_agent(**ENFORCING)
        known = b.containers()
        # Every launch that was answered 200 is known, and running.
        for cid in launched:
            self.assertIn(cid, known)
            self.assertEqual(known[cid]["state"], "RUNNING", cid)
        # Every cgroup and every process below the root belongs to a known container.
        root = os.path.join(cgroup_v2_mount(), self.cgroups_root)
        cgroups = {d for d in os.listdir(root)
                   if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")}
        self.assertLessEqual(cgroups, set(known))
        pids = {c["container_status"].get("executor_pid") for c in known.values()
                if c["state"] == "RUNNING"}
        for d in cgroups:
            # A launch cut short before its config was written is listed
            # UNKNOWN with whatever runs in its cgroup: visible, not lost.
            if known[d]["state"] == "UNKNOWN":
                continue
            with open(os.path.join(root, d, "cgroup.procs")) as f:
                self.assertLessEqual({int(x) for x in f.read().split()}, pids, d)
        # And the new agent can end them all.
        for cid, c in known.items():
            if c["state"] != "TERMINATED":
                b.kill(cid)
            b.wait(cid)


if __name__ == "__main__":
    unittest.main()
