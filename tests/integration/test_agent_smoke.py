"""test_agent_smoke - the real agent end to end, briefly: flags, launch,
enforcement, supervisors outliving the agent, recovery.

Ports 25000-25999 only (plus a free port for the API). The thorough API
scenarios live in the other test_agent_*.py modules.
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import portiso_test
from portiso_test import AGENT, PortisoTestCase, wait_for

PORTS = {"range": [{"begin": 25001, "end": 25001}]}


class AgentFlagsTest(PortisoTestCase):
    needs_root = False

    def run_agent(self, *args, env=None):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith(("PORTISO_", "MESOS_")):
                del e[k]
        e.update(env or {})
        return subprocess.run([AGENT] + list(args), capture_output=True, text=True, timeout=10,
                              env=e)

    def test_help(self):
        p = self.run_agent("--help")
        self.assertEqual(p.returncode, 0)
        for flag in ("--work_dir", "--enforce_container_ports", "--container_ports_isolated_range",
                     "--container_ports_watch_interval", "--container_ports_protocols"):
            self.assertIn(flag, p.stdout)
        self.assertIn("default: 30secs", p.stdout)

    def test_version(self):
        p = self.run_agent("--version")
        self.assertEqual(p.returncode, 0)
        with open(os.path.join(portiso_test.ROOT, "meson.build")) as f:
            version = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)
        self.assertEqual(p.stdout, f"portiso-agent {version}\n")

    def test_bad_flags_exit_with_one_line(self):
        cases = [
            (["--launcher=posix"], "--launcher"),
            (["--container_ports_isolated_range=[100-65536]"], "--container_ports_isolated_range"),
            (["--container_ports_isolated_range=foo"], "--container_ports_isolated_range"),
            (["--container_ports_isolated_range=100"], "--container_ports_isolated_range"),
            (["--container_ports_isolated_range=[31000-32000]", "--check_agent_port_range_only"],
             "--check_agent_port_range_only"),
            (["--isolation=network/ports,gpu/nvidia"], "gpu/nvidia"),
            (["--no-such-flag"], "--no-such-flag"),
            (["--port=70000"], "--port"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                p = self.run_agent(*args)
                self.assertNotEqual(p.returncode, 0)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertTrue(lines[0].startswith("portiso-agent: "), lines[0])
                self.assertIn(needle, lines[0])

    def test_supervisor_program_missing(self):
        """An agent with no portiso-supervisor beside it, nor installed, will
        not start: one line naming both places, before it takes any port."""
        installed = "/usr/libexec/portiso/portiso-supervisor"
        if os.path.exists(installed):
            self.skipTest(f"{installed} is installed on this host")
        with tempfile.TemporaryDirectory() as d:
            alone = os.path.join(d, "portiso-agent")
            shutil.copy2(AGENT, alone)
            p = subprocess.run([alone, f"--work_dir={d}/work", f"--runtime_dir={d}/run"],
                               capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 1, p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("cannot find the program portiso-supervisor", lines[0])
        self.assertIn(os.path.join(d, "portiso-supervisor"), lines[0])

    def test_supervisor_program_links_little(self):
        """The supervisor, exec'd once per launch, loads none of the agent's
        network libraries, and refuses to run by hand."""
        sup = os.path.join(os.path.dirname(AGENT), "portiso-supervisor")
        ldd = subprocess.run(["ldd", sup], capture_output=True, text=True, check=True).stdout
        for lib in ("libcurl", "libevent", "libbpf", "libprotobuf-c", "libgnutls"):
            self.assertNotIn(lib, ldd)
        p = subprocess.run([sup], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("started by portiso-agent", p.stderr)

    def test_bad_environment_value(self):
        p = self.run_agent(env={"PORTISO_CONTAINER_PORTS_WATCH_INTERVAL": "soon"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--container_ports_watch_interval", p.stderr)


class AgentSmokeTest(PortisoTestCase):
    def setUp(self):
        super().setUp()
        self.work_dir = os.path.join(self.tmp, "work")
        self.runtime_dir = os.path.join(self.tmp, "run")
        self.log_path = os.path.join(self.tmp, "agent.log")
        self.agent = None
        self.api_port = None
        self.share_tmp_with_tasks()
        self.credentials_file, self.credentials = self.write_credentials()
        # Supervisors live in <cgroups_root>/.supervisors: the fixture's
        # recursive kill of the cgroups root ends them; this is a backstop.
        self.addCleanup(self.kill_supervisors)

    def kill_supervisors(self):
        out = subprocess.run(["pgrep", "-f", "--", f"--supervise .* {self.cgroups_root}/"],
                             capture_output=True, text=True).stdout.split()
        for pid in out:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def start_agent(self, *extra):
        self.api_port = portiso_test.free_port()
        log = open(self.log_path, "a")
        self.agent = self.spawn([AGENT, f"--port={self.api_port}", f"--work_dir={self.work_dir}",
                                 f"--runtime_dir={self.runtime_dir}",
                                 f"--cgroups_root={self.cgroups_root}",
                                 f"--http_credentials={self.credentials_file}",
                                 "--container_ports_watch_interval=100ms",
                                 "--container_ports_instant_detection=false"] + list(extra),
                                stdout=log, stderr=log)
        log.close()
        wait_for(self.healthy, what="agent health")

    def stop_agent(self):
        self.agent.send_signal(signal.SIGTERM)
        self.assertEqual(self.agent.wait(timeout=10), 0)

    def healthy(self):
        if self.agent.poll() is not None:
            raise AssertionError("agent exited: " + self.log())
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=2)
            try:
                c.request("GET", "/health")
                return c.getresponse().status == 200
            finally:
                c.close()
        except OSError:
            return False

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def call(self, body, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=timeout)
        try:
            c.request("POST", "/api/v1", json.dumps(body),
                      {"Content-Type": "application/json",
                       "Authorization": portiso_test.basic_auth(*self.credentials)})
            r = c.getresponse()
            data = r.read().decode()
        finally:
            c.close()
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data

    def launch(self, cid, command, ports=PORTS):
        body = {"container_id": {"value": cid}, "command": {"value": command}}
        if ports is not None:
            body["resources"] = [{"name": "ports", "type": "RANGES", "ranges": ports}]
        return self.call({"type": "LAUNCH_CONTAINER", "launch_container": body})

    def wait(self, cid):
        status, body = self.call({"type": "WAIT_CONTAINER",
                                  "wait_container": {"container_id": {"value": cid}}})
        self.assertEqual(status, 200, body)
        return body["wait_container"]

    def container(self, cid):
        _, body = self.call({"type": "GET_PORTS"})
        for c in body["get_ports"].get("containers", []):
            if c["container_id"]["value"] == cid:
                return c
        return None

    def listening_on(self, cid, port):
        c = self.container(cid)
        return c and any(r["begin"] <= port <= r["end"]
                         for r in c.get("listening", {}).get("range", []))

    def test_launch_enforce_recover(self):
        self.start_agent("--enforce_container_ports")
        listen = f"exec /usr/bin/python3 {self.LISTEN}"

        # A well-behaved container: allocated 25001, listens on it.
        status, body = self.launch("good", f"{listen} tcp4:25001")
        self.assertEqual(status, 200, body)
        try:
            wait_for(lambda: self.listening_on("good", 25001), what="good listening on 25001")
        except AssertionError as e:
            with open(os.path.join(self.work_dir, "containers", "good", "stderr")) as f:
                raise AssertionError(f"{e}; its stderr: {f.read()[-1000:]!r}") from None
        main_pid = self.container("good")["container_status"]["executor_pid"]
        # The main process runs in its cgroup, in its sandbox, with stdout there.
        cg = self.cgroup_path("good")
        with open(os.path.join(cg, "cgroup.procs")) as f:
            self.assertIn(str(main_pid), f.read().split())
        sandbox = os.path.join(self.work_dir, "containers", "good")
        self.assertEqual(os.readlink(f"/proc/{main_pid}/cwd"), sandbox)
        self.assertTrue(os.path.exists(os.path.join(sandbox, "stdout")))

        # A misbehaving one: allocated 25001, listens on 25002.
        status, body = self.launch("bad", f"{listen} tcp4:25002")
        self.assertEqual(status, 200, body)
        w = self.wait("bad")
        self.assertEqual(w["state"], "TASK_FAILED")
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(w["limitation"]["resources"][0]["ranges"],
                         {"range": [{"begin": 25002, "end": 25002}]})
        self.assertTrue(os.WIFSIGNALED(w["exit_status"]))
        self.assertFalse(os.path.exists(self.cgroup_path("bad")))

        # Stopping the agent leaves the good container running ...
        self.stop_agent()
        os.kill(main_pid, 0)
        self.assertTrue(self.listening_on_host(25001))

        # ... and a new agent recovers it, then KILL gives SIGKILL's status.
        self.start_agent("--enforce_container_ports")
        self.assertEqual(self.container("good")["state"], "RUNNING")
        self.assertEqual(self.container("bad")["state"], "TERMINATED")
        status, _ = self.call({"type": "KILL_CONTAINER",
                               "kill_container": {"container_id": {"value": "good"}}})
        self.assertEqual(status, 200)
        w = self.wait("good")
        self.assertTrue(os.WIFSIGNALED(w["exit_status"]))
        self.assertEqual(os.WTERMSIG(w["exit_status"]), signal.SIGKILL)
        self.assertNotIn("state", w)  # a destroy, as Mesos: the status alone

        status, _ = self.call({"type": "REMOVE_CONTAINER",
                               "remove_container": {"container_id": {"value": "good"}}})
        self.assertEqual(status, 200)
        self.assertFalse(os.path.exists(sandbox))
        self.assertFalse(os.path.exists(os.path.join(self.work_dir, "meta", "containers", "good")))

    def test_exit_while_agent_down(self):
        self.start_agent()
        status, body = self.launch("c1", "exec sleep 600")
        self.assertEqual(status, 200, body)
        pid = self.container("c1")["container_status"]["executor_pid"]
        self.stop_agent()
        os.kill(pid, signal.SIGTERM)
        # The supervisor records the status durably while no agent runs.
        status_file = os.path.join(self.work_dir, "meta", "containers", "c1", "exit_status")
        wait_for(lambda: os.path.exists(status_file), what="exit_status checkpoint")
        self.start_agent()
        w = self.wait("c1")
        self.assertTrue(os.WIFSIGNALED(w["exit_status"]))
        self.assertEqual(os.WTERMSIG(w["exit_status"]), signal.SIGTERM)

    @staticmethod
    def listening_on_host(port):
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                             text=True).stdout
        return bool(out.strip())


if __name__ == "__main__":
    import unittest
    unittest.main()
