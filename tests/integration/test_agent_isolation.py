"""network/ports enforcement through the real agent: one test per scenario of
Mesos' src/tests/containerizer/ports_isolator_tests.cpp, then the cases
beyond it. Containers listen with tests/helpers/listen.py on ports of the
31100-31399 band (or port 0 for a port outside the agent's range)."""
import subprocess
import unittest

from agent_fixture import AGENT, AgentTestCase, limitation_ports, wait_for

SLEEP = "exec sleep 1000"
MESSAGE = "Container {} is listening on unallocated port(s): [{}-{}]"


class TestFlagValidation(AgentTestCase):
    def start_fails(self, *flags):
        """The agent refuses to start: non-zero exit and one line naming the flag."""
        p = subprocess.run([AGENT, "--port=1"] + self.agent_flags() + list(flags),
                           capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0, f"{flags} accepted")
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, p.stderr)
        return lines[0]

    def test_posix_launcher_rejected(self):
        line = self.start_fails("--launcher=posix", "--isolation=network/ports")
        self.assertIn("launcher", line)

    def test_isolated_range_validation(self):
        for bad in ("[100-65536]", "foo", "100"):
            line = self.start_fails(f"--container_ports_isolated_range={bad}")
            self.assertIn("container_ports_isolated_range", line)
        a = self.start_agent(container_ports_isolated_range="[31000-32000]")
        self.assertEqual(a.get("/health")[0], 200)

    def test_both_range_flags_rejected(self):
        line = self.start_fails("--check_agent_port_range_only",
                                "--container_ports_isolated_range=[31000-32000]")
        self.assertRegex(line, "check_agent_port_range_only|container_ports_isolated_range")


class TestMesosScenarios(AgentTestCase):
    def test_allocated_port_keeps_running_then_sigkill(self):
        a = self.start_agent(enforce_container_ports=True)
        self.launch_listener(a, "good", ["tcp4:31100"], ports=[31100])
        a.wait_scans(4)
        self.assertEqual(a.state("good"), "RUNNING")
        self.assertEqual(a.containers()["good"]["listening"],
                         {"range": [{"begin": 31100, "end": 31100}]})
        self.assertEqual(a.metrics()["network_ports/violations"], 0)
        a.kill("good")
        w = a.wait("good")
        self.assertEqual(w["exit_status"], 9)
        self.assertNotIn("reason", w)

    def test_unallocated_port_destroyed(self):
        a = self.start_agent(enforce_container_ports=True)
        self.launch_violator(a, "bad", ["tcp4:31110"], ports=[31111])
        w = a.wait("bad")
        self.assertEqual(w["state"], "TASK_FAILED")
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(limitation_ports(w), [(31110, 31110)])
        self.assertEqual(w["message"], MESSAGE.format("bad", 31110, 31110))
        self.assertEqual(w["exit_status"], 9)
        # Ended, it listens on nothing any more (not the last pass' ports).
        self.assertEqual(a.containers()["bad"]["listening"].get("range", []), [])
        m = a.metrics()
        self.assertEqual(m["network_ports/violations"], 1)
        self.assertEqual(m["network_ports/containers_killed"], 1)

    def test_enforcement_off_logs_once(self):
        a = self.start_agent(enforce_container_ports=False)
        self.launch_listener(a, "loud", ["tcp4:31120"], ports=[31121])
        a.wait_scans(6)
        self.assertEqual(a.state("loud"), "RUNNING")
        needle = MESSAGE.format("loud", 31120, 31120)
        self.assertEqual(sum(needle in l for l in a.log().splitlines()), 1, a.log())
        a.kill("loud")
        a.wait("loud")

    def test_port_outside_isolated_range_ignored(self):
        a = self.start_agent(enforce_container_ports=True,
                             container_ports_isolated_range="[31130-31139]")
        self.launch_listener(a, "outside", ["tcp4:31140"], ports=[31130])
        self.launch_violator(a, "inside", ["tcp4:31131"], ports=[31130])
        w = a.wait("inside")
        self.assertEqual(limitation_ports(w), [(31131, 31131)])
        a.wait_scans(3)
        self.assertEqual(a.state("outside"), "RUNNING")
        a.kill("outside")
        a.wait("outside")

    def test_empty_agent_ports_with_range_only_allows_any(self):
        a = self.start_agent(enforce_container_ports=True, check_agent_port_range_only=True,
                             resources="cpus:1;ports:[]")
        self.launch_listener(a, "any", ["tcp4:31150", "tcp4:0"], ports=[31151])
        a.wait_scans(4)
        self.assertEqual(a.state("any"), "RUNNING")
        a.kill("any")
        a.wait("any")

    def test_omitted_resources_default_range(self):
        a = self.start_agent(enforce_container_ports=True, check_agent_port_range_only=True,
                             resources=None)
        # Port 0: the kernel picks an ephemeral port (32768+), outside [31000-32000].
        ports = self.launch_listener(a, "high", ["tcp4:0"], ports=[31160])
        self.assertGreater(ports[0], 32000)
        self.launch_violator(a, "low", ["tcp4:31161"], ports=[31160])
        w = a.wait("low")
        self.assertEqual(limitation_ports(w), [(31161, 31161)])
        a.wait_scans(3)
        self.assertEqual(a.state("high"), "RUNNING")
        a.kill("high")
        a.wait("high")

    def test_task_group_nested_unallocated(self):
        a = self.start_agent(enforce_container_ports=True)
        a.launch("group", SLEEP, ports=[31170])
        a.wait_state("group", "RUNNING")
        self.launch_listener(a, "group/ok", ["tcp4:31170"])
        self.launch_violator(a, "group/rogue", ["tcp4:31171"])
        ws = {cid: a.wait(cid) for cid in ("group", "group/ok", "group/rogue")}
        for cid, w in ws.items():
            self.assertEqual(w.get("reason"), "REASON_CONTAINER_LIMITATION", cid)
            self.assertEqual(w.get("state"), "TASK_FAILED", cid)
            self.assertEqual(limitation_ports(w), [(31171, 31171)], cid)
        # The limitation is raised against the root container.
        self.assertEqual(ws["group"]["message"], MESSAGE.format("group", 31171, 31171))
        self.assertEqual(a.metrics()["containerizer/containers_running"], 0)


class TestBeyondMesos(AgentTestCase):
    def test_no_listener_survives_whole_range(self):
        a = self.start_agent(enforce_container_ports=True,
                             container_ports_isolated_range="[0-65535]")
        a.launch("quiet", SLEEP)
        a.wait_state("quiet", "RUNNING")
        a.wait_scans(4)
        self.assertEqual(a.state("quiet"), "RUNNING")
        a.kill("quiet")
        a.wait("quiet")

    def test_update_before_check_saves_container(self):
        # A long interval and no instant detection: the listener, then the
        # update, both land before the first check that sees them.
        a = self.start_agent(enforce_container_ports=True,
                             container_ports_watch_interval="4secs",
                             container_ports_instant_detection="false")
        a.launch("saved", "exec sleep 1000", ports=[31180])
        a.launch("doomed", "exec sleep 1000", ports=[31182])
        a.wait_state("saved", "RUNNING")
        # Start right after a pass, so the next one is ~4 s away.
        s0 = a.metrics()["network_ports/scans"]
        wait_for(lambda: a.metrics()["network_ports/scans"] > s0, timeout=10,
                 what="a reconciliation pass")
        s1 = a.metrics()["network_ports/scans"]
        self.launch_listener(a, "saved/l", ["tcp4:31181"])
        self.launch_listener(a, "doomed/l", ["tcp4:31183"])
        a.update("saved", [31180, 31181])
        self.assertEqual(a.metrics()["network_ports/scans"], s1,
                         "a pass ran before the update: the machine is too slow for this test")
        w = a.wait("doomed", timeout=20)
        self.assertEqual(limitation_ports(w), [(31183, 31183)])
        self.assertEqual(a.state("saved"), "RUNNING")
        a.wait_scans(1, timeout=10)
        self.assertEqual(a.state("saved"), "RUNNING")
        self.assertEqual(a.containers()["saved"]["resources"][0]["ranges"]["range"],
                         [{"begin": 31180, "end": 31181}])
        a.kill("saved")
        a.wait("saved")

    def test_named_network_container_ignored(self):
        a = self.start_agent(enforce_container_ports=True,
                             isolation="network/ports,network/cni")
        self.launch_listener(a, "cni", ["tcp4:31190"], ports=[31191], network="net1")
        self.launch_listener(a, "cni/nested", ["tcp4:31192"])
        self.launch_violator(a, "host", ["tcp4:31193"], ports=[31194])
        a.wait("host")
        a.wait_scans(3)
        self.assertEqual(a.state("cni"), "RUNNING")
        self.assertEqual(a.state("cni/nested"), "RUNNING")
        a.kill("cni")
        a.wait("cni")

    def test_ipv6_and_dual_stack_listeners(self):
        a = self.start_agent(enforce_container_ports=True)
        self.launch_violator(a, "v6", ["tcp6only:31195"], ports=[31196])
        self.launch_violator(a, "dual", ["dual:31197"], ports=[31196])
        for cid, port in (("v6", 31195), ("dual", 31197)):
            self.assertEqual(limitation_ports(a.wait(cid)), [(port, port)], cid)

    def test_listener_in_a_cgroup_below_the_container_counts_for_it(self):
        """A task (root) may make cgroups below its own; a listener created
        there is the container's all the same."""
        a = self.start_agent(enforce_container_ports=True)
        a.launch("top", SLEEP, ports=[31198])
        a.launch("top/kid", SLEEP)
        a.wait_state("top/kid", "RUNNING")
        # Not waited for: instant detection may kill it before it says so.
        self.spawn_in_cgroup(self.cgroup_path("top/kid/own"),
                             ["/usr/bin/python3", self.LISTEN, "tcp4:31199"])
        w = a.wait("top")
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(limitation_ports(w), [(31199, 31199)])
        self.assertEqual(limitation_ports(a.wait("top/kid")), [(31199, 31199)])


if __name__ == "__main__":
    unittest.main()
