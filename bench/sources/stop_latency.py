#!/usr/bin/env python3
"""stop_latency.py - how fast an adopted engine container is found and stopped.

    bench/sources/stop_latency.py [--build build] [--engine podman|docker] [--samples 20]

Starts a real Podman (or dockerd) in a temp dir, exactly as the tests do
(tests/integration/engine_fixture.py), and a real portiso-agent following it
with enforcement and instant detection on and the periodic pass every hour.
Then, one container at a time: a host-network busybox container labelled
portiso.ports=[P-P] waits for a go file, then listens on Q. Two figures:

  adopt: the engine's State.StartedAt -> the agent's "adopted" event (GET_EVENTS)
  stop:  the go file written -> the engine's State.FinishedAt

Both are wall-clock differences on this host (the engine's timestamps and
the agent's are CLOCK_REALTIME). Prints p50, p90, max and mean of each.
Everything is removed at the end, on every path. Ports: 20000-23999.
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


class Shim:
    """The little of unittest.TestCase the engine fixture uses."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="portiso-bench-")
        self.cgroups_root = f"portiso-bench-{os.getpid()}"
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def assertEqual(self, a, b, msg=None):
        if a != b:
            print(f"warning: {msg}: {a!r}", file=sys.stderr)

    def done(self):
        for fn, args in reversed(self.cleanups):
            try:
                fn(*args)
            except Exception as e:  # keep cleaning
                print(f"cleanup: {e}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


def call(port, msg):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", "/api/v1", body=json.dumps(msg),
                  headers={"Content-Type": "application/json"})
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def stats(name, v):
    v = sorted(v)
    p = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    print(f"{name}: n={len(v)} p50={p(0.5) * 1000:.1f} ms p90={p(0.9) * 1000:.1f} ms "
          f"max={v[-1] * 1000:.1f} ms mean={statistics.mean(v) * 1000:.1f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--engine", choices=("podman", "docker"), default="podman")
    ap.add_argument("--samples", type=int, default=20)
    a = ap.parse_args()
    os.environ["PORTISO_BUILD"] = os.path.abspath(a.build)
    from engine_fixture import Docker, Podman, free_test_port, rfc3339_to_unix
    from portiso_test import free_port, wait_for

    shim = Shim()
    agent = None
    try:
        eng = (Podman if a.engine == "podman" else Docker)(shim)
        api_port = free_port()
        log = open(os.path.join(shim.tmp, "agent.log"), "wb")
        agent = subprocess.Popen(
            [os.path.join(a.build, "portiso-agent"), f"--port={api_port}",
             f"--work_dir={shim.tmp}/work", f"--runtime_dir={shim.tmp}/run",
             f"--cgroups_root={shim.cgroups_root}", f"--workload_sources=api,{a.engine}",
             f"--{a.engine}_socket={eng.socket}", "--enforce_container_ports",
             "--container_ports_isolated_range=[20000-31999]",
             "--container_ports_watch_interval=1hrs"], stdout=log, stderr=log)
        def up():
            try:
                return call(api_port, {"type": "GET_HEALTH"})
            except OSError:
                return None
        wait_for(up, what="the agent")
        adopt, stop = [], []
        for i in range(a.samples):
            p, q = free_test_port(), free_test_port()
            name = f"s{i}"
            eng.run(name, eng.wait_go(name) + f"exec httpd -f -p {q}", label=f"[{p}-{p}]")
            cid = f"{a.engine}:{name}"

            def adopted_event():
                evs = call(api_port, {"type": "GET_EVENTS", "get_events": {"after": 0}})
                for e in evs["get_events"]["events"]:
                    if e["type"] == "adopted" and e["container_id"]["value"] == cid:
                        return e["time"]
                return None
            t_adopt = wait_for(adopted_event, timeout=20, what=f"{cid} adopted")
            adopt.append(t_adopt - rfc3339_to_unix(eng.inspect(name)["State"]["StartedAt"]))
            t0 = eng.go(name)
            wait_for(lambda: not eng.running(name), timeout=20, what=f"{name} stopped")
            stop.append(eng.finished_at(name) - t0)
            eng.rm(name)
        print(f"engine: {a.engine}, samples: {a.samples}")
        stats("adopt (start -> adopted)", adopt)
        stats("stop (listen -> engine says exited)", stop)
    finally:
        if agent:
            agent.terminate()
            agent.wait()
        shim.done()
        for base in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
            d = os.path.join(base, shim.cgroups_root)
            if os.path.isdir(d):
                subprocess.run(["find", d, "-depth", "-type", "d", "-delete"], check=False)


if __name__ == "__main__":
    main()
