"""test_package - the Debian package, built and installed as an administrator
would: `make deb`, lintian, then `apt-get install ./portiso_*.deb` in a fresh
Debian 12 root made by mmdebstrap (from the Debian mirror), where the files,
the systemd unit (`systemd-analyze verify`), the man pages, the bash
completion and the binaries are checked, and a purge removes it all again.

The package and the root are made once for the class, in its temp dir, and
removed after. mmdebstrap mounts what the root needs only while it runs its
hooks and unmounts it before it returns; the cleanup still checks that no
mount is left below the temp dir. The package does not depend on the build
under test, so the ASan pass of the suite skips this module.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from portiso_test import BUILD, IN_CI, ROOT

# Installed in the root besides essential + apt: systemd for
# systemd-analyze, man-db for the unit's Documentation= and `man -w`,
# bash-completion to run the completion for real.
ROOT_PACKAGES = "systemd,man-db,bash-completion"


def sanitized_build(build):
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
    except (OSError, ValueError):
        return False
    return opts.get("b_sanitize", "none") != "none"


def project_version():
    with open(os.path.join(ROOT, "meson.build")) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


def mounts_below(path):
    with open("/proc/self/mountinfo") as f:
        return [l.split()[4] for l in f if l.split()[4].startswith(path.rstrip("/") + "/")]


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            if IN_CI:
                raise AssertionError("the package test needs root (mmdebstrap, chroot), and CI=true")
            raise unittest.SkipTest("needs root")
        if sanitized_build(BUILD):
            raise unittest.SkipTest("the package is the same for every build: tested in the "
                                    "normal pass")
        cls.tmp = tempfile.mkdtemp(prefix="portiso-pkg-")
        cls.addClassCleanup(cls.cleanup)
        cls.version = project_version()
        cls.debdir = os.path.join(cls.tmp, "deb")
        p = subprocess.run(["make", "-s", "deb", f"DEB_DIR={cls.debdir}"], cwd=ROOT,
                           capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            raise AssertionError(f"make deb failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
        cls.deb = os.path.join(cls.debdir, f"portiso_{cls.version}_{arch}.deb")
        if not os.path.isfile(cls.deb):
            raise AssertionError(f"make deb made no {cls.deb}: {os.listdir(cls.debdir)}")

        cls.root = os.path.join(cls.tmp, "root")
        inroot = "/tmp/" + os.path.basename(cls.deb)
        p = subprocess.run(
            ["mmdebstrap", "--variant=apt", "--include=" + ROOT_PACKAGES,
             "--customize-hook=copy-in " + cls.deb + " /tmp",
             "--customize-hook=chroot \"$1\" env DEBIAN_FRONTEND=noninteractive "
             "apt-get install -y --no-install-recommends " + inroot,
             "--customize-hook=rm \"$1\"" + inroot,
             "bookworm", cls.root],
            capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            raise AssertionError(f"mmdebstrap failed:\n{p.stderr[-4000:]}")

    @classmethod
    def cleanup(cls):
        left = mounts_below(cls.tmp)
        for m in sorted(left, key=len, reverse=True):
            subprocess.run(["umount", "-l", m])
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if left:
            raise AssertionError(f"mounts left below the test's root: {left}")

    def chroot(self, *argv, check=True, **kw):
        p = subprocess.run(["chroot", self.root] + list(argv), capture_output=True, text=True,
                           timeout=120, **kw)
        if check and p.returncode != 0:
            raise AssertionError(f"{argv} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def read(self, path):
        with open(os.path.join(self.root, path)) as f:
            return f.read()

    def agent_flags(self):
        """Flag names from the installed agent's --help."""
        out = self.chroot("portiso-agent", "--help").stdout
        names = re.findall(r"^  --([a-z_]+)", out, re.M)
        self.assertGreater(len(names), 10, out)
        return names

    def test_lintian_reports_no_error(self):
        changes = glob.glob(os.path.join(self.debdir, "*.changes"))
        self.assertEqual(len(changes), 1, os.listdir(self.debdir))
        p = subprocess.run(["lintian", "--allow-root", "--fail-on", "error", changes[0]],
                           capture_output=True, text=True, timeout=600)
        errors = [l for l in p.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], p.stdout)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_files_in_place(self):
        for path, mode in [("usr/sbin/portiso-agent", 0o755), ("usr/bin/portiso", 0o755),
                           ("lib/systemd/system/portiso.service", 0o644),
                           ("etc/default/portiso", 0o644),
                           ("usr/share/man/man8/portiso-agent.8.gz", 0o644),
                           ("usr/share/man/man1/portiso.1.gz", 0o644),
                           ("usr/share/bash-completion/completions/portiso", 0o644),
                           ("usr/share/doc/portiso/copyright", 0o644)]:
            with self.subTest(path=path):
                st = os.stat(os.path.join(self.root, path))
                self.assertEqual(st.st_mode & 0o7777, mode)
                self.assertEqual((st.st_uid, st.st_gid), (0, 0))
        conffiles = self.chroot("dpkg-query", "--showformat=${Conffiles}", "--show",
                                "portiso").stdout
        self.assertIn("/etc/default/portiso", conffiles)

    def test_binaries_run(self):
        self.assertEqual(self.chroot("portiso-agent", "--version").stdout,
                         f"portiso-agent {self.version}\n")
        self.assertEqual(self.chroot("portiso", "--version").stdout, f"portiso {self.version}\n")
        # Dependencies came from Debian through apt: the dynamic linker finds them all.
        ldd = self.chroot("ldd", "/usr/sbin/portiso-agent").stdout
        self.assertNotIn("not found", ldd)

    def test_supervisor_where_the_agent_looks(self):
        files = self.chroot("dpkg", "-L", "portiso").stdout.split()
        sup = [f for f in files if f.endswith("/portiso-supervisor")]
        self.assertEqual(len(sup), 1, files)
        st = os.stat(os.path.join(self.root, sup[0].lstrip("/")))
        self.assertEqual(st.st_mode & 0o7777, 0o755)
        # The installed agent looks for it at that path, compiled in.
        with open(os.path.join(self.root, "usr/sbin/portiso-agent"), "rb") as f:
            self.assertIn(sup[0].encode() + b"\0", f.read())
        p = self.chroot(sup[0], check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertNotIn("not found", self.chroot("ldd", sup[0]).stdout)

    def test_unit_verifies_and_keeps_containers(self):
        p = self.chroot("systemd-analyze", "verify", "portiso.service", check=False)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        unit = self.read("lib/systemd/system/portiso.service")
        keys = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
        self.assertEqual(keys["Delegate"], "yes")
        self.assertEqual(keys["KillMode"], "process")
        self.assertEqual(keys["EnvironmentFile"], "-/etc/default/portiso")
        self.assertEqual(keys["ExecStart"], "/usr/sbin/portiso-agent")
        for ns_option in ("PrivateTmp", "ProtectSystem", "ProtectControlGroups",
                          "NoNewPrivileges", "SystemCallFilter"):
            self.assertNotIn(ns_option, keys, "tasks would inherit it")
        # Installed, not enabled nor started: the API launches root processes.
        self.assertEqual(glob.glob(os.path.join(self.root, "etc/systemd/system/*/portiso*")), [])

    def test_environment_file_lists_every_flag(self):
        text = self.read("etc/default/portiso")
        for name in self.agent_flags():
            with self.subTest(flag=name):
                self.assertRegex(text, rf"(?m)^#PORTISO_{name.upper()}=")
        # Commented-out defaults only: the agent runs with its built-in defaults.
        self.assertEqual(re.findall(r"(?m)^PORTISO_", text), [])
        # Each line is one the agent reads back unchanged when uncommented.
        env = dict(l[1:].split("=", 1) for l in text.splitlines() if l.startswith("#PORTISO_"))
        env = {k: v for k, v in env.items() if v}
        p = self.chroot("env", "-i", *[f"{k}={v}" for k, v in env.items()],
                        "/usr/sbin/portiso-agent",
                        "--help", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_man_pages_from_help(self):
        page = self.chroot("man", "-P", "cat", "8", "portiso-agent",
                           env={"MANWIDTH": "200", "PATH": "/usr/bin:/usr/sbin:/bin"}).stdout
        for name in self.agent_flags():
            with self.subTest(flag=name):
                self.assertIn("--" + name, page.replace("\u2010", "-"))
        self.assertIn("PORTISO_", page)
        page = self.chroot("man", "-P", "cat", "1", "portiso",
                           env={"MANWIDTH": "200", "PATH": "/usr/bin:/usr/sbin:/bin"}).stdout
        for cmd in ("scan", "launch", "wait", "kill", "remove", "update", "ps"):
            self.assertRegex(page, rf"(?m)^\s+{cmd}\s")

    def complete(self, line):
        """COMPREPLY for the command line `line` (the cursor at its end)."""
        script = ('. /usr/share/bash-completion/bash_completion; '
                  '. /usr/share/bash-completion/completions/portiso; '
                  'COMP_LINE="$1"; COMP_POINT=${#1}; read -ra COMP_WORDS <<<"$1"; '
                  '[[ $1 == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
                  '_portiso; printf "%s\\n" "${COMPREPLY[@]}"')
        return self.chroot("bash", "-c", script, "complete", line).stdout.split()

    def test_bash_completion(self):
        self.assertEqual(self.complete("portiso la"), ["launch"])
        self.assertIn("remove", self.complete("portiso "))
        self.assertIn("--signal=", self.complete("portiso kill --"))
        self.assertIn("--cgroups_root=", self.complete("portiso scan --"))
        # After `--` comes the task's command: no portiso flags offered.
        self.assertEqual(self.complete("portiso launch web -- --"), [])

    def test_zz_purge_removes_everything(self):
        files = self.chroot("dpkg", "-L", "portiso").stdout.split()
        sup = [f.lstrip("/") for f in files if f.endswith("/portiso-supervisor")]
        self.chroot("env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "--purge", "portiso")
        for path in ("usr/sbin/portiso-agent", "usr/bin/portiso", "etc/default/portiso",
                     "lib/systemd/system/portiso.service", *sup):
            self.assertFalse(os.path.exists(os.path.join(self.root, path)), path)


if __name__ == "__main__":
    unittest.main()
