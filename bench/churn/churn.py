#!/usr/bin/env python3
"""churn - what listener churn and API storms cost the real portiso-agent.

    sudo python3 bench/churn/churn.py --build build [--n=10,100,1000,2000]
        [--rates=10,100,1000] [--seconds=5] [--storm-n=1000] [--launches=100]

or `make bench BENCH_ARGS="--bench=churn [options]"` (bench/run.py passes
the options on).

For each N it starts build/portiso-agent (instant detection on, watch
interval 1 hour, enforcement on, every container allocated its own port in
the isolated range), launches N containers (`sleep`) through the API, and
then, for each rate R, runs a churner in container 0's cgroup that opens and
closes a TCP listener on container 0's own allocated port R times a second
for --seconds. The agent's CPU time (the scheduler's, /proc/<pid>/schedstat)
over that window, less its idle CPU over an equal window before, divided by
the events the agent counted (network_ports/listen_events), is the per-event
CPU; the same over the wall time is the CPU share of one core.

Then two storms, with GET_HEALTH timed sequentially all along (p50, p99,
max) by a process of its own: --storm-n KILL_CONTAINER calls over 8
connections against an agent holding --storm-n containers, and --launches
concurrent LAUNCH_CONTAINER calls (one connection each).

Prints one table per part and writes bench/out/churn.csv. Teardown on every
path: the agent is stopped, its cgroups killed and removed, its dirs deleted.
"""
import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "scale"))
import agent_rss  # noqa: E402  (the agent client and teardown helpers)

# argv: port rate seconds. Paced open/bind/listen/close of one listener.
CHURNER = """
import socket, sys, time
port, rate, secs = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
t0 = time.monotonic(); n = 0
while True:
    now = time.monotonic()
    if now - t0 >= secs:
        break
    due = t0 + n / rate
    if due > now:
        time.sleep(due - now)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1)
    s.close()
    n += 1
print(n)
"""


def cpu_seconds(pid):
    """CPU time of every thread of pid, in seconds (schedstat: nanoseconds)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def percentile(v, q):
    v = sorted(v)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


class Agent:
    """A portiso-agent with its own dirs and cgroups root."""

    def __init__(self, build, tmp, n, port_base, v2):
        self.root = f"portiso-bench-churn-{os.getpid()}-{n}"
        self.work = os.path.join(tmp, f"agent-{n}")
        self.v2 = v2
        self.port_base = port_base
        os.makedirs(self.work, exist_ok=True)
        self.port = agent_rss._free_port()
        creds = os.path.join(self.work, "credentials.json")
        with open(os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write('{"credentials": [{"principal": "bench", "secret": "bench"}]}')
        top = port_base + max(n, 1) + 200
        self.argv = [os.path.join(build, "portiso-agent"), f"--port={self.port}",
                     f"--work_dir={self.work}/work", f"--runtime_dir={self.work}/run",
                     f"--http_credentials={creds}", f"--cgroups_root={self.root}",
                     "--isolation=network/ports", f"--resources=ports:[{port_base}-{top}]",
                     f"--container_ports_isolated_range=[{port_base}-{top}]",
                     "--enforce_container_ports", "--container_ports_watch_interval=1hrs",
                     "--container_ports_instant_detection=true", "--http_max_connections=1024"]
        log = open(os.path.join(self.work, "agent.log"), "wb")
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  start_new_session=True)
        log.close()
        import base64
        self.cl = agent_rss._Client(self.port, "Basic " + base64.b64encode(b"bench:bench").decode())

        def up():
            if self.p.poll() is not None:
                raise RuntimeError(f"agent exited with {self.p.returncode}")
            try:
                return self.cl.request("GET", "/health")[0] == 200
            except OSError:
                return False
        agent_rss._wait_for(up, 20, "the agent's /health")

    def launch_call(self, i):
        return {"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": f"c{i:05d}"},
            "command": {"shell": False, "value": "/bin/sleep", "arguments": ["sleep", "3600"]},
            "resources": [{"name": "ports", "type": "RANGES", "ranges": {
                "range": [{"begin": self.port_base + i, "end": self.port_base + i}]}}]}}

    def launch_many(self, ids, workers=8):
        it = iter(ids)
        lock = threading.Lock()
        errors = []

        def work():
            while True:
                with lock:
                    i = next(it, None)
                if i is None:
                    return
                try:
                    self.cl.call(self.launch_call(i))
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
        ts = [threading.Thread(target=work) for _ in range(workers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise RuntimeError(f"{len(errors)} launches failed: {errors[0]}")

    def metrics(self):
        return self.cl.metrics()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        agent_rss._kill_tree(os.path.join(self.v2, self.root))
        subprocess.run(["rm", "-rf", self.work])


# argv: port authorization. GET_HEALTH one call after another (a new
# connection each, as a monitoring probe does) until stdin closes; then the
# latencies in ms, one line of JSON. A process of its own: timed in the
# storm's client process, it would time that process' 100 threads too.
SAMPLER = """
import http.client, json, select, sys, time
port, auth = int(sys.argv[1]), sys.argv[2]
ms = []
while not select.select([sys.stdin], [], [], 0)[0]:
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/api/v1", body=b'{"type": "GET_HEALTH"}',
              headers={"Authorization": auth, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    ms.append((time.monotonic() - t0) * 1e3)
    assert r.status == 200, r.status
    time.sleep(0.002)
print(json.dumps(ms))
"""


class HealthSampler:
    """GET_HEALTH timed from a process of its own until finish(); in ms."""

    def __init__(self, agent):
        self.p = subprocess.Popen([sys.executable, "-c", SAMPLER, str(agent.port), agent.cl.auth],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def start(self):
        pass  # it runs from its creation on

    def finish(self):
        out, _ = self.p.communicate("stop\n", timeout=60)
        if self.p.returncode != 0:
            raise RuntimeError("the GET_HEALTH sampler failed")
        ms = json.loads(out)
        return {"n": len(ms), "p50": percentile(ms, 0.5),
                "p99": percentile(ms, 0.99), "max": max(ms) if ms else 0}


def churn(agent, rate, seconds):
    """One churn window: returns (events, cpu_s net of idle, wall_s)."""
    idle0 = cpu_seconds(agent.p.pid)
    time.sleep(seconds)
    idle = cpu_seconds(agent.p.pid) - idle0
    procs = os.path.join(agent.v2, agent.root, "c00000", "cgroup.procs")
    ev0 = agent.metrics()["network_ports/listen_events"]
    cpu0 = cpu_seconds(agent.p.pid)
    t0 = time.monotonic()
    # The shell enters the container's cgroup, then execs the churner.
    out = subprocess.run(["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, sys.executable,
                          "-c", CHURNER, str(agent.port_base), str(rate), str(seconds)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the churner failed: {out.stderr.strip()[-300:]}")
    time.sleep(0.2)  # the last events reach the agent
    wall = time.monotonic() - t0
    cpu = cpu_seconds(agent.p.pid) - cpu0 - idle * wall / seconds
    events = agent.metrics()["network_ports/listen_events"] - ev0
    made = int(out.stdout.split()[-1])
    return events, made, max(cpu, 0.0), wall


def kill_storm(agent, n, left):
    h = HealthSampler(agent)
    h.start()
    time.sleep(0.3)
    ids = iter(range(n))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                i = next(ids, None)
            if i is None:
                return
            agent.cl.call({"type": "KILL_CONTAINER",
                           "kill_container": {"container_id": {"value": f"c{i:05d}"}}})
    t0 = time.monotonic()
    cpu0 = cpu_seconds(agent.p.pid)
    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    calls_s = time.monotonic() - t0
    agent_rss._wait_for(lambda: agent.metrics()["containerizer/containers_running"] == left, 120,
                        "the killed containers to end")
    ended_s = time.monotonic() - t0
    cpu = cpu_seconds(agent.p.pid) - cpu0
    r = h.finish()
    r.update(calls_s=calls_s, ended_s=ended_s, agent_cpu_ms_per_call=cpu / n * 1e3)
    return r


def launch_storm(agent, first, n):
    h = HealthSampler(agent)
    h.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    cpu0 = cpu_seconds(agent.p.pid)
    agent.launch_many(range(first, first + n), workers=n)
    cpu = cpu_seconds(agent.p.pid) - cpu0
    r = h.finish()
    r.update(calls_s=time.monotonic() - t0, agent_cpu_ms_per_call=cpu / n * 1e3)
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--n", default="10,100,1000,2000")
    ap.add_argument("--rates", default="10,100,1000")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--storm-n", type=int, default=1000)
    ap.add_argument("--launches", type=int, default=100)
    # Below the ephemeral range (32768+) and the test suite's bands.
    ap.add_argument("--port-base", type=int, default=12000)
    ap.add_argument("--v2", default="/sys/fs/cgroup/unified")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    a = ap.parse_args(argv)
    if not os.path.exists(os.path.join(a.v2, "cgroup.controllers")):
        a.v2 = "/sys/fs/cgroup"
    build = os.path.abspath(a.build)
    tmp = os.path.join(a.out, f"churn-tmp-{os.getpid()}")
    os.makedirs(tmp, exist_ok=True)
    rows = []
    with open("/proc/loadavg") as f:
        print(f"load average at start: {f.read().split()[:3]}")

    print("\nListener churn in container 0 (its own allocated port), agent CPU per event:")
    print(f"{'N':>6} {'rate/s':>7} {'events':>7} {'made':>6} {'CPU ms/event':>13} "
          f"{'CPU share':>10}")
    for n in [int(x) for x in a.n.split(",")]:
        agent = Agent(build, tmp, n, a.port_base, a.v2)
        try:
            t0 = time.monotonic()
            agent.launch_many(range(n))
            launch_s = time.monotonic() - t0
            for rate in [int(x) for x in a.rates.split(",")]:
                events, made, cpu, wall = churn(agent, rate, a.seconds)
                per = cpu / events * 1e3 if events else float("nan")
                share = cpu / wall * 100
                print(f"{n:>6} {rate:>7} {events:>7} {made:>6} {per:>13.4f} {share:>9.2f}%")
                rows.append({"part": "churn", "n": n, "rate": rate, "events": events,
                             "made": made, "cpu_ms_per_event": per, "cpu_share_pct": share,
                             "launch_s": launch_s})
            m = agent.metrics()
            assert m["network_ports/violations"] == 0, m
            assert m["containerizer/containers_running"] == n, m
        finally:
            agent.stop()

    print("\nGET_HEALTH latency during storms (ms):")
    agent = Agent(build, tmp, a.storm_n + a.launches, a.port_base, a.v2)
    try:
        agent.launch_many(range(a.storm_n))
        r = launch_storm(agent, a.storm_n, a.launches)
        print(f"  {a.launches} concurrent LAUNCH_CONTAINER: p50 {r['p50']:.2f}  p99 "
              f"{r['p99']:.2f}  max {r['max']:.2f}  ({r['n']} samples; launches took "
              f"{r['calls_s']:.2f} s, agent CPU {r['agent_cpu_ms_per_call']:.2f} ms each)")
        rows.append({"part": "launch_storm", "n": a.launches, **r})
        r = kill_storm(agent, a.storm_n, a.launches)
        print(f"  {a.storm_n} KILL_CONTAINER: p50 {r['p50']:.2f}  p99 "
              f"{r['p99']:.2f}  max {r['max']:.2f}  ({r['n']} samples; calls took "
              f"{r['calls_s']:.2f} s, all ended after {r['ended_s']:.2f} s, agent CPU "
              f"{r['agent_cpu_ms_per_call']:.2f} ms per destroy)")
        rows.append({"part": "kill_storm", "n": a.storm_n, **r})
    finally:
        agent.stop()
    subprocess.run(["rm", "-rf", tmp])

    os.makedirs(a.out, exist_ok=True)
    keys = sorted({k for r in rows for k in r})
    with open(os.path.join(a.out, "churn.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    with open("/proc/loadavg") as f:
        print(f"\nload average at end: {f.read().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
