"""agent_rss - the real portiso-agent's memory with N containers.

Starts build/portiso-agent on a free loopback port with its own work,
runtime and cgroups root, launches N containers through the v1 operator API
(LAUNCH_CONTAINER, each a `sleep` with one allocated port), waits for three
reconciliation passes, and reads the agent's VmRSS and VmHWM. It also
returns the agent's own last pass time (network_ports/last_scan_seconds).
Teardown on every path: SIGTERM the agent (it leaves containers running, by
design), then kill and remove its cgroups tree and its directories.
"""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


class _Client:
    def __init__(self, port, auth):
        self.port = port
        self.auth = auth  # an Authorization header value: writes over TCP need one

    def request(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": self.auth}
        if body:
            headers["Content-Type"] = "application/json"
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def call(self, msg):
        status, data = self.request("POST", "/api/v1", json.dumps(msg))
        if status != 200:
            raise RuntimeError(f"{msg['type']}: {status} {data[:200]!r}")
        return json.loads(data) if data else {}

    def metrics(self):
        return json.loads(self.request("GET", "/metrics/snapshot")[1])


def _kill_tree(path):
    """SIGKILL everything below a cgroup directory, then remove it, deepest first."""
    if not os.path.isdir(path):
        return
    kill = os.path.join(path, "cgroup.kill")
    if os.path.exists(kill):
        with open(kill, "w") as f:
            f.write("1")

    def pids():
        out = []
        for d, _, files in os.walk(path):
            if "cgroup.procs" in files:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    out += f.read().split()
        return out
    for pid in pids():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait_for(lambda: not pids(), 30, f"{path} to empty")
    for d, _, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        _wait_for(lambda: _rmdir(d), 10, f"rmdir {d}")


def _rmdir(d):
    try:
        os.rmdir(d)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def measure(agent, n, tmpdir, port_base=20000, v2_mount="/sys/fs/cgroup/unified",
            v1_freezer="/sys/fs/cgroup/freezer"):
    """Return {"rss_kib", "hwm_kib", "last_scan_ms", "launch_s"} for n containers."""
    root = f"portiso-bench-agent-{os.getpid()}"
    work = os.path.join(tmpdir, f"agent-{n}")
    os.makedirs(work, exist_ok=True)
    port = _free_port()
    creds = os.path.join(work, "credentials.json")
    with open(os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        json.dump({"credentials": [{"principal": "bench", "secret": "bench"}]}, f)
    argv = [agent, f"--port={port}", f"--work_dir={work}/work", f"--runtime_dir={work}/run",
            f"--http_credentials={creds}",
            f"--cgroups_root={root}", "--isolation=network/ports",
            f"--resources=ports:[{port_base}-{port_base + max(n, 1) - 1}]",
            "--container_ports_watch_interval=200ms"]
    log = open(os.path.join(work, "agent.log"), "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True)
    log.close()
    cl = _Client(port, "Basic " + base64.b64encode(b"bench:bench").decode())
    try:
        def up():
            if p.poll() is not None:
                raise RuntimeError(f"agent exited with {p.returncode}")
            try:
                return cl.request("GET", "/health")[0] == 200
            except OSError:
                return False
        _wait_for(up, 15, "the agent's /health")
        t0 = time.monotonic()
        for i in range(n):
            cl.call({"type": "LAUNCH_CONTAINER", "launch_container": {
                "container_id": {"value": f"c{i:05d}"},
                "command": {"shell": False, "value": "/bin/sleep", "arguments": ["sleep", "3600"]},
                "resources": [{"name": "ports", "type": "RANGES",
                               "ranges": {"range": [{"begin": port_base + i,
                                                     "end": port_base + i}]}}]}})
        launch_s = time.monotonic() - t0
        start = cl.metrics()["network_ports/scans"]
        _wait_for(lambda: cl.metrics()["network_ports/scans"] >= start + 3, 60, "3 passes")
        st = _status(p.pid)
        return {"rss_kib": st["VmRSS"], "hwm_kib": st["VmHWM"], "launch_s": launch_s,
                "last_scan_ms": cl.metrics()["network_ports/last_scan_seconds"] * 1e3}
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for base in (v2_mount, v1_freezer):
            _kill_tree(os.path.join(base, root))
        shutil.rmtree(work, ignore_errors=True)
