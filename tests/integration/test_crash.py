"""Crash harness: the agent is SIGKILLed at random points of bursts of
LAUNCH, UPDATE, KILL and REMOVE calls, with faults on top: its work dir
filling up (ENOSPC), failing (EIO: an ext4 image shut down with
FS_IOC_SHUTDOWN and no log flush, as a power cut would leave it), a
container's supervisor killed, or stopped. After each round a new agent must
report exactly what the calls answered 2xx said: every acknowledged launch
listed, with the last acknowledged allocation, acknowledged kills ended,
acknowledged removals gone. A call that got no answer may have happened or
not; what the next agent reports of it becomes the truth.

Random choices come from PORTISO_CRASH_SEED (printed); the crash point is
"right after call k was sent", never a timed sleep. PORTISO_CRASH_ROUNDS
rounds (default 50; `make stress` runs more). The work dir is a 16 MiB ext4
image on a loop device below the test's temp dir, unmounted in cleanup.
Ports 31950-31999."""
import fcntl
import http.client
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time

from agent_fixture import ports_resources, wait_for
from portiso_test import alive, cgroup_v1_freezer, cgroup_v2_mount, kill_cgroup_tree
from test_durability import DurabilityTestCase, ports_of

SEED = int(os.environ.get("PORTISO_CRASH_SEED", "20261201"))
ROUNDS = int(os.environ.get("PORTISO_CRASH_ROUNDS", "50"))
# Fault kinds and their weights; PORTISO_CRASH_FAULTS=eio,crash picks some.
FAULTS = {"crash": 50, "enospc": 15, "eio": 10, "supkill": 15, "supstop": 10}
if os.environ.get("PORTISO_CRASH_FAULTS"):
    FAULTS = {f: FAULTS[f] for f in os.environ["PORTISO_CRASH_FAULTS"].split(",")}
SLEEP = "exec sleep 1000"
PORTS = list(range(31950, 32000))
MAX_LIVE = 6
FS_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32)
SHUTDOWN_NOLOGFLUSH = 2


class Known:
    """What the answers so far say about one container id."""

    def __init__(self):
        self.present = False    # an acknowledged launch, or seen listed
        self.ports = None       # last acknowledged allocation
        self.maybe_ports = []   # updates sent since, unanswered
        self.ended = False      # an acknowledged kill, or seen ended
        self.killed = False     # ... by an acknowledged KILL_CONTAINER
        self.maybe = set()      # unanswered calls: "launch", "kill", "remove"
        self.removed = False
        self.fault_end = False  # a fault (supervisor killed, disk died) ended it
        self.history = []       # (call, answer), for a mismatch's report


class TestCrash(DurabilityTestCase):
    def setUp(self):
        super().setUp()
        self.rng = random.Random(SEED)
        self.known = {}
        self.next_id = 0
        self.figures = {"rounds": 0, "calls": 0, "acknowledged": 0, "refused": 0,
                        "unanswered": 0, "mismatches": 0}
        self.stopped = []
        self.unexpected = []
        self.loopdevs = []

    # -- the work dir: an ext4 image --------------------------------------------
    def mount_image(self):
        """Mount the image (made on first use) and check that it is a fresh,
        writable mount: a shut-down one still mounted somewhere would not be."""
        img = os.path.join(self.tmp, "work.img")
        if not os.path.exists(img):
            with open(img, "wb") as f:
                f.truncate(16 << 20)
            subprocess.run(["mkfs.ext4", "-q", "-m", "0", "-F", img], check=True)
            os.makedirs(self.work(), exist_ok=True)
            self.addCleanup(self._unmount_image)
        # A new loop device each time: a mount namespace made elsewhere while
        # the image was mounted can keep the old, shut-down superblock alive
        # on the old device, and mount -o loop would reuse that device.
        dev = subprocess.run(["losetup", "--find", "--show", img], check=True,
                             capture_output=True, text=True).stdout.strip()
        self.loopdevs.append(dev)
        subprocess.run(["mount", dev, self.work()], check=True)
        probe = os.path.join(self.work(), ".probe")
        with open(probe, "w") as f:
            f.write("ok")
        os.unlink(probe)

    def _unmount_image(self):
        for p in self.stopped:
            if alive(p):
                os.kill(p, signal.SIGCONT)
        if os.path.ismount(self.work()):
            self._unmount(self.work())
        self.detach_loops()

    def release_image(self):
        """Everything that has files open in the image dies (as in a power
        cut), then it is unmounted."""
        for base in filter(None, (cgroup_v2_mount(), cgroup_v1_freezer())):
            kill_cgroup_tree(os.path.join(base, self.cgroups_root))
        for _ in range(200):
            if subprocess.run(["umount", self.work()], capture_output=True).returncode == 0:
                break
            time.sleep(0.02)
        else:
            self.fail("the work dir image stays busy")
        self.detach_loops()

    def detach_loops(self):
        for dev in self.loopdevs:
            subprocess.run(["losetup", "-d", dev], capture_output=True)
        self.loopdevs = []

    def shutdown_fs(self):
        fd = os.open(self.work(), os.O_RDONLY)
        try:
            fcntl.ioctl(fd, FS_IOC_SHUTDOWN, struct.pack("I", SHUTDOWN_NOLOGFLUSH))
        finally:
            os.close(fd)

    # -- calls ------------------------------------------------------------------
    def call(self, agent, ctype, **body):
        """(status or None when no answer came, definitely_not_sent)."""
        self.figures["calls"] += 1
        try:
            status, _ = agent.call(ctype, expect=None, timeout=20, **body)
        except ConnectionRefusedError:
            return None, True
        except (OSError, http.client.HTTPException):
            return None, False
        return status, False

    def plan(self, n):
        """n calls against what is known, seeded."""
        ops = []
        live = [i for i, k in self.known.items()
                if k.present and not k.ended and not k.removed and not k.maybe]
        ended = [i for i, k in self.known.items()
                 if k.present and k.ended and not k.removed and not k.maybe]
        for _ in range(n):
            choice = self.rng.choice(["launch", "update", "kill", "remove"])
            if choice == "launch" and len(live) < MAX_LIVE:
                cid = f"c{self.next_id}"
                self.next_id += 1
                p = self.rng.choice(PORTS)
                ops.append(("launch", cid, [(p, p)]))
                live.append(cid)
            elif choice == "update" and live:
                cid = self.rng.choice(live)
                b = self.rng.choice(PORTS)
                ops.append(("update", cid, [(b, min(b + self.rng.randint(0, 3), PORTS[-1]))]))
            elif choice == "kill" and live:
                cid = self.rng.choice(live)
                live.remove(cid)
                ops.append(("kill", cid, None))
            elif ended:
                cid = self.rng.choice(ended)
                ended.remove(cid)
                ops.append(("remove", cid, None))
        return ops

    def run_op(self, agent, op):
        kind, cid, arg = op
        k = self.known.setdefault(cid, Known())
        if kind == "launch":
            status, unsent = self.call(agent, "LAUNCH_CONTAINER", container_id=agent.cid(cid),
                                       command={"shell": True, "value": SLEEP},
                                       resources=ports_resources(arg))
        elif kind == "update":
            status, unsent = self.call(agent, "UPDATE_CONTAINER", container_id=agent.cid(cid),
                                       resources=ports_resources(arg))
        elif kind == "kill":
            status, unsent = self.call(agent, "KILL_CONTAINER", container_id=agent.cid(cid))
        else:
            status, unsent = self.call(agent, "REMOVE_CONTAINER", container_id=agent.cid(cid))
        k.history.append((kind, arg, "unsent" if unsent else status))
        if status is not None and 200 <= status < 300:
            self.figures["acknowledged"] += 1
            if kind == "launch":
                k.present, k.ports = True, sorted(arg)
            elif kind == "update":
                k.ports, k.maybe_ports = sorted(arg), []
            elif kind == "kill":
                k.ended = k.killed = True
            else:
                k.removed = True
        elif status in (500, 507):
            self.figures["refused"] += 1
        elif status == 404 and not k.present:
            pass  # its launch was refused earlier in the burst
        elif status is not None:
            self.unexpected.append(f"{op}: {status}: {k.history}")
        elif not unsent:
            self.figures["unanswered"] += 1
            if kind == "update":
                k.maybe_ports.append(sorted(arg))
            else:
                k.maybe.add(kind)

    # -- one round --------------------------------------------------------------
    def round(self, n):
        fault = self.rng.choices(list(FAULTS), weights=list(FAULTS.values()))[0]
        a = self.start_agent()
        ops = self.plan(self.rng.randint(4, 10))
        crash_at = self.rng.randrange(len(ops) + 1)
        fault_at = self.rng.randrange(crash_at + 1)
        live = [i for i, k in self.known.items()
                if k.present and not k.ended and not k.removed and not k.maybe]
        touched = {cid for _, cid, _ in ops}
        if fault in ("supkill", "supstop"):
            spare = [c for c in live if c not in touched]
            if fault == "supstop" and live:
                # Stop one, then kill it through the API.
                cid = self.rng.choice(live)
                ops = [o for o in ops if o[1] != cid] + [("kill", cid, None)]
                crash_at = len(ops)
                pid = self.supervisor_pid(cid)
                os.kill(pid, signal.SIGSTOP)
                self.stopped.append(pid)
                self.known[cid].fault_end = True  # its exit status may never be recorded
            elif fault == "supkill" and spare:
                cid = self.rng.choice(spare)
                os.kill(self.supervisor_pid(cid), signal.SIGKILL)
                self.known[cid].fault_end = True
            else:
                fault = "crash"

        sent = threading.Event()
        for i, op in enumerate(ops[:fault_at]):
            self.run_op(a, op)
        if fault == "enospc":
            self.fill(self.work())
        elif fault == "eio":
            self.shutdown_fs()
        t = threading.Thread(target=burst_rest, args=(self, a, ops[fault_at:], crash_at - fault_at,
                                                      sent))
        t.start()
        sent.wait(60)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        t.join(60)
        self.assertFalse(t.is_alive(), "calls hang on a dead agent")
        if fault == "enospc":
            self.unfill(self.work())
        elif fault == "eio":
            # The disk died under everything: a power cut.
            self.release_image()
            for k in self.known.values():
                if k.present and not k.removed:
                    k.fault_end = True
            self.mount_image()
        self.agents.remove(a)

        b = self.start_agent()
        self.check(b, n, fault)
        for p in self.stopped:
            if alive(p):
                os.kill(p, signal.SIGCONT)
        self.stopped = []
        self.assertEqual(b.stop(), 0, b.log())
        self.agents.remove(b)
        self.figures["rounds"] += 1

    def check(self, agent, n, fault):
        def settled():
            cs = agent.containers()
            return [cs] if all(c["state"] not in ("DESTROYING", "LAUNCHING")
                               for c in cs.values()) else None
        cs = wait_for(settled, timeout=15, what="destroys to finish")[0]
        bad = []
        for cid, k in self.known.items():
            c = cs.get(cid)
            if k.removed:
                if c is not None:
                    bad.append(f"{cid}: removal acknowledged, still listed")
                continue
            if c is None:
                if k.present and "remove" not in k.maybe:
                    bad.append(f"{cid}: launch acknowledged, not listed")
                else:
                    k.removed = True  # never launched, or removed: gone either way
                continue
            if not k.present and "launch" not in k.maybe:
                bad.append(f"{cid}: listed, never launched")
                continue
            k.present = True
            if c["state"] == "UNKNOWN":
                bad.append(f"{cid}: UNKNOWN after a crash: {c.get('message')}")
            got = ports_of(c)
            if k.ports is not None and got != k.ports and got not in k.maybe_ports:
                bad.append(f"{cid}: ports {got}, acknowledged {k.ports}")
            k.ports = got
            k.maybe_ports = []
            term = c.get("termination", {})
            if k.killed:
                if c["state"] != "TERMINATED":
                    bad.append(f"{cid}: kill acknowledged, {c['state']}")
                elif not k.fault_end and term.get("exit_status") != signal.SIGKILL:
                    bad.append(f"{cid}: kill acknowledged, termination {term}")
            elif k.fault_end:
                if c["state"] != "TERMINATED":
                    bad.append(f"{cid}: its supervisor or disk died, {c['state']}")
                elif term.get("reason") != "REASON_EXECUTOR_TERMINATED" and \
                        term.get("exit_status") != signal.SIGKILL:
                    bad.append(f"{cid}: ended by a fault without a reason: {term}")
            elif k.ended:
                if c["state"] != "TERMINATED":
                    bad.append(f"{cid}: seen ended, now {c['state']}")
            elif c["state"] != "RUNNING" and "kill" not in k.maybe and "launch" not in k.maybe:
                bad.append(f"{cid}: nothing ended it, {c['state']}: {term}")
            k.ended = c["state"] == "TERMINATED"
            k.maybe = set()
            k.history.append(("seen", n, fault, c["state"], term))
        for cid in cs:
            if cid not in self.known:
                bad.append(f"{cid}: listed, never launched")
        if bad:
            print(f"round {n} ({fault}): " + "; ".join(bad), file=sys.stderr)
            for line in bad:
                k = self.known.get(line.split(":")[0])
                if k:
                    print(f"  {line.split(':')[0]} history: {k.history}", file=sys.stderr)
        self.figures["mismatches"] += len(bad)

    def test_acknowledged_calls_survive_crashes_and_faults(self):
        print(f"\ncrash harness: seed {SEED}, {ROUNDS} rounds", file=sys.stderr)
        self.mount_image()
        t0 = time.monotonic()
        try:
            for n in range(ROUNDS):
                self.round(n)
        finally:
            f = self.figures
            print(f"figures: crash harness seed {SEED}: {f['rounds']} rounds, {f['calls']} calls, "
                  f"{f['acknowledged']} acknowledged, {f['refused']} refused (5xx), "
                  f"{f['unanswered']} unanswered, {f['mismatches']} mismatches, "
                  f"{time.monotonic() - t0:.1f}s", file=sys.stderr)
        self.assertEqual(self.unexpected, [])
        self.assertEqual(self.figures["mismatches"], 0)


def burst_rest(test, agent, ops, crash_at, sent):
    """Run ops on agent; `sent` is set as op crash_at goes out, and the agent
    is killed while it handles it (or just before it arrives)."""
    for i, op in enumerate(ops):
        if i == crash_at:
            sent.set()
        test.run_op(agent, op)
    sent.set()
