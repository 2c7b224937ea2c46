"""The agent's HTTP API (DESIGN.md §1.3) against the real agent: every call,
every status code for bad input, long polls at scale, and the portiso client
end to end. Containers use ports 31000-31099 of the isolated band."""
import json
import os
import socket
import time
import unittest

from agent_fixture import Agent, AgentTestCase, PYTHON, ports_resources, wait_for

SLEEP = "exec sleep 1000"


class TestAgentApiCalls(AgentTestCase):
    def test_get_calls(self):
        a = self.start_agent()
        self.assertEqual(a.call("GET_HEALTH"), {"type": "GET_HEALTH",
                                                "get_health": {"healthy": True}})
        v = a.call("GET_VERSION")
        self.assertEqual(v["type"], "GET_VERSION")
        self.assertRegex(v["get_version"]["version_info"]["version"], r"^\d+\.\d+")

        flags = {f["name"]: f["value"] for f in a.call("GET_FLAGS")["get_flags"]["flags"]}
        self.assertEqual(flags["cgroups_root"], self.cgroups_root)
        self.assertEqual(flags["port"], str(a.port))
        for name in ("work_dir", "isolation", "enforce_container_ports",
                     "container_ports_watch_interval"):
            self.assertIn(name, flags)
        # As Mesos, a flag without a value is not listed at all.
        self.assertNotIn("container_ports_isolated_range", flags)
        self.assertNotIn("resources", flags)

        m = a.call("GET_METRICS")["get_metrics"]["metrics"]
        names = {x["name"]: x["value"] for x in m}
        self.assertEqual(names["containerizer/containers"], 0)
        self.assertIn("network_ports/scans", names)

        status, body = a.get("/health")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"healthy": True})

        snap = a.metrics()
        for key in ("containerizer/containers", "containerizer/containers_running",
                    "network_ports/violations", "network_ports/containers_killed",
                    "network_ports/last_scan_seconds", "network_ports/scans",
                    "network_ports/instant_detection", "network_ports/prevent_bind"):
            self.assertIn(key, snap)
        a.wait_scans(2)
        self.assertGreater(a.metrics()["network_ports/last_scan_seconds"], 0)

    def test_container_lifecycle_and_get_containers(self):
        a = self.start_agent()
        a.launch("c1", SLEEP, ports=[(31000, 31001)])
        a.launch("c1/n1", SLEEP)
        a.wait_state("c1", "RUNNING")
        a.wait_state("c1/n1", "RUNNING")
        cs = a.containers()
        self.assertEqual(cs["c1"]["container_id"], {"value": "c1"})
        self.assertEqual(cs["c1/n1"]["container_id"], {"value": "n1", "parent": {"value": "c1"}})
        self.assertEqual(cs["c1"]["resources"], ports_resources([(31000, 31001)]))
        self.assertNotIn("resources", cs["c1/n1"])
        self.assertIn("listening", cs["c1"])
        self.assertGreater(cs["c1"]["container_status"]["executor_pid"], 0)
        snap = a.metrics()
        self.assertEqual(snap["containerizer/containers"], 2)
        self.assertEqual(snap["containerizer/containers_running"], 2)

        # REMOVE while running is refused (500, as agent.proto documents);
        # the container keeps running.
        status, body = a.call("REMOVE_CONTAINER", expect=None, container_id=a.cid("c1"))
        self.assertEqual(status, 500, body)
        self.assertIn("has not terminated", body)
        self.assertEqual(a.state("c1"), "RUNNING")

        # SIGTERM is delivered to the main process (sleep dies of it).
        a.kill("c1/n1", sig=15)
        self.assertEqual(a.wait("c1/n1")["exit_status"], 15)
        # Default KILL is SIGKILL and destroys the tree.
        a.kill("c1")
        w = a.wait("c1")
        self.assertEqual(w["exit_status"], 9)
        self.assertNotIn("limitation", w)
        self.assertEqual(a.state("c1"), "TERMINATED")
        self.assertEqual(a.containers()["c1"]["termination"]["exit_status"], 9)
        # A finished container's wait answers at once, and again.
        self.assertEqual(a.wait("c1")["exit_status"], 9)
        a.call("REMOVE_NESTED_CONTAINER", container_id=a.cid("c1/n1"))
        a.remove("c1")
        self.assertEqual(a.containers(), {})
        a.call("WAIT_CONTAINER", expect=404, container_id=a.cid("c1"))

    def test_exit_status_and_environment(self):
        a = self.start_agent()
        out = os.path.join(self.tmp, "env-out")
        a.launch("e1", f'echo "$FOO" > {out}; exit 3', env={"FOO": "bar baz"})
        self.assertEqual(a.wait("e1")["exit_status"], 3 << 8)
        with open(out) as f:
            self.assertEqual(f.read(), "bar baz\n")
        # shell=false: value is exec'd with arguments as argv.
        a.launch("e2", ["/bin/sh", "-c", "exit 5"], shell=False)
        self.assertEqual(a.wait("e2")["exit_status"], 5 << 8)

    def test_nested_alias_calls(self):
        a = self.start_agent()
        a.launch("r", SLEEP, ports=[31002])
        a.call("LAUNCH_NESTED_CONTAINER", container_id=a.cid("r/x"),
               command={"value": SLEEP})
        a.wait_state("r/x", "RUNNING")
        # The alias requires a parent.
        a.call("LAUNCH_NESTED_CONTAINER", expect=400, container_id=a.cid("y"),
               command={"value": SLEEP})
        a.call("KILL_NESTED_CONTAINER", container_id=a.cid("r/x"))
        w = a.call("WAIT_NESTED_CONTAINER", container_id=a.cid("r/x"))
        self.assertEqual(w["type"], "WAIT_NESTED_CONTAINER")
        self.assertEqual(w["wait_nested_container"]["exit_status"], 9)
        a.kill("r")
        a.wait("r")


class TestAgentApiBadInput(AgentTestCase):
    def test_every_bad_input_gets_its_status(self):
        a = self.start_agent()
        a.launch("good", SLEEP, ports=[31010])
        a.wait_state("good", "RUNNING")

        def status_of(method="POST", path="/api/v1", body=b"{}", ctype="application/json"):
            hdrs = {"Content-Type": ctype} if ctype else {}
            st, h, data = a.request(method, path, body=body, headers=hdrs)
            if st >= 400 and st != 413:
                text = data.decode()
                self.assertTrue(text and "\n" not in text.strip(), f"{st}: {text!r}")
            return st

        self.assertEqual(status_of(body=b"{not json"), 400)
        self.assertEqual(status_of(body=b""), 400)
        self.assertEqual(status_of(body=b"[1, 2]"), 400)
        self.assertEqual(status_of(body=b'{"type": "NO_SUCH_CALL"}'), 400)
        self.assertEqual(status_of(body=b'{"type": 7}'), 400)
        # A reason quoting the client's input stays one line.
        self.assertEqual(status_of(body=b'{"type": "NO\\nSUCH\\r\\nCALL"}'), 400)
        self.assertEqual(status_of(body=b'{"get_health": {}}'), 400)
        self.assertEqual(status_of(body=b'{"type": "LAUNCH_CONTAINER"}'), 400)
        self.assertEqual(status_of(method="GET", body=None, ctype=None), 405)
        self.assertEqual(status_of(method="PUT"), 405)
        self.assertEqual(status_of(ctype="text/plain"), 415)
        self.assertEqual(status_of(ctype=None), 415)
        # A JSON body sent as protobuf does not parse as an agent.Call.
        self.assertEqual(status_of(ctype="application/x-protobuf"), 400)
        self.assertEqual(status_of(body=b'{"type":"GET_HEALTH"}',
                                   ctype="application/json; charset=utf-8"), 200)
        self.assertEqual(status_of(method="GET", path="/nope", body=None), 404)
        self.assertEqual(status_of(method="POST", path="/health"), 405)

        # 2 MiB body: 413, without the agent reading it into a call.
        big = b'{"type":"GET_HEALTH","pad":"' + b"x" * (2 << 20) + b'"}'
        self.assertEqual(self.raw_status(a, big), 413)

        # Bad container ids, each component.
        for bad in ("", "a/b", "a.b", "a b", "tab\there", "x" * 243, "ctl\x01", "nl\nhere"):
            st, body = a.call("LAUNCH_CONTAINER", expect=None,
                              container_id={"value": bad}, command={"value": SLEEP})
            self.assertEqual(st, 400, f"id {bad!r}: {body}")
            self.assertNotIn("\n", body)
            st, body = a.call("LAUNCH_CONTAINER", expect=None,
                              container_id={"value": "ok", "parent": {"value": bad}},
                              command={"value": SLEEP})
            self.assertEqual(st, 400, f"parent id {bad!r}: {body}")
            self.assertNotIn("\n", body)
        # 242 bytes is the longest valid id.
        a.launch("y" * 242, "exit 0", ports=[31011])
        a.wait("y" * 242)

        # Bad fields.
        bad_launches = [
            {"container_id": {"value": 7}, "command": {"value": SLEEP}},
            {"container_id": "c", "command": {"value": SLEEP}},
            {"command": {"value": SLEEP}},
            {"container_id": {"value": "c"}},
            {"container_id": {"value": "c"}, "command": {"value": ""}},
            {"container_id": {"value": "c"}, "command": {"value": SLEEP, "shell": "yes"}},
            {"container_id": {"value": "c"}, "command": {"value": SLEEP, "arguments": [1]}},
            {"container_id": {"value": "c"}, "command": {"value": SLEEP},
             "resources": [{"name": "ports", "type": "RANGES",
                            "ranges": {"range": [{"begin": 5, "end": 1}]}}]},
            {"container_id": {"value": "c"}, "command": {"value": SLEEP},
             "resources": [{"name": "ports", "type": "RANGES",
                            "ranges": {"range": [{"begin": 1, "end": 70000}]}}]},
            {"container_id": {"value": "c"}, "command": {"value": SLEEP}, "resources": {}},
            {"container_id": {"value": "c"}, "command": {"value": SLEEP},
             "container": {"type": "DOCKER"}},
            # Nested containers share their root's resources.
            {"container_id": {"value": "n", "parent": {"value": "good"}},
             "command": {"value": SLEEP}, "resources": ports_resources([31012])},
            # Unknown parent (documented as 400, like the other launch errors).
            {"container_id": {"value": "n", "parent": {"value": "nosuch"}},
             "command": {"value": SLEEP}},
        ]
        for body in bad_launches:
            st, text = a.call("LAUNCH_CONTAINER", expect=None, **body)
            self.assertEqual(st, 400, f"{body}: {text}")
            self.assertNotIn("\n", text)
        self.assertNotIn("c", a.containers())

        # Duplicate id: 202, the running container untouched.
        st, _ = a.call("LAUNCH_CONTAINER", expect=None, container_id=a.cid("good"),
                       command={"value": "exit 0"})
        self.assertEqual(st, 202)

        # Unknown containers: 404, but REMOVE_CONTAINER answers 500 as agent.proto
        # documents, and 200 for a nested one whose parent is gone.
        for ctype in ("WAIT_CONTAINER", "KILL_CONTAINER"):
            st, _ = a.call(ctype, expect=None, container_id=a.cid("nosuch"))
            self.assertEqual(st, 404, ctype)
        st, text = a.call("REMOVE_CONTAINER", expect=None, container_id=a.cid("nosuch"))
        self.assertEqual((st, text), (500, "container 'nosuch' is unknown"))
        st, _ = a.call("REMOVE_CONTAINER", expect=None, container_id=a.cid("nosuch/n"))
        self.assertEqual(st, 200)
        # The *_NESTED_CONTAINER calls need a parent, as in Mesos.
        for ctype in ("WAIT_NESTED_CONTAINER", "KILL_NESTED_CONTAINER",
                      "REMOVE_NESTED_CONTAINER"):
            st, text = a.call(ctype, expect=None, container_id=a.cid("good"))
            self.assertEqual((st, text), (400, "Expecting 'container_id.parent'"), ctype)
        self.assertEqual(a.state("good"), "RUNNING")
        st, _ = a.call("UPDATE_CONTAINER", expect=None, container_id=a.cid("nosuch"),
                       resources=ports_resources([31013]))
        self.assertEqual(st, 404)
        st, _ = a.call("KILL_CONTAINER", expect=None, container_id=a.cid("good"), signal=0)
        self.assertEqual(st, 400)
        st, _ = a.call("UPDATE_CONTAINER", expect=None, container_id=a.cid("good"))
        self.assertEqual(st, 400)
        st, _ = a.call("REMOVE_CONTAINER", expect=None, container_id=a.cid("good"))
        self.assertEqual(st, 500)

        # Half a request, then hang up; garbage on the socket.
        with socket.create_connection(("127.0.0.1", a.port)) as s:
            s.sendall(b"POST /api/v1 HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        with socket.create_connection(("127.0.0.1", a.port)) as s:
            s.sendall(b"\x00\xff garbage\r\n\r\n")
            s.settimeout(5)
            try:
                s.recv(1024)
            except OSError:
                pass

        # Still healthy, container still running.
        self.assertEqual(a.get("/health")[0], 200)
        self.assertEqual(a.state("good"), "RUNNING")
        self.assertIsNone(a.proc.poll())
        a.kill("good")
        a.wait("good")

    @staticmethod
    def raw_status(agent, body):
        """POST body over a raw socket, tolerating an early close; return the status."""
        with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as s:
            s.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            try:
                s.sendall(body)
            except OSError:
                pass
            data = b""
            try:
                while b"\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
        return int(data.split()[1]) if data.startswith(b"HTTP/1.") else None


class TestAgentApiLongPolls(AgentTestCase):
    N = 300

    def test_hundreds_of_pending_waits(self):
        a = self.start_agent()
        a.launch("lp", SLEEP, ports=[31020])
        a.wait_state("lp", "RUNNING")
        body = json.dumps({"type": "WAIT_CONTAINER",
                           "wait_container": {"container_id": {"value": "lp"}}}).encode()
        req = (b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
        socks = []
        try:
            for _ in range(self.N):
                s = socket.create_connection(("127.0.0.1", a.port), timeout=30)
                s.sendall(req)
                socks.append(s)
            wait_for(lambda: a.metrics()["api/pending_waits"] == self.N, timeout=20,
                     what=f"{self.N} pending waits")

            # Other calls still answer quickly, and the watch loop still runs.
            t0 = time.monotonic()
            for _ in range(20):
                a.call("GET_HEALTH")
            self.assertLess((time.monotonic() - t0) / 20, 0.25)
            a.wait_scans(2)

            # Clients that hang up are forgotten.
            for s in socks[:50]:
                s.close()
            socks = socks[50:]
            wait_for(lambda: a.metrics()["api/pending_waits"] == self.N - 50, timeout=10,
                     what="hung-up waits to be cancelled")

            a.kill("lp")
            for s in socks:
                data = b""
                while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, payload = data.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:80])
                self.assertEqual(json.loads(payload)["wait_container"]["exit_status"], 9)
            self.assertEqual(a.metrics()["api/pending_waits"], 0)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(a.get("/health")[0], 200)

    def test_pending_waits_answered_503_on_shutdown(self):
        a = self.start_agent()
        a.launch("sd", SLEEP, ports=[31021])
        a.wait_state("sd", "RUNNING")
        body = json.dumps({"type": "WAIT_CONTAINER",
                           "wait_container": {"container_id": {"value": "sd"}}}).encode()
        with socket.create_connection(("127.0.0.1", a.port), timeout=10) as s:
            s.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            wait_for(lambda: a.metrics()["api/pending_waits"] == 1, what="the pending wait")
            self.assertEqual(a.stop(), 0)
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 503"))
        # The container outlives the agent; a new agent still knows it.
        b = self.start_agent()
        self.assertEqual(b.state("sd"), "RUNNING")
        b.kill("sd")
        b.wait("sd")


class TestClient(AgentTestCase):
    def test_client_end_to_end(self):
        a = self.start_agent(enforce_container_ports=True)
        ok = self.run_cli(a, "launch", "web", "--ports=[31030-31031]", "--",
                          self.listener_cmd("web", "tcp4:31030"))
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(ok.stdout.strip(), "web")
        self.wait_listening("web")
        r = self.run_cli(a, "launch", "side", "--parent=web", "--env=GREETING=hi", "--",
                         "/bin/sh", "-c", 'test "$GREETING" = hi && exec sleep 1000')
        self.assertEqual(r.returncode, 0, r.stderr)
        a.wait_state("web/side", "RUNNING")

        def ps_shows_listener():
            r = self.run_cli(a, "ps")
            return r.returncode == 0 and "[31030-31030]" in r.stdout and r.stdout
        table = wait_for(ps_shows_listener, what="ps to show the listener")
        lines = table.splitlines()
        self.assertEqual(lines[0].split(),
                         ["ID", "PARENT", "STATE", "ALLOCATED", "LISTENING", "DENIED",
                          "SOURCE", "LIMITATION"])
        rows = {l.split()[0]: l.split() for l in lines[1:]}
        self.assertEqual(rows["web"],
                         ["web", "-", "RUNNING", "[31030-31031]", "[31030-31030]", "-",
                          "api", "-"])
        self.assertEqual(rows["web/side"][:3], ["web/side", "web", "RUNNING"])

        # --json form, with the global option placement.
        r = self.run_cli(a, "--json", "ps")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["type"], "GET_PORTS")

        # Update to a port set without 31030: the next check kills it.
        r = self.run_cli(a, "update", "web", "--ports=[31031-31031]")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cli(a, "wait", "web")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("killed by signal 9", r.stdout)
        self.assertIn("TASK_FAILED", r.stdout)
        self.assertIn("REASON_CONTAINER_LIMITATION", r.stdout)
        self.assertIn("[31030-31030]", r.stdout)
        self.assertIn("Container web is listening on unallocated port(s): [31030-31030]",
                      r.stdout)
        r = self.run_cli(a, "wait", "web/side", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["wait_container"]["reason"],
                         "REASON_CONTAINER_LIMITATION")
        r = self.run_cli(a, "wait", "side", "--parent=web")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("container web/side killed by signal 9"), r.stdout)

        # kill with a signal, remove.
        self.run_cli(a, "launch", "sl", "--", "exec sleep 1000")
        a.wait_state("sl", "RUNNING")
        r = self.run_cli(a, "remove", "sl")
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"^portiso: 500: .+ has not terminated.+\n$")
        self.assertEqual(self.run_cli(a, "kill", "sl", "--signal=TERM").returncode, 0)
        r = self.run_cli(a, "wait", "sl")
        self.assertIn("killed by signal 15", r.stdout)
        for cid in ("sl", "web/side", "web"):
            r = self.run_cli(a, "remove", cid)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(a.containers(), {})

        # Errors are one readable line and a non-zero exit.
        r = self.run_cli(a, "kill", "ghost")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^portiso: 404: .*ghost.*\n$")
        r = self.run_cli(a, "launch", "bad.id", "--", "true")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^portiso: 400: .+\n$")
        r = self.run_cli(a, "--agent=127.0.0.1:1", "ps")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect", r.stderr)
        r = self.run_cli(a, f"--agent={self.tmp}/no.sock", "ps")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^portiso: cannot connect to the agent at .*no.sock: .+\n$")
        # The unix socket is the default way in; TCP still answers reads.
        r = self.run_cli(a, "ps", tcp=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
