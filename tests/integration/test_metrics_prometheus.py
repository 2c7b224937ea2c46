"""test_metrics_prometheus - GET /metrics in the Prometheus text format, read by
the real tools: `promtool check metrics` lints the body, and a real
Prometheus server (Debian's `prometheus`, its config and TSDB in the test's
temp dir, a free port, scrape interval 1 s) scrapes the agent; its HTTP
query API must then answer with the agent's numbers.

Ports used: 23000-23499 only (isolated range of the agent here).
"""
import json
import os
import re
import signal
import subprocess
import urllib.parse
import urllib.request

from agent_fixture import AgentTestCase, wait_for
from portiso_test import free_port
from test_bpf import band_ports

ISOLATED = "[23000-23499]"
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def parse(text):
    """{(name, frozenset(labels)): value} of an exposition body."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


class MetricsTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.cgroup_path()  # fails in CI / skips without cgroup2
        self.ok_port, self.bad_port, self.rogue_port = band_ports(3, lo=23000, hi=23499)

    def scrape(self, agent):
        status, headers, body = agent.request("GET", "/metrics")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        return body.decode()

    def promtool(self, body):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""), body)

    def start_violation(self, agent):
        """web listens on its port, rogue on an unallocated one and is killed."""
        self.launch_listener(agent, "web", [f"tcp4:{self.ok_port}"], ports=[self.ok_port])
        agent.launch("rogue", self.listener_cmd("rogue", f"tcp4:{self.bad_port}"),
                     ports=[self.rogue_port])
        w = agent.wait("rogue")
        self.assertEqual(w.get("reason"), "REASON_CONTAINER_LIMITATION", w)
        agent.wait_state("web", "RUNNING")
        wait_for(lambda: agent.containers()["web"].get("listening"), what="web's listener seen")

    def test_body_lints_and_counts(self):
        agent = self.start_agent(enforce_container_ports=True, metrics_per_container=True,
                                 container_ports_isolated_range=ISOLATED)
        self.promtool(self.scrape(agent))  # also valid with nothing to count
        self.start_violation(agent)
        body = self.scrape(agent)
        self.promtool(body)
        m = parse(body)
        version = agent.call("GET_VERSION")["get_version"]["version_info"]["version"]
        self.assertEqual(m[("portiso_build_info", frozenset({("version", version)}))], 1)
        self.assertEqual(m[("portiso_containers", frozenset())], 2)
        self.assertEqual(m[("portiso_containers_running", frozenset())], 1)
        self.assertEqual(m[("portiso_violations_total", frozenset())], 1)
        self.assertEqual(m[("portiso_containers_killed_total", frozenset())], 1)
        passes = m[("portiso_pass_duration_seconds_count", frozenset())]
        self.assertGreater(passes, 0)
        self.assertEqual(m[("portiso_pass_duration_seconds_bucket", frozenset({("le", "+Inf")}))],
                         passes)
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m.items()
                         if k[0] == "portiso_pass_duration_seconds_bucket")
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets), "cumulative")
        if m[("portiso_instant_detection_enabled", frozenset())]:
            # The kill followed the listen eBPF reported: it is timed.
            self.assertEqual(m[("portiso_listen_to_kill_seconds_count", frozenset())], 1)
            self.assertLess(m[("portiso_listen_to_kill_seconds_sum", frozenset())], 5)
        web = frozenset({("container_id", "web")})
        self.assertEqual(m[("portiso_container_allocated_ports", web)], 1)
        self.assertEqual(m[("portiso_container_listening_ports", web)], 1)
        self.assertEqual(m[("portiso_container_listening_ports",
                            frozenset({("container_id", "rogue")}))], 0)

    def test_per_container_gauges_only_with_the_flag(self):
        agent = self.start_agent(container_ports_isolated_range=ISOLATED)
        self.launch_listener(agent, "web", [f"tcp4:{self.ok_port}"], ports=[self.ok_port])
        body = self.scrape(agent)
        self.promtool(body)
        self.assertNotIn("portiso_container_", body)
        self.assertIn("portiso_containers 1\n", body)

    def test_wrong_method(self):
        agent = self.start_agent()
        status, headers, _ = agent.request("POST", "/metrics", body=b"")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("allow"), "GET")

    def test_real_prometheus_scrapes_the_agent(self):
        agent = self.start_agent(enforce_container_ports=True,
                                 container_ports_isolated_range=ISOLATED)
        self.start_violation(agent)
        port = free_port()
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: portiso\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{agent.port}']\n")
        log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        prom = self.spawn([PROMETHEUS, f"--config.file={config}",
                           f"--storage.tsdb.path={os.path.join(self.tmp, 'tsdb')}",
                           f"--web.listen-address=127.0.0.1:{port}"],
                          stdout=log, stderr=log, start_new_session=True)
        log.close()
        self.addCleanup(self.stop_prometheus, prom)

        def query(q):
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    doc = json.load(r)
            except OSError:
                self.assertIsNone(prom.poll(), self.prometheus_log())
                return None
            self.assertEqual(doc["status"], "success", doc)
            return doc["data"]["result"]

        def killed():
            res = query('portiso_containers_killed_total{job="portiso"}')
            return res and float(res[0]["value"][1]) == 1
        wait_for(killed, timeout=60, interval=0.2, what="Prometheus to scrape the kill")
        up = query('up{job="portiso"}')
        self.assertEqual(float(up[0]["value"][1]), 1)
        running = query("portiso_containers_running")
        self.assertEqual(float(running[0]["value"][1]), 1)
        self.assertTrue(query("portiso_pass_duration_seconds_bucket"))

    def prometheus_log(self):
        with open(os.path.join(self.tmp, "prometheus.log"), errors="replace") as f:
            return f.read()[-3000:]

    def stop_prometheus(self, prom):
        if prom.poll() is None:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
