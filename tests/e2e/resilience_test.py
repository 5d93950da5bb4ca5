#!/usr/bin/env python3
"""End-to-end resilience: reloads under load, kill -9 with the audit log
intact, and failing closed when the audit log cannot be written.

    resilience_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)

import grpc  # noqa: E402

pb = base.pb
CREDITCTL = base.CREDITCTL
SOURCE = base.SOURCE


def copy_policies():
    root = tempfile.mkdtemp(prefix="creditd-policies-")
    shutil.copytree(os.path.join(SOURCE, "policies"), os.path.join(root, "policies"))
    return os.path.join(root, "policies")


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def dunning_request(**kw):
    return pb.EvaluateRequest(decision="dunning", facts=base.facts_from(base.example("dunning")), **kw)


class Load:
    """Sends requests from a few threads until stopped; records everything."""

    def __init__(self, stub, threads=3):
        self.stub = stub
        self.stop = threading.Event()
        self.ok_ids = []
        self.versions = set()
        self.errors = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stop.is_set():
            try:
                r = self.stub.Evaluate(dunning_request(), timeout=10).decision
                with self.lock:
                    self.ok_ids.append(r.decision_id)
                    self.versions.add((r.policy.version, r.policy.sha256))
            except grpc.RpcError as e:
                with self.lock:
                    self.errors.append(e.code())

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def logged_ids(path):
    db = sqlite3.connect(path)
    ids = {row[0] for row in db.execute("SELECT decision_id FROM decisions")}
    db.close()
    return ids


class ResilienceTest(unittest.TestCase):
    def audit(self, verb, db):
        return subprocess.run([CREDITCTL, "audit", verb, db], capture_output=True, text=True)

    def test_reload_good_and_bad(self):
        policies = copy_policies()
        server = base.Server(policies)
        try:
            first = server.decisions.Evaluate(dunning_request(), timeout=10).decision.policy
            path = os.path.join(policies, "dunning.credit")
            original = read(path)
            write(path, original.replace("version 1.0.0", "version 1.1.0")
                                  .replace("overdue_amount < 1_000", "overdue_amount < 2_000"))
            reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
            self.assertTrue(reply.accepted, reply.report)
            now = server.decisions.Evaluate(dunning_request(), timeout=10).decision.policy
            self.assertEqual(now.version, "1.1.0")
            pinned = server.decisions.Evaluate(dunning_request(policy_version="1.0.0"),
                                               timeout=10).decision.policy
            self.assertEqual(pinned.sha256, first.sha256)
            # A broken candidate is rejected with its diagnostics; 1.1.0 keeps serving.
            write(path, original.replace("input overdue_amount:", "input overdue_amount"))
            reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
            self.assertFalse(reply.accepted)
            self.assertIn("E0001", reply.report)
            self.assertEqual(server.decisions.Evaluate(dunning_request(), timeout=10)
                             .decision.policy.version, "1.1.0")
            # SIGHUP reloads too.
            write(path, original.replace("version 1.0.0", "version 1.2.0"))
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 20
            version = ""
            while time.time() < deadline and version != "1.2.0":
                time.sleep(0.1)
                version = server.decisions.Evaluate(dunning_request(), timeout=10).decision.policy.version
            self.assertEqual(version, "1.2.0")
        finally:
            self.assertEqual(server.stop(), 0)
            server.cleanup()
            shutil.rmtree(os.path.dirname(policies), ignore_errors=True)

    def test_watch_reloads_when_a_policy_file_changes(self):
        policies = copy_policies()
        server = base.Server(policies, ["--watch_seconds=1"])
        try:
            path = os.path.join(policies, "dunning.credit")
            write(path, read(path).replace("version 1.0.0", "version 1.3.0"))
            deadline = time.time() + 20
            version = ""
            while time.time() < deadline and version != "1.3.0":
                time.sleep(0.2)
                version = server.decisions.Evaluate(dunning_request(), timeout=10).decision.policy.version
            self.assertEqual(version, "1.3.0")
            self.assertIn("policy files changed, reloading", server.output())
        finally:
            self.assertEqual(server.stop(), 0)
            server.cleanup()
            shutil.rmtree(os.path.dirname(policies), ignore_errors=True)

    def test_hundred_reloads_under_load(self):
        policies = copy_policies()
        server = base.Server(policies)
        try:
            path = os.path.join(policies, "dunning.credit")
            good = read(path)
            bad = good.replace("input overdue_amount:", "input overdue_amount")
            load = Load(server.decisions)
            accepted = 0
            for i in range(100):
                write(path, bad if i % 2 else good)
                reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
                accepted += reply.accepted
            load.finish()
            self.assertEqual(accepted, 50)
            self.assertEqual(load.errors, [])
            self.assertGreater(len(load.ok_ids), 0)
            self.assertEqual(len(load.versions), 1)  # only the one good version ever served
        finally:
            self.assertEqual(server.stop(), 0)
            self.assertEqual(self.audit("verify", server.audit).returncode, 0)
            server.cleanup()
            shutil.rmtree(os.path.dirname(policies), ignore_errors=True)

    def test_kill_9_keeps_every_answered_decision(self):
        server = base.Server(os.path.join(SOURCE, "policies"))
        keep = tempfile.mkdtemp(prefix="creditd-crash-")
        try:
            load = Load(server.decisions)
            time.sleep(1.0)
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(timeout=30)
            load.finish()
            db = os.path.join(keep, "audit.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(server.audit + suffix):
                    shutil.copy(server.audit + suffix, db + suffix)
            # Restart on the same log: it opens, verifies and continues.
            again = base.Server(os.path.join(SOURCE, "policies"), audit=server.audit)
            again.decisions.Evaluate(dunning_request(), timeout=10)
            self.assertEqual(again.stop(), 0)
            verify = self.audit("verify", again.audit)
            self.assertEqual(verify.returncode, 0, verify.stdout)
            verify = self.audit("verify", db)
            self.assertEqual(verify.returncode, 0, verify.stdout)
            self.assertGreater(len(load.ok_ids), 0)
            missing = set(load.ok_ids) - logged_ids(db)
            self.assertEqual(missing, set())
            again.cleanup()
        finally:
            server.cleanup()
            shutil.rmtree(keep, ignore_errors=True)

    def test_fails_closed_when_the_log_cannot_be_written(self):
        server = base.Server(os.path.join(SOURCE, "policies"))
        try:
            load = Load(server.decisions)
            time.sleep(0.5)
            # No file may grow: every audit write fails (like a full disk).
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
            deadline = time.time() + 20
            while time.time() < deadline and grpc.StatusCode.UNAVAILABLE not in load.errors:
                time.sleep(0.05)
            self.assertIn(grpc.StatusCode.UNAVAILABLE, load.errors)
            with load.lock:
                before = len(load.ok_ids)
            time.sleep(1.0)
            with load.lock:
                during = len(load.ok_ids) - before
            # Writable again: decisions are served again, by themselves.
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            deadline = time.time() + 20
            while time.time() < deadline:
                with load.lock:
                    if len(load.ok_ids) > before + during + 5:
                        break
                time.sleep(0.05)
            load.finish()
            self.assertEqual(during, 0, "decisions were answered while the log could not be written")
            self.assertGreater(len(load.ok_ids), before + during + 5, "did not recover")
            self.assertEqual(set(load.errors), {grpc.StatusCode.UNAVAILABLE})
        finally:
            self.assertEqual(server.stop(), 0)
            self.assertEqual(self.audit("verify", server.audit).returncode, 0)
            self.assertEqual(set(load.ok_ids) - logged_ids(server.audit), set())
            server.cleanup()

    def test_default_deadline_answers_when_the_log_stalls(self):
        server = base.Server(os.path.join(SOURCE, "policies"), ["--default_deadline_ms=1000"])
        try:
            server.decisions.Evaluate(dunning_request(), timeout=10)
            # Another writer holds the log's write lock: commits wait for it.
            server.hold_log()
            start = time.time()
            with self.assertRaises(grpc.RpcError) as caught:
                server.decisions.Evaluate(dunning_request())  # no deadline of its own
            waited = time.time() - start
            self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            self.assertLess(waited, 4.0)
            self.assertGreaterEqual(waited, 0.9)
            # The caller's own deadline wins over the default.
            with self.assertRaises(grpc.RpcError) as caught:
                server.decisions.Evaluate(dunning_request(), timeout=0.3)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            server.release_log()
            answer = server.decisions.Evaluate(dunning_request(), timeout=10)
            self.assertTrue(answer.decision.decision_id)
        finally:
            self.assertEqual(server.stop(), 0)
            self.assertEqual(self.audit("verify", server.audit).returncode, 0)
            server.cleanup()

    def test_sigterm_drains_promptly_and_finishes_calls_in_flight(self):
        server = base.Server(os.path.join(SOURCE, "policies"), ["--default_deadline_ms=0"])
        try:
            server.decisions.Evaluate(dunning_request(), timeout=10)
            # One call in flight: its commit waits for another writer's lock.
            server.hold_log()
            pending = server.decisions.Evaluate.future(dunning_request(), timeout=30)
            time.sleep(0.3)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            # Draining: health says NOT_SERVING, new calls are refused.
            self.assertEqual(server.health(), b"\x08\x02")  # NOT_SERVING
            with self.assertRaises(grpc.RpcError) as caught:
                server.decisions.Evaluate(dunning_request(), timeout=5)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertIn("shutting down", caught.exception.details())
            # The call in flight is answered once the log can be written, and
            # the server exits soon after, though the client stays connected.
            server.release_log()
            answered_id = pending.result(timeout=20).decision.decision_id
            start = time.time()
            self.assertEqual(server.proc.wait(timeout=20), 0)
            self.assertLess(time.time() - start, 5)
            self.assertIn(answered_id, logged_ids(server.audit))
        finally:
            if server.proc.poll() is None:
                server.proc.kill()
            self.assertEqual(self.audit("verify", server.audit).returncode, 0)
            server.cleanup()

    def test_async_mode_tells_a_failing_log_and_names_what_it_could_not_write(self):
        # The report: on a full disk, async mode answered all 3,000 calls, logged
        # no error, and a clean SIGTERM exited 0 with 2,991 answered decisions
        # missing from the log.
        server = base.Server(os.path.join(SOURCE, "policies"),
                             ["--audit_durability=async", "--audit_max_queue=200",
                              "--drain_seconds=2"])
        try:
            server.decisions.Evaluate(dunning_request(), timeout=10)
            time.sleep(0.3)
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
            answered, refused = 0, 0
            for _ in range(400):
                try:
                    server.decisions.Evaluate(dunning_request(), timeout=10)
                    answered += 1
                except grpc.RpcError as e:
                    self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e.details())
                    refused += 1
            # The failure is logged at once, not when someone waits on a commit.
            deadline = time.time() + 10
            while time.time() < deadline and \
                    "audit log cannot be written" not in server.output():
                time.sleep(0.05)
            self.assertIn("audit log cannot be written", server.output())
            # The queue holds its limit, then calls are refused.
            self.assertGreater(refused, 0)
            server.proc.send_signal(signal.SIGTERM)
            started = time.time()
            code = server.proc.wait(timeout=60)
            server.copier.join(timeout=10)
            self.assertLess(time.time() - started, 15)
            self.assertEqual(code, 3, server.output())
            m = re.search(r"(\d+) decisions were answered but could not be written",
                          server.output())
            self.assertIsNotNone(m, server.output())
            unwritten = int(m.group(1))
            self.assertGreater(unwritten, 0)
            self.assertLessEqual(unwritten, 200)  # the queue's bound
            # Every answered decision is either in the log or counted.
            db = sqlite3.connect(server.audit)
            logged = db.execute("SELECT count(*) FROM decisions WHERE kind = 'decision'")
            self.assertEqual(logged.fetchone()[0] - 1 + unwritten, answered)
            db.close()
        finally:
            if server.proc.poll() is None:
                server.proc.kill()
            server.cleanup()

    def test_the_log_has_no_shared_memory_file_to_break(self):
        # A "-shm" file truncated or made unwritable under a running SQLite
        # ends the process with SIGBUS. creditd keeps the WAL index in its
        # own memory: whatever happens to such a file, it serves on.
        server = base.Server(os.path.join(SOURCE, "policies"))
        try:
            first = server.decisions.Evaluate(dunning_request(), timeout=10).decision.decision_id
            shm = server.audit + "-shm"
            self.assertFalse(os.path.exists(shm), "creditd maps a shared -shm file")
            for content in (b"", b"\xff" * 4096, b"\0" * 32768):
                write_bytes(shm, content)
                os.truncate(shm, 0)
                for _ in range(50):
                    server.decisions.Evaluate(dunning_request(), timeout=10)
            # Made immutable where the file system allows it (root ignores
            # permissions, not the immutable flag).
            subprocess.run(["chattr", "+i", shm], capture_output=True)
            try:
                for _ in range(200):
                    server.decisions.Evaluate(dunning_request(), timeout=10)
            finally:
                subprocess.run(["chattr", "-i", shm], capture_output=True)
            self.assertIsNone(server.proc.poll(), server.output())
            # Readers are told to read a snapshot, which holds every answer.
            live = self.audit("verify", server.audit)
            self.assertEqual(live.returncode, 2, live.stdout + live.stderr)  # cannot read
            self.assertIn("is held by the creditd writing it", live.stderr)
            self.assertIn("SIGUSR1", live.stderr)
            snapshot = server.snapshot()
            verify = self.audit("verify", snapshot)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
            self.assertIn(first, logged_ids(snapshot))
            db = sqlite3.connect(snapshot)
            decisions = db.execute("SELECT count(*) FROM decisions WHERE kind = 'decision'")
            self.assertEqual(decisions.fetchone()[0], 1 + 3 * 50 + 200)
            db.close()
        finally:
            self.assertEqual(server.stop(), 0)
            self.assertEqual(self.audit("verify", server.audit).returncode, 0)
            server.cleanup()

    def test_a_second_server_on_the_same_log_refuses_to_start(self):
        first = base.Server(os.path.join(SOURCE, "policies"))
        try:
            first.decisions.Evaluate(dunning_request(), timeout=10)
            second = subprocess.run(
                [base.CREDITD, "--listen=127.0.0.1:0", f"--policies={SOURCE}/policies",
                 f"--audit_db={first.audit}"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(second.returncode, 0)
            self.assertIn("is in use by another process", second.stderr)
            self.assertNotIn("listening on", second.stderr + second.stdout)
            # The first goes on, and once it has stopped the log opens again.
            first.decisions.Evaluate(dunning_request(), timeout=10)
            self.assertEqual(first.stop(), 0)
            again = base.Server(os.path.join(SOURCE, "policies"), audit=first.audit)
            try:
                again.decisions.Evaluate(dunning_request(), timeout=10)
            finally:
                self.assertEqual(again.stop(), 0)
                again.cleanup()
            self.assertEqual(self.audit("verify", first.audit).returncode, 0)
        finally:
            if first.proc.poll() is None:
                first.stop()
            first.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
