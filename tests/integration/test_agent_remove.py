"""REMOVE_CONTAINER against the real agent: the container's checkpoint and
sandbox are renamed aside ("<dir>.<n>.removed") before the answer, and
deleted afterwards by a thread of the agent's own, off the loop; a tomb that
could not be deleted is swept at the next start. Ports 31850-31859."""
import glob
import os
import subprocess

from agent_fixture import PYTHON, AgentTestCase, wait_for


class TestRemove(AgentTestCase):
    def tombs(self):
        work = os.path.join(self.tmp, "work")
        return (glob.glob(os.path.join(work, "containers", "*.removed")) +
                glob.glob(os.path.join(work, "meta", "containers", "*.removed")))

    def stderr_of(self, id):
        try:
            with open(os.path.join(self.sandbox(id), "stderr"), errors="replace") as f:
                return f.read()
        except OSError as e:
            return str(e)

    def sandbox(self, id):
        return os.path.join(self.tmp, "work", "containers", id)

    def test_many_files_deleted_after_the_answer(self):
        a = self.start_agent()
        # The task leaves 5000 files in its sandbox.
        a.launch("big", f"{PYTHON} -c \"import os; os.mkdir('d'); "
                 f"[open(f'd/{{i}}', 'w').close() for i in range(5000)]\"",
                 ports=[(31850, 31850)])
        self.assertEqual(a.wait("big")["exit_status"], 0, self.stderr_of("big"))
        self.assertEqual(len(os.listdir(os.path.join(self.sandbox("big"), "d"))), 5000)
        a.remove("big")
        # Gone from its place at once; its tombs are deleted soon after.
        self.assertFalse(os.path.exists(self.sandbox("big")))
        wait_for(lambda: not self.tombs(), timeout=60, what="the tombs to be deleted")
        self.assertEqual(a.call("GET_HEALTH")["get_health"], {"healthy": True})
        # The id is free again, and a second removal gets tombs of its own.
        for _ in range(2):
            a.launch("big", "echo again > f", ports=[(31850, 31850)])
            self.assertEqual(a.wait("big")["exit_status"], 0)
            a.remove("big")
        wait_for(lambda: not self.tombs(), timeout=60, what="the tombs to be deleted")

    def test_undeletable_tomb_swept_at_the_next_start(self):
        a = self.start_agent()
        a.launch("imm", "echo x > keep", ports=[(31851, 31851)])
        self.assertEqual(a.wait("imm")["exit_status"], 0)
        keep = os.path.join(self.sandbox("imm"), "keep")
        # An immutable file: not even root's unlink() takes it.
        subprocess.run(["chattr", "+i", keep], check=True)
        self.addCleanup(subprocess.run, ["chattr", "-R", "-i", self.tmp],
                        capture_output=True)
        a.remove("imm")
        self.assertFalse(os.path.exists(self.sandbox("imm")))
        # The answer did not depend on the deletion: the tomb stays, named
        # apart from the directory it was.
        sandbox_tombs = [t for t in self.tombs() if "/meta/" not in t]
        self.assertEqual(len(sandbox_tombs), 1, self.tombs())
        self.assertRegex(os.path.basename(sandbox_tombs[0]), r"^imm\.\d+\.removed$")
        self.assertTrue(os.path.exists(os.path.join(sandbox_tombs[0], "keep")))
        self.assertEqual(a.stop(), 0)
        subprocess.run(["chattr", "-i", os.path.join(sandbox_tombs[0], "keep")], check=True)
        a = self.start_agent()
        self.assertEqual(self.tombs(), [])
        self.assertNotIn("imm", a.containers())
