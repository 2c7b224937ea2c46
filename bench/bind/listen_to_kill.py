#!/usr/bin/env python3
"""listen_to_kill.py - how long a container survives listening on a port it was
not allocated, with instant detection (issue 4).

    bench/bind/listen_to_kill.py [--build build] [--samples 100]

Starts a real portiso-agent (enforcement on, instant detection on, the
periodic pass every hour so it never helps), then, one container at a time:
the container's main process (a small Python program) binds an unallocated
port, waits on a FIFO, reads CLOCK_MONOTONIC right before listen() and
records it; the benchmark holds a pidfd of that process and takes the clock
when the pidfd reports its death (the kernel's own notice, no HTTP in the
measured path). Prints the distribution (p50, p99, max, mean) of listen() ->
death. Both clocks are the host's CLOCK_MONOTONIC.

Everything it makes is removed on every path: containers, cgroups, the agent,
its directories. Ports used: 26000-26999.
"""
import argparse
import http.client
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from portiso_test import basic_auth, cgroup_v2_mount, kill_cgroup_tree  # noqa: E402

PYTHON = "/usr/bin/python3"
# argv: DIR PORT. Binds PORT (or the next free one of the band), writes DIR/pid, waits for a byte on DIR/go, writes DIR/t0
# (CLOCK_MONOTONIC ns just before listen()), listens, sleeps.
CHILD = r"""
import os, socket, sys, time
d, port = sys.argv[1], int(sys.argv[2])
for p in list(range(port, 27000)) + list(range(26002, port)):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # an ephemeral port of some client may hold it (TIME_WAIT)
        s.bind(("127.0.0.1", p))
        break
    except OSError:
        s.close()
open(os.path.join(d, "pid.tmp"), "w").write(str(os.getpid()))
os.rename(os.path.join(d, "pid.tmp"), os.path.join(d, "pid"))
fd = os.open(os.path.join(d, "go"), os.O_RDONLY)
os.read(fd, 1)
t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
out = os.open(os.path.join(d, "t0"), os.O_WRONLY | os.O_CREAT, 0o644)
os.write(out, str(t0).encode())
s.listen(16)
time.sleep(3600)
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __init__(self, build, tmp, root):
        self.port = free_port()
        self.log = open(os.path.join(tmp, "agent.log"), "wb")
        # Write calls over TCP need credentials.
        creds = os.path.join(tmp, "credentials.json")
        with open(os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            json.dump({"credentials": [{"principal": "bench", "secret": "bench"}]}, f)
        self.auth = basic_auth("bench", "bench")
        self.proc = subprocess.Popen(
            [os.path.join(build, "portiso-agent"), f"--port={self.port}",
             f"--work_dir={tmp}/work", f"--runtime_dir={tmp}/run", f"--cgroups_root={root}",
             "--enforce_container_ports", "--container_ports_isolated_range=[26000-26999]",
             "--container_ports_watch_interval=1hrs", "--container_ports_instant_detection",
             f"--http_credentials={creds}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 15
        while True:
            try:
                if self.request("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("listen_to_kill: the agent did not start; see agent.log")
            time.sleep(0.02)

    def request(self, method, path, body=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json", "Authorization": self.auth})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def call(self, ctype, **body):
        status, data = self.request("POST", "/api/v1",
                                    json.dumps({"type": ctype, ctype.lower(): body}))
        if status != 200:
            raise SystemExit(f"listen_to_kill: {ctype} failed: {status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def metrics(self):
        return json.loads(self.request("GET", "/metrics/snapshot")[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"listen_to_kill: {path} never appeared")
        time.sleep(0.001)


def one_sample(agent, tmp, i):
    """Launch container i, trigger its listen(), return listen -> death in ns."""
    d = os.path.join(tmp, f"s{i}")
    os.makedirs(d)
    os.chmod(d, 0o777)  # the task runs as nobody
    os.mkfifo(os.path.join(d, "go"))
    port = 26100 + i % 800
    cid = {"value": f"c{i}"}
    ports = [{"name": "ports", "type": "RANGES",
              "ranges": {"range": [{"begin": 26001, "end": 26001}]}}]
    agent.call("LAUNCH_CONTAINER", container_id=cid, resources=ports,
               command={"shell": False, "value": PYTHON,
                        "arguments": [PYTHON, "-c", CHILD, d, str(port)]})
    wait_file(os.path.join(d, "pid"))
    with open(os.path.join(d, "pid")) as f:
        pidfd = os.pidfd_open(int(f.read()))
    try:
        go = os.open(os.path.join(d, "go"), os.O_WRONLY)
        os.write(go, b"x")
        os.close(go)
        if not select.select([pidfd], [], [], 10)[0]:
            raise SystemExit(f"listen_to_kill: container c{i} was not destroyed within 10s")
        t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    finally:
        os.close(pidfd)
    with open(os.path.join(d, "t0")) as f:
        t0 = int(f.read())
    w = agent.call("WAIT_CONTAINER", container_id=cid)["wait_container"]
    if w.get("reason") != "REASON_CONTAINER_LIMITATION":
        raise SystemExit(f"listen_to_kill: c{i} ended without the limitation: {w}")
    agent.call("REMOVE_CONTAINER", container_id=cid)
    return t1 - t0


def percentile(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q / 100.0 * len(s) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--samples", type=int, default=100)
    a = ap.parse_args()
    if os.geteuid() != 0 or not cgroup_v2_mount():
        raise SystemExit("listen_to_kill: needs root and a cgroup v2 hierarchy")

    tmp = tempfile.mkdtemp(prefix="portiso-bench-ltk-")
    os.chmod(tmp, 0o755)
    root = f"portiso-bench-ltk-{os.getpid()}"
    agent = None
    try:
        agent = Agent(os.path.abspath(a.build), tmp, root)
        if agent.metrics().get("network_ports/instant_detection") != 1:
            raise SystemExit("listen_to_kill: instant detection is not active on this host")
        ns = [one_sample(agent, tmp, i) for i in range(a.samples)]
        scans = agent.metrics().get("network_ports/scans")
    finally:
        if agent:
            agent.stop()
        kill_cgroup_tree(os.path.join(cgroup_v2_mount(), root))
        shutil.rmtree(tmp, ignore_errors=True)

    ms = [x / 1e6 for x in ns]
    print(f"listen() -> container destroyed, instant detection, watch interval 1hrs, "
          f"{len(ms)} containers ({scans} reconciliation passes in all)")
    print(f"  p50 {percentile(ms, 50):.2f} ms   p99 {percentile(ms, 99):.2f} ms   "
          f"max {max(ms):.2f} ms   mean {statistics.mean(ms):.2f} ms")


if __name__ == "__main__":
    main()
