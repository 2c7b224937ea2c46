"""test_bpf - eBPF bind prevention and instant detection against the real kernel.

Drives the loaders of src/linux/bpf/ through build/tests/helpers/bpfctl (a
thin CLI over them): each bpfctl command is its own process that re-adopts
the bpffs pins, as a restarted agent does, so "prevention holds while no
process of ours runs" is what every test exercises. Binds are made by real
processes (tests/helpers/listen.py) in real cgroup v2 cgroups.
Ports used: 26000-26999 only.
"""
import json
import os
import random
import select
import socket
import subprocess
import time
import unittest

from portiso_test import HELPERS, PortisoTestCase, kill_cgroup_tree, wait_for

BPFCTL = os.path.join(HELPERS, "bpfctl")
PIN_BASE = "/sys/fs/bpf/portiso"
ISOLATED = "[26000-26499]"


def port_is_free(port):
    """True if nothing (a listener, or a client's TIME_WAIT on this ephemeral-
    range port) stops a TCP or UDP bind to it, IPv4 or IPv6, right now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET6, kind) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            try:
                s.bind(("::", port))
            except OSError:
                return False
    return True


def band_ports(n, lo=26000, hi=26499, exclude=()):
    """n distinct free ports of [lo, hi]: the test band lies in the ephemeral
    range, so a fixed port may be held by some client's TIME_WAIT."""
    cands = [p for p in range(lo, hi + 1) if p not in exclude]
    random.shuffle(cands)
    out = [p for p in cands[: n * 20] if port_is_free(p)][:n]
    if len(out) < n:
        raise AssertionError(f"not {n} free ports in [{lo}-{hi}]")
    return out


def bpftool_json(*args):
    p = subprocess.run(["bpftool", "-j"] + list(args), capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(f"bpftool {args} failed: {p.stderr.strip()}")
    return json.loads(p.stdout or "[]")


class LineReader:
    """Lines of a child's stdout, read without blocking past a deadline."""

    def __init__(self, proc):
        self.proc, self.buf = proc, b""

    def readline(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError(f"no line from {self.proc.args} within {timeout}s")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"{self.proc.args} exited ({self.proc.wait()})")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


class BpfTestCase(PortisoTestCase):
    def setUp(self):
        super().setUp()
        self.assertTrue(os.access(BPFCTL, os.X_OK), f"{BPFCTL} not built")
        self.root = self.cgroup_path()  # fails in CI / skips without cgroup2
        os.makedirs(self.root, exist_ok=True)
        self.pin_dir = os.path.join(PIN_BASE, self.cgroups_root)
        # Registered after the base cleanup, so it runs before the cgroups go.
        self.addCleanup(self.bpfctl, "prevent-destroy", ok=False)

    def bpfctl(self, *args, ok=True):
        argv = [BPFCTL, f"--cgroups-root={self.cgroups_root}"] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if ok and p.returncode != 0:
            raise AssertionError(f"{argv} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def cg(self, rel):
        path = self.cgroup_path(rel)
        os.makedirs(path, exist_ok=True)
        return path

    def bind(self, spec, rel=None):
        """Bind (and listen) with listen.py in container rel (None: on the host).
        Returns "ok" or "EPERM"; any other failure fails the test."""
        argv = ["/usr/bin/python3", self.LISTEN, spec]
        if rel is not None:
            procs = os.path.join(self.cg(rel), "cgroup.procs")
            argv = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs] + argv
        p = self.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = p.stdout.readline()  # "ready ..." or EOF when the bind failed
        p.kill()
        _, err = p.communicate(timeout=10)
        if line.startswith(b"ready"):
            return "ok"
        if "Operation not permitted" in err.decode():
            return "EPERM"
        raise AssertionError(f"bind {spec} in {rel}: unexpected failure: {err.decode()[-500:]}")

    def attach(self, *extra):
        out = self.bpfctl("prevent-attach", f"--isolated={ISOLATED}", *extra).stdout
        lines = out.splitlines()
        self.assertEqual(lines[0], f"pinned {self.pin_dir}")
        self.assertRegex(lines[1], "^autobind (prevented|this kernel .*|.*BPF LSM.*)$")
        self.lsm = lines[1] == "autobind prevented"

    def hooks(self):
        """Programs attached: bind4/6, post_bind4/6, and the two LSM ones
        (listen, sendmsg) where the kernel loads them."""
        return 6 if self.lsm else 4

    def allow(self, rel, ranges):
        self.cg(rel)
        self.bpfctl("prevent-allow", rel, ranges)


class BindPreventionTest(BpfTestCase):
    def setUp(self):
        super().setUp()
        # a1..a3 allocated to c1, u1 and u2 isolated but not allocated.
        self.a1, self.a2, self.a3, self.u1, self.u2 = band_ports(5)
        self.attach()
        self.allocated = f"[{self.a1}-{self.a1}, {self.a2}-{self.a2}, {self.a3}-{self.a3}]"
        self.allow("c1", self.allocated)

    def test_unallocated_isolated_port_denied_for_every_family(self):
        for kind in ("tcp4", "tcp6only", "dual"):
            self.assertEqual(self.bind(f"{kind}:{self.u1}", "c1"), "EPERM", kind)
        self.assertEqual(self.bind(f"tcp4:{self.a1}", "c1"), "ok")
        self.assertEqual(self.bind(f"tcp6only:{self.a2}", "c1"), "ok")
        self.assertEqual(self.bind(f"dual:{self.a3}", "c1"), "ok")

    def test_nested_container_shares_its_roots_allocation(self):
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1/n1/n2"), "EPERM")
        self.assertEqual(self.bind(f"dual:{self.a2}", "c1/n1/n2"), "ok")

    def test_adding_the_port_lets_the_bind_through(self):
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "EPERM")
        self.allow("c1", self.allocated[:-1] + f", {self.u1}-{self.u1}]")
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "ok")
        self.allow("c1", self.allocated)
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "EPERM")

    def test_port_zero_and_ports_outside_the_isolated_range_are_allowed(self):
        outside, = band_ports(1, 26500, 26999)
        self.assertEqual(self.bind("tcp4:0", "c1"), "ok")
        self.assertEqual(self.bind("dual:0", "c1"), "ok")
        self.assertEqual(self.bind(f"tcp4:{outside}", "c1"), "ok")

    def test_unknown_containers_and_the_host_are_unaffected(self):
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c2"), "ok")  # no allocation known
        self.assertEqual(self.bind(f"tcp4:{self.u1}"), "ok")  # host process
        self.bpfctl("prevent-unset", "c1")
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "ok")
        self.assertIn("allocations 0", self.bpfctl("prevent-status").stdout)

    def test_udp_only_when_enabled(self):
        self.assertEqual(self.bind(f"udp4:{self.u2}", "c1"), "ok")
        self.attach("--udp")  # re-adopt with UDP on: same pins, new config
        self.assertEqual(self.bind(f"udp4:{self.u2}", "c1"), "EPERM")
        self.assertEqual(self.bind(f"udp6:{self.u2}", "c1"), "EPERM")
        self.assertEqual(self.bind(f"udp4:{self.a1}", "c1"), "ok")
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "EPERM")

    def test_pins_hold_with_no_process_of_ours(self):
        self.assertEqual(sorted(os.listdir(self.pin_dir)),
                         sorted(["allocs", "bind4_link", "bind4_prog", "bind6_link",
                                 "bind6_prog", "config", "denials", "denials_zero",
                                 "post_bind4_link", "post_bind4_prog",
                                 "post_bind6_link", "post_bind6_prog"]
                                + (["listen_link", "listen_prog", "sendmsg_link",
                                    "sendmsg_prog"] if self.lsm else [])))
        out = subprocess.run(["pgrep", "-x", "bpfctl"], capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), "", "a bpfctl process is still running")
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "EPERM")
        self.assertIn("allocations 1", self.bpfctl("prevent-status").stdout)

    def our_links(self):
        root_id = os.stat(self.root).st_ino
        return [l for l in bpftool_json("link", "show") if l.get("cgroup_id") == root_id]

    def test_reattach_readopts_programs_links_and_allocations(self):
        before = sorted((l["id"], l["prog_id"]) for l in self.our_links())
        self.assertEqual(len(before), self.hooks())
        self.attach()
        self.assertEqual(sorted((l["id"], l["prog_id"]) for l in self.our_links()), before)
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "EPERM")
        self.assertEqual(self.bind(f"tcp4:{self.a1}", "c1"), "ok")

    def test_incompatible_pinned_maps_replaced_and_links_updated_in_place(self):
        before = {l["id"]: l["prog_id"] for l in self.our_links()}
        config = os.path.join(self.pin_dir, "config")
        os.unlink(config)  # as if an older portiso had pinned another layout
        subprocess.run(["bpftool", "map", "create", config, "type", "array", "key", "4",
                        "value", "8", "entries", "1", "name", "portiso_config"], check=True)
        self.attach()
        after = {l["id"]: l["prog_id"] for l in self.our_links()}
        self.assertEqual(sorted(after), sorted(before), "links must be kept (updated in place)")
        self.assertTrue(set(after.values()).isdisjoint(before.values()), "programs not replaced")
        self.assertIn("allocations 0", self.bpfctl("prevent-status").stdout)
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "ok")  # allocation forgotten
        self.allow("c1", self.allocated)
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "EPERM")

    def test_links_of_a_removed_cgroups_root_are_replaced(self):
        self.bpfctl("prevent-unset", "c1")
        kill_cgroup_tree(self.root)  # the root goes; its links go defunct
        os.makedirs(self.root)
        self.attach()
        self.assertEqual(len(self.our_links()), self.hooks())
        self.allow("c1", self.allocated)
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "EPERM")
        self.assertEqual(self.bind(f"tcp4:{self.a1}", "c1"), "ok")

    def test_destroy_leaves_no_program_link_map_or_pin(self):
        links = self.our_links()
        prog_ids = {l["prog_id"] for l in links}
        map_ids = set()
        for pid in prog_ids:
            map_ids |= set(bpftool_json("prog", "show", "id", str(pid)).get("map_ids", []))
        self.assertEqual(len(prog_ids), self.hooks())
        self.assertEqual(len(map_ids), 4)  # config, allocs, denials, denials_zero

        self.bpfctl("prevent-destroy")
        self.assertFalse(os.path.exists(self.pin_dir))
        self.assertEqual(self.our_links(), [])
        # Programs and maps are freed once the last reference goes (RCU).
        wait_for(lambda: not prog_ids & {p["id"] for p in bpftool_json("prog", "show")},
                 what="programs freed")
        wait_for(lambda: not map_ids & {m["id"] for m in bpftool_json("map", "show")},
                 what="maps freed")
        self.assertEqual(self.bind(f"tcp4:{self.u1}", "c1"), "ok")
        self.assertIn("not pinned", self.bpfctl("prevent-status").stdout)
        self.assertFalse(os.path.exists(self.pin_dir), "looking left a pin directory behind")


class DetectionTest(BpfTestCase):
    def start_detect(self, *extra):
        p = self.spawn([BPFCTL, f"--cgroups-root={self.cgroups_root}", "detect"] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r = LineReader(p)
        self.assertEqual(r.readline(20), "ready")
        return r

    def test_container_listen_reported_with_its_cgroup_and_port(self):
        p1, p2, p3, p4 = band_ports(4)
        r = self.start_detect()
        nested = self.cg("c1/nested")
        self.bind(f"tcp4:{p2}")  # host: filtered out in the kernel
        t0 = time.monotonic()
        self.listen([f"tcp4:{p1}"], cgdir=nested)
        self.assertEqual(r.readline(2), f"listen {os.stat(nested).st_ino} inet tcp {p1}")
        self.assertLess(time.monotonic() - t0, 2)
        self.listen([f"dual:{p3}", f"tcp6only:{p4}"], cgdir=self.cg("c2"))
        cg2 = os.stat(self.cgroup_path("c2")).st_ino
        self.assertEqual(r.readline(2), f"listen {cg2} inet6 tcp {p3}")
        self.assertEqual(r.readline(2), f"listen {cg2} inet6 tcp {p4}")

    def test_udp_binds_reported_only_with_udp(self):
        p1, p2, p3, p4 = band_ports(4)
        r = self.start_detect()
        c1 = self.cg("c1")
        self.listen([f"udp4:{p1}", f"tcp4:{p2}"], cgdir=c1)
        # Events are ordered: had the UDP bind been reported, it would come first.
        self.assertEqual(r.readline(2), f"listen {os.stat(c1).st_ino} inet tcp {p2}")

        r = self.start_detect("--udp")
        self.listen([f"udp4:{p3}", f"udp6:{p4}"], cgdir=c1)
        self.assertEqual(r.readline(2), f"listen {os.stat(c1).st_ino} inet udp {p3}")
        self.assertEqual(r.readline(2), f"listen {os.stat(c1).st_ino} inet6 udp {p4}")


if __name__ == "__main__":
    unittest.main()
