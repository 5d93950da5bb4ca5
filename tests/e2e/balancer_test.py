#!/usr/bin/env python3
"""End-to-end: creditd replicas behind HAProxy (deploy/haproxy-l7.cfg and
deploy/haproxy-l4.cfg, as shipped), with real certificates, and connections
that age out.

    balancer_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)
import security_test as sec  # noqa: E402

import grpc  # noqa: E402

pb = base.pb
rpc = base.rpc
CREDITCTL = base.CREDITCTL
SOURCE = base.SOURCE
POLICIES = os.path.join(SOURCE, "policies")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

ORDERS = "spiffe://credit.test/orders"
AUDITOR = "auditor.credit.test"
BALANCER = "spiffe://credit.test/balancer"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dunning(request_id=""):
    return pb.EvaluateRequest(decision="dunning", request_id=request_id,
                              facts=base.facts_from(base.example("dunning")))


class Haproxy:
    """haproxy -db -f CONFIG in the foreground, its "${...}" from `env`."""

    def __init__(self, config, env):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="haproxy-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [HAPROXY, "-db", "-f", os.path.join(SOURCE, "deploy", config)],
            env=dict(os.environ, LISTEN=f"127.0.0.1:{self.port}", **env),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("haproxy did not start:\n" + self.output())
                time.sleep(0.05)

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        os.unlink(self.log.name)


def logged(snapshot, decision_id):
    """`creditctl audit show` of a decision in a log's snapshot, as a dict of
    its lines; None when that log does not hold it."""
    shown = subprocess.run([CREDITCTL, "audit", "show", snapshot, decision_id],
                           capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    return dict(line.split(":", 1) for line in shown.stdout.splitlines() if ":" in line)


def balancer_pki():
    """A test CA and the certificates of creditd (`server`), the balancer's
    edge (`edge`) and own client certificate (`balancer`), and two clients
    (`orders`, `auditor`); `roles` and `balancers` files for creditd."""
    pki = sec.Pki()
    pki.ca("ca")
    pki.cert("ca", "server", "DNS:localhost,IP:127.0.0.1", server=True)
    pki.cert("ca", "edge", "DNS:localhost,IP:127.0.0.1", server=True)
    pki.cert("ca", "balancer", f"URI:{BALANCER}")
    pki.cert("ca", "orders", f"URI:{ORDERS},DNS:orders.credit.test")
    pki.cert("ca", "auditor", f"DNS:{AUDITOR}")
    # HAProxy takes a certificate and its key in one file.
    for name in ("edge", "balancer"):
        with open(pki.path(f"{name}.bundle"), "wb") as f:
            f.write(pki.read(name, "pem") + pki.read(name, "key"))
    with open(pki.path("roles"), "w") as f:
        f.write(f"evaluate {ORDERS}\nreview {AUDITOR}\n")
    with open(pki.path("balancers"), "w") as f:
        f.write(f"# the L7 balancer's own certificate\n{BALANCER}\n")
    return pki


def l7_env(pki, ports):
    """deploy/haproxy-l7.cfg's settings for these certificates and replicas."""
    return {"CREDITD_1": f"127.0.0.1:{ports[0]}", "CREDITD_2": f"127.0.0.1:{ports[1]}",
            "EDGE_PEM": pki.path("edge.bundle"), "CLIENT_CA": pki.path("ca.pem"),
            "BALANCER_PEM": pki.path("balancer.bundle"), "CREDITD_CA": pki.path("ca.pem"),
            "CREDITD_NAME": "localhost"}


class BalancerTest(unittest.TestCase):
    """Two creditd replicas, each with its own log, behind HAProxy at L7
    (TLS ended at the balancer, the client's certificate forwarded over
    mTLS) and at L4 (TLS passed through)."""

    @classmethod
    def setUpClass(cls):
        cls.pki = pki = balancer_pki()
        flags = [f"--tls_cert={pki.path('server.pem')}", f"--tls_key={pki.path('server.key')}",
                 f"--tls_client_ca={pki.path('ca.pem')}", f"--roles={pki.path('roles')}",
                 f"--trusted_balancers={pki.path('balancers')}", "--max_calls_per_caller=1"]
        cls.replicas = [sec.TlsServer(POLICIES, extra=flags) for _ in range(2)]
        backends = {f"CREDITD_{i + 1}": f"127.0.0.1:{r.port}" for i, r in enumerate(cls.replicas)}
        cls.l7 = Haproxy("haproxy-l7.cfg", l7_env(pki, [r.port for r in cls.replicas]))
        cls.l4 = Haproxy("haproxy-l4.cfg", backends)
        # Both replicas up as the balancer sees them (its first checks).
        deadline = time.time() + 15
        while True:
            try:
                cls.call(cls.l7.port, "orders")
                break
            except grpc.RpcError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        outputs = [r.output() for r in cls.replicas]
        codes = []
        for balancer in (cls.l7, cls.l4):
            balancer.stop()
        for replica in cls.replicas:
            codes.append(replica.stop() if replica.proc.poll() is None else "killed")
            replica.cleanup()
        cls.pki.cleanup()
        for code, output in zip(codes, outputs):
            if code not in (0, "killed"):
                raise AssertionError(f"creditd exited with {code}:\n{output}")

    @classmethod
    def channel(cls, port, client):
        creds = grpc.ssl_channel_credentials(
            root_certificates=cls.pki.read("ca", "pem"),
            private_key=cls.pki.read(client, "key"),
            certificate_chain=cls.pki.read(client, "pem"))
        return grpc.secure_channel(f"localhost:{port}", creds)

    @classmethod
    def call(cls, port, client, method="evaluate", metadata=()):
        with cls.channel(port, client) as channel:
            if method == "evaluate":
                return rpc.DecisionServiceStub(channel).Evaluate(dunning(), timeout=10,
                                                                 metadata=metadata)
            return rpc.PolicyServiceStub(channel).ListPolicies(
                pb.ListPoliciesRequest(), timeout=10, metadata=metadata)

    def refused(self, port, client, method="evaluate", metadata=()):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call(port, client, method, metadata)
        return caught.exception

    def where_logged(self, *decision_ids):
        """For each decision, the replica that logged it and its record."""
        snapshots = [(r, r.snapshot()) for r in self.replicas if r.proc.poll() is None]
        places = []
        for decision_id in decision_ids:
            found = [(r, logged(path, decision_id)) for r, path in snapshots]
            found = [(r, record) for r, record in found if record is not None]
            self.assertEqual(len(found), 1, f"{decision_id} logged by {len(found)} replicas")
            places.append(found[0])
        return places if len(decision_ids) > 1 else places[0]

    def test_each_client_is_itself_through_the_balancer(self):
        # The roles are the forwarded identities': orders may evaluate, not
        # review; the auditor the reverse. The balancer itself has no role.
        decision = self.call(self.l7.port, "orders").decision
        self.assertEqual(decision.decision, "dunning")
        self.assertTrue(self.call(self.l7.port, "auditor", "list").policies)
        denied = self.refused(self.l7.port, "auditor")
        self.assertEqual(denied.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn(f"`{AUDITOR}` may not call /credit.v1.DecisionService/Evaluate",
                      denied.details())
        self.assertEqual(self.refused(self.l7.port, "orders", "list").code(),
                         grpc.StatusCode.PERMISSION_DENIED)
        # The log names the client as the caller, and the balancer it came
        # through.
        replica, record = self.where_logged(decision.decision_id)
        self.assertEqual(record["caller"].strip(), ORDERS)
        self.assertEqual(record["via"].strip(), BALANCER)
        verify = subprocess.run([CREDITCTL, "audit", "verify", replica.snapshot()],
                                capture_output=True, text=True)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)

    def test_calls_split_over_both_replicas(self):
        with self.channel(self.l7.port, "orders") as channel:
            stub = rpc.DecisionServiceStub(channel)
            ids = [stub.Evaluate(dunning(str(i)), timeout=10).decision.decision_id
                   for i in range(12)]
        counts = [0, 0]
        for replica_index, replica in enumerate(self.replicas):
            export = subprocess.run(
                [CREDITCTL, "audit", "export", replica.snapshot(), "--format", "jsonl"],
                capture_output=True, text=True, check=True).stdout
            counts[replica_index] = sum(1 for i in ids if f'"decision_id":"{i}"' in export)
        self.assertEqual(sum(counts), len(ids), counts)
        self.assertTrue(all(c >= 3 for c in counts), f"calls per replica: {counts}")

    def test_the_header_from_anyone_but_a_trusted_balancer_is_refused(self):
        forged = base64.b64encode(
            subprocess.run(["openssl", "x509", "-in", self.pki.path("auditor.pem"),
                            "-outform", "DER"], capture_output=True, check=True).stdout).decode()
        # Straight to a replica, with a certificate of one's own: refused,
        # whichever certificate is forwarded.
        direct = self.replicas[0].port
        e = self.refused(direct, "orders", "list", metadata=[("x-ssl-client-der", forged)])
        self.assertEqual(e.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn(f"`{ORDERS}` is not a trusted balancer", e.details())
        # Through the balancer, which drops what the client sent and
        # forwards the certificate of the client's handshake.
        e = self.refused(self.l7.port, "orders", "list",
                         metadata=[("x-ssl-client-der", forged)])
        self.assertEqual(e.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn(f"`{ORDERS}` may not call", e.details())
        # The balancer's own certificate, without a client's, is no caller.
        e = self.refused(direct, "balancer")
        self.assertEqual(e.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("without a client certificate", e.details())
        # An empty certificate is no identity.
        e = self.refused(direct, "balancer", metadata=[("x-ssl-client-der", "")])
        self.assertEqual(e.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("is empty", e.details())

    def test_per_caller_limits_count_the_forwarded_identity(self):
        # --max_calls_per_caller=1 on each replica. A stream held open by a
        # client counts on one replica; of its next two calls, round robin
        # sends one to that replica, which refuses it.
        release = threading.Event()

        def held():
            yield dunning("held")
            release.wait(10)

        outcomes = []
        with self.channel(self.l7.port, "orders") as channel:
            stub = rpc.DecisionServiceStub(channel)
            stream = stub.EvaluateStream(held(), timeout=20)
            try:
                self.assertEqual(next(stream).request_id, "held")
                for _ in range(2):
                    try:
                        outcomes.append(stub.Evaluate(dunning(), timeout=10).decision.decision)
                    except grpc.RpcError as e:
                        outcomes.append((e.code(), e.details()))
            finally:
                release.set()
            self.assertEqual([a.request_id for a in stream], [])  # it ends cleanly
            # A stream that has ended counts no more, on either replica.
            for _ in range(2):
                stub.Evaluate(dunning(), timeout=10)
        self.assertIn("dunning", outcomes)
        refusals = [o for o in outcomes if isinstance(o, tuple)]
        self.assertEqual(len(refusals), 1, outcomes)
        self.assertEqual(refusals[0][0], grpc.StatusCode.RESOURCE_EXHAUSTED, refusals)
        self.assertIn(f"`{ORDERS}` already has 1 calls in flight", refusals[0][1])

    def test_l4_passthrough_keeps_mtls_end_to_end(self):
        decision = self.call(self.l4.port, "orders").decision
        self.assertEqual(self.refused(self.l4.port, "auditor").code(),
                         grpc.StatusCode.PERMISSION_DENIED)
        _, record = self.where_logged(decision.decision_id)
        self.assertEqual(record["caller"].strip(), ORDERS)
        self.assertNotIn("via", record)  # a direct caller

    def test_zz_a_killed_replica_leaves_the_other_serving(self):
        # Last: it kills a replica.
        self.replicas[1].proc.send_signal(signal.SIGKILL)
        self.replicas[1].proc.wait(timeout=10)
        with self.channel(self.l7.port, "orders") as channel:
            stub = rpc.DecisionServiceStub(channel)
            ids = [stub.Evaluate(dunning(str(i)), timeout=10).decision.decision_id
                   for i in range(10)]
        for replica, record in self.where_logged(*ids):
            self.assertIs(replica, self.replicas[0])
            self.assertEqual(record["caller"].strip(), ORDERS)


class ConnectionAgeTest(unittest.TestCase):
    """--max_connection_age_seconds: a connection is told to go (GOAWAY) and
    the client reconnects; calls in flight finish within the grace, and not
    after it."""

    @classmethod
    def setUpClass(cls):
        cls.server = base.Server(POLICIES, extra=["--max_connection_age_seconds=1",
                                                  "--max_connection_age_grace_seconds=3"])

    @classmethod
    def tearDownClass(cls):
        output = cls.server.output()
        code = cls.server.stop()
        cls.server.cleanup()
        if code != 0:
            raise AssertionError(f"creditd exited with {code}:\n{output}")

    def paced(self, count, every, sent):
        for i in range(count):
            sent.append(time.time())
            yield dunning(str(i))
            time.sleep(every)

    def test_a_connection_is_replaced_and_a_stream_in_flight_finishes(self):
        states = []
        channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        channel.subscribe(lambda state: states.append(state))
        try:
            stub = rpc.DecisionServiceStub(channel)
            stub.Evaluate(dunning(), timeout=10)
            start = time.time()
            sent = []
            # About 2.4 s of requests on one stream: past the age (1 s, give
            # or take 10%), within age and grace.
            stream = stub.EvaluateStream(self.paced(8, 0.3, sent), timeout=20)
            answers = []
            for answer in stream:
                answers.append(answer)
                if len(answers) == 6:
                    # Past the age: the channel was told to go and went
                    # idle, and a new call opens a new connection.
                    self.assertGreater(time.time() - start, 1.1)
                    self.assertIn(grpc.ChannelConnectivity.IDLE, states, states)
                    stub.Evaluate(dunning(), timeout=10)
            self.assertEqual([a.request_id for a in answers], [str(i) for i in range(8)])
            self.assertTrue(all(a.HasField("decision") for a in answers))
            self.assertGreater(time.time() - start, 2.0)
            ready = [s for s in states if s == grpc.ChannelConnectivity.READY]
            self.assertGreaterEqual(len(ready), 2, states)  # connected again
        finally:
            channel.close()

    def test_a_stream_longer_than_age_and_grace_is_cut(self):
        with grpc.insecure_channel(f"127.0.0.1:{self.server.port}") as channel:
            stub = rpc.DecisionServiceStub(channel)
            start = time.time()
            sent = []
            answers = []
            with self.assertRaises(grpc.RpcError) as caught:
                for answer in stub.EvaluateStream(self.paced(40, 0.25, sent), timeout=20):
                    answers.append(answer)
            elapsed = time.time() - start
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # Age (0.9..1.1 s) plus grace (3 s), with room for a slow machine.
        self.assertGreater(elapsed, 3.8)
        self.assertLess(elapsed, 7)
        self.assertGreater(len(answers), 10)


if __name__ == "__main__":
    unittest.main()
