"""engine_fixture - a real Podman or Docker, all of its state in the test's temp dir.

Podman: Debian's podman with runc (crun refuses hybrid cgroup hosts), the
cgroupfs manager (PID 1 need not be systemd), the file events logger, file
locks and the vfs storage driver (no mounts to undo). CONTAINERS_CONF and
CONTAINERS_STORAGE_CONF point every podman command at the test's own
configuration, storage, run root and tmp dir; `podman system service`
serves the Docker-compatible API on a unix socket in that dir.

Docker: Debian's dockerd (docker.io) with its data root, exec root, pid
file and API socket in the test's dir, the vfs driver, cgroupfs, no bridge
and no iptables rules, --live-restore (so containers outlive a daemon
restart, as Podman's outlive its service).

Each podman command and dockerd run in a private mount namespace where
directories of the test are bound over the few fixed paths the engines
write (/run for runc's and containerd's state and shim sockets,
/etc/docker for dockerd's key), so a test leaves nothing behind. In a
chroot into a plain directory (a fresh Debian root) that namespace also
gets a "/" that is a mount point, without which no engine can apply an
image layer or start a container (in_own_mount_ns()).

The image is a busybox rootfs made from Debian's busybox-static (fetched
with `apt-get download`, unpacked with `dpkg-deb -x`, never installed) and
imported from a tarball: no registry. The .deb is cached in the build dir.

Containers run below the cgroup parent /<cgroups_root>-<engine>. Cleanup
(registered first, so it runs even when the test fails): remove every
container, stop the daemon, kill what is left of its helpers (conmon,
containerd, shims), remove the cgroup parent in every hierarchy.
"""
import calendar
import glob
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tarfile
import time

from portiso_test import BUILD, kill_cgroup_tree, wait_for

CACHE = os.path.join(BUILD, "test-cache")
APPLETS = ("sh", "httpd", "nc", "sleep", "usleep", "cat", "echo", "touch", "test", "[", "ls")


def busybox_binary():
    """Path of a static busybox unpacked from Debian's package (cached)."""
    out = os.path.join(CACHE, "busybox-static", "bin", "busybox")
    if os.path.exists(out):
        return out
    os.makedirs(CACHE, exist_ok=True)
    tmp = os.path.join(CACHE, f"dl-{os.getpid()}")
    os.makedirs(tmp, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", "-q", "busybox-static"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deb = glob.glob(os.path.join(tmp, "busybox-static_*.deb"))[0]
        unpacked = os.path.join(tmp, "x")
        subprocess.run(["dpkg-deb", "-x", deb, unpacked], check=True)
        dest = os.path.join(CACHE, "busybox-static")
        if not os.path.exists(dest):
            os.rename(unpacked, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def rootfs_tar(path):
    """A busybox rootfs tarball at path: the binary, its applets, a minimal /etc."""
    bb = busybox_binary()
    with tarfile.open(path, "w") as t:
        def add_dir(name):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            t.addfile(ti)

        def add_file(name, data, mode=0o644):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), mode
            t.addfile(ti, io.BytesIO(data))
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "ctl"):
            add_dir(d)
        with open(bb, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for a in APPLETS:
            ti = tarfile.TarInfo(f"bin/{a}")
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(ti)
        add_file("etc/passwd", b"root:x:0:0:root:/:/bin/sh\n")
        add_file("etc/group", b"root:x:0:\n")


def free_test_port(taken=()):
    """A port in 20000-23999 free on IPv4 and IPv6 (below the ephemeral range,
    away from the fixed ranges other tests use)."""
    for _ in range(200):
        p = random.randint(20000, 23999)
        if p in taken:
            continue
        try:
            for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                with socket.socket(fam) as s:
                    if fam == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((addr, p))
            return p
        except OSError:
            continue
    raise AssertionError("no free port in 20000-23999")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def rfc3339_to_unix(s):
    """2026-12-01T20:09:31.17506213Z (or with +00:00) as a Unix time."""
    s = s.replace("Z", "").split("+")[0]
    date, _, frac = s.partition(".")
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


class Engine:
    """What the tests need of a container engine; Podman and Docker below."""

    NAME = CLI = None
    IMAGE = "localhost/portiso-test-busybox:plain"

    def __init__(self, test):
        self.test = test
        self.root = os.path.join(test.tmp, self.NAME)
        self.socket = os.path.join(self.root, "api.sock")
        self.cgroup_parent = f"{test.cgroups_root}-{self.NAME}"
        self.ctl = os.path.join(self.root, "ctl")  # mounted at /ctl in containers
        self.service = None
        os.makedirs(self.ctl)
        self.env = dict(os.environ)
        test.addCleanup(self.cleanup)
        self.configure()
        self.start_service()
        self.import_image(self.IMAGE)

    def cli(self, *args, check=True, timeout=60):
        r = subprocess.run(self.wrap([self.CLI] + list(args)), env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"{self.CLI} {' '.join(args)}: {r.returncode}: {r.stderr}")
        return r

    def import_image(self, name, expose=()):
        """Import the busybox rootfs as image `name`, with EXPOSE for each port."""
        tar = os.path.join(self.root, "rootfs.tar")
        rootfs_tar(tar)
        changes = ["--change", 'CMD ["/bin/sh"]']
        for p in expose:
            changes += ["--change", f"EXPOSE {p}/tcp"]
        self.cli("import", *changes, tar, name)
        os.unlink(tar)
        return name

    def wrap(self, argv):
        """argv of an engine command as it is run (in a mount namespace?)."""
        return argv

    # -- the API service ------------------------------------------------------
    def start_service(self):
        log = open(os.path.join(self.root, "service.log"), "ab")
        self.service = subprocess.Popen(self.service_argv(), env=self.env,
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        start_new_session=True)
        log.close()

        def up():
            if self.service.poll() is not None:
                raise AssertionError(f"{self.NAME} service exited {self.service.returncode}")
            try:
                return self.api("GET", "/v1.40/_ping")[0] == 200
            except OSError:
                return False
        wait_for(up, timeout=60, what=f"{self.NAME}'s API service")

    def stop_service(self):
        if self.service and self.service.poll() is None:
            self.service.send_signal(signal.SIGTERM)
            try:
                self.service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait()
        self.service = None

    def api(self, method, path, raw=False):
        c = UnixHTTPConnection(self.socket)
        try:
            c.request(method, path)
            r = c.getresponse()
            body = r.read()
            return r.status, (json.loads(body) if body and not raw and r.getheader(
                "Content-Type", "").startswith("application/json") else body)
        finally:
            c.close()

    # -- containers -------------------------------------------------------------
    def run(self, name, script, label=None, network="host", image=None):
        """Start container `name` running `sh -c script` (detached)."""
        # --ipc=host: no /dev/shm mount per container to undo.
        args = ["run", "-d", "--pull=never", "--ipc=host", f"--network={network}",
                f"--cgroup-parent=/{self.cgroup_parent}", "--name", name, "-v",
                f"{self.ctl}:/ctl"]
        if label is not None:
            args += ["--label", f"portiso.ports={label}"]
        self.cli(*args, image or self.IMAGE, "/bin/sh", "-c", script)
        return name

    def rm(self, name):
        self.cli("rm", "-f", name)

    def event_statuses(self, name, since):
        """The statuses of the engine's recorded events of container `name`."""
        status, body = self.api("GET", f"/v1.40/events?since={int(since) - 1}"
                                f"&until={int(time.time()) + 1}", raw=True)
        assert status == 200, (status, body)
        out = []
        for line in body.decode().splitlines():
            ev = json.loads(line)
            if ev.get("Actor", {}).get("Attributes", {}).get("name") == name:
                out.append(ev.get("status") or ev.get("Action"))
        return out

    def go(self, name):
        """Let a container started with wait_go() go on; returns the wall time."""
        t = time.time()
        with open(os.path.join(self.ctl, f"go-{name}"), "w"):
            pass
        return t

    @staticmethod
    def wait_go(name):
        """Shell that waits until the test calls go(name)."""
        return f"while [ ! -e /ctl/go-{name} ]; do usleep 20000; done; "

    def inspect(self, name):
        status, body = self.api("GET", f"/v1.40/containers/{name}/json")
        assert status == 200, (status, body)
        return body

    def finished_at(self, name):
        return rfc3339_to_unix(self.inspect(name)["State"]["FinishedAt"])

    def running(self, name):
        return self.inspect(name)["State"]["Running"]

    def wait_running(self, name, timeout=20):
        wait_for(lambda: self.running(name), timeout=timeout, what=f"container {name} to run")

    @staticmethod
    def listening(port):
        """True while something on the host listens on TCP port."""
        r = subprocess.run(["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True)
        return bool(r.stdout.strip())

    # -- cleanup ------------------------------------------------------------------
    def remove_all(self):
        """Remove every container (the daemon runs)."""
        ids = self.cli("ps", "-aq", check=False).stdout.split()
        if ids:
            self.cli("rm", "-f", *ids, check=False)

    def cleanup(self):
        if self.service and self.service.poll() is None:
            self.remove_all()
        self.stop_service()
        # Helpers of this installation (conmon, containerd, shims), should any be left.
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if self.root.encode() in cmd and int(pid) != os.getpid():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # Mounts the engine made below its root (a container's /dev/shm) and
        # could not undo because something failed first.
        with open("/proc/self/mountinfo") as f:
            mounts = [l.split()[4] for l in f if l.split()[4].startswith(self.root + "/")]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        for mount in glob.glob("/sys/fs/cgroup/*/") + ["/sys/fs/cgroup/"]:
            kill_cgroup_tree(os.path.join(mount, self.cgroup_parent))
        left = [p for p in glob.glob(f"/sys/fs/cgroup/*/{self.cgroup_parent}") +
                glob.glob(f"/sys/fs/cgroup/{self.cgroup_parent}") if os.path.exists(p)]
        self.test.assertEqual(left, [], f"{self.NAME} cgroups left behind")


def root_is_mount_point():
    """True unless this process runs chrooted into a plain directory."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == "/" for line in f)


def in_own_mount_ns(scratch, setup, argv):
    """argv run in a private mount namespace of its own, after the shell
    commands `setup` (mounts that only argv sees), with "/" a mount point.

    Engines need the latter: containers/storage and moby remount "/"
    private before they apply an image layer, runc remounts it slave before
    it pivots into a container, and `unshare --propagation private` does
    the same; each fails with EINVAL when the process is chrooted into a
    plain directory (a fresh Debian root entered with chroot, where "/" is
    no mount point). There the namespace first makes every mount it can see
    private (so nothing it mounts propagates back out), binds "/"
    recursively at `scratch` and chroots into that bind, which is a mount.
    """
    run = (setup + " && " if setup else "") + 'exec "$@"'
    if root_is_mount_point():
        return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", run, "sh"] + list(argv)
    enter = ('for m in $(cut -d" " -f5 /proc/self/mountinfo); do mount --make-private "$m" || exit 1; done'
             f' && mkdir -p "$1" && mount --rbind / "$1" && cd "$1" && shift'
             ' && exec chroot . /bin/sh -c "mount --make-rprivate / && $0" sh "$@"')
    return ["unshare", "--mount", "--propagation", "unchanged", "/bin/sh", "-c", enter, run,
            scratch] + list(argv)


class Podman(Engine):
    """One Podman installation inside test.tmp, with its API service."""

    NAME = CLI = "podman"

    def configure(self):
        for d in ("storage", "run", "tmp", "net", "static", "volumes", "sysrun"):
            os.makedirs(os.path.join(self.root, d))
        conf = os.path.join(self.root, "containers.conf")
        with open(conf, "w") as f:
            f.write(f"""[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{self.root}/events.log"
lock_type = "file"
tmp_dir = "{self.root}/tmp"
static_dir = "{self.root}/static"
volume_path = "{self.root}/volumes"
[network]
network_config_dir = "{self.root}/net"
""")
        storage = os.path.join(self.root, "storage.conf")
        with open(storage, "w") as f:
            f.write(f"""[storage]
driver = "vfs"
graphroot = "{self.root}/storage"
runroot = "{self.root}/run"
""")
        self.env.update(CONTAINERS_CONF=conf, CONTAINERS_STORAGE_CONF=storage,
                        TMPDIR=os.path.join(self.root, "tmp"))

    def service_argv(self):
        return self.wrap(["podman", "system", "service", "--time=0", f"unix://{self.socket}"])

    def wrap(self, argv):
        # Two paths no configuration moves: an import writes a blob-info
        # cache to /var/lib/containers/cache (a private tmpfs there instead),
        # and runc keeps its state in /run/runc (a directory of the test over
        # /run, as for Docker). Every podman command, and so the conmon and
        # runc it starts, runs in such a namespace.
        hide = "/var/lib/containers" if os.path.isdir("/var/lib/containers") else "/var/lib"
        return in_own_mount_ns(os.path.join(self.root, "ns-root"),
                               f"mount -t tmpfs portiso-test {hide}"
                               f" && mount --bind {self.root}/sysrun /run", argv)


class Docker(Engine):
    """One dockerd (with its own containerd) inside test.tmp."""

    NAME = "docker"
    CLI = "docker"

    def configure(self):
        for d in ("data", "exec", "etc", "run"):
            os.makedirs(os.path.join(self.root, d))
        self.env.update(DOCKER_HOST=f"unix://{self.socket}",
                        DOCKER_CONFIG=os.path.join(self.root, "client"))

    def service_argv(self):
        # Bind mounts, not tmpfs: a restarted daemon finds containerd's state.
        return in_own_mount_ns(
            os.path.join(self.root, "ns-root"),
            f"mount --bind {self.root}/etc /etc/docker && mount --bind {self.root}/run /run",
            ["dockerd", f"--data-root={self.root}/data", f"--exec-root={self.root}/exec",
             f"--pidfile={self.root}/docker.pid", f"--host=unix://{self.socket}",
             "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
             "--storage-driver=vfs", "--exec-opt=native.cgroupdriver=cgroupfs",
             f"--cgroup-parent=/{self.cgroup_parent}", "--userland-proxy=false",
             "--live-restore"])
