"""Nothing lost: what the agent acknowledges is on disk, every ending has a
reason, what it cannot read is still reported, and it leaves no debris.

Full disks are real: the work dir is a 1 MiB tmpfs mounted below the test's
temp dir and filled with a file (unmounted in cleanup, after the agents and
every process of the test are gone, even when the test failed). Ports
31900-31949."""
import errno
import json
import os
import signal
import subprocess
import time

from agent_fixture import AgentTestCase, ports_resources, wait_for
from portiso_test import alive, cgroup_v1_freezer, cgroup_v2_mount, kill_cgroup_tree
from test_agent_bpf import AgentBpfTestCase

SLEEP = "exec sleep 1000"


def read(path):
    with open(path) as f:
        return f.read()


def ports_of(container):
    """A GET_CONTAINERS entry's ports as a sorted list of (begin, end)."""
    out = []
    for r in container.get("resources", []):
        out += [(x["begin"], x["end"]) for x in r["ranges"].get("range", [])]
    return sorted(out)


class DurabilityTestCase(AgentTestCase):
    def work(self):
        return os.path.join(self.tmp, "work")

    def meta(self, id):
        parts = id.split("/")
        return os.path.join(self.work(), "meta", "containers",
                            *"/containers/".join(parts).split("/"))

    def sandbox(self, id):
        parts = id.split("/")
        return os.path.join(self.work(), "containers", *"/containers/".join(parts).split("/"))

    def supervisor_pid(self, id):
        return int(read(os.path.join(self.meta(id), "supervisor")).split()[0])

    def main_pid(self, agent, id):
        return agent.containers()[id]["container_status"]["executor_pid"]

    def lines(self, agent, level, needle):
        return [l for l in agent.log().splitlines() if l.startswith(level) and needle in l]

    def restart(self, old, **flags):
        self.assertEqual(old.stop(), 0, old.log())
        return self.start_agent(**flags)

    # -- a small work dir ------------------------------------------------------
    def work_on_tmpfs(self, size="1m"):
        path = self.work()
        os.makedirs(path)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path],
                       check=True)
        self.addCleanup(self._unmount, path)
        return path

    def _unmount(self, path):
        # Agents, supervisors and tasks keep files open in there: all go first.
        for a in self.agents:
            try:
                a.stop()
            except AssertionError:
                pass
        for base in filter(None, (cgroup_v2_mount(), cgroup_v1_freezer())):
            kill_cgroup_tree(os.path.join(base, self.cgroups_root))
        for _ in range(200):
            if subprocess.run(["umount", path], capture_output=True).returncode == 0:
                return
            time.sleep(0.02)
        subprocess.run(["umount", "-l", path], check=True)

    def fill(self, path):
        """Fill the file system at path to its last byte."""
        fd = os.open(os.path.join(path, "fill"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for chunk in (65536, 4096, 1):
                while True:
                    try:
                        os.write(fd, b"\0" * chunk)
                    except OSError as e:
                        self.assertEqual(e.errno, errno.ENOSPC)
                        break
        finally:
            os.close(fd)
        self.assertEqual(os.statvfs(path).f_bavail, 0)

    def unfill(self, path):
        os.unlink(os.path.join(path, "fill"))


class TestFullDisk(DurabilityTestCase):
    def test_update_that_cannot_be_checkpointed_is_refused_and_not_applied(self):
        work = self.work_on_tmpfs()
        a = self.start_agent()
        a.launch("u", SLEEP, ports=[31900])
        a.wait_state("u", "RUNNING")

        self.fill(work)
        status, text = a.call("UPDATE_CONTAINER", expect=None, container_id=a.cid("u"),
                              resources=ports_resources([(31900, 31901)]))
        self.assertEqual(status, 507, text)
        self.assertIn("No space left on device", text)
        self.assertNotIn("\n", text.strip())
        # Not applied: the allocation is the one last acknowledged.
        self.assertEqual(ports_of(a.containers()["u"]), [(31900, 31900)])

        # With space again, a restarted agent has that allocation too ...
        self.unfill(work)
        a = self.restart(a)
        self.assertEqual(a.state("u"), "RUNNING")
        self.assertEqual(ports_of(a.containers()["u"]), [(31900, 31900)])
        # ... and an acknowledged update survives the next restart.
        a.update("u", [(31900, 31901)])
        a = self.restart(a)
        self.assertEqual(ports_of(a.containers()["u"]), [(31900, 31901)])
        a.kill("u")
        self.assertEqual(a.wait("u")["exit_status"], 9)

    def test_launch_on_a_full_disk_fails_cleanly(self):
        work = self.work_on_tmpfs()
        a = self.start_agent()
        self.fill(work)
        status, text = a.call("LAUNCH_CONTAINER", expect=None, container_id=a.cid("full"),
                              command={"shell": True, "value": SLEEP})
        self.assertEqual(status, 507, text)
        self.assertIn("No space left on device", text)
        self.assertNotIn("full", a.containers())
        self.assertFalse(os.path.exists(self.cgroup_path("full")))
        # The failure is answered once what the launch wrote is gone.
        self.assertEqual(os.listdir(os.path.join(work, "meta", "containers")), [])
        self.assertEqual(os.listdir(os.path.join(work, "containers")), [])
        self.assertEqual(a.get("/health")[0], 200)
        # Space again: the same launch works.
        self.unfill(work)
        a.launch("full", SLEEP)
        a.wait_state("full", "RUNNING")
        a.kill("full")
        a.wait("full")

    def test_launch_refused_after_its_config_was_written_stays_refused_after_a_crash(self):
        # One page left: config.json fits, the reserved records do not.
        work = self.work_on_tmpfs()
        a = self.start_agent()
        self.fill(work)
        fill = os.path.join(work, "fill")
        os.truncate(fill, os.path.getsize(fill) - 4096)
        status, text = a.call("LAUNCH_CONTAINER", expect=None, container_id=a.cid("half"),
                              command={"shell": True, "value": SLEEP})
        self.assertEqual(status, 507, text)
        self.assertIn("cannot reserve", text)
        # Killed right after the answer: nothing of the launch may be left
        # for the next agent to list.
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        self.agents.remove(a)
        self.assertEqual(os.listdir(os.path.join(work, "meta", "containers")), [])
        self.unfill(work)
        b = self.start_agent()
        self.assertNotIn("half", b.containers())
        self.assertEqual(b.stop(), 0, b.log())

    def test_exit_statuses_are_kept_on_a_full_disk(self):
        work = self.work_on_tmpfs()
        go = os.path.join(self.tmp, "go")  # off the full file system
        a = self.start_agent()
        a.launch("seven", f"while [ ! -e {go} ]; do sleep 0.01; done; exit 7")
        a.launch("killed", SLEEP)
        a.wait_state("seven", "RUNNING")
        a.wait_state("killed", "RUNNING")

        self.fill(work)
        open(go, "w").close()
        self.assertEqual(a.wait("seven"), {"exit_status": 7 << 8})
        a.kill("killed")  # its termination record was reserved at launch
        self.assertEqual(a.wait("killed"), {"exit_status": signal.SIGKILL})
        self.assertEqual(self.lines(a, "E", ""), [], a.log())

        # Still full: a restarted agent reports the same, and removes them.
        a = self.restart(a)
        self.assertEqual(a.wait("seven"), {"exit_status": 7 << 8})
        self.assertEqual(a.wait("killed"), {"exit_status": signal.SIGKILL})
        a.remove("seven")
        a.remove("killed")
        a = self.restart(a)
        self.assertEqual(a.containers(), {})


class TestEndings(DurabilityTestCase):
    def assert_executor_terminated(self, agent, id, w, needle):
        self.assertEqual(w.get("state"), "TASK_FAILED", w)
        self.assertEqual(w.get("reason"), "REASON_EXECUTOR_TERMINATED", w)
        self.assertIn(needle, w.get("message", ""))
        # One warning says it, no info line.
        self.assertEqual(len(self.lines(agent, "W", f"Container {id} ")), 1, agent.log())
        self.assertEqual(self.lines(agent, "I", f"Container {id} "), [], agent.log())

    def test_supervisor_killed_or_terminated(self):
        a = self.start_agent()
        for sig in (signal.SIGKILL, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                cid = f"sup-{sig.name}"
                a.launch(cid, SLEEP)
                a.wait_state(cid, "RUNNING")
                main, sup = self.main_pid(a, cid), self.supervisor_pid(cid)
                os.kill(sup, sig)
                w = a.wait(cid)
                self.assertNotIn("exit_status", w)
                self.assert_executor_terminated(a, cid, w, f"supervisor (pid {sup})")
                wait_for(lambda: not alive(main), what="the task to be killed")
                self.assertFalse(os.path.exists(self.cgroup_path(cid)))
        # Recorded: a restarted agent says the same.
        b = self.restart(a)
        w = b.wait("sup-SIGKILL")
        self.assertEqual(w.get("reason"), "REASON_EXECUTOR_TERMINATED", w)

    def test_cgroup_killed_from_outside(self):
        a = self.start_agent()
        a.launch("outside", SLEEP)
        a.wait_state("outside", "RUNNING")
        with open(os.path.join(self.cgroup_path("outside"), "cgroup.kill"), "w") as f:
            f.write("1")
        w = a.wait("outside")
        self.assertEqual(w["exit_status"], signal.SIGKILL)
        self.assert_executor_terminated(a, "outside", w, "from outside the agent")

    def test_stopped_supervisor_does_not_stall_a_destroy(self):
        a = self.start_agent()
        a.launch("stopped", SLEEP)
        a.wait_state("stopped", "RUNNING")
        sup = self.supervisor_pid("stopped")
        os.kill(sup, signal.SIGSTOP)
        self.addCleanup(lambda: alive(sup) and os.kill(sup, signal.SIGCONT))
        a.kill("stopped")
        # The destroy's bound ends it, and the supervisor, without its help.
        w = a.wait("stopped", timeout=15)
        self.assertIn(f"supervisor {sup} did not exit", w.get("message", ""))
        self.assertNotIn("reason", w)
        wait_for(lambda: not alive(sup), what="the stopped supervisor to be killed")
        self.assertEqual(len(self.lines(a, "W", f"supervisor {sup} did not exit")), 1, a.log())
        # Recorded: a restarted agent says the same.
        b = self.restart(a)
        self.assertIn(f"supervisor {sup} did not exit", b.wait("stopped").get("message", ""))

    def test_main_process_gone_while_the_agent_was_down(self):
        a = self.start_agent()
        a.launch("gone", SLEEP)
        a.wait_state("gone", "RUNNING")
        main, sup = self.main_pid(a, "gone"), self.supervisor_pid("gone")
        self.assertEqual(a.stop(), 0, a.log())
        os.kill(sup, signal.SIGKILL)
        wait_for(lambda: not alive(sup), what="the supervisor to die")
        os.kill(main, signal.SIGKILL)
        wait_for(lambda: not alive(main), what="the task to die")
        b = self.start_agent()
        w = b.wait("gone")
        self.assert_executor_terminated(b, "gone", w, "were gone when the agent recovered it")


class TestUnreadable(DurabilityTestCase):
    def test_live_container_without_config_is_unknown_then_killed_and_removed(self):
        a = self.start_agent()
        a.launch("lost", SLEEP)
        a.launch("lost/child", SLEEP)
        a.wait_state("lost/child", "RUNNING")
        pids = {c: self.main_pid(a, c) for c in ("lost", "lost/child")}
        self.assertEqual(a.stop(), 0, a.log())
        config = os.path.join(self.meta("lost"), "config.json")
        os.unlink(config)

        for start in range(2):  # logged once per start
            b = self.start_agent()
            cs = b.containers()
            self.assertEqual(cs["lost"]["state"], "UNKNOWN")
            self.assertIn(config, cs["lost"]["message"])
            self.assertEqual(cs["lost/child"]["state"], "RUNNING")
            self.assertNotIn("resources", cs["lost"])
            self.assertEqual(len(self.lines(b, "W", "Container lost is running")), 1, b.log())
            for pid in pids.values():
                self.assertTrue(alive(pid))
            if start == 0:
                self.assertEqual(b.stop(), 0, b.log())
        b.kill("lost")
        self.assertEqual(b.wait("lost")["exit_status"], signal.SIGKILL)
        self.assertEqual(b.wait("lost/child")["exit_status"], signal.SIGKILL)
        b.remove("lost")
        self.assertEqual(b.containers(), {})
        self.assertFalse(os.path.exists(self.meta("lost")))
        self.assertFalse(os.path.exists(self.sandbox("lost")))
        self.assertFalse(os.path.exists(self.cgroup_path("lost")))

    def test_cgroup_without_checkpoint_is_unknown_not_killed(self):
        a = self.start_agent()
        cg = self.cgroup_path("stray")
        p = self.spawn_in_cgroup(cg, ["sleep", "1000"])
        wait_for(lambda: read(os.path.join(cg, "cgroup.procs")).strip(),
                 what="the stray process to enter its cgroup")
        b = self.restart(a)
        self.assertEqual(b.state("stray"), "UNKNOWN")
        self.assertIn("no checkpoint", b.containers()["stray"]["message"])
        self.assertIsNone(p.poll())
        b.kill("stray")
        self.assertEqual(b.wait("stray")["exit_status"], signal.SIGKILL)
        p.wait(timeout=10)
        b.remove("stray")
        self.assertFalse(os.path.exists(cg))
        self.assertEqual(b.containers(), {})

    def test_unknown_container_that_ends_by_itself_is_terminated(self):
        a = self.start_agent()
        cg = self.cgroup_path("lone")
        p = self.spawn_in_cgroup(cg, ["sleep", "1000"])
        wait_for(lambda: read(os.path.join(cg, "cgroup.procs")).strip(),
                 what="the stray process to enter its cgroup")
        b = self.restart(a)
        self.assertEqual(b.state("lone"), "UNKNOWN")
        p.kill()
        p.wait()
        b.wait_state("lone", "TERMINATED")
        t = b.containers()["lone"]["termination"]
        self.assertEqual(t["reason"], "REASON_EXECUTOR_TERMINATED")
        self.assertIn("while its checkpoint was unreadable", t["message"])
        b.remove("lone")
        self.assertFalse(os.path.exists(cg))

    def test_ended_container_with_corrupt_records_stays_terminated(self):
        a = self.start_agent()
        for cid, code in (("badexit", 3), ("badterm", 4)):
            a.launch(cid, f"exit {code}")
            self.assertEqual(a.wait(cid)["exit_status"], code << 8)
        self.assertEqual(a.stop(), 0, a.log())
        with open(os.path.join(self.meta("badexit"), "exit_status"), "w") as f:
            f.write("not a number\n")
        with open(os.path.join(self.meta("badterm"), "termination.json"), "w") as f:
            f.write("{\"state\": ")
        b = self.start_agent()
        b.wait_state("badexit", "TERMINATED")
        b.wait_state("badterm", "TERMINATED")
        cs = b.containers()
        self.assertEqual(cs["badexit"]["termination"]["reason"], "REASON_EXECUTOR_TERMINATED")
        self.assertIn("exit status record is corrupt", cs["badexit"]["termination"]["message"])
        self.assertEqual(cs["badterm"]["state"], "TERMINATED")
        self.assertEqual(cs["badterm"]["termination"], {"exit_status": 4 << 8})
        for path in ("badexit/exit_status", "badterm/termination.json"):
            self.assertEqual(len(self.lines(b, "W", path)), 1, b.log())


class TestNoDebris(DurabilityTestCase):
    def test_launch_that_never_completed_is_removed_once(self):
        a = self.start_agent()
        self.assertEqual(a.stop(), 0, a.log())
        # What an agent killed inside write_file_atomic() leaves.
        meta, sandbox = self.meta("half"), self.sandbox("half")
        os.makedirs(meta)
        os.makedirs(sandbox)
        with open(os.path.join(meta, "config.json.tmp.4242"), "w") as f:
            f.write("{\"id\": \"ha")
        b = self.start_agent()
        self.assertEqual(b.containers(), {})
        self.assertFalse(os.path.exists(meta))
        self.assertFalse(os.path.exists(sandbox))
        self.assertEqual(len(self.lines(b, "I", "launch never completed")), 1, b.log())
        self.assertEqual([l for l in b.log().splitlines() if l[:1] in "EW"], [], b.log())
        c = self.restart(b)
        self.assertEqual(self.lines(c, "I", "launch never completed"), [])

    def test_remove_leaves_no_file(self):
        a = self.start_agent()
        a.launch("r", "echo out; exit 0")
        a.launch("r2", SLEEP)
        a.launch("r2/n", "echo nested; exec sleep 1000")
        a.wait("r")
        a.remove("r")
        a.kill("r2")
        a.wait("r2/n")
        a.wait("r2")
        a.remove("r2")
        # Renamed aside before the answer, deleted off the loop soon after.
        for sub in ("meta/containers", "containers"):
            left = lambda: os.listdir(os.path.join(self.work(), sub))
            self.assertNotIn("r", left())
            self.assertNotIn("r2", left())
            wait_for(lambda: left() == [], timeout=30, what=f"{sub} to be empty")

    def test_stopped_agent_without_containers_leaves_no_cgroup(self):
        a = self.start_agent()
        root = self.cgroup_path()
        self.assertTrue(os.path.isdir(os.path.join(root, ".supervisors")))
        a.launch("k", SLEEP)
        a.wait_state("k", "RUNNING")
        # A running container keeps the root and the supervisors' cgroup.
        a = self.restart(a)
        self.assertTrue(os.path.isdir(os.path.join(root, ".supervisors")))
        a.kill("k")
        a.wait("k")
        # Killed but not removed: nothing needs a cgroup any more.
        self.assertEqual(a.stop(), 0, a.log())
        self.assertFalse(os.path.exists(root), os.listdir(root) if os.path.exists(root) else "")
        b = self.start_agent()
        b.wait_state("k", "TERMINATED")
        b.remove("k")
        self.assertEqual(b.stop(), 0, b.log())
        self.assertFalse(os.path.exists(root))
        # Nor its API socket.
        self.assertEqual(os.listdir(os.path.join(self.tmp, "run")), [])


class TestNoPinsLeft(AgentBpfTestCase):
    def test_killed_last_container_and_stopped_agent_leave_no_pin(self):
        a = self.agent(container_ports_prevent_bind=True)
        self.assertEqual(a.metrics()["network_ports/prevent_bind"], 1, a.log())
        a.launch("p", SLEEP, ports=[26001])
        a.wait_state("p", "RUNNING")
        self.assertTrue(os.path.isdir(self.pin_dir))
        a.kill("p")
        a.wait("p")
        # Stopped before the container is removed: nothing needs the pins.
        self.assertEqual(a.stop(), 0, a.log())
        self.assertFalse(os.path.exists(self.pin_dir), os.listdir(self.pin_dir)
                         if os.path.isdir(self.pin_dir) else "")
        b = self.agent(container_ports_prevent_bind=True)
        b.wait_state("p", "TERMINATED")
        self.assertEqual(b.stop(), 0, b.log())
        self.assertFalse(os.path.exists(self.pin_dir))
