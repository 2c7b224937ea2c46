"""portiso_test - shared fixtures for the integration tests.

Real parts only: real cgroups, real processes, real sockets, the real agent
over real HTTP (http.client). Every test gets its own cgroups root name, work
and runtime directories; tearDown kills and removes every cgroup, process and
directory the test made, even when it failed.

Tests that need root or cgroups fail (not skip) when CI=true.
"""
import base64
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Where an agent with bind prevention pins its programs, one directory per
# cgroups root.
PIN_BASE = "/sys/fs/bpf/portiso"
BUILD = os.environ.get("PORTISO_BUILD", os.path.join(ROOT, "build"))
AGENT = os.path.join(BUILD, "portiso-agent")
CLI = os.path.join(BUILD, "portiso")
HELPERS = os.path.join(BUILD, "tests", "helpers")
CGROUP_BASE = "/sys/fs/cgroup"
IN_CI = os.environ.get("CI") == "true"


def cgroup_v2_mount():
    """Mount point of the cgroup2 hierarchy (pure or hybrid), or None."""
    with open("/proc/self/mountinfo") as f:
        mounts = {l.split()[4]: l.split(" - ")[1].split()[0] for l in f}
    for p in (CGROUP_BASE, CGROUP_BASE + "/unified"):
        if mounts.get(p) == "cgroup2":
            return p
    return None


def cgroup_v1_freezer():
    with open("/proc/self/mountinfo") as f:
        for l in f:
            fields = l.split()
            fstype, opts = l.split(" - ")[1].split()[0], l.split(" - ")[1].split()[-1]
            if fstype == "cgroup" and "freezer" in opts.split(","):
                return fields[4]
    return None


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a truthy value; return it or raise."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def alive(pid):
    """True while pid is a live process (a zombie is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(") ")[2][:1] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone before, or while, reading
        return False


def basic_auth(principal, secret):
    """The Authorization header value of HTTP Basic credentials."""
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_cgroup_tree(path):
    """SIGKILL every process below path and remove the directories, deepest first."""
    if not os.path.isdir(path):
        return
    for _ in range(200):
        pids = []
        for d, _, files in os.walk(path):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids += [int(x) for x in f.read().split()]
                except OSError:
                    pass
        if not pids:
            break
        frozen = os.path.exists(os.path.join(path, "freezer.state"))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    for d, _, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        for _ in range(100):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


class PortisoTestCase(unittest.TestCase):
    """Base class: unique cgroups root, temp dirs, cleanup of what tests start."""

    needs_root = True

    def setUp(self):
        if self.needs_root and os.geteuid() != 0:
            if IN_CI:
                self.fail("this test needs root, and CI=true")
            self.skipTest("needs root")
        self.cgroups_root = f"portiso-test-{os.getpid()}-{id(self) & 0xffff:x}"
        self.tmp = tempfile.mkdtemp(prefix="portiso-test-")
        self.procs = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for stream in (p.stdout, p.stderr, p.stdin):
                if stream:
                    stream.close()
        for base in filter(None, (cgroup_v2_mount(), cgroup_v1_freezer())):
            kill_cgroup_tree(os.path.join(base, self.cgroups_root))
        self.remove_pins()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def remove_pins(self):
        """An agent keeps its prevention pins while it has containers (they
        outlive it on purpose); a test's agent stops with containers left,
        so the pins of the test's cgroups root are the test's to remove."""
        pins = os.path.join(PIN_BASE, self.cgroups_root)
        if not os.path.isdir(pins):
            return
        bpfctl = os.path.join(os.environ.get("PORTISO_BUILD", os.path.join(ROOT, "build")),
                              "tests", "helpers", "bpfctl")
        if os.path.exists(bpfctl):
            subprocess.run([bpfctl, f"--cgroups-root={self.cgroups_root}", "prevent-destroy"],
                           capture_output=True, timeout=60)
        # Unpinning a link detaches it; whatever bpfctl left goes so.
        shutil.rmtree(pins, ignore_errors=True)

    def spawn(self, argv, **kw):
        """Start a process that tearDown kills."""
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    LISTEN = os.path.join(ROOT, "tests", "helpers", "listen.py")

    def share_tmp_with_tasks(self):
        """Tasks run as `nobody`: make the temp dir world-writable (sticky)
        for their ready and pid files, and give them a copy of listen.py
        there (the clone may sit below a directory nobody cannot enter)."""
        os.chmod(self.tmp, 0o1777)
        helpers = os.path.join(self.tmp, "helpers")
        os.mkdir(helpers, 0o755)
        os.chmod(helpers, 0o755)
        self.LISTEN = os.path.join(helpers, "listen.py")
        shutil.copy(PortisoTestCase.LISTEN, self.LISTEN)
        os.chmod(self.LISTEN, 0o755)

    def write_credentials(self, principal="portiso-test", name="credentials.json"):
        """Write an --http_credentials file (0600) with one random secret;
        return (path, (principal, secret))."""
        creds = (principal, secrets.token_urlsafe(24))
        path = os.path.join(self.tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"credentials": [{"principal": creds[0], "secret": creds[1]}]}, f)
        return path, creds

    def cgroup_path(self, rel="", v1=False):
        """Absolute path of a cgroup below this test's cgroups root."""
        base = cgroup_v1_freezer() if v1 else cgroup_v2_mount()
        if base is None:
            if IN_CI:
                self.fail("no %s hierarchy on this machine" % ("v1 freezer" if v1 else "cgroup2"))
            self.skipTest("no %s hierarchy" % ("v1 freezer" if v1 else "cgroup2"))
        return os.path.join(base, self.cgroups_root, rel) if rel else os.path.join(base, self.cgroups_root)

    def spawn_in_cgroup(self, cgdir, argv):
        """Start argv already inside cgroup directory cgdir (created if needed):
        the shell moves itself in before exec, so no socket is made outside."""
        os.makedirs(cgdir, exist_ok=True)
        procs = os.path.join(cgdir, "cgroup.procs")
        return self.spawn(["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs] + list(argv),
                          stdout=subprocess.PIPE, text=True)

    def listen(self, specs, cgdir=None, daemonize=False):
        """Run listen.py with the given KIND:PORT specs (in cgdir if given);
        wait until it is listening; return (Popen, listener pid, [ports])."""
        argv = ["/usr/bin/python3", self.LISTEN] + (["--daemonize"] if daemonize else []) + list(specs)
        p = self.spawn_in_cgroup(cgdir, argv) if cgdir else self.spawn(argv, stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline().split()
        if not line or line[0] != "ready":
            raise AssertionError(f"listener {specs} did not start: {line}")
        return p, int(line[1]), [int(x) for x in line[2:]]
