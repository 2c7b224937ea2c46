"""test_agent_loop - nothing a container does holds the agent's event loop:

- a LAUNCH whose main process cannot start (its parent's cgroup is frozen)
  waits for its own answer only: /health answers and enforcement kills a
  violator elsewhere meanwhile, and the launch answers once thawed;
- a KILL of a container whose main process moved itself out of its cgroup
  still ends the container, with a message naming what escaped;
- a KILL while launching ends the launch with an error and leaves nothing.

Ports 29400-29499 only (the isolated range of every agent here).
"""
import os
import threading
import time

from agent_fixture import AgentTestCase, limitation_ports, wait_for
from portiso_test import alive, cgroup_v2_mount, kill_cgroup_tree

SLEEP = "exec sleep 1000"
ISOLATED = "[29400-29499]"


class Launch(threading.Thread):
    """A LAUNCH_CONTAINER call in the background; .result is (status, answer)."""

    def __init__(self, agent, id, cmd):
        super().__init__(daemon=True)
        self.agent, self.id, self.cmd = agent, id, cmd
        self.result = None

    def run(self):
        try:
            self.result = ("ok", self.agent.launch(self.id, self.cmd, expect=None))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.result = ("error", e)


class TestNothingBlocksTheLoop(AgentTestCase):
    def setUp(self):
        super().setUp()
        if cgroup_v2_mount() is None:
            self.cgroup_path()  # fails in CI, skips elsewhere
            self.skipTest("needs cgroup v2 (cgroup.freeze)")

    def agent(self, **kw):
        kw.setdefault("container_ports_isolated_range", ISOLATED)
        kw.setdefault("enforce_container_ports", True)
        return self.start_agent(**kw)

    def freeze(self, id, on):
        path = os.path.join(self.cgroup_path(id), "cgroup.freeze")
        with open(path, "w") as f:
            f.write("1" if on else "0")
        if on:
            self.addCleanup(self._thaw, path)

    @staticmethod
    def _thaw(path):
        try:
            with open(path, "w") as f:
                f.write("0")
        except OSError:
            pass

    def health_seconds(self, a):
        t0 = time.monotonic()
        status, _ = a.get("/health")
        self.assertEqual(status, 200)
        return time.monotonic() - t0

    def test_launch_under_a_frozen_parent_holds_nothing_else(self):
        a = self.agent()
        a.launch("p", SLEEP, ports=[29400])
        self.freeze("p", True)
        pending = Launch(a, "p/n", SLEEP)
        pending.start()
        wait_for(lambda: a.state("p/n") == "LAUNCHING", what="p/n to be LAUNCHING")

        # The loop answers: /health at once, many times over.
        times = [self.health_seconds(a) for _ in range(20)]
        self.assertLess(sorted(times)[len(times) // 2], 0.1, times)
        # Enforcement elsewhere goes on: a violator is destroyed.
        self.launch_violator(a, "bad", ["tcp4:29411"], ports=[29410])
        w = a.wait("bad", timeout=10)
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(limitation_ports(w), [(29411, 29411)])
        self.assertIsNone(pending.result)  # still waiting for its report

        # Thawed, the main process starts, reports, and the launch answers.
        self.freeze("p", False)
        pending.join(timeout=20)
        self.assertEqual(pending.result[0], "ok", pending.result)
        self.assertEqual(pending.result[1][0], 200, pending.result)
        self.assertEqual(a.state("p/n"), "RUNNING")
        a.kill("p")
        self.assertEqual(a.wait("p")["exit_status"], 9)
        self.assertEqual(a.wait("p/n")["exit_status"], 9)

    def test_kill_while_launching_fails_the_launch_and_leaves_nothing(self):
        a = self.agent()
        a.launch("p", SLEEP, ports=[29420])
        self.freeze("p", True)
        pending = Launch(a, "p/n", SLEEP)
        pending.start()
        wait_for(lambda: a.state("p/n") == "LAUNCHING", what="p/n to be LAUNCHING")
        a.kill("p/n")
        pending.join(timeout=20)
        self.assertEqual(pending.result[0], "ok", pending.result)
        status, text = pending.result[1]
        self.assertEqual(status, 500, text)
        self.assertIn("destroyed while launching", text)
        wait_for(lambda: "p/n" not in a.containers(), what="p/n to be forgotten")
        wait_for(lambda: not os.path.exists(self.cgroup_path("p/n")), what="its cgroup removed")
        self.assertEqual(a.state("p"), "RUNNING")
        self.freeze("p", False)
        a.kill("p")
        a.wait("p")

    def test_destroy_of_an_escaped_main_process_ends_with_its_message(self):
        a = self.agent(allow_root_containers=True)
        # Root in a container may move itself out of its cgroup.
        elsewhere = self.cgroup_path() + "-elsewhere"
        os.makedirs(elsewhere)
        self.addCleanup(kill_cgroup_tree, elsewhere)
        a.launch("esc", f"echo $$ > {elsewhere}/cgroup.procs && exec sleep 1000", user="root")
        a.wait_state("esc", "RUNNING")
        pid = a.containers()["esc"]["container_status"]["executor_pid"]
        def moved():
            with open(f"/proc/{pid}/cgroup") as f:
                return f.read().strip().endswith("-elsewhere")
        wait_for(moved, what="the main process to leave its cgroup")
        a.kill("esc")
        w = a.wait("esc", timeout=15)  # the destroy's bound is 5 s
        self.assertEqual(w["exit_status"], 9)
        self.assertIn(f"main process {pid} had left the container's cgroup", w["message"])
        wait_for(lambda: not alive(pid), what="the escaped process to die")
