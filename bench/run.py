#!/usr/bin/env python3
"""run.py - the benchmarks behind `make bench`: the scale benchmark (the
default, below) or, with --bench=churn, bench/churn/churn.py (what a listen
event costs the agent, GET_HEALTH in storms; every other option goes to it,
see its --help).

For each N it builds a workload with bench-workload (N container cgroups of P
sleeper processes holding F fds each, one or two listeners per container, host
processes and host listeners), then times, over --passes passes each:

  replica   bench-mesos-replica: Mesos' collectContainerListeners() in C
  ss -ltnp  iproute2 with process attribution (it walks /proc/*/fd too)
  ss -ltn   the bare dump, the floor (fork + exec + dump + print)
  portiso   bench-portiso-pass: ports_collect() + ports_check(), as the agent
  dump      bench-portiso-pass --dump-only: portiso's sock_diag dump alone, an
            in-process floor without ss' process start-up

It checks the answers: the replica must find exactly each container's IPv4
listeners, portiso each container's IPv4 and IPv6 ones (which the replica,
dumping IPv4 only, misses). It measures the agent's RSS at each N (the real
portiso-agent with N containers launched through its API, see
scale/agent_rss.py; with --no-agent or without an agent binary, the pass
timer's peak RSS holding the same isolator state), prints a table, writes bench/out/scale.csv and draws
bench/out/scale.png with gnuplot. Exits non-zero if any answer is wrong.

The workload is torn down on every path: its stdin is closed (it kills and
reaps its processes and removes its cgroups), and anything left behind by a
killed workload is removed here.
"""
import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("replica", "ss -ltnp", "ss -ltn", "portiso", "portiso move", "portiso walk", "dump",
         "paired pass", "paired dump")


def percentile(xs, q):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(q / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


class Workload:
    """A running bench-workload; a context manager that always tears it down."""

    def __init__(self, build, n, procs, fds, port_base, hierarchy, freezer, tmpdir, inherited=2):
        self.manifest = os.path.join(tmpdir, f"manifest-{n}.txt")
        self.argv = [os.path.join(build, "bench", "scale", "bench-workload"),
                     f"--manifest={self.manifest}", f"--n={n}", f"--procs={procs}",
                     f"--fds={fds}", f"--port-base={port_base}", f"--hierarchy={hierarchy}",
                     f"--inherited={inherited}"]
        if freezer:
            self.argv.append("--freezer")
        self.p = None
        self.root = None

    def __enter__(self):
        t0 = time.monotonic()
        self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        line = self.p.stdout.readline().split()
        if not line or line[0] != "ready":
            self.__exit__(None, None, None)
            raise RuntimeError(f"bench-workload failed to start ({self.argv})")
        self.procs = int(line[1])
        self.build_s = time.monotonic() - t0
        self.parse()
        return self

    def parse(self):
        self.containers = []  # (id, cgroup, v4 set, v6 set)
        self.mounts = []
        with open(self.manifest) as f:
            for line in f:
                w = line.split()
                if w[0] in ("v2", "freezer"):
                    self.mounts.append(w[1])
                elif w[0] == "root":
                    self.root = w[1]
                elif w[0] == "container":
                    ports = lambda s: set() if s == "-" else {int(x) for x in s.split(",")}
                    self.containers.append((w[1], w[2], ports(w[3]), ports(w[4])))

    def __exit__(self, *exc):
        if self.p is None:
            return False
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.p.kill()  # its sleepers die with it (PR_SET_PDEATHSIG)
            self.p.wait()
        # A workload killed before its teardown leaves empty cgroups: remove them.
        for m in self.mounts if self.root else []:
            base = os.path.join(m, self.root)
            if os.path.isdir(base):
                for d in sorted((os.path.join(base, x) for x in os.listdir(base)
                                 if os.path.isdir(os.path.join(base, x))), reverse=True):
                    rmdir_poll(d)
                rmdir_poll(base)
        return False


def rmdir_poll(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                print(f"warning: cannot remove {path}", file=sys.stderr)
                return
            time.sleep(0.01)


def run_timer(argv, env=None):
    """Run a pass timer; return (wall ms list, cpu ms list, {id: ports}, extra dict).
    The first pass is a warm-up (cold caches; portiso loads its BPF program
    there, once per process) and is reported apart, not in the statistics."""
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{os.path.basename(argv[0])} failed: {p.stderr.strip()}")
    wall, cpu, listening, extra = [], [], {}, {}
    dump = []
    for line in p.stdout.splitlines():
        w = line.split()
        if w[0] == "dump":
            dump.append((int(w[1]) / 1e6, int(w[2]) / 1e6))
        elif w[0] == "pass":
            wall.append(int(w[1]) / 1e6)
            cpu.append(int(w[2]) / 1e6)
        elif w[0] == "listening":
            listening[w[1]] = set() if w[2] == "-" else {int(x) for x in w[2].split(",")}
        elif w[0] == "rss":
            extra["rss_kib"], extra["hwm_kib"] = int(w[1]), int(w[2])
        elif w[0] == "backend":
            extra["backend"] = " ".join(w[1:]).rstrip(" -")
        elif w[0] == "limitations":
            extra["limitations"] = int(w[1])
        elif w[0] == "walks":
            extra["walks"] = f"{w[1]} full, {w[2]} partial"
    extra["first_ms"] = wall[0]
    wall, cpu = wall[1:], cpu[1:]
    if dump:  # --paired: the dump timed just before each pass
        extra["dump_wall"] = [d[0] for d in dump[1:]]
        extra["dump_cpu"] = [d[1] for d in dump[1:]]
    return wall, cpu, listening, extra


def run_ss(args, passes):
    """Time whole `ss` runs: wall and CPU (user + sys of the child) in ms."""
    wall, cpu = [], []
    subprocess.run(["ss"] + args, stdout=subprocess.DEVNULL, check=True)  # warm-up
    for _ in range(passes):
        t0 = time.perf_counter_ns()
        p = subprocess.Popen(["ss"] + args, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall.append((time.perf_counter_ns() - t0) / 1e6)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise RuntimeError(f"ss {' '.join(args)} exited {p.returncode}")
        cpu.append((ru.ru_utime + ru.ru_stime) * 1e3)
    return wall, cpu


def agent_rss(build, n, tmpdir, port_base):
    """The real agent holding n containers launched through its API, or None
    when the agent is not built."""
    agent = os.path.join(build, "portiso-agent")
    if not os.access(agent, os.X_OK):
        return None
    sys.path.insert(0, os.path.join(ROOT, "bench", "scale"))
    import agent_rss as ar
    return ar.measure(agent, n, tmpdir, port_base=port_base)


def bench_one(a, n, tmpdir):
    scale = os.path.join(a.build, "bench", "scale")
    rows = {}
    with Workload(a.build, n, a.procs, a.fds, a.port_base, a.hierarchy, a.freezer,
                  tmpdir, a.inherited) as w:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"N={n}: {w.procs} processes built in {w.build_s:.1f}s (load average {load})",
              flush=True)
        m = f"--manifest={w.manifest}"
        passes = f"--passes={a.passes + 1}"  # + the warm-up
        slow = a.slow_passes or a.passes
        rep = run_timer([os.path.join(scale, "bench-mesos-replica"), m, f"--passes={slow + 1}"]
                        + (["--freezer"] if a.freezer else []))
        rows["replica"] = rep
        rows["ss -ltnp"] = run_ss(["-ltnp"], slow) + ({}, {})
        rows["ss -ltn"] = run_ss(["-ltn"], a.passes) + ({}, {})
        env = dict(os.environ)
        if a.holders == "proc":
            env["PORTISO_HOLDERS"] = "proc"
        timer = [os.path.join(scale, "bench-portiso-pass"), m, passes, f"--isolated={a.isolated}"]
        por = run_timer(timer, env=env)
        rows["portiso"] = por
        # One hand-in-like event before every pass: the incremental walk.
        rows["portiso move"] = run_timer(timer + ["--move"], env=env)
        # The walk of every container every pass (the search before events).
        rows["portiso walk"] = run_timer(timer, env=dict(env, PORTISO_HOLDERS=(
            "proc" if a.holders == "proc" else "walk")))
        rows["dump"] = run_timer([os.path.join(scale, "bench-portiso-pass"), m, passes,
                                  "--dump-only"])
        # The same pass and dump back to back in one process, pair by pair: the
        # ratio without the noise between runs.
        pp = run_timer(timer + ["--paired"], env=env)
        rows["paired pass"] = pp
        rows["paired dump"] = (pp[3]["dump_wall"], pp[3]["dump_cpu"], {}, {})
        ratios = [p / d for p, d in zip(pp[0], pp[3]["dump_wall"]) if d > 0]

        # Answers: the replica sees IPv4 only, portiso both families.
        bad_rep = [c[0] for c in w.containers if rep[2].get(c[0]) != c[2]]
        bad_por = [c[0] for c in w.containers if por[2].get(c[0]) != c[2] | c[3]
                   or rows["portiso move"][2].get(c[0]) != c[2] | c[3]
                   or rows["portiso walk"][2].get(c[0]) != c[2] | c[3]]
        same_v4 = [c[0] for c in w.containers
                   if rep[2].get(c[0]) != (por[2].get(c[0], set()) - c[3])]
        v6_seen = sum(len(c[3]) for c in w.containers if c[3] <= por[2].get(c[0], set()))
        check = {
            "containers": len(w.containers),
            "replica_wrong": bad_rep,
            "portiso_wrong": bad_por,
            "v4_differs": same_v4,
            "v6_listeners": sum(len(c[3]) for c in w.containers),
            "v6_seen_by_portiso": v6_seen,
            "limitations": por[3].get("limitations"),
            "backend": por[3].get("backend", "?"),
            "walks": por[3].get("walks", "?"),
            "first_ms": por[3].get("first_ms"),
            "paired_ratio": statistics.median(ratios) if ratios else 0.0,
        }
        ag = None if a.no_agent else agent_rss(a.build, n, tmpdir, a.port_base + 2 * n + 100)
        if ag:
            check["rss_kib"] = ag["rss_kib"]
            check["rss_source"] = (f"portiso-agent with {n} containers launched through its API "
                                   f"in {ag['launch_s']:.1f}s; VmHWM {ag['hwm_kib']} KiB; its "
                                   f"last pass {ag['last_scan_ms']:.2f} ms")
        else:
            check["rss_kib"] = por[3].get("hwm_kib")
            check["rss_source"] = "bench-portiso-pass VmHWM: " + (
                "--no-agent" if a.no_agent else "no agent built")
    return rows, check


def summarize(n, rows, check, a):
    out = []
    rep_med = statistics.median(rows["replica"][0])
    floor_med = statistics.median(rows["ss -ltn"][0])
    for tool in TOOLS:
        wall, cpu = rows[tool][0], rows[tool][1]
        med = statistics.median(wall)
        out.append({
            "n": n, "procs": a.procs, "fds": a.fds, "tool": tool, "passes": len(wall),
            "median_ms": med, "p95_ms": percentile(wall, 95),
            "cpu_median_ms": statistics.median(cpu),
            "vs_replica": med / rep_med if rep_med else 0.0,
            "vs_ss_ltn": med / floor_med if floor_med else 0.0,
            "rss_kib": check["rss_kib"] if tool == "portiso" else "",
        })
    return out


def print_table(results):
    hdr = f"{'N':>5} {'tool':<12} {'median ms':>10} {'p95 ms':>9} {'cpu ms':>9} " \
          f"{'/replica':>9} {'/ss -ltn':>9} {'RSS KiB':>8}"
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        print(f"{r['n']:>5} {r['tool']:<12} {r['median_ms']:>10.3f} {r['p95_ms']:>9.3f} "
              f"{r['cpu_median_ms']:>9.3f} {r['vs_replica']:>9.4f} {r['vs_ss_ltn']:>9.3f} "
              f"{r['rss_kib']!s:>8}")


def write_csv(path, results):
    cols = ["n", "procs", "fds", "tool", "passes", "median_ms", "p95_ms", "cpu_median_ms",
            "vs_replica", "vs_ss_ltn", "rss_kib"]
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for r in results:
            f.write(",".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c])
                             for c in cols) + "\n")


def plot(outdir, results, a):
    gp = shutil.which("gnuplot")
    if not gp:
        print("gnuplot not found: no plot", file=sys.stderr)
        return
    series = []
    for tool in (t for t in TOOLS if not t.startswith("paired")):  # the same as two rows
        pts = [(r["n"], r["median_ms"]) for r in results if r["tool"] == tool]
        if pts:
            path = os.path.join(outdir, f".plot-{tool.replace(' ', '_')}.dat")
            with open(path, "w") as f:
                f.writelines(f"{n} {ms}\n" for n, ms in pts)
            series.append((tool, path))
    png = os.path.join(outdir, "scale.png")
    plots = ", ".join(f"'{p}' using 1:2 with linespoints lw 2 title '{t}'" for t, p in series)
    script = f"""set terminal pngcairo size 900,600
set output '{png}'
set title 'Reconciliation pass against N containers ({a.procs} processes x {a.fds} fds each)'
set xlabel 'containers (N)'
set ylabel 'median pass time (ms)'
set logscale xy
set grid
set key top left
plot {plots}
"""
    subprocess.run([gp], input=script, text=True, check=True)
    for _, p in series:
        os.unlink(p)
    print(f"plot: {png}")


def main():
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--bench", choices=("scale", "churn"), default="scale")
    which, rest = pre.parse_known_args()
    if which.bench == "churn":
        sys.path.insert(0, os.path.join(ROOT, "bench", "churn"))
        import churn
        return churn.main(rest)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", choices=("scale", "churn"), default="scale",
                    help="which benchmark: scale (this one) or churn (bench/churn/churn.py)")
    ap.add_argument("--build", default="build")
    ap.add_argument("--n", default="10,100,1000,2000", help="comma list of container counts")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--fds", type=int, default=64)
    ap.add_argument("--passes", type=int, default=20)
    ap.add_argument("--port-base", type=int, default=20000)
    ap.add_argument("--hierarchy", default="/sys/fs/cgroup")
    ap.add_argument("--freezer", action="store_true",
                    help="also put sleepers in v1 freezer cgroups; the replica reads those, as Mesos")
    ap.add_argument("--isolated", default="[0-65535]",
                    help="portiso's isolated range (default: every port, as Mesos without one)")
    ap.add_argument("--holders", choices=("auto", "proc"), default="auto",
                    help="holder search: the BPF iterator where available, or force the /proc walk")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--no-agent", action="store_true", help="measure RSS on the pass timer only")
    ap.add_argument("--inherited", type=int, default=2,
                    help="containers whose IPv4 listener was created outside and handed in")
    ap.add_argument("--slow-passes", type=int, default=0,
                    help="passes of the replica and ss -ltnp (default: --passes)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/run.py needs root (cgroups, pid_max)")
    ns = [int(x) for x in a.n.split(",") if x]
    os.makedirs(a.out, exist_ok=True)
    # SIGTERM/SIGHUP become KeyboardInterrupt so the workload's teardown runs.
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.default_int_handler)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    results, ok = [], True
    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    print(f"machine: {os.uname().release}, {os.cpu_count()} cpus ({cpu})")
    tmpdir = os.path.join(a.out, f".tmp-{os.getpid()}")
    os.makedirs(tmpdir, exist_ok=True)
    try:
        for n in ns:
            rows, check = bench_one(a, n, tmpdir)
            results += summarize(n, rows, check, a)
            good = not (check["replica_wrong"] or check["portiso_wrong"] or check["v4_differs"])
            ok &= good
            print(f"N={n}: answers {'OK' if good else 'WRONG'}: replica == IPv4 listeners of "
                  f"{check['containers'] - len(check['replica_wrong'])}/{check['containers']} "
                  f"containers; portiso == IPv4+IPv6 of "
                  f"{check['containers'] - len(check['portiso_wrong'])}/{check['containers']}; "
                  f"portiso == replica on IPv4 for "
                  f"{check['containers'] - len(check['v4_differs'])}/{check['containers']}; "
                  f"IPv6 listeners seen by portiso only: {check['v6_seen_by_portiso']}/"
                  f"{check['v6_listeners']}; holder search: {check['backend']}, "
                  f"{check['walks']} walks (first pass, "
                  f"loading it: {check['first_ms']:.1f} ms); "
                  f"paired pass / dump, median of the pairs: {check['paired_ratio']:.2f}x; "
                  f"RSS {check['rss_kib']} KiB ({check['rss_source']})", flush=True)
            if not good:
                for k in ("replica_wrong", "portiso_wrong", "v4_differs"):
                    if check[k]:
                        print(f"  {k}: {check[k][:10]}", flush=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    print()
    print_table(results)
    csv = os.path.join(a.out, "scale.csv")
    write_csv(csv, results)
    print(f"csv: {csv}")
    if not a.no_plot:
        plot(a.out, results, a)
    print("answers: " + ("portiso == replica on IPv4, plus IPv6" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
