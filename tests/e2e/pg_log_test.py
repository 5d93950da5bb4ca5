#!/usr/bin/env python3
"""End-to-end: the decision log in PostgreSQL, shared by replicas.

A real PostgreSQL 15 (tests/pg/pg_cluster.py: initdb and pg_ctl in a
temporary directory, as the `postgres` user); the schema made by
`creditctl audit migrate` as the owner role; creditd replicas writing as a
serving role that can only SELECT and INSERT, each its own chain. Checks: a
second process on one chain refuses to start; the database going away fails
decisions closed (UNAVAILABLE) and they come back by themselves; a replica
killed with -9 loses no acknowledged decision; every chain verifies against
its signed checkpoints, also after its oldest records are archived; every
audit verb reads the shared log.

    pg_log_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg"))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)
from pg_cluster import PgCluster  # noqa: E402

pb = base.pb
CREDITD = base.CREDITD
CREDITCTL = base.CREDITCTL
POLICIES = f"{base.SOURCE}/policies"


def creditctl(*args, check=True):
    run = subprocess.run([CREDITCTL, *args], capture_output=True, text=True, timeout=120)
    if check and run.returncode != 0:
        raise AssertionError(f"creditctl {' '.join(args)} exited {run.returncode}:\n"
                             f"{run.stdout}{run.stderr}")
    return run


def checkpoint_key(work):
    """An Ed25519 key pair for checkpoints in `work`: (private, public) PEM paths."""
    key = os.path.join(work, "checkpoint.key")
    pub = os.path.join(work, "checkpoint.pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub],
                   check=True, capture_output=True)
    return key, pub


def application(customer):
    return pb.EvaluateRequest(decision="credit_application",
                              facts=base.facts_from(base.example("credit_application")),
                              customer_id=customer)


class PgLogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster(ssl=True)
        cls.cluster.start().setup_roles()
        cls.work = tempfile.mkdtemp(prefix="creditd-pg-e2e-")
        cls.key, cls.pub = checkpoint_key(cls.work)
        cls.checkpoints = os.path.join(cls.work, "checkpoints")
        made = creditctl("audit", "migrate", cls.cluster.owner, "--grant", "creditd")
        assert "created the log's schema, version 1" in made.stdout, made.stdout
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for server in cls.servers:
            if server.proc.poll() is None:
                server.proc.kill()
            server.cleanup()
        cls.cluster.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def replica(self, name, extra=(), check=True):
        server = base.Server(POLICIES, [f"--replica_id={name}", f"--checkpoint_key={self.key}",
                                        f"--checkpoint_dir={self.checkpoints}",
                                        "--checkpoint_seconds=1", *extra],
                             store=self.cluster.serving)
        self.servers.append(server)
        return server

    def stop(self, server):
        code = server.stop()
        self.assertEqual(code, 0, server.output())

    def verify(self):
        return creditctl("audit", "verify", self.cluster.serving, "--checkpoints",
                         self.checkpoints, "--key", self.pub, check=False)

    def test_1_migrate_is_idempotent_and_reports_what_it_did(self):
        again = creditctl("audit", "migrate", self.cluster.owner)
        self.assertIn("schema version 1", again.stdout)
        self.assertIn("nothing to migrate", again.stdout)
        self.assertNotIn("passfile", again.stdout)  # the location shown is not the string given

    def test_2_password_on_the_command_line_is_refused(self):
        secret = "hunter2-not-here"
        store = self.cluster.serving.replace("passfile=", f"password={secret} passfile=")
        run = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={POLICIES}",
                              f"--audit_store={store}", "--replica_id=x"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("password", run.stderr)
        self.assertNotIn(secret, run.stderr)
        uri = f"postgresql://creditd:{secret}@127.0.0.1:{self.cluster.port}/creditd"
        run = creditctl("audit", "verify", uri, check=False)
        self.assertEqual(run.returncode, 2)
        self.assertNotIn(secret, run.stdout + run.stderr)

    def test_3_replicas_write_their_own_chains(self):
        a = self.replica("replica-a")
        b = self.replica("replica-b")
        ids = {}
        for server, prefix in ((a, "a"), (b, "b")):
            for i in range(20):
                answer = server.decisions.Evaluate(application(f"{prefix}{i}"), timeout=10)
                ids[answer.decision.decision_id] = prefix
        # One process per chain: a second replica-a refuses to start.
        with self.assertRaises(RuntimeError) as refused:
            self.replica("replica-a")
        self.assertIn("is held by another process", str(refused.exception))
        time.sleep(1.5)  # a periodic checkpoint
        self.stop(a)
        self.stop(b)
        verified = self.verify()
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        for chain in ("replica-a", "replica-b"):
            self.assertRegex(verified.stdout, rf"chain {chain}: 21 records, hash chain intact")
            self.assertRegex(verified.stdout, rf"chain {chain}: agrees with \d+ checkpoints")
        # Every verb reads the shared log.
        some = next(i for i, p in ids.items() if p == "b")
        shown = creditctl("audit", "show", self.cluster.serving, some)
        self.assertIn("(chain replica-b)", shown.stdout)
        listed = creditctl("audit", "list", self.cluster.serving, "--customer", "a3")
        self.assertEqual(len([l for l in listed.stdout.splitlines() if "credit_application" in l]),
                         1, listed.stdout)
        exported = creditctl("audit", "export", self.cluster.serving, "--format", "jsonl")
        self.assertEqual(sum(1 for i in ids if i in exported.stdout), len(ids))
        replayed = creditctl("audit", "replay", self.cluster.serving)
        self.assertIn("40 decisions replayed: 40 identical", replayed.stdout)
        impact = creditctl("impact", "--audit", self.cluster.serving, "--candidate", POLICIES)
        self.assertIn("40", impact.stdout)
        approvals = creditctl("audit", "approvals", self.cluster.serving)
        self.assertIn("no reload record carries any", approvals.stdout)
        site = os.path.join(self.work, "site")
        creditctl("report", POLICIES, "--out", site, "--audit", self.cluster.serving)
        with open(os.path.join(site, "index.html")) as f:
            index = f.read()
        pages = "".join(open(os.path.join(site, p)).read() for p in os.listdir(site)
                        if p.endswith(".html"))
        self.assertIn(f"postgresql://creditd@127.0.0.1:{self.cluster.port}/creditd", pages)
        self.assertNotIn("passfile", pages + index)  # the site names the log, not its files
        # The serving role may not change what is written; the owner is
        # stopped by the triggers.
        with self.assertRaises(subprocess.CalledProcessError):
            subprocess.run(["psql", self.cluster.serving, "-c",
                            "UPDATE creditd.records SET customer_id = 'x'"],
                           check=True, capture_output=True)
        owner = subprocess.run(["psql", self.cluster.owner, "-c",
                                "DELETE FROM creditd.records WHERE sequence = 2"],
                               capture_output=True, text=True)
        self.assertNotEqual(owner.returncode, 0)
        self.assertIn("append-only", owner.stderr)

    def test_4_database_down_fails_closed_and_recovers(self):
        server = self.replica("replica-c")
        acknowledged = []
        self.assertTrue(server.decisions.Evaluate(application("c0"), timeout=10).decision.decision_id)
        self.cluster.stop()
        try:
            with self.assertRaises(grpc.RpcError) as failed:
                server.decisions.Evaluate(application("c1"), timeout=20)
            self.assertEqual(failed.exception.code(), grpc.StatusCode.UNAVAILABLE)
        finally:
            self.cluster.start()
        deadline = time.time() + 30
        while True:
            try:
                acknowledged.append(
                    server.decisions.Evaluate(application("c2"), timeout=10).decision.decision_id)
                break
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE)
                if time.time() > deadline:
                    raise AssertionError("the log did not recover:\n" + server.output())
                time.sleep(0.2)
        # Told once the group commits, maybe just after its answer left.
        deadline = time.time() + 10
        while "audit log writable again" not in server.output() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("audit log writable again", server.output())
        self.stop(server)
        for decision in acknowledged:
            creditctl("audit", "show", self.cluster.serving, decision)

    def test_5_kill_9_loses_no_acknowledged_decision(self):
        server = self.replica("replica-d")
        acknowledged, lock = [], threading.Lock()
        stop = threading.Event()

        def load(prefix):
            i = 0
            while not stop.is_set():
                try:
                    answer = server.decisions.Evaluate(application(f"{prefix}{i}"), timeout=5)
                    with lock:
                        acknowledged.append(answer.decision.decision_id)
                except grpc.RpcError:
                    pass
                i += 1

        threads = [threading.Thread(target=load, args=(f"d{t}-",)) for t in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join()
        self.assertGreater(len(acknowledged), 10)
        # The chain's lock went with the killed process's session.
        again = self.replica("replica-d")
        again.decisions.Evaluate(application("after"), timeout=10)
        self.stop(again)
        exported = creditctl("audit", "export", self.cluster.serving, "--format", "jsonl")
        missing = [d for d in acknowledged if d not in exported.stdout]
        self.assertEqual(missing, [])
        verified = self.verify()
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        self.assertIn("chain replica-d:", verified.stdout)

    def test_6_archived_records_verify_from_a_checkpoint(self):
        server = self.replica("replica-e")
        for i in range(5):
            server.decisions.Evaluate(application(f"e{i}"), timeout=10)
        self.stop(server)  # the last checkpoint signs records 1 to 6
        server = self.replica("replica-e")
        for i in range(3):
            server.decisions.Evaluate(application(f"e{i + 5}"), timeout=10)
        self.stop(server)
        # Archive: the owner removes the chain's first six records, as
        # dropping an old month's partition would.
        partition = self.cluster.psql(
            "SELECT tableoid::regclass FROM creditd.records WHERE chain_id = 'replica-e' LIMIT 1",
            db="creditd").strip()
        self.cluster.psql(f"ALTER TABLE {partition} DISABLE TRIGGER USER; "
                          f"DELETE FROM {partition} WHERE chain_id = 'replica-e' "
                          f"AND sequence <= 6; ALTER TABLE {partition} ENABLE TRIGGER USER",
                          db="creditd")
        verified = self.verify()
        self.assertRegex(verified.stdout, r"chain replica-e: records 7 to 10, hash chain intact; "
                         r"records 1 to 6 are not in the log \(archived; the chain resumes at "
                         r"20\d\d-")
        self.assertRegex(verified.stdout, r"chain replica-e: agrees with \d+ checkpoints")
        self.assertNotIn("replica-e: records 1 to 6 are not in the log, and", verified.stdout)
        # Without the checkpoints that cover the records held, nothing
        # vouches for them: keep only this chain's checkpoints of fewer
        # records than were removed.
        partial = os.path.join(self.work, "partial-checkpoints")
        os.makedirs(partial)
        for name in os.listdir(self.checkpoints):
            with open(os.path.join(self.checkpoints, name)) as f:
                note = f.read()
            records = int(re.search(r"^records (\d+)$", note, re.M).group(1))
            if "chain replica-e\n" not in note or records < 6:
                shutil.copy(os.path.join(self.checkpoints, name), partial)
        verified = creditctl("audit", "verify", self.cluster.serving, "--checkpoints", partial,
                             "--key", self.pub, check=False)
        self.assertEqual(verified.returncode, 1, verified.stdout)
        self.assertIn("chain replica-e: records 1 to 6 are not in the log, and no checkpoint the "
                      "log agrees with covers where it resumes", verified.stdout)
        # Removing a record in the middle breaks the chain, checkpoints or not.
        self.cluster.psql(f"ALTER TABLE {partition} DISABLE TRIGGER USER; "
                          f"DELETE FROM {partition} WHERE chain_id = 'replica-e' "
                          f"AND sequence = 8; ALTER TABLE {partition} ENABLE TRIGGER USER",
                          db="creditd")
        verified = self.verify()
        self.assertEqual(verified.returncode, 1, verified.stdout)
        self.assertIn("chain replica-e: record 9 is broken: expected record 8, found 9",
                      verified.stdout)

    def test_7_verify_full_tls_to_the_database(self):
        secure = (f"host=localhost port={self.cluster.port} dbname=creditd user=creditd "
                  f"passfile={self.cluster.passfile} sslmode=verify-full "
                  f"sslrootcert={self.cluster.ca}")
        server = base.Server(POLICIES, ["--replica_id=replica-tls"], store=secure)
        self.servers.append(server)
        server.decisions.Evaluate(application("tls"), timeout=10)
        encrypted = self.cluster.psql(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
            "WHERE a.application_name = 'creditd' AND a.usename = 'creditd'")
        self.assertEqual(set(encrypted.split()), {"t"}, encrypted)
        self.stop(server)
        # Another CA's certificate is not the database's: no start.
        other = os.path.join(self.work, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=other", "-keyout", other + ".key", "-out", other],
                       check=True, capture_output=True)
        run = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={POLICIES}",
                              f"--audit_store={secure.replace(self.cluster.ca, other)}",
                              "--replica_id=replica-tls"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn("certificate verify failed", run.stderr)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
