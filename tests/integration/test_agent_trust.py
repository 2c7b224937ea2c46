"""test_agent_trust - who may drive the agent, and as whom tasks run.

Against the real agent over real HTTP: write calls over TCP need HTTP Basic
credentials (401 without, or with wrong ones; 403 and read-only without a
credentials file), reads do not; tasks run as `nobody` by default, as their
command.user otherwise, as root only with --allow_root_containers and an
authenticated caller; users survive recovery; no secret reaches the log.
On the unix socket: root may do everything without credentials, a member of
--api_socket_group runs and manages tasks only as itself. A task cannot drive
the agent, over TCP with stolen credentials or over the socket. Requests "as
nobody" (or daemon) come from a real process running as that user. Ports
31600-31699.
"""
import errno
import grp
import json
import os
import pwd
import subprocess
import time

from agent_fixture import AGENT, CLI, AgentTestCase, PYTHON, wait_for
from portiso_test import basic_auth

NOBODY = pwd.getpwnam("nobody")
DAEMON = pwd.getpwnam("daemon")
SLEEP = "exec sleep 1000"

# POST argv[2] (JSON) to argv[1] (a port on 127.0.0.1, or a unix socket
# path); print status, the WWW-Authenticate header and the body on three lines.
CLIENT = r"""
import http.client, socket, sys
class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
c = (Unix("localhost", timeout=10) if sys.argv[1].startswith("/") else
     http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10))
h = {"Content-Type": "application/json"}
if len(sys.argv) > 3:
    h["Authorization"] = sys.argv[3]
c.request("POST", "/api/v1", sys.argv[2], h)
r = c.getresponse()
print(r.status)
print(r.getheader("WWW-Authenticate") or "")
print(r.read().decode().replace("\n", "\\n"))
"""


class TrustTestCase(AgentTestCase):
    def as_user(self, user, where, call, authorization=None):
        """POST call to where (a TCP port or a socket path) from a process
        running as user (a pwd entry); (status, WWW-Authenticate, body)."""
        argv = [PYTHON, "-c", CLIENT, str(where), json.dumps(call)]
        if authorization:
            argv.append(authorization)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd="/",
                           user=user.pw_uid, group=user.pw_gid,
                           extra_groups=os.getgrouplist(user.pw_name, user.pw_gid))
        self.assertEqual(p.returncode, 0, p.stderr)
        status, www, body = p.stdout.split("\n")[:3]
        return int(status), www, body

    def as_nobody(self, agent, call, authorization=None):
        return self.as_user(NOBODY, agent.port, call, authorization)

    def sandbox(self, id):
        return os.path.join(self.tmp, "work", "containers", id)

    def run_task(self, agent, id, cmd, **kw):
        """Launch cmd, wait for it; return its stdout."""
        agent.launch(id, cmd, **kw)
        w = agent.wait(id)
        self.assertEqual(w.get("exit_status"), 0, w)
        with open(os.path.join(self.sandbox(id), "stdout")) as f:
            return f.read()


def calls(id):
    cid = {"value": id}
    ports = [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 65535}]}}]
    return {
        "LAUNCH_CONTAINER": {"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": cid, "command": {"value": "id > /tmp/portiso-trust-pwned"}}},
        "KILL_CONTAINER": {"type": "KILL_CONTAINER", "kill_container": {"container_id": cid}},
        "UPDATE_CONTAINER": {"type": "UPDATE_CONTAINER", "update_container": {
            "container_id": cid, "resources": ports}},
        "REMOVE_CONTAINER": {"type": "REMOVE_CONTAINER",
                             "remove_container": {"container_id": cid}},
    }


class TestTcpAuthentication(TrustTestCase):
    def test_nobody_without_credentials_gets_401_for_writes_200_for_reads(self):
        a = self.start_agent()
        a.launch("victim", SLEEP, ports=[31600])
        for ctype, call in calls("victim").items():
            with self.subTest(call=ctype):
                status, www, body = self.as_nobody(a, call)
                self.assertEqual(status, 401, body)
                self.assertEqual(www, 'Basic realm="portiso"')
                self.assertIn("needs credentials", body)
        # Nothing happened: the victim runs, with its own ports only.
        c = a.containers()["victim"]
        self.assertEqual(c["state"], "RUNNING")
        self.assertEqual(c["resources"][0]["ranges"]["range"], [{"begin": 31600, "end": 31600}])
        status, _, body = self.as_nobody(a, {"type": "GET_HEALTH"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["get_health"], {"healthy": True})
        status, _, _ = self.as_nobody(a, {"type": "GET_CONTAINERS"})
        self.assertEqual(status, 200)

    def test_wrong_credentials_401_right_ones_200(self):
        a = self.start_agent()
        principal, secret = self.credentials
        wrong = [basic_auth(principal, secret + "x"), basic_auth("ops", secret),
                 basic_auth(principal, ""), "Basic !!", "Bearer " + secret]
        for header in wrong:
            with self.subTest(header=header):
                status, www, body = self.as_nobody(a, calls("w")["LAUNCH_CONTAINER"], header)
                self.assertEqual(status, 401, body)
                self.assertEqual(www, 'Basic realm="portiso"')
        self.assertNotIn("w", a.containers())
        # The right ones work from any local user.
        right = basic_auth(principal, secret)
        status, _, body = self.as_nobody(a, {"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": "w"}, "command": {"value": SLEEP}}}, right)
        self.assertEqual(status, 200, body)
        for ctype in ("UPDATE_CONTAINER", "KILL_CONTAINER"):
            status, _, body = self.as_nobody(a, calls("w")[ctype], right)
            self.assertEqual(status, 200, (ctype, body))
        a.wait("w")
        status, _, body = self.as_nobody(a, calls("w")["REMOVE_CONTAINER"], right)
        self.assertEqual(status, 200, body)

    def test_without_credentials_file_tcp_is_read_only(self):
        a = self.start_agent(http_credentials=None)
        self.assertIn("read-only", a.log())
        for ctype, call in calls("x").items():
            with self.subTest(call=ctype):
                for auth in (False, self.credentials):
                    status, body = a.post(call, auth=auth)
                    self.assertEqual(status, 403, body)
                    self.assertIn("read-only", body)
                    self.assertEqual(body.count("\n"), 0)
        self.assertEqual(a.call("GET_CONTAINERS", auth=False)["get_containers"], {})

    def test_readonly_authentication(self):
        a = self.start_agent(authenticate_http_readonly=True)
        status, body = a.post({"type": "GET_CONTAINERS"}, auth=False)
        self.assertEqual(status, 401, body)
        for path in ("/metrics/snapshot", "/metrics"):
            status, _, _ = a.request("GET", path, auth=False)
            self.assertEqual(status, 401, path)
            status, _, _ = a.request("GET", path)
            self.assertEqual(status, 200, path)
        a.call("GET_CONTAINERS")
        self.assertEqual(a.get("/health")[0], 200)  # liveness stays open

    def test_readwrite_authentication_off_is_mesos_like(self):
        a = self.start_agent(authenticate_http_readwrite=False, allow_root_containers=True)
        self.assertIn("--authenticate_http_readwrite=false", a.log())
        a.launch("open", "id -u", auth=False)
        self.assertEqual(a.wait("open")["exit_status"], 0)
        # Unauthenticated callers still may not run root tasks.
        status, body = a.post(calls("r")["LAUNCH_CONTAINER"] | {"launch_container": {
            "container_id": {"value": "r"}, "command": {"value": "true", "user": "root"}}},
            auth=False)
        self.assertEqual(status, 403, body)
        self.assertIn("authenticated principal", body)

    def test_bad_auth_flags_refuse_to_start(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"credentials": [{"principal": "ops"}]}')
        cases = [
            ({"http_credentials": os.path.join(self.tmp, "missing.json")}, "missing.json"),
            ({"http_credentials": bad}, "bad.json: credentials[0].secret"),
            ({"http_authenticators": "digest"}, "--http_authenticators"),
            ({"http_credentials": None, "authenticate_http_readonly": True},
             "--authenticate_http_readonly"),
        ]
        for flags, needle in cases:
            with self.subTest(flags=flags):
                p = subprocess.run([AGENT] + self.agent_flags(**flags), capture_output=True,
                                   text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertIn(needle, lines[0])

    def test_secrets_never_logged_and_writes_logged_once(self):
        a = self.start_agent()
        principal, secret = self.credentials
        a.launch("logged", SLEEP)
        a.post(calls("logged")["KILL_CONTAINER"], auth=(principal, secret + "wrong"))
        a.post(calls("logged")["KILL_CONTAINER"], auth=False)
        a.kill("logged")
        a.wait("logged")
        flags = json.dumps(a.call("GET_FLAGS"))
        self.assertIn(self.credentials_file, flags)
        self.assertNotIn(secret, flags)
        p = self.run_cli(a, "remove", "logged", tcp=True)  # with PORTISO_CREDENTIALS
        self.assertEqual(p.returncode, 0, p.stderr)
        a.stop()
        log = a.log()
        for needle in (secret, secret + "wrong", basic_auth(principal, secret).split()[1],
                       basic_auth(principal, secret + "wrong").split()[1]):
            self.assertNotIn(needle, log)
        self.assertEqual(log.count(f"API LAUNCH_CONTAINER logged from principal '{principal}'"),
                         1, log)
        self.assertEqual(log.count(f"API KILL_CONTAINER logged from principal '{principal}'"), 1)
        self.assertEqual(log.count(f"API REMOVE_CONTAINER logged from principal '{principal}'"),
                         1)
        self.assertEqual(log.count("Refused KILL_CONTAINER"), 2)


    def test_refusals_are_logged_at_a_bounded_rate(self):
        a = self.start_agent()
        t0 = time.monotonic()
        for _ in range(60):
            a.post(calls("x")["KILL_CONTAINER"], auth=False)

        def summarized():
            a.post(calls("x")["KILL_CONTAINER"], auth=False)
            return "more refused calls were not logged" in a.log()
        wait_for(summarized, timeout=10, interval=0.1, what="the count of unlogged refusals")
        seconds = time.monotonic() - t0
        a.stop()
        logged = a.log().count("Refused KILL_CONTAINER")
        self.assertGreaterEqual(logged, 10)
        self.assertLessEqual(logged, 10 * (int(seconds) + 2))

    def test_client_credentials(self):
        a = self.start_agent()
        principal, secret = self.credentials
        base = dict(os.environ, PORTISO_AGENT=f"127.0.0.1:{a.port}")
        base.pop("PORTISO_CREDENTIALS", None)

        def cli(*args, **env):
            return subprocess.run([CLI] + list(args), capture_output=True, text=True,
                                  timeout=30, env=dict(base, **env))
        p = cli("launch", "c1", "--", "true")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.strip().splitlines(),
                         ["portiso: 401: this call changes state and needs credentials "
                          "(HTTP Basic)"])
        p = cli(f"--principal={principal}", f"--secret={secret}", "launch", "c1", "--", "true")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = cli("wait", "c1", PORTISO_CREDENTIALS=self.credentials_file)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = cli("remove", "c1", PORTISO_CREDENTIALS=self.credentials_file)
        self.assertEqual(p.returncode, 0, p.stderr)
        for args, env, needle in (
                (["--principal=nobody-here"], {"PORTISO_CREDENTIALS": self.credentials_file},
                 "no principal 'nobody-here'"),
                ([], {"PORTISO_CREDENTIALS": os.path.join(self.tmp, "none.json")}, "none.json"),
                ([f"--secret={secret}"], {}, "--secret needs --principal")):
            with self.subTest(args=args, env=env):
                p = cli(*args, "ps", **env)
                self.assertEqual(p.returncode, 2, p.stderr)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertIn(needle, lines[0])


class TestTaskUsers(TrustTestCase):
    def test_tasks_run_as_nobody_and_own_their_sandbox(self):
        a = self.start_agent()
        for id, user in (("named", "nobody"), ("default", None)):
            with self.subTest(user=user):
                out = self.run_task(a, id, "id -u; id -g; echo x > made; echo e >&2", user=user)
                self.assertEqual(out.split(), [str(NOBODY.pw_uid), str(NOBODY.pw_gid)])
                for name in ("", "stdout", "stderr", "made"):
                    st = os.stat(os.path.join(self.sandbox(id), name))
                    self.assertEqual((st.st_uid, st.st_gid), (NOBODY.pw_uid, NOBODY.pw_gid),
                                     name or "sandbox")
                self.assertEqual(a.containers()[id]["user"], "nobody")

    def test_other_user_and_supplementary_groups(self):
        a = self.start_agent()
        daemon = pwd.getpwnam("daemon")
        out = self.run_task(a, "d", "id -u; id -G", user="daemon")
        uid, groups = out.splitlines()
        self.assertEqual(int(uid), daemon.pw_uid)
        want = sorted(os.getgrouplist("daemon", daemon.pw_gid))
        self.assertEqual(sorted(int(g) for g in groups.split()), want)
        # Its task cannot regain root, and cannot write where nobody may.
        out = self.run_task(a, "d2", "cat /proc/self/status | grep -E '^(Uid|CapEff)'; "
                                     "touch /etc/portiso-trust 2>/dev/null || echo denied",
                            user="daemon")
        self.assertIn("CapEff:\t0000000000000000", out)
        self.assertIn("denied", out)
        self.assertFalse(os.path.exists("/etc/portiso-trust"))

    def test_nested_container_inherits_its_parents_user(self):
        a = self.start_agent()
        a.launch("p", SLEEP, user="daemon")
        a.launch("p/kid", "id -un")
        self.assertEqual(a.wait("p/kid")["exit_status"], 0)
        with open(os.path.join(self.sandbox("p"), "containers", "kid", "stdout")) as f:
            self.assertEqual(f.read().strip(), "daemon")
        a.kill("p")
        a.wait("p")

    def test_unknown_user_is_400_naming_it(self):
        a = self.start_agent()
        status, body = a.post(calls("u")["LAUNCH_CONTAINER"] | {"launch_container": {
            "container_id": {"value": "u"},
            "command": {"value": "true", "user": "no-such-user-portiso"}}})
        self.assertEqual(status, 400, body)
        self.assertEqual(body, "unknown user 'no-such-user-portiso'")
        status, body = a.post({"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": "u"}, "command": {"value": "true", "user": "a:b"}}})
        self.assertEqual(status, 400, body)
        self.assertNotIn("u", a.containers())

    def test_root_tasks_need_the_flag(self):
        a = self.start_agent()
        status, body = a.post({"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": "r"}, "command": {"value": "id -u", "user": "root"}}})
        self.assertEqual(status, 403, body)
        self.assertIn("--allow_root_containers", body)
        self.assertNotIn("r", a.containers())
        a.stop()
        b = self.start_agent(allow_root_containers=True)
        out = self.run_task(b, "r", "id -u", user="root")
        self.assertEqual(out.strip(), "0")

    def test_switch_user_false_runs_tasks_as_the_agent_user(self):
        a = self.start_agent(switch_user=False)
        # The agent runs as root here, so that is root, and refused.
        status, body = a.post({"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": "s"}, "command": {"value": "id -u"}}})
        self.assertEqual(status, 403, body)
        self.assertIn("root", body)
        a.stop()
        b = self.start_agent(switch_user=False, allow_root_containers=True)
        out = self.run_task(b, "s", "id -u", user="nobody")  # command.user is ignored
        self.assertEqual(out.strip(), "0")

    def test_user_kept_across_recovery(self):
        a = self.start_agent()
        a.launch("kept", SLEEP, user="daemon")
        a.wait_state("kept", "RUNNING")
        pid = a.containers()["kept"]["container_status"]["executor_pid"]
        a.stop()
        with open(os.path.join(self.tmp, "work", "meta", "containers", "kept",
                               "config.json")) as f:
            self.assertEqual(json.load(f)["user"], "daemon")
        b = self.start_agent()
        c = b.containers()["kept"]
        self.assertEqual((c["state"], c["user"]), ("RUNNING", "daemon"))
        self.assertEqual(os.stat(f"/proc/{pid}").st_uid, pwd.getpwnam("daemon").pw_uid)
        b.kill("kept")
        b.wait("kept")


# Run inside a task: UPDATE_CONTAINER on its own container (id $SELF) with
# every port, over TCP with valid credentials ($AUTH); write the status to
# $OUT; then listen on $LISTEN and sleep.
SELF_UPDATE = r"""
import http.client, json, os, socket, time
call = {"type": "UPDATE_CONTAINER", "update_container": {
    "container_id": {"value": os.environ["SELF"]},
    "resources": [{"name": "ports", "type": "RANGES",
                   "ranges": {"range": [{"begin": 1, "end": 65535}]}}]}}
c = http.client.HTTPConnection(os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"]),
                               timeout=10)
c.request("POST", "/api/v1", json.dumps(call),
          {"Content-Type": "application/json", "Authorization": os.environ["AUTH"]})
r = c.getresponse()
body = r.read().decode()
with open(os.environ["OUT"] + ".tmp", "w") as f:
    f.write(f"{r.status} {body}")
os.rename(os.environ["OUT"] + ".tmp", os.environ["OUT"])
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(os.environ["LISTEN"])))
    s.listen()
except OSError as e:  # with --container_ports_prevent_bind
    with open(os.environ["OUT"] + ".bind.tmp", "w") as f:
        f.write(str(e.errno))
    os.rename(os.environ["OUT"] + ".bind.tmp", os.environ["OUT"] + ".bind")
time.sleep(1000)
"""


class TestTasksCannotDriveTheAgent(TrustTestCase):
    def test_task_cannot_update_itself_over_tcp(self):
        a = self.start_agent(enforce_container_ports=True)
        out = os.path.join(self.tmp, "self-update")
        a.launch("selfish", f'exec {PYTHON} -c "$CODE"', ports=[31620],
                 env={"CODE": SELF_UPDATE, "SELF": "selfish", "PORT": str(a.port),
                      "AUTH": basic_auth(*self.credentials), "OUT": out, "LISTEN": "31621"})
        wait_for(lambda: os.path.exists(out), what="the task's UPDATE_CONTAINER")
        with open(out) as f:
            status, _, body = f.read().partition(" ")
        self.assertEqual(status, "403", body)
        self.assertIn("inside a container", body)
        # Its allocation is unchanged, and its listen() on 31621 kills it.
        w = a.wait("selfish")
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(w["limitation"]["resources"][0]["ranges"]["range"],
                         [{"begin": 31621, "end": 31621}])
        self.assertEqual(a.containers()["selfish"]["resources"][0]["ranges"]["range"],
                         [{"begin": 31620, "end": 31620}])
        self.assertIn("Refused UPDATE_CONTAINER from principal", a.log())
        # With prevention, the bind itself fails.
        a.stop()
        b = self.start_agent(enforce_container_ports=True, container_ports_prevent_bind=True)
        b.launch("selfish2", f'exec {PYTHON} -c "$CODE"', ports=[31624],
                 env={"CODE": SELF_UPDATE, "SELF": "selfish2", "PORT": str(b.port),
                      "AUTH": basic_auth(*self.credentials), "OUT": out + "2", "LISTEN": "31625"})
        wait_for(lambda: os.path.exists(out + "2.bind"), what="the task's bind() to 31625")
        with open(out + "2") as f:
            self.assertTrue(f.read().startswith("403 "))
        with open(out + "2.bind") as f:
            self.assertEqual(int(f.read()), errno.EPERM)
        self.assertEqual(b.containers()["selfish2"]["resources"][0]["ranges"]["range"],
                         [{"begin": 31624, "end": 31624}])
        b.kill("selfish2")
        b.wait("selfish2")
        a = b
        # The same credentials from outside any container work.
        a.launch("other", SLEEP, ports=[31622])
        a.update("other", [31622, 31623])
        a.kill("other")
        a.wait("other")

    def test_task_cannot_update_itself_through_a_dual_stack_listener(self):
        # IPv4 callers of a [::] listener show up as ::ffff:a.b.c.d.
        a = self.start_agent(ip="::")
        a.launch("host", SLEEP, ports=[31640])
        for i, host in enumerate(("127.0.0.1", "::1")):
            with self.subTest(host=host):
                out = os.path.join(self.tmp, f"dual-{i}")
                a.launch(f"d{i}", f'exec {PYTHON} -c "$CODE"', ports=[31641 + 2 * i],
                         env={"CODE": SELF_UPDATE, "SELF": f"d{i}", "PORT": str(a.port),
                              "HOST": host, "AUTH": basic_auth(*self.credentials), "OUT": out,
                              "LISTEN": str(31641 + 2 * i)})
                wait_for(lambda: os.path.exists(out), what="the task's UPDATE_CONTAINER")
                with open(out) as f:
                    status, _, body = f.read().partition(" ")
                self.assertEqual(status, "403", body)
                self.assertIn("inside a container", body)
                a.kill(f"d{i}")
                a.wait(f"d{i}")
        a.kill("host")
        a.wait("host")


# SELF_UPDATE over the unix socket $SOCK instead of TCP, without credentials.
SELF_UPDATE_UNIX = SELF_UPDATE.replace(
    'c = http.client.HTTPConnection(os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"]),\n'
    '                               timeout=10)',
    'class U(http.client.HTTPConnection):\n'
    '    def connect(self):\n'
    '        self.sock = socket.socket(socket.AF_UNIX)\n'
    '        self.sock.connect(os.environ["SOCK"])\n'
    'c = U("localhost", timeout=10)').replace(', "Authorization": os.environ["AUTH"]', "")


class TestUnixSocket(TrustTestCase):
    def launch_call(self, id, cmd, user=None):
        command = {"value": cmd, **({"user": user} if user else {})}
        return {"type": "LAUNCH_CONTAINER",
                "launch_container": {"container_id": {"value": id}, "command": command}}

    def test_root_on_the_socket_needs_no_credentials(self):
        a = self.start_agent(allow_root_containers=True)
        a.call("LAUNCH_CONTAINER", unix=True, auth=False, container_id={"value": "r"},
               command={"value": "id -u", "user": "root"})
        self.assertEqual(a.call("WAIT_CONTAINER", unix=True, auth=False,
                                container_id={"value": "r"})["wait_container"]["exit_status"], 0)
        with open(os.path.join(self.sandbox("r"), "stdout")) as f:
            self.assertEqual(f.read().strip(), "0")
        a.stop()
        self.assertIn("API LAUNCH_CONTAINER r from uid 0 on the unix socket", a.log())

    def test_group_member_runs_and_manages_tasks_only_as_itself(self):
        # daemon's primary group is the socket's group: it may connect.
        a = self.start_agent(api_socket_group=grp.getgrgid(DAEMON.pw_gid).gr_name,
                             allow_root_containers=True)
        sock = a.socket_path
        status, _, body = self.as_user(DAEMON, sock, self.launch_call("mine", "id -un"))
        self.assertEqual(status, 200, body)
        self.assertEqual(a.wait("mine")["exit_status"], 0)
        with open(os.path.join(self.sandbox("mine"), "stdout")) as f:
            self.assertEqual(f.read().strip(), "daemon")
        self.assertEqual(a.containers()["mine"]["user"], "daemon")
        for user in ("nobody", "root"):
            with self.subTest(user=user):
                status, _, body = self.as_user(DAEMON, sock,
                                               self.launch_call(f"as-{user}", "true", user))
                self.assertEqual(status, 403, body)
                self.assertIn("may run tasks only as itself", body)
        self.assertNotIn("as-nobody", a.containers())
        # Others' containers are out of its reach; its own are not.
        a.launch("theirs", SLEEP)  # nobody's, by the fixture's principal
        for ctype in ("KILL_CONTAINER", "UPDATE_CONTAINER"):
            status, _, body = self.as_user(DAEMON, sock, calls("theirs")[ctype])
            self.assertEqual(status, 403, (ctype, body))
            self.assertIn("may manage only its own", body)
        kid = {"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
            "container_id": {"value": "kid", "parent": {"value": "theirs"}},
            "command": {"value": "true"}}}
        status, _, body = self.as_user(DAEMON, sock, kid)
        self.assertEqual(status, 403, body)
        self.assertIn("may manage only its own", body)
        self.assertEqual(a.state("theirs"), "RUNNING")
        status, _, body = self.as_user(DAEMON, sock, calls("mine")["REMOVE_CONTAINER"])
        self.assertEqual(status, 200, body)
        a.kill("theirs")
        a.wait("theirs")
        a.stop()
        self.assertIn(f"API LAUNCH_CONTAINER mine from uid {DAEMON.pw_uid} on the unix socket",
                      a.log())

    def test_task_cannot_update_itself_over_the_socket(self):
        # nobody's group may use the socket, so a task (nobody) can connect.
        a = self.start_agent(enforce_container_ports=True,
                             api_socket_group=grp.getgrgid(NOBODY.pw_gid).gr_name)
        out = os.path.join(self.tmp, "self-update")
        a.launch("selfish", f'exec {PYTHON} -c "$CODE"', ports=[31630],
                 env={"CODE": SELF_UPDATE_UNIX, "SELF": "selfish", "SOCK": a.socket_path,
                      "OUT": out, "LISTEN": "31631"})
        wait_for(lambda: os.path.exists(out), what="the task's UPDATE_CONTAINER")
        with open(out) as f:
            status, _, body = f.read().partition(" ")
        self.assertEqual(status, "403", body)
        self.assertIn("inside a container", body)
        w = a.wait("selfish")
        self.assertEqual(w["reason"], "REASON_CONTAINER_LIMITATION")
        self.assertEqual(w["limitation"]["resources"][0]["ranges"]["range"],
                         [{"begin": 31631, "end": 31631}])
        self.assertEqual(a.containers()["selfish"]["resources"][0]["ranges"]["range"],
                         [{"begin": 31630, "end": 31630}])
        # The same uid from outside a container may manage its own task.
        a.launch("own", SLEEP)
        status, _, body = self.as_user(NOBODY, a.socket_path, calls("own")["KILL_CONTAINER"])
        self.assertEqual(status, 200, body)
        a.wait("own")
