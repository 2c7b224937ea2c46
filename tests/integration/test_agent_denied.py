"""test_agent_denied - binds refused by bind prevention say so: a warning in
the agent's log naming the container, protocol and port (rate-limited), the
portiso_denied_binds_total metric, GET_PORTS' `denied` and `portiso ps`, and
the termination of a container that then exits: TASK_FAILED,
REASON_CONTAINER_LIMITATION, the refused ports as the limitation and a
message naming them.

The server is a real one from Debian: nginx, with its own configuration and
temp paths in the test's temp dir, run as the container's task (user nobody,
the agent's default). A probe in Python stands in for a task that catches
the EPERM and goes on.

Ports used: 23800-23999 only (the isolated range of every agent here).
"""
import os
import re
import urllib.request

from agent_fixture import PYTHON, AgentTestCase, limitation_ports, wait_for
from test_bpf import band_ports

ISOLATED = "[23800-23999]"
NGINX = "/usr/sbin/nginx"

NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{ listen 127.0.0.1:{port}; return 200 "nginx in {name}\\n"; }}
}}
"""

# Binds each port given (expecting EPERM for the first), then listens on the
# last one and announces it in the ready file, as listen.py does.
PROBE = """
import socket, sys, time
ready, refused, allowed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(int(sys.argv[4])):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", refused))
        sys.exit("bind to %d was allowed" % refused)
    except PermissionError:
        pass
    s.close()
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", allowed))
l.listen()
open(ready, "w").write("ready 0 %d" % allowed)
time.sleep(1000)
"""


class DeniedBindsTest(AgentTestCase):
    def setUp(self):
        # Runs last: the agent is stopped with its containers still there,
        # so the prevention pins of this cgroups root are the test's to remove.
        self.addCleanup(self._remove_pins)
        super().setUp()
        self.cgroup_path()  # fails in CI / skips without cgroup2
        os.chmod(self.tmp, 0o711)  # the tasks (nobody) reach their own files below
        self.a = self.start_agent(enforce_container_ports=True, container_ports_prevent_bind=True,
                                  container_ports_isolated_range=ISOLATED)
        status, body = self.a.get("/metrics")
        self.assertIn("portiso_prevent_bind_enabled 1\n", body.decode(),
                      "bind prevention must be active for these tests")

    def _remove_pins(self):
        self.remove_pins()

    def nginx_cmd(self, name, port):
        d = os.path.join(self.tmp, f"nginx-{name}")
        os.makedirs(d)
        os.chmod(d, 0o777)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(d=d, port=port, name=name))
        os.chmod(conf, 0o644)
        return f"exec {NGINX} -e stderr -p {d} -c {conf}"

    def denied_total(self):
        status, body = self.a.get("/metrics")
        m = re.search(r"^portiso_denied_binds_total (\S+)$", body.decode(), re.M)
        return float(m.group(1))

    def stderr_of(self, cid):
        with open(os.path.join(self.tmp, "work", "containers", cid, "stderr"),
                  errors="replace") as f:
            return f.read()

    def test_nginx_refused_its_port_ends_as_a_limitation(self):
        good, other, refused = band_ports(3, lo=23800, hi=23999)
        # The same server on its allocated port serves.
        self.a.launch("good", self.nginx_cmd("good", good), ports=[good])
        wait_for(lambda: self.a.containers()["good"].get("listening"), timeout=15,
                 what="nginx in good listening")
        with urllib.request.urlopen(f"http://127.0.0.1:{good}/", timeout=5) as r:
            self.assertEqual(r.read(), b"nginx in good\n")

        # Misconfigured: its listen port is not its allocation.
        self.a.launch("web", self.nginx_cmd("web", refused), ports=[other])
        w = self.a.wait("web")
        self.assertNotEqual(w["exit_status"], 0, w)
        self.assertEqual((w["state"], w["reason"]), ("TASK_FAILED", "REASON_CONTAINER_LIMITATION"))
        self.assertEqual(limitation_ports(w), [(refused, refused)])
        self.assertEqual(w["message"], f"Container web was refused bind() to unallocated "
                                       f"port(s): [{refused}-{refused}] (1 refused)")
        self.assertIn("(1: Operation not permitted)", self.stderr_of("web"))

        # The agent said so, once, naming container, protocol and port.
        lines = [l for l in self.a.log().splitlines() if "bind prevention refused" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(f"Container web: bind prevention refused tcp port(s) "
                      f"[{refused}-{refused}], not allocated to it (1 refused so far)", lines[0])
        self.assertTrue(lines[0].startswith("W"), lines[0])
        self.assertEqual(self.denied_total(), 1)
        # GET_PORTS keeps the ended container's refusals until it is removed.
        self.assertEqual(self.a.containers()["web"]["denied"], {"range": [
            {"begin": refused, "end": refused}]})
        self.assertEqual(self.a.state("good"), "RUNNING")
        self.a.kill("good")
        self.a.wait("good")

    def test_refusals_while_running_in_ps_and_rate_limited(self):
        allowed, refused = band_ports(2, lo=23800, hi=23999)
        d = os.path.join(self.tmp, "probe")
        os.makedirs(d)
        os.chmod(d, 0o777)  # the task (nobody) writes its ready file here
        probe, ready = os.path.join(d, "probe.py"), os.path.join(d, "ready")
        with open(probe, "w") as f:
            f.write(PROBE)
        os.chmod(probe, 0o644)
        self.a.launch("p", f"exec {PYTHON} {probe} {ready} {refused} {allowed} 3",
                      ports=[allowed])
        wait_for(lambda: os.path.exists(ready), what="the probe listening")
        wait_for(lambda: self.a.containers()["p"].get("denied"), what="p's refusals read")
        self.assertEqual(self.a.containers()["p"]["denied"],
                         {"range": [{"begin": refused, "end": refused}]})
        self.assertEqual(self.a.state("p"), "RUNNING")
        wait_for(lambda: self.denied_total() == 3, what="3 refusals counted")
        # Its listener is seen by the next pass or event check, not at once.
        wait_for(lambda: (self.a.containers()["p"].get("listening") or {}).get("range")
                 == [{"begin": allowed, "end": allowed}], what="p's listener seen")
        r = self.run_cli(self.a, "ps")
        self.assertEqual(r.returncode, 0, r.stderr)
        row = [l.split() for l in r.stdout.splitlines() if l.startswith("p ")][0]
        self.assertEqual(row, ["p", "-", "RUNNING", f"[{allowed}-{allowed}]",
                               f"[{allowed}-{allowed}]", f"[{refused}-{refused}]", "api", "-"])
        # Three refusals of one port within the rate limit: one warning.
        self.a.wait_scans(3)
        lines = [l for l in self.a.log().splitlines() if "bind prevention refused" in l]
        self.assertEqual(len(lines), 1, lines)

        # Killed by the operator: that stays its ending; the message tells the rest.
        self.a.kill("p")
        w = self.a.wait("p")
        self.assertEqual(w["exit_status"], 9)
        self.assertNotIn("state", w)
        self.assertIn(f"was refused bind() to unallocated port(s): [{refused}-{refused}] "
                      f"(3 refused)", w["message"])
