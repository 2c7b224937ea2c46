"""test_api_socket - the agent's API on its unix socket: who may connect,
how the file is made and removed, and that the server knows the caller.

Unprivileged callers run as separate processes (a small Python client, so
that the repository's path need not be readable by them). The group test
makes a throwaway group and user and removes both, even on failure.
"""
import grp
import os
import pwd
import socket
import stat
import subprocess
import unittest

from agent_fixture import AgentTestCase
from portiso_test import AGENT, free_port

PYTHON = "/usr/bin/python3"
# Connect to argv[1], POST GET_HEALTH, print the status line or the errno.
CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("errno", e.errno)
    sys.exit(0)
body = b'{"type":"GET_HEALTH"}'
s.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
print(s.recv(4096).split(b"\r\n")[0].decode())
"""


def run_as(user, path):
    """Run CLIENT as user (name); return its output line."""
    pw = pwd.getpwnam(user)

    def drop():
        os.initgroups(user, pw.pw_gid)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    r = subprocess.run([PYTHON, "-c", CLIENT, path], capture_output=True, text=True,
                       timeout=30, preexec_fn=drop, cwd="/")
    if r.returncode != 0:
        raise AssertionError(f"client as {user} failed: {r.stderr}")
    return r.stdout.strip()


class TestApiSocket(AgentTestCase):
    def setUp(self):
        super().setUp()
        # Let other users reach the socket's directory: its mode alone decides.
        os.chmod(self.tmp, 0o755)

    def test_root_only_by_default(self):
        a = self.start_agent(env={"PORTISO_LOG_LEVEL": "debug"})
        st = os.stat(a.socket_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual((st.st_uid, st.st_gid), (0, 0))
        status, _, body = a.request("GET", "/health", unix=True)
        self.assertEqual((status, body), (200, b'{"healthy":true}'))
        self.assertEqual(run_as("root", a.socket_path), "HTTP/1.1 200 OK")
        # nobody reaches the directory but not the socket.
        self.assertEqual(run_as("nobody", a.socket_path), "errno 13")
        # The server knows the caller: the kernel's uid and pid.
        a.call("GET_HEALTH")
        self.assertIn("API call GET_HEALTH from 127.0.0.1:", a.log())
        self.assertIn("API call GET_HEALTH from uid 0 pid ", a.log())
        # A clean stop removes the socket.
        a.stop()
        self.assertFalse(os.path.lexists(a.socket_path))

    def test_group_members_may_connect(self):
        tag = f"pt{os.getpid() % 100000}"
        group, user = f"{tag}g", f"{tag}u"
        self.addCleanup(subprocess.run, ["groupdel", group], capture_output=True)
        self.addCleanup(subprocess.run, ["userdel", user], capture_output=True)
        subprocess.run(["groupadd", group], check=True, capture_output=True)
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--gid", "nogroup", "--groups", group, user],
                       check=True, capture_output=True)
        uid = pwd.getpwnam(user).pw_uid

        a = self.start_agent(api_socket_group=group, env={"PORTISO_LOG_LEVEL": "debug"})
        st = os.stat(a.socket_path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual((st.st_uid, st.st_gid), (0, grp.getgrnam(group).gr_gid))
        self.assertEqual(run_as(user, a.socket_path), "HTTP/1.1 200 OK")
        self.assertIn(f"API call GET_HEALTH from uid {uid} pid ", a.log())
        self.assertEqual(run_as("nobody", a.socket_path), "errno 13")

    def test_unknown_group_refused(self):
        a = self.agent_for(api_socket_group="no-such-group-portiso")
        self.assertNotEqual(a.wait(timeout=15), 0)
        self.assertIn("--api_socket_group: unknown group 'no-such-group-portiso'",
                      self.log_of(a))

    def test_stale_socket_replaced_live_one_refused(self):
        path = os.path.join(self.tmp, "api.sock")
        # A socket file nobody answers on, as a killed agent leaves it.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()
        a = self.start_agent(api_socket=path)
        self.assertIn(f"Replacing the stale API socket {path}", a.log())
        self.assertEqual(a.request("GET", "/health", unix=True)[0], 200)
        a.stop()
        self.assertFalse(os.path.lexists(path))

        # Something answers there: the agent refuses to start and leaves it.
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(live.close)
        live.bind(path)
        live.listen(1)
        p = self.agent_for(api_socket=path)
        self.assertNotEqual(p.wait(timeout=15), 0)
        self.assertIn(f"another server answers on {path}", self.log_of(p))
        self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))

    def test_not_a_socket_refused(self):
        path = os.path.join(self.tmp, "api.sock")
        with open(path, "w") as f:
            f.write("precious\n")
        p = self.agent_for(api_socket=path)
        self.assertNotEqual(p.wait(timeout=15), 0)
        self.assertIn(f"{path} exists and is not a socket", self.log_of(p))
        with open(path) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_empty_disables_the_socket(self):
        a = self.start_agent(api_socket="")
        self.assertFalse(os.path.lexists(os.path.join(self.tmp, "run", "api.sock")))
        self.assertEqual(a.get("/health")[0], 200)

    # -- agents expected to fail at start ----------------------------------------
    def agent_for(self, **kw):
        log = os.path.join(self.tmp, f"refused-{len(os.listdir(self.tmp))}.log")
        with open(log, "wb") as f:
            p = subprocess.Popen([AGENT, f"--port={free_port()}"] + self.agent_flags(**kw),
                                 stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        p.log_path = log
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        return p

    @staticmethod
    def log_of(p):
        with open(p.log_path, errors="replace") as f:
            return f.read()


if __name__ == "__main__":
    unittest.main()
