#!/usr/bin/env python3
"""End-to-end: two creditd replicas writing one PostgreSQL decision log,
behind HAProxy at L7 (deploy/haproxy-l7.cfg as shipped, real certificates:
the balancer ends the clients' TLS and calls creditd over mTLS, forwarding
the client's certificate). The load generator runs through the balancer
while one replica is killed with -9 and restarted. Checks: every decision
the load generator saw answered is in the log; the other replica keeps
serving through the balancer meanwhile; every chain verifies against its
signed checkpoints; each logged call names its client and the balancer.

    replicas_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR LOADGEN_BINARY
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

LOADGEN = os.path.abspath(sys.argv.pop(4)) if len(sys.argv) > 4 else None

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg"))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)
import security_test as sec  # noqa: E402
import balancer_test as bal  # noqa: E402
import pg_log_test  # noqa: E402
from pg_cluster import PgCluster  # noqa: E402

import grpc  # noqa: E402

CREDITCTL = base.CREDITCTL
POLICIES = bal.POLICIES
ORDERS = bal.ORDERS
BALANCER = bal.BALANCER


class ReplicasTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = PgCluster()
        cls.cluster.start().setup_roles()
        subprocess.run([CREDITCTL, "audit", "migrate", cls.cluster.owner, "--grant", "creditd"],
                       check=True, capture_output=True)
        cls.work = tempfile.mkdtemp(prefix="creditd-replicas-")
        cls.key, cls.pub = pg_log_test.checkpoint_key(cls.work)
        cls.checkpoints = os.path.join(cls.work, "checkpoints")
        cls.pki = bal.balancer_pki()
        cls.ports = [bal.free_port(), bal.free_port()]
        cls.replicas = [cls.replica(i) for i in range(2)]
        cls.l7 = bal.Haproxy("haproxy-l7.cfg", bal.l7_env(cls.pki, cls.ports))
        deadline = time.time() + 15
        while True:
            try:
                cls.call()
                break
            except grpc.RpcError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    @classmethod
    def replica(cls, i):
        pki = cls.pki
        return sec.TlsServer(POLICIES, store=cls.cluster.serving, extra=[
            f"--listen=127.0.0.1:{cls.ports[i]}", f"--replica_id=replica-{i + 1}",
            f"--tls_cert={pki.path('server.pem')}", f"--tls_key={pki.path('server.key')}",
            f"--tls_client_ca={pki.path('ca.pem')}", f"--roles={pki.path('roles')}",
            f"--trusted_balancers={pki.path('balancers')}",
            f"--checkpoint_key={cls.key}", f"--checkpoint_dir={cls.checkpoints}",
            "--checkpoint_seconds=1"])

    @classmethod
    def tearDownClass(cls):
        cls.l7.stop()
        for replica in cls.replicas:
            if replica.proc.poll() is None:
                replica.proc.kill()
            replica.cleanup()
        cls.pki.cleanup()
        cls.cluster.close()

    @classmethod
    def call(cls):
        """An Evaluate through the balancer, as the orders service."""
        creds = grpc.ssl_channel_credentials(
            root_certificates=cls.pki.read("ca", "pem"),
            private_key=cls.pki.read("orders", "key"),
            certificate_chain=cls.pki.read("orders", "pem"))
        with grpc.secure_channel(f"localhost:{cls.l7.port}", creds) as channel:
            return base.rpc.DecisionServiceStub(channel).Evaluate(bal.dunning(), timeout=10)

    def test_a_replica_killed_under_load_loses_no_acknowledged_decision(self):
        self.assertIsNotNone(LOADGEN, "give the load generator's path")
        acked = os.path.join(self.work, "acked.txt")
        pki = self.pki
        load = subprocess.Popen(
            [LOADGEN, f"--target=127.0.0.1:{self.l7.port}", "--server_name=localhost",
             f"--ca_file={pki.path('ca.pem')}", f"--cert_file={pki.path('orders.pem')}",
             f"--key_file={pki.path('orders.key')}", f"--policies={POLICIES}",
             "--mode=evaluate", "--seconds=8", "--warmup_seconds=0", "--concurrency=16",
             "--deadline_ms=5000", f"--acked_ids_file={acked}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)
        killed = self.replicas[0]
        killed.proc.send_signal(signal.SIGKILL)
        killed.proc.wait(timeout=10)
        # The other replica serves through the balancer meanwhile.
        served_meanwhile = 0
        for _ in range(10):
            try:
                self.call()
                served_meanwhile += 1
            except grpc.RpcError:
                pass
        self.assertGreaterEqual(served_meanwhile, 9)
        # The same replica id takes its chain again (the lock went with the
        # killed process's session), on the same address.
        killed.cleanup()
        self.replicas[0] = self.replica(0)
        out, _ = load.communicate(timeout=120)
        rate = re.search(r"evaluate\s+(\d+) calls", out)
        self.assertIsNotNone(rate, out)
        answered = int(rate.group(1))
        print(f"through the balancer, one replica killed and restarted:\n{out}", file=sys.stderr)
        self.assertGreater(answered, 50, out)
        for replica in self.replicas:
            self.assertEqual(replica.stop(), 0, replica.output())
        with open(acked) as f:
            acked_ids = [line.strip() for line in f if line.strip()]
        self.assertGreaterEqual(len(acked_ids), answered)
        logged = set(self.cluster.psql(
            "SELECT convert_from(decision_id, 'UTF8') FROM creditd.records", db="creditd").split())
        missing = [i for i in acked_ids if i not in logged]
        self.assertEqual(missing, [], f"{len(missing)} acknowledged decisions not logged")
        # Both chains took calls, and verify against their checkpoints.
        chains = self.cluster.psql(
            "SELECT chain_id, count(*) FROM creditd.records WHERE kind = 'decision'::bytea "
            "GROUP BY chain_id ORDER BY chain_id", db="creditd").split()
        self.assertEqual([c.split("|")[0] for c in chains], ["replica-1", "replica-2"], chains)
        verified = subprocess.run([CREDITCTL, "audit", "verify", self.cluster.serving,
                                   "--checkpoints", self.checkpoints, "--key", self.pub],
                                  capture_output=True, text=True)
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        for chain in ("replica-1", "replica-2"):
            self.assertRegex(verified.stdout, rf"chain {chain}: \d+ records, hash chain intact")
            self.assertRegex(verified.stdout, rf"chain {chain}: agrees with \d+ checkpoints")
        # A logged call names its client, and the balancer it came through.
        shown = subprocess.run([CREDITCTL, "audit", "show", self.cluster.serving, acked_ids[0]],
                               capture_output=True, text=True)
        self.assertIn(f"caller:       {ORDERS}", shown.stdout)
        self.assertIn(BALANCER, shown.stdout)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
