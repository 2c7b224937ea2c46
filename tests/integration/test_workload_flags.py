"""test_workload_flags - --workload_sources as the agent applies it: without
`api` nothing is launched through the API, and bad values stop the agent
with one line naming the flag."""
import subprocess

from agent_fixture import AGENT, AgentTestCase


class TestWorkloadFlags(AgentTestCase):
    def test_no_api_source_refuses_launch(self):
        a = self.start_agent(workload_sources="cgroups", adopt_dir=f"{self.tmp}/adopt.d")
        status, answer = a.post({"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": "c1"}, "command": {"value": "true"}}})
        self.assertEqual(status, 403, answer)
        self.assertIn("--workload_sources=cgroups has no 'api'", answer)
        self.assertEqual(a.containers(), {})
        self.assertEqual(a.get("/health")[0], 200)

    def test_bad_values(self):
        for flags, line in (
                (["--workload_sources=api,rkt"], "--workload_sources: unknown source 'rkt'"),
                (["--workload_sources="], "--workload_sources: name at least one source"),
                (["--workload_sources=podman", "--podman_socket="], "--podman_socket"),
        ):
            r = subprocess.run([AGENT] + flags, capture_output=True, text=True, timeout=10)
            self.assertNotEqual(r.returncode, 0, flags)
            self.assertIn(line, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
