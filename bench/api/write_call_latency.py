#!/usr/bin/env python3
"""write_call_latency - what the caller checks cost per API call.

Starts its own agent (own work dir, runtime dir, cgroups root and port,
HTTP Basic credentials), then times sequential calls from this process
(root, outside every container) over TCP with credentials and over the unix
socket: GET_HEALTH (a read: no caller checks), KILL_CONTAINER of an unknown
id (a write: authentication, the "is the caller in a container" lookup, a
404 from the containerizer) and UPDATE_CONTAINER of a running container
(the same plus a durable checkpoint). Then it opens --sockets more
established loopback sockets and times again: placing a TCP caller must not
grow with the host's sockets. Prints milliseconds per call.

    python3 bench/api/write_call_latency.py --build build [--calls 300] [--sockets 4000]
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from portiso_test import basic_auth, cgroup_v2_mount, free_port, kill_cgroup_tree  # noqa: E402


class Client:
    def __init__(self, port, sock, auth):
        self.port, self.sock, self.auth = port, sock, auth

    def call(self, msg, unix):
        if unix:
            c = http.client.HTTPConnection("localhost", timeout=30)
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.sock)
            c.sock = s
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("POST", "/api/v1", json.dumps(msg),
                      {"Content-Type": "application/json", "Authorization": self.auth})
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()


def measure(cl, label, calls):
    cid = {"value": "bench"}
    cases = [
        ("GET_HEALTH", {"type": "GET_HEALTH"}, 200),
        ("KILL unknown", {"type": "KILL_CONTAINER",
                          "kill_container": {"container_id": {"value": "nope"}}}, 404),
        ("UPDATE", {"type": "UPDATE_CONTAINER", "update_container": {
            "container_id": cid, "resources": [{"name": "ports", "type": "RANGES",
                                                "ranges": {"range": [{"begin": 31000,
                                                                      "end": 31000}]}}]}}, 200),
    ]
    for name, msg, want in cases:
        for unix in (False, True):
            t0 = time.perf_counter()
            for _ in range(calls):
                status = cl.call(msg, unix)
                if status != want:
                    raise SystemExit(f"write_call_latency: {name}: {status}, expected {want}")
            ms = 1e3 * (time.perf_counter() - t0) / calls
            print(f"  {label:24s} {name:13s} {'unix socket' if unix else 'TCP + Basic':12s} "
                  f"{ms:7.3f} ms/call")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--sockets", type=int, default=4000)
    a = ap.parse_args()
    if os.geteuid() != 0 or not cgroup_v2_mount():
        raise SystemExit("write_call_latency: needs root and a cgroup v2 hierarchy")

    tmp = tempfile.mkdtemp(prefix="portiso-bench-api-")
    root = f"portiso-bench-api-{os.getpid()}"
    creds = os.path.join(tmp, "credentials.json")
    with open(os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        json.dump({"credentials": [{"principal": "bench", "secret": "bench"}]}, f)
    port = free_port()
    log = open(os.path.join(tmp, "agent.log"), "wb")
    agent = subprocess.Popen(
        [os.path.join(os.path.abspath(a.build), "portiso-agent"), f"--port={port}",
         f"--work_dir={tmp}/work", f"--runtime_dir={tmp}/run", f"--cgroups_root={root}",
         f"--http_credentials={creds}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    held = []
    try:
        cl = Client(port, os.path.join(tmp, "run", "api.sock"), basic_auth("bench", "bench"))
        deadline = time.monotonic() + 15
        while True:
            try:
                if cl.call({"type": "GET_HEALTH"}, True) == 200:
                    break
            except OSError:
                pass
            if agent.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("write_call_latency: the agent did not start; see agent.log")
            time.sleep(0.02)
        if cl.call({"type": "LAUNCH_CONTAINER", "launch_container": {
                "container_id": {"value": "bench"},
                "command": {"value": "exec sleep 1000"}}}, True) != 200:
            raise SystemExit("write_call_latency: cannot launch the container")
        print(f"write_call_latency: {a.calls} sequential calls each, from outside any container")
        measure(cl, "host as it is", a.calls)
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(4096)
        held.append(lst)
        for _ in range(a.sockets // 2):
            c = socket.create_connection(lst.getsockname())
            s, _ = lst.accept()
            held += [c, s]
        measure(cl, f"+{a.sockets // 2 * 2} established", a.calls)
    finally:
        for s in held:
            s.close()
        if agent.poll() is None:
            agent.terminate()
            agent.wait(timeout=10)
        log.close()
        kill_cgroup_tree(os.path.join(cgroup_v2_mount(), root))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
