"""agent_fixture - start the real portiso-agent and talk to it over real HTTP.

Each test gets its own agent (or several, one after another, for restarts)
with --work_dir and --runtime_dir under the test's temp dir, the test's own
--cgroups_root, a free API port and its unix socket <runtime_dir>/api.sock. The agent's stderr goes to a file so
tests can count log lines. Calls go through http.client, the same way any
Mesos operator tool would send them.

Tasks run as `nobody` by default, so the test's temp dir is world-writable
(sticky) and listen.py is copied into it: a task must reach both wherever
the repository was cloned. Calls carry HTTP Basic credentials that the
fixture writes into the temp dir and names with --http_credentials (the TCP
API is read-only without them); `auth=False` sends a call without them.

Cleanup order (unittest runs cleanups last-in first-out): stop the agents,
then PortisoTestCase kills and removes the test's cgroups (containers and
their supervisors live there), then check that nothing of the test is left:
no cgroup directory and no process in one of its cgroups.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

from portiso_test import (AGENT, CLI, PortisoTestCase, basic_auth, cgroup_v1_freezer,
                          cgroup_v2_mount, free_port, wait_for)

PYTHON = "/usr/bin/python3"
WATCH = "100ms"


class ApiError(AssertionError):
    pass


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket (the agent's --api_socket)."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.path)
        except OSError:
            s.close()
            raise
        self.sock = s


class Agent:
    """One portiso-agent process and an HTTP client for it."""

    def __init__(self, test, flags, name="agent", env=None, preexec_fn=None):
        self.test = test
        self.env = env
        self.preexec_fn = preexec_fn
        self.port = free_port()
        self.log_path = os.path.join(test.tmp, f"{name}-{self.port}.log")
        self.argv = [AGENT, f"--port={self.port}"] + flags
        self.proc = None
        runtime = [f[len("--runtime_dir="):] for f in flags if f.startswith("--runtime_dir=")]
        sock = [f[len("--api_socket="):] for f in flags if f.startswith("--api_socket=")]
        self.socket_path = (sock[-1] if sock else
                            os.path.join(runtime[-1], "api.sock") if runtime else None)
        self.credentials = getattr(test, "credentials", None)  # (principal, secret)

    # -- process -----------------------------------------------------------
    def start(self, timeout=15):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, start_new_session=True,
                                     env=dict(os.environ, **(self.env or {})),
                                     preexec_fn=self.preexec_fn)
        log.close()

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            try:
                return self.get("/health")[0] == 200
            except OSError:
                return False
        wait_for(up, timeout=timeout, what="the agent's /health")
        return self

    def stop(self):
        """SIGTERM: the agent stops and leaves every container running."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agent did not stop on SIGTERM")
        return self.proc.returncode if self.proc else None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- HTTP ----------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=10, unix=False,
                auth=True):
        """Return (status, headers dict, body bytes); unix=True goes through
        the agent's unix socket instead of TCP. auth: True for the fixture's
        credentials, False for none, or a (principal, secret)."""
        headers = dict(headers or {})
        creds = self.credentials if auth is True else auth or None
        if creds and "Authorization" not in headers:
            headers["Authorization"] = basic_auth(*creds)
        c = (UnixHTTPConnection(self.socket_path, timeout=timeout) if unix else
             http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout))
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def get(self, path):
        status, hdrs, body = self.request("GET", path)
        return status, body

    def post(self, call, timeout=10, content_type="application/json", auth=True, unix=False):
        """POST an agent.Call (dict or raw bytes); return (status, parsed JSON or text)."""
        body = call if isinstance(call, (bytes, str)) else json.dumps(call)
        status, hdrs, data = self.request("POST", "/api/v1", body=body,
                                          headers={"Content-Type": content_type},
                                          timeout=timeout, auth=auth, unix=unix)
        if hdrs.get("content-type", "").startswith("application/json") and data:
            return status, json.loads(data)
        return status, data.decode(errors="replace")

    def call(self, ctype, field=None, timeout=10, expect=200, auth=True, unix=False, **body):
        """Call type ctype with body under `field` (default: snake_case of the type)."""
        msg = {"type": ctype}
        if body:
            msg[field or ctype.lower()] = body
        status, answer = self.post(msg, timeout=timeout, auth=auth, unix=unix)
        if expect is not None and status != expect:
            raise ApiError(f"{ctype}: expected {expect}, got {status}: {answer}")
        return answer if expect is not None else (status, answer)

    # -- containers ------------------------------------------------------------
    @staticmethod
    def cid(id):
        """ContainerID JSON for 'root/child'."""
        out = None
        for part in id.split("/"):
            out = {"value": part, **({"parent": out} if out else {})}
        return out

    def launch(self, id, cmd, ports=None, network=None, env=None, expect=200, shell=True,
               user=None, auth=True):
        body = {"container_id": self.cid(id),
                "command": {"shell": shell, "value": cmd} if shell else
                           {"shell": False, "value": cmd[0], "arguments": list(cmd)}}
        if user is not None:
            body["command"]["user"] = user
        if ports is not None:
            body["resources"] = ports_resources(ports)
        if network:
            body["container"] = {"type": "MESOS", "network_infos": [{"name": network}]}
        if env:
            body["command"]["environment"] = {
                "variables": [{"name": k, "value": v} for k, v in env.items()]}
        return self.call("LAUNCH_CONTAINER", expect=expect, auth=auth, **body)

    def wait(self, id, timeout=20):
        a = self.call("WAIT_CONTAINER", timeout=timeout, container_id=self.cid(id))
        return a["wait_container"]

    def kill(self, id, sig=None, expect=200):
        body = {"container_id": self.cid(id)}
        if sig is not None:
            body["signal"] = sig
        return self.call("KILL_CONTAINER", expect=expect, **body)

    def remove(self, id, expect=200):
        return self.call("REMOVE_CONTAINER", expect=expect, container_id=self.cid(id))

    def update(self, id, ports, expect=200):
        return self.call("UPDATE_CONTAINER", expect=expect, container_id=self.cid(id),
                         resources=ports_resources(ports))

    def containers(self):
        a = self.call("GET_PORTS")
        out = {}
        for c in a["get_ports"].get("containers", []):
            parts, cid = [], c["container_id"]
            while cid:
                parts.insert(0, cid["value"])
                cid = cid.get("parent")
            out["/".join(parts)] = c
        return out

    def state(self, id):
        c = self.containers().get(id)
        return c and c["state"]

    def metrics(self):
        status, body = self.get("/metrics/snapshot")
        assert status == 200, (status, body)
        return json.loads(body)

    def wait_scans(self, n=3, timeout=10):
        """Return once n more complete reconciliation passes have happened."""
        start = self.metrics()["network_ports/scans"]
        wait_for(lambda: self.metrics()["network_ports/scans"] >= start + n + 1,
                 timeout=timeout, what=f"{n} reconciliation passes")

    def wait_state(self, id, state, timeout=15):
        wait_for(lambda: self.state(id) == state, timeout=timeout,
                 what=f"container {id} to be {state} (now {self.state(id)})")


def ports_resources(ranges):
    """Mesos resources JSON for ports given as [(begin, end), ...] or [port, ...]."""
    rs = []
    for r in ranges:
        b, e = (r, r) if isinstance(r, int) else r
        rs.append({"begin": b, "end": e})
    return [{"name": "ports", "type": "RANGES", "ranges": {"range": rs}}]


def limitation_ports(wait):
    """Ports of a WaitContainer limitation as a sorted list of (begin, end)."""
    out = []
    for r in wait["limitation"]["resources"]:
        assert r["name"] == "ports" and r["type"] == "RANGES", r
        out += [(x["begin"], x["end"]) for x in r["ranges"]["range"]]
    return sorted(out)


class AgentTestCase(PortisoTestCase):
    """PortisoTestCase with agents, listeners in containers and a leftovers check."""

    def setUp(self):
        # Registered first so it runs last, after the base class' cleanup.
        self.addCleanup(self._check_nothing_left)
        super().setUp()
        self.agents = []
        self.addCleanup(self._stop_agents)
        self.share_tmp_with_tasks()
        self.credentials_file, self.credentials = self.write_credentials()

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

    def _stop_agents(self):
        reports = []
        for a in self.agents:
            try:
                a.stop()
            except AssertionError as e:
                reports.append(str(e))
            log = a.log()
            if any(m in log for m in self.SANITIZER_MARKS):
                reports.append(f"sanitizer report in {a.log_path}:\n{log[-4000:]}")
        # Supervisors (the agent binary re-executed) log into the checkpoints.
        for d, _, files in os.walk(self.tmp):
            if "supervisor.log" in files:
                with open(os.path.join(d, "supervisor.log"), errors="replace") as f:
                    log = f.read()
                if any(m in log for m in self.SANITIZER_MARKS):
                    reports.append(f"sanitizer report in {d}/supervisor.log:\n{log[-4000:]}")
        self.assertEqual(reports, [])

    def _check_nothing_left(self):
        root = getattr(self, "cgroups_root", None)
        if not root:
            return
        for base in filter(None, (cgroup_v2_mount(), cgroup_v1_freezer())):
            path = os.path.join(base, root)
            self.assertFalse(os.path.exists(path), f"cgroup {path} left behind")
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cgroup") as f:
                    cg = f.read()
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                # Zombies hold nothing; reaping them is init's business.
                if f"/{root}/" in cg + "/" and stat.rpartition(") ")[2][:1] != "Z":
                    left.append(f"{pid}: {stat[:60]}")
            except OSError:
                pass
        self.assertEqual(left, [], f"processes left in {root}")

    def agent_flags(self, **kw):
        """The per-test base flags; keyword arguments add or override flags
        (None removes one, True is a bare boolean, False "=false")."""
        flags = {
            "work_dir": os.path.join(self.tmp, "work"),
            "runtime_dir": os.path.join(self.tmp, "run"),
            "cgroups_root": self.cgroups_root,
            "container_ports_watch_interval": WATCH,
            "http_credentials": self.credentials_file,
        }
        flags.update(kw)
        out = []
        for k, v in flags.items():
            if v is None:
                continue
            if v is False:
                v = "false"
            out.append(f"--{k}" if v is True else f"--{k}={v}")
        return out

    def start_agent(self, env=None, preexec_fn=None, **kw):
        """Start an agent with agent_flags(**kw); env adds environment
        variables, preexec_fn runs in the child before exec."""
        a = Agent(self, self.agent_flags(**kw), env=env, preexec_fn=preexec_fn)
        self.agents.append(a)
        return a.start()

    def ready_file(self, name):
        return os.path.join(self.tmp, f"ready-{name.replace('/', '_')}")

    def listener_cmd(self, name, *specs):
        """Shell command running listen.py on specs, announcing into a ready file."""
        return (f"exec {PYTHON} {self.LISTEN} --ready-file={self.ready_file(name)} "
                + " ".join(specs))

    def wait_listening(self, name, timeout=10, agent=None):
        """Wait for listen.py in container `name` to be ready; return its ports.
        With `agent`, a container that ends first (instant detection can kill
        a violator between its listen() and its ready file) returns None."""
        path = self.ready_file(name)

        def ready_or_ended():
            if os.path.exists(path):
                return True
            return agent is not None and agent.state(name) in ("DESTROYING", "TERMINATED")

        try:
            wait_for(ready_or_ended, timeout=timeout, what=f"the listener of container {name}")
        except AssertionError as e:
            sandbox = os.path.join(self.tmp, "work", "containers",
                                   *"/containers/".join(name.split("/")).split("/"))
            try:
                with open(os.path.join(sandbox, "stderr"), errors="replace") as f:
                    err = f.read()[-2000:]
            except OSError as oe:
                err = str(oe)
            raise AssertionError(f"{e}; its stderr: {err!r}") from None
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return [int(x) for x in f.read().split()[2:]]

    def launch_listener(self, agent, id, specs, ports=None, **kw):
        agent.launch(id, self.listener_cmd(id, *specs), ports=ports, **kw)
        return self.wait_listening(id, agent=agent)

    def launch_violator(self, agent, id, specs, ports=None, **kw):
        """Launch listen.py on specs that enforcement is expected to kill: no
        waiting for its ready file, which it may never get to write."""
        agent.launch(id, self.listener_cmd(id, *specs), ports=ports, **kw)

    def run_cli(self, agent, *args, timeout=30, tcp=False):
        """Run build/portiso against the agent (found through $PORTISO_AGENT:
        its unix socket, or its TCP port with tcp=True, with the fixture's
        credentials in $PORTISO_CREDENTIALS); return the CompletedProcess."""
        where = f"127.0.0.1:{agent.port}" if tcp else agent.socket_path
        env = dict(os.environ, PORTISO_AGENT=where, PORTISO_CREDENTIALS=self.credentials_file)
        return subprocess.run([CLI] + list(args), capture_output=True, text=True,
                              timeout=timeout, env=env)
