#!/usr/bin/env python3
"""End-to-end: the decision log as evidence. A checkpointed log is cut,
rewritten and forked, and `creditctl audit verify --checkpoints` names each;
docs/audit.md's operator and reviewer steps are run exactly as the page
writes them.

    audit_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import glob
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)

pb = base.pb
CREDITCTL = base.CREDITCTL
SOURCE = base.SOURCE
POLICIES = os.path.join(SOURCE, "policies")

FIELDS = ["decision_id", "time", "customer_id", "request_id", "decision", "policy_name",
          "policy_version", "policy_sha256", "facts", "result", "kind", "caller"]
FIELDS_SINCE_FORMAT_5 = FIELDS + ["outcome"]
FIELDS_SINCE_FORMAT_6 = FIELDS_SINCE_FORMAT_5 + ["challenger"]
FIELDS_SINCE_FORMAT_7 = FIELDS_SINCE_FORMAT_6 + ["via"]


def doc_block(marker):
    """The commands of the sh block after `<!-- marker -->` in docs/audit.md."""
    with open(os.path.join(SOURCE, "docs", "audit.md")) as f:
        text = f.read()
    m = re.search(r"<!-- " + re.escape(marker) + r" -->\n```sh\n(.*?)```", text, re.S)
    if m is None:
        raise AssertionError(f"docs/audit.md has no `{marker}` block")
    return [line for line in m.group(1).splitlines() if line.strip()]


def run_steps(lines, cwd):
    """Runs each line with bash in `cwd`, creditctl on the PATH."""
    env = dict(os.environ, PATH=os.path.dirname(CREDITCTL) + os.pathsep + os.environ["PATH"])
    return [subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True)
            for line in lines]


def field_hash(value):
    data = value.encode() if isinstance(value, str) else value
    return str(len(data)).encode() + b":" + data + b";"


def record_hash(previous, sequence, row, fmt):
    """The chain as docs/audit.md writes it, for records of format 4 and later."""
    fields = (FIELDS_SINCE_FORMAT_7 if fmt >= 7 else
              FIELDS_SINCE_FORMAT_6 if fmt >= 6 else
              FIELDS_SINCE_FORMAT_5 if fmt >= 5 else FIELDS)
    content = b"".join(field_hash(row[f]) for f in fields) + field_hash(f"format {fmt}")
    content_hash = hashlib.sha256(content).hexdigest()
    return hashlib.sha256(f"{previous};{sequence};{content_hash}".encode()).hexdigest()


def rechain(path, first):
    """Recomputes every hash from record `first` on, as someone rewriting the
    log with write access would."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    fmt = db.execute("SELECT format FROM log_format ORDER BY first_sequence DESC").fetchone()[0]
    rows = db.execute("SELECT * FROM decisions ORDER BY sequence").fetchall()
    previous = rows[first - 2]["hash"] if first > 1 else ""
    for row in rows[first - 1:]:
        h = record_hash(previous, row["sequence"], row, fmt)
        db.execute("UPDATE decisions SET previous_hash = ?, hash = ? WHERE sequence = ?",
                   (previous, h, row["sequence"]))
        previous = h
    db.commit()
    db.close()


def records(path):
    db = sqlite3.connect(path)
    n = db.execute("SELECT count(*) FROM decisions").fetchone()[0]
    db.close()
    return n


def dunning():
    return pb.EvaluateRequest(decision="dunning",
                              facts=base.facts_from(base.example("dunning")))


class AuditEvidenceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="creditd-evidence-")
        # The operator's steps, as docs/audit.md writes them.
        steps = run_steps(doc_block("operator-steps"), cls.work)
        for step in steps:
            if step.returncode != 0:
                raise AssertionError(f"{step.args}: {step.stderr}")
        cls.key = os.path.join(cls.work, "checkpoint.key")
        cls.pub = os.path.join(cls.work, "checkpoint.pub")
        cls.checkpoints = os.path.join(cls.work, "checkpoints")
        server = base.Server(POLICIES, [f"--checkpoint_key={cls.key}",
                                        f"--checkpoint_dir={cls.checkpoints}",
                                        "--checkpoint_seconds=1"])
        try:
            for _ in range(5):
                server.decisions.Evaluate(dunning(), timeout=10)
            time.sleep(2.5)  # a periodic checkpoint of these
            for _ in range(5):
                server.decisions.Evaluate(dunning(), timeout=10)
            # A reviewer's copy, taken while creditd runs.
            cls.snapshot = os.path.join(cls.work, "snapshot.db")
            shutil.copy(server.snapshot(), cls.snapshot)
            cls.shipped = os.path.join(cls.work, "shipped")
            shutil.copytree(cls.checkpoints, cls.shipped)
            for _ in range(3):
                server.decisions.Evaluate(dunning(), timeout=10)
        finally:
            code = server.stop()
            output = server.output()
        if code != 0:
            raise AssertionError(f"creditd exited with {code}:\n{output}")
        cls.log = os.path.join(cls.work, "audit.db")
        shutil.copy(server.audit, cls.log)
        server.cleanup()
        cls.records = records(cls.log)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def copy_of_log(self, name):
        path = os.path.join(self.work, name)
        shutil.copy(self.log, path)
        return path

    def copy_of_checkpoints(self, name):
        path = os.path.join(self.work, name)
        shutil.copytree(self.checkpoints, path)
        return path

    def verify(self, log, checkpoints=None):
        return subprocess.run(
            [CREDITCTL, "audit", "verify", log, "--checkpoints", checkpoints or self.checkpoints,
             "--key", self.pub], capture_output=True, text=True)

    def test_checkpoints_are_signed_periodically_and_at_exit(self):
        files = sorted(os.listdir(self.checkpoints))
        counts = [int(name.split("-")[0]) for name in files]
        self.assertGreaterEqual(len(files), 2, files)  # periodic, exit (a new log: none at start)
        self.assertIn(6, counts)                       # the reload at start and 5 decisions
        self.assertEqual(max(counts), self.records)    # the last one signs everything
        verify = self.verify(self.log)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn(f"the newest covers {self.records} of its {self.records} records",
                      verify.stdout)

    def test_the_reviewer_steps_verify_a_copy_as_the_page_writes_them(self):
        reviewer = os.path.join(self.work, "reviewer")
        os.mkdir(reviewer)
        shutil.copy(self.snapshot, os.path.join(reviewer, "creditd-audit.db.snapshot"))
        shutil.copytree(self.shipped, os.path.join(reviewer, "checkpoints"))
        shutil.copy(self.pub, os.path.join(reviewer, "checkpoint.pub"))
        verify, replay = run_steps(doc_block("reviewer-steps"), reviewer)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertRegex(verify.stdout, r"agrees with \d+ checkpoints signed by key [0-9a-f]{8}")
        self.assertEqual(replay.returncode, 0, replay.stdout + replay.stderr)
        self.assertIn("0 differ, 0 could not be re-run", replay.stdout)
        # The same steps on a copy someone cut short fail, naming the cut.
        db = sqlite3.connect(os.path.join(reviewer, "creditd-audit.db.snapshot"))
        last = db.execute("SELECT max(sequence) FROM decisions").fetchone()[0]
        db.execute("DELETE FROM decisions WHERE sequence > 3")
        db.commit()
        db.close()
        verify, _ = run_steps(doc_block("reviewer-steps"), reviewer)
        self.assertEqual(verify.returncode, 1, verify.stdout + verify.stderr)
        self.assertIn("truncated", verify.stdout)
        self.assertGreater(last, 3)

    def test_truncation_is_named_with_the_first_record_cut(self):
        log = self.copy_of_log("truncated.db")
        db = sqlite3.connect(log)
        db.execute("DELETE FROM decisions WHERE sequence > ?", (self.records - 3,))
        db.commit()
        db.close()
        plain = subprocess.run([CREDITCTL, "audit", "verify", log], capture_output=True, text=True)
        self.assertEqual(plain.returncode, 0, plain.stdout)  # the chain alone cannot tell
        verify = self.verify(log)
        self.assertEqual(verify.returncode, 1, verify.stdout + verify.stderr)
        self.assertIn(f"truncated: the log holds {self.records - 3} records", verify.stdout)
        self.assertIn(f"(first record concerned: {self.records - 2})", verify.stdout)
        # Every record deleted.
        db = sqlite3.connect(log)
        db.execute("DELETE FROM decisions")
        db.commit()
        db.close()
        verify = self.verify(log)
        self.assertEqual(verify.returncode, 1, verify.stdout + verify.stderr)
        self.assertIn("(first record concerned: 1)", verify.stdout)

    def test_a_rewrite_with_the_chain_recomputed_is_named(self):
        log = self.copy_of_log("rewritten.db")
        db = sqlite3.connect(log)
        # A decision's result is the answer's protobuf bytes (a BLOB): changed
        # as bytes, kept as bytes.
        db.execute("UPDATE decisions SET result = CAST(replace(result, 'yellow', 'green') AS BLOB)"
                   " WHERE sequence = 4 AND instr(result, 'yellow') > 0")
        self.assertEqual(db.total_changes, 1)
        db.commit()
        db.close()
        rechain(log, 4)
        plain = subprocess.run([CREDITCTL, "audit", "verify", log], capture_output=True, text=True)
        self.assertEqual(plain.returncode, 0, plain.stdout)  # the chain alone cannot tell
        verify = self.verify(log)
        self.assertEqual(verify.returncode, 1, verify.stdout + verify.stderr)
        self.assertIn("rewritten", verify.stdout)
        m = re.search(r"rewritten: .*\(first record concerned: (\d+)\)", verify.stdout)
        self.assertIsNotNone(m, verify.stdout)
        self.assertLessEqual(int(m.group(1)), 4)
        # A forged record appended, hashed as creditd would, is not covered.
        appended = self.copy_of_log("appended.db")
        db = sqlite3.connect(appended)
        db.execute("INSERT INTO decisions SELECT sequence + 1, decision_id || 'x', time, "
                   "customer_id, request_id, decision, policy_name, policy_version, policy_sha256,"
                   " facts, result, kind, caller, outcome, challenger, via, previous_hash, hash"
                   " FROM decisions "
                   "WHERE sequence = ?", (self.records,))
        db.commit()
        db.close()
        rechain(appended, self.records + 1)
        verify = self.verify(appended)
        self.assertIn(f"records {self.records + 1} to {self.records + 1} are not covered",
                      verify.stdout)

    def test_a_fork_signed_with_the_same_key_is_named(self):
        # Someone with the key rewrites the log and lets creditd sign it: the
        # rewritten history's checkpoints sit beside the original ones.
        log = self.copy_of_log("forked.db")
        db = sqlite3.connect(log)
        db.execute("UPDATE decisions SET customer_id = 'someone-else' WHERE sequence = 2")
        db.commit()
        db.close()
        rechain(log, 2)
        checkpoints = self.copy_of_checkpoints("forked-checkpoints")
        server = base.Server(POLICIES, [f"--checkpoint_key={self.key}",
                                        f"--checkpoint_dir={checkpoints}"], audit=log)
        self.assertEqual(server.stop(), 0)
        server.cleanup()
        verify = self.verify(log, checkpoints)
        self.assertEqual(verify.returncode, 1, verify.stdout + verify.stderr)
        self.assertIn("forked", verify.stdout)
        m = re.search(r"forked: .*\(first record concerned: (\d+)\)", verify.stdout)
        self.assertIsNotNone(m, verify.stdout)
        self.assertLessEqual(int(m.group(1)), 2)

    def test_checkpoints_of_another_key_or_a_forged_note_are_refused(self):
        other = os.path.join(self.work, "other")
        os.mkdir(other)
        run_steps(doc_block("operator-steps"), other)
        verify = subprocess.run(
            [CREDITCTL, "audit", "verify", self.log, "--checkpoints", self.checkpoints, "--key",
             os.path.join(other, "checkpoint.pub")], capture_output=True, text=True)
        self.assertEqual(verify.returncode, 1, verify.stdout + verify.stderr)
        self.assertIn("signed by key", verify.stdout)
        self.assertIn("no checkpoint", verify.stdout)
        usage = subprocess.run([CREDITCTL, "audit", "verify", self.log, "--checkpoints",
                                self.checkpoints], capture_output=True, text=True)
        self.assertEqual(usage.returncode, 2)
        self.assertIn("--checkpoints and --key go together", usage.stderr)

    def test_a_bad_key_keeps_creditd_from_starting(self):
        bad = os.path.join(self.work, "not-a-key")
        with open(bad, "w") as f:
            f.write("hello\n")
        run = subprocess.run([base.CREDITD, "--listen=127.0.0.1:0", f"--policies={POLICIES}",
                              f"--audit_db={os.path.join(self.work, 'bad-key.db')}",
                              f"--checkpoint_key={bad}"], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(run.returncode, 2)
        self.assertIn("is not a PEM private key", run.stderr + run.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
