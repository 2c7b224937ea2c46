"""test_agent_wire - the agent API as a strict Mesos client sees it.

The Python classes are generated at test time by Debian's protoc from the
project's own src/proto (Mesos' package, message and field names and
numbers), into the test's temp dir. Every call is built as a real
mesos.v1.agent.Call and sent twice, as JSON and as protobuf; every answer is
read in the encoding asked for with Accept and parsed strictly: JSON with
protobuf's JSON parser refusing unknown fields, protobuf with required
fields checked and no unknown field tolerated. Then the Mesos rules the
agent keeps: 406 for an Accept it cannot serve, 415 for a body it cannot
read, bodiless 200s without a Content-Type, numbers and booleans sent as
JSON strings, GET_CONTAINERS' show_nested / show_standalone, unset flags
left out.

Ports used: 23500-23799 only (the isolated range of the agent here).
"""
import importlib
import json
import os
import subprocess
import sys

from agent_fixture import AgentTestCase, wait_for
from portiso_test import ROOT
from test_bpf import band_ports

try:
    import google.protobuf  # noqa: F401
except ImportError:  # Debian's python3-protobuf, for an interpreter outside Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
from google.protobuf import json_format  # noqa: E402

ISOLATED = "[23500-23799]"
PROTO_DIR = os.path.join(ROOT, "src", "proto")
JSON = "application/json"
PROTOBUF = "application/x-protobuf"


def generate(outdir):
    """protoc --python_out for the project's .proto files; return (mesos_pb2, agent_pb2)."""
    os.makedirs(outdir, exist_ok=True)
    protos = [os.path.join(PROTO_DIR, p) for p in
              ("mesos/v1/mesos.proto", "mesos/v1/agent/agent.proto")]
    subprocess.run(["protoc", f"-I{PROTO_DIR}", f"--python_out={outdir}"] + protos,
                   check=True, capture_output=True, timeout=60)
    sys.path.insert(0, outdir)
    try:
        for mod in [m for m in sys.modules if m.startswith("mesos")]:
            del sys.modules[mod]
        return (importlib.import_module("mesos.v1.mesos_pb2"),
                importlib.import_module("mesos.v1.agent.agent_pb2"))
    finally:
        sys.path.remove(outdir)


class WireTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.cgroup_path()  # fails in CI / skips without cgroup2
        self.mesos, self.agent_pb = generate(os.path.join(self.tmp, "pb"))
        self.a = self.start_agent(enforce_container_ports=True,
                                  container_ports_isolated_range=ISOLATED)

    # -- building and sending calls ------------------------------------------
    def Call(self, ctype, **fields):
        call = self.agent_pb.Call(type=getattr(self.agent_pb.Call, ctype))
        for name, value in fields.items():
            getattr(call, name).CopyFrom(value)
        return call

    def cid(self, path):
        out = None
        for part in path.split("/"):
            c = self.mesos.ContainerID(value=part)
            if out is not None:
                c.parent.CopyFrom(out)
            out = c
        return out

    def ports(self, *ports):
        r = self.mesos.Resource(name="ports", type=self.mesos.Value.RANGES)
        for p in ports:
            r.ranges.range.add(begin=p, end=p)
        return [r]

    def send(self, call, encoding, accept=None):
        """POST call in encoding; return (status, headers, body bytes)."""
        if encoding == JSON:
            body = json_format.MessageToJson(call, preserving_proto_field_name=True).encode()
        else:
            body = call.SerializeToString()
        return self.a.request("POST", "/api/v1", body=body,
                              headers={"Content-Type": encoding, "Accept": accept or encoding})

    def parse(self, headers, body, encoding):
        """The answer as a Response, parsed strictly in the encoding it must have."""
        self.assertEqual(headers.get("content-type"), encoding, body)
        resp = self.agent_pb.Response()
        if encoding == JSON:
            json_format.Parse(body, resp, ignore_unknown_fields=False)  # raises on unknown
            self.assertTrue(resp.IsInitialized(), resp.FindInitializationErrors())
        else:
            resp.ParseFromString(body)  # raises when a required field is missing
            stripped = self.agent_pb.Response()
            stripped.CopyFrom(resp)
            stripped.DiscardUnknownFields()
            self.assertEqual(len(stripped.SerializeToString()), len(body), "unknown fields")
        return resp

    def both(self, call, expect=200):
        """Send call as JSON and as protobuf; return the two parsed answers
        (None for a bodiless answer, which must carry no Content-Type)."""
        out = []
        for enc in (JSON, PROTOBUF):
            status, headers, body = self.send(call, enc)
            self.assertEqual(status, expect, f"{enc}: {body}")
            if not body:
                self.assertNotIn("content-type", headers)
                out.append(None)
                continue
            out.append(self.parse(headers, body, enc))
        return out

    def same(self, a, b):
        self.assertEqual(json_format.MessageToDict(a), json_format.MessageToDict(b))

    # -- every call in both encodings --------------------------------------
    def test_every_call_in_both_encodings(self):
        R = self.agent_pb.Response
        ok, bad = band_ports(2, lo=23500, hi=23799)

        j, p = self.both(self.Call("GET_HEALTH"))
        self.same(j, p)
        self.assertEqual((j.type, j.get_health.healthy), (R.GET_HEALTH, True))
        j, p = self.both(self.Call("GET_VERSION"))
        self.same(j, p)
        self.assertTrue(j.get_version.version_info.version)
        j, p = self.both(self.Call("GET_FLAGS"))
        self.same(j, p)
        names = {f.name: f for f in j.get_flags.flags}
        self.assertEqual(names["cgroups_root"].value, self.cgroups_root)
        self.assertNotIn("resources", names)  # unset: omitted, as Mesos does
        self.assertTrue(all(f.HasField("value") for f in j.get_flags.flags))
        j, p = self.both(self.Call("GET_METRICS"))
        self.assertEqual({m.name for m in j.get_metrics.metrics},
                         {m.name for m in p.get_metrics.metrics})

        # Launch one root and one nested container, each call in each encoding.
        for n, enc in enumerate((JSON, PROTOBUF)):
            root, child = f"web{n}", f"web{n}/side"
            cmd = self.mesos.CommandInfo(value=self.listener_cmd(root, f"tcp4:{ok + n}"))
            launch = self.agent_pb.Call.LaunchContainer(container_id=self.cid(root), command=cmd,
                                                        resources=self.ports(ok + n))
            status, headers, body = self.send(self.Call("LAUNCH_CONTAINER",
                                                        launch_container=launch), enc)
            self.assertEqual((status, body), (200, b""))
            self.assertNotIn("content-type", headers)
            nested = self.agent_pb.Call.LaunchNestedContainer(
                container_id=self.cid(child), command=self.mesos.CommandInfo(value="exec sleep 100"))
            status, headers, body = self.send(
                self.Call("LAUNCH_NESTED_CONTAINER", launch_nested_container=nested), enc)
            self.assertEqual((status, body), (200, b""))
            self.wait_listening(root)
        # The same id again: 202, bodiless.
        again = self.agent_pb.Call.LaunchContainer(
            container_id=self.cid("web0"), command=self.mesos.CommandInfo(value="true"))
        self.assertEqual(self.both(self.Call("LAUNCH_CONTAINER", launch_container=again),
                                   expect=202), [None, None])

        # GET_CONTAINERS: standalone ones with show_standalone, nested ones with both.
        def listed(**show):
            gc = self.agent_pb.Call.GetContainers(**show)
            j, p = self.both(self.Call("GET_CONTAINERS", get_containers=gc))
            self.same(j, p)
            out = set()
            for c in j.get_containers.containers:
                self.assertTrue(c.container_status.executor_pid > 0)
                out.add(f"{c.container_id.parent.value}/{c.container_id.value}"
                        if c.container_id.HasField("parent") else c.container_id.value)
            return out
        self.assertEqual(listed(), set())
        self.assertEqual(listed(show_nested=True), set())
        self.assertEqual(listed(show_standalone=True), {"web0", "web1"})
        self.assertEqual(listed(show_standalone=True, show_nested=True),
                         {"web0", "web1", "web0/side", "web1/side"})

        # GET_PORTS, portiso's own, carries the port facts.
        j, p = self.both(self.Call("GET_PORTS"))
        ports = {c.container_id.value: c for c in j.get_ports.containers
                 if not c.container_id.HasField("parent")}
        self.assertEqual(ports["web0"].state, "RUNNING")
        self.assertEqual([(r.begin, r.end) for r in ports["web0"].resources[0].ranges.range],
                         [(ok, ok)])
        wait_for(lambda: self.a.containers()["web1"].get("listening"), what="web1 listening")

        # UPDATE_CONTAINER (portiso's own) then a listener outside: killed.
        upd = self.agent_pb.Call.UpdateContainer(container_id=self.cid("web1"),
                                                 resources=self.ports(bad))
        self.assertEqual(self.both(self.Call("UPDATE_CONTAINER", update_container=upd)),
                         [None, None])
        wait = self.agent_pb.Call.WaitContainer(container_id=self.cid("web1"))
        j, p = self.both(self.Call("WAIT_CONTAINER", wait_container=wait))
        self.same(j, p)
        self.assertEqual(j.wait_container.state, self.mesos.TASK_FAILED)
        self.assertEqual(j.wait_container.reason,
                         self.mesos.TaskStatus.REASON_CONTAINER_LIMITATION)
        self.assertEqual([(r.begin, r.end) for r in
                          j.wait_container.limitation.resources[0].ranges.range],
                         [(ok + 1, ok + 1)])
        self.assertIn("unallocated", j.wait_container.message)
        wn = self.agent_pb.Call.WaitNestedContainer(container_id=self.cid("web1/side"))
        j, p = self.both(self.Call("WAIT_NESTED_CONTAINER", wait_nested_container=wn))
        self.same(j, p)
        self.assertEqual(j.type, R.WAIT_NESTED_CONTAINER)

        # KILL: nested with a signal, then the root; REMOVE both ways.
        kn = self.agent_pb.Call.KillNestedContainer(container_id=self.cid("web0/side"), signal=15)
        status, headers, body = self.send(self.Call("KILL_NESTED_CONTAINER",
                                                    kill_nested_container=kn), PROTOBUF)
        self.assertEqual((status, body), (200, b""))
        self.assertNotIn("content-type", headers)
        kill = self.agent_pb.Call.KillContainer(container_id=self.cid("web0"))
        status, _, body = self.send(self.Call("KILL_CONTAINER", kill_container=kill), JSON)
        self.assertEqual((status, body), (200, b""))
        self.both(self.Call("WAIT_CONTAINER", wait_container=self.agent_pb.Call.WaitContainer(
            container_id=self.cid("web0"))))
        rn = self.agent_pb.Call.RemoveNestedContainer(container_id=self.cid("web0/side"))
        self.assertEqual(self.send(self.Call("REMOVE_NESTED_CONTAINER",
                                             remove_nested_container=rn), PROTOBUF)[0], 200)
        for root in ("web0", "web1"):
            for child in (f"{root}/side",) if root == "web1" else ():
                rc = self.agent_pb.Call.RemoveContainer(container_id=self.cid(child))
                self.assertEqual(self.send(self.Call("REMOVE_CONTAINER", remove_container=rc),
                                           JSON)[0], 200)
            rc = self.agent_pb.Call.RemoveContainer(container_id=self.cid(root))
            self.assertEqual(self.send(self.Call("REMOVE_CONTAINER", remove_container=rc),
                                       PROTOBUF)[0], 200)
        j, p = self.both(self.Call("GET_PORTS"))
        self.assertEqual(len(j.get_ports.containers), 0)

    # -- negotiation and parsing rules ----------------------------------------
    def test_accept_and_content_type(self):
        call = self.Call("GET_HEALTH")
        for accept, status, ctype in [(JSON, 200, JSON), (PROTOBUF, 200, PROTOBUF),
                                      ("*/*", 200, JSON), ("application/*", 200, JSON),
                                      (f"{PROTOBUF}, {JSON};q=0.5", 200, PROTOBUF),
                                      (f"{JSON};q=0, {PROTOBUF}", 200, PROTOBUF),
                                      ("text/html", 406, "text/plain"),
                                      (f"{JSON};q=0", 406, "text/plain")]:
            with self.subTest(accept=accept):
                st, headers, body = self.send(call, JSON, accept=accept)
                self.assertEqual((st, headers["content-type"]), (status, ctype), body)
                if st == 406:
                    self.assertIn("Accept", body.decode())
        # No Accept at all: JSON.
        st, headers, body = self.a.request("POST", "/api/v1", body=b'{"type":"GET_HEALTH"}',
                                           headers={"Content-Type": JSON})
        self.assertEqual((st, headers["content-type"]), (200, JSON))
        # A protobuf body answered in JSON, and the reverse.
        st, headers, body = self.send(call, PROTOBUF, accept=JSON)
        self.parse(headers, body, JSON)
        st, headers, body = self.send(call, JSON, accept=PROTOBUF)
        self.parse(headers, body, PROTOBUF)
        # Neither JSON nor protobuf: 415; bytes that are no Call: 400.
        st, _, _ = self.a.request("POST", "/api/v1", body=b"x", headers={"Content-Type": "text/plain"})
        self.assertEqual(st, 415)
        st, _, body = self.a.request("POST", "/api/v1", body=b"\xff\xff\xff",
                                     headers={"Content-Type": PROTOBUF})
        self.assertEqual(st, 400, body)

    def test_numbers_and_booleans_as_strings(self):
        ok, = band_ports(1, lo=23500, hi=23799)
        launch = {"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": "s"},
            "command": {"shell": "true", "value": "exec sleep 100"},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": "0.1"}},
                          {"name": "ports", "type": "RANGES",
                           "ranges": {"range": [{"begin": str(ok), "end": str(ok)}]}}]}}
        st, _, body = self.a.request("POST", "/api/v1", body=json.dumps(launch).encode(),
                                     headers={"Content-Type": JSON})
        self.assertEqual(st, 200, body)
        self.a.wait_state("s", "RUNNING")
        self.assertEqual(self.a.containers()["s"]["resources"][0]["ranges"]["range"],
                         [{"begin": ok, "end": ok}])
        kill = {"type": "KILL_CONTAINER",
                "kill_container": {"container_id": {"value": "s"}, "signal": "15"}}
        st, _, body = self.a.request("POST", "/api/v1", body=json.dumps(kill).encode(),
                                     headers={"Content-Type": JSON})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.a.wait("s")["exit_status"], 15)
        self.a.remove("s")
        # What is not a number stays a 400 naming the field.
        kill["kill_container"]["signal"] = "fifteen"
        st, _, body = self.a.request("POST", "/api/v1", body=json.dumps(kill).encode(),
                                     headers={"Content-Type": JSON})
        self.assertEqual((st, body.decode()),
                         (400, "'kill_container.signal': expected an integer"))
