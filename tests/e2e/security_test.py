#!/usr/bin/env python3
"""End-to-end security: TLS, mTLS and bearer tokens, roles per call, and a
table of malformed requests and streams, each with its exact status code and
message, none logged as a decision, the connection still answering after.

    security_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import concurrent.futures
import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import ssl
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
rpc = base.rpc
CREDITCTL = base.CREDITCTL
SOURCE = base.SOURCE
POLICIES = os.path.join(SOURCE, "policies")


def raw_unary(channel, method):
    return channel.unary_unary(method, request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)


def raw_stream(channel):
    return channel.stream_stream("/credit.v1.DecisionService/EvaluateStream",
                                 request_serializer=lambda b: b,
                                 response_deserializer=pb.StreamResponse.FromString)


def dunning(**kw):
    return pb.EvaluateRequest(decision="dunning",
                              facts=base.facts_from(base.example("dunning")), **kw)


def decisions_logged(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM decisions WHERE kind = 'decision'").fetchone()[0]
    finally:
        db.close()


# --- certificates, made with openssl at test time -----------------------------------------

class Pki:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="creditd-pki-")
        self.serial = 1000

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=self.dir)

    def ca(self, name):
        self.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
                 "-subj", f"/CN={name}")
        return name

    def cert(self, ca, name, san, cn=None, server=False):
        self.serial += 1
        ext = self.path(f"{name}.ext")
        with open(ext, "w") as f:
            if san:
                f.write(f"subjectAltName={san}\n")
            f.write("extendedKeyUsage=" + ("serverAuth" if server else "clientAuth") + "\n")
        self.run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn or name}")
        self.run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-set_serial", str(self.serial), "-days", "2", "-extfile", ext,
                 "-out", f"{name}.pem")
        return name

    def read(self, name, suffix):
        with open(self.path(f"{name}.{suffix}"), "rb") as f:
            return f.read()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class TlsServer(base.Server):
    """creditd with TLS flags; channels are made per test."""

    def secure(self, pki, ca, client=None, options=()):
        creds = grpc.ssl_channel_credentials(
            root_certificates=pki.read(ca, "pem"),
            private_key=pki.read(client, "key") if client else None,
            certificate_chain=pki.read(client, "pem") if client else None)
        return grpc.secure_channel(f"localhost:{self.port}", creds, options=list(options))


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.pki.ca("ca")
        cls.pki.ca("other_ca")
        cls.pki.cert("ca", "server", "DNS:localhost,IP:127.0.0.1", server=True)
        cls.pki.cert("ca", "orders", "URI:spiffe://credit.test/orders,DNS:orders.credit.test")
        cls.pki.cert("ca", "auditor", "DNS:auditor.credit.test")
        cls.pki.cert("ca", "ops", "", cn="Credit Operations")
        cls.pki.cert("other_ca", "intruder", "URI:spiffe://credit.test/orders")
        cls.roles = cls.pki.path("roles")
        with open(cls.roles, "w") as f:
            f.write("# who may do what\n"
                    "evaluate spiffe://credit.test/orders\n"
                    "review   auditor.credit.test\n"
                    "admin    Credit Operations\n"
                    "evaluate Credit Operations\n")
        cls.server = TlsServer(POLICIES, extra=[
            f"--tls_cert={cls.pki.path('server.pem')}", f"--tls_key={cls.pki.path('server.key')}",
            f"--tls_client_ca={cls.pki.path('ca.pem')}", f"--roles={cls.roles}",
            "--tls_reload_seconds=1"])

    @classmethod
    def tearDownClass(cls):
        output = cls.server.output()
        code = cls.server.stop()
        cls.server.cleanup()
        cls.pki.cleanup()
        if code != 0:
            raise AssertionError(f"creditd exited with {code}:\n{output}")

    def call(self, client, method="evaluate"):
        channel = self.server.secure(self.pki, "ca", client)
        try:
            if method == "evaluate":
                return rpc.DecisionServiceStub(channel).Evaluate(dunning(), timeout=10)
            if method == "list":
                return rpc.PolicyServiceStub(channel).ListPolicies(pb.ListPoliciesRequest(),
                                                                   timeout=10)
            return rpc.PolicyServiceStub(channel).Reload(pb.ReloadRequest(), timeout=30)
        finally:
            channel.close()

    def refused(self, client, method="evaluate"):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call(client, method)
        return caught.exception

    def test_no_certificate_is_unauthenticated(self):
        e = self.refused(None)
        self.assertEqual(e.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("no identity", e.details())

    def test_certificate_from_another_ca_fails_the_handshake(self):
        self.assertEqual(self.refused("intruder").code(), grpc.StatusCode.UNAVAILABLE)

    def test_plaintext_client_is_refused(self):
        channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        with self.assertRaises(grpc.RpcError) as caught:
            rpc.DecisionServiceStub(channel).Evaluate(dunning(), timeout=5)
        channel.close()
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_a_valid_certificate_without_the_role_is_denied(self):
        e = self.refused("auditor")  # review only
        self.assertEqual(e.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("`auditor.credit.test` may not call /credit.v1.DecisionService/Evaluate",
                      e.details())
        self.assertIn("needs the role evaluate", e.details())
        self.assertEqual(self.refused("orders", "list").code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(self.refused("orders", "reload").code(),
                         grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("permission denied: `auditor.credit.test`", self.server.output())

    def test_a_valid_certificate_with_the_role_is_served_and_logged_with_its_identity(self):
        decision = self.call("orders").decision  # URI SAN before DNS SAN
        self.assertEqual(self.call("auditor", "list").policies[0].id.name != "", True)
        reload = self.call("ops", "reload")  # the subject CN when there is no SAN
        self.assertTrue(reload.accepted, reload.report)
        db = sqlite3.connect(self.server.snapshot())
        caller = db.execute("SELECT caller FROM decisions WHERE decision_id = ?",
                            (decision.decision_id,)).fetchone()[0]
        reloads = db.execute("SELECT caller, result FROM decisions WHERE kind = 'reload'"
                             " ORDER BY sequence").fetchall()
        db.close()
        self.assertEqual(caller, "spiffe://credit.test/orders")
        self.assertIn(("Credit Operations"), [r[0] for r in reloads])
        self.assertIn('"accepted": true', reloads[-1][1])
        self.assertEqual(reloads[0][0], "start")

    def test_health_needs_no_certificate(self):
        channel = self.server.secure(self.pki, "ca")
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
        service = b"credit.v1.DecisionService"
        self.assertEqual(check(b"\x0a" + bytes([len(service)]) + service, timeout=10),
                         b"\x08\x01")
        channel.close()

    def test_a_renewed_server_certificate_serves_new_connections(self):
        def served_serial():
            context = ssl.create_default_context(cafile=self.pki.path("ca.pem"))
            context.set_alpn_protocols(["h2"])
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
                with context.wrap_socket(s, server_hostname="localhost") as tls:
                    return tls.getpeercert()["serialNumber"]

        before = served_serial()
        self.pki.cert("ca", "server2", "DNS:localhost,IP:127.0.0.1", server=True)
        # Key first, then the certificate, each by rename: the watcher never
        # sees half a file.
        for suffix in ("key", "pem"):
            os.replace(self.pki.path(f"server2.{suffix}"), self.pki.path(f"server.{suffix}"))
        deadline = time.time() + 15
        after = before
        while time.time() < deadline and after == before:
            time.sleep(0.5)
            after = served_serial()
        self.assertNotEqual(after, before)
        self.assertEqual(self.call("orders").decision.decision, "dunning")

    def test_sighup_reloads_the_roles(self):
        with open(self.roles) as f:
            original = f.read()
        try:
            with open(self.roles, "w") as f:
                f.write(original + "evaluate auditor.credit.test\n")
            self.server.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    self.call("auditor")
                    break
                except grpc.RpcError:
                    time.sleep(0.2)
            self.assertEqual(self.call("auditor").decision.decision, "dunning")
            with open(self.roles, "w") as f:
                f.write("evaluate spiffe://credit.test/orders\nbogus someone\n")
            self.server.proc.send_signal(signal.SIGHUP)
            time.sleep(1)
            # A bad roles file is refused; the roles in force stay.
            self.assertEqual(self.call("auditor").decision.decision, "dunning")
            self.assertIn("unknown role `bogus`", self.server.output())
        finally:
            with open(self.roles, "w") as f:
                f.write(original)
            self.server.proc.send_signal(signal.SIGHUP)
            time.sleep(1)


class CrlTest(unittest.TestCase):
    """A client certificate on the CA's revocation list fails the handshake."""

    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.pki.ca("ca")
        cls.pki.cert("ca", "server", "DNS:localhost,IP:127.0.0.1", server=True)
        cls.pki.cert("ca", "orders", "URI:spiffe://credit.test/orders")
        cls.pki.cert("ca", "stolen", "URI:spiffe://credit.test/stolen")
        with open(cls.pki.path("ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = own\n[own]\ndatabase = index.txt\n"
                    "crlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n")
        open(cls.pki.path("index.txt"), "w").close()
        with open(cls.pki.path("crlnumber"), "w") as f:
            f.write("1000\n")
        os.mkdir(cls.pki.path("crl"))
        cls.pki.run("ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem",
                    "-revoke", "stolen.pem")
        cls.pki.run("ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem",
                    "-gencrl", "-out", "crl/ca.crl.pem")
        cls.pki.run("rehash", "crl")
        with open(cls.pki.path("roles"), "w") as f:
            f.write("evaluate spiffe://credit.test/orders\nevaluate spiffe://credit.test/stolen\n")
        cls.server = TlsServer(POLICIES, extra=[
            f"--tls_cert={cls.pki.path('server.pem')}", f"--tls_key={cls.pki.path('server.key')}",
            f"--tls_client_ca={cls.pki.path('ca.pem')}", f"--tls_crl_dir={cls.pki.path('crl')}",
            f"--roles={cls.pki.path('roles')}"])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.pki.cleanup()

    def evaluate(self, client):
        channel = self.server.secure(self.pki, "ca", client)
        try:
            return rpc.DecisionServiceStub(channel).Evaluate(dunning(), timeout=10)
        finally:
            channel.close()

    def test_a_revoked_certificate_is_refused(self):
        self.assertEqual(self.evaluate("orders").decision.decision, "dunning")
        with self.assertRaises(grpc.RpcError) as caught:
            self.evaluate("stolen")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)


class TokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.pki.ca("ca")
        cls.pki.cert("ca", "server", "DNS:localhost,IP:127.0.0.1", server=True)
        cls.token = "s3cret-token-of-the-orders-service"
        with open(cls.pki.path("tokens"), "w") as f:
            f.write(hashlib.sha256(cls.token.encode()).hexdigest() + "  orders-service\n")
        with open(cls.pki.path("roles"), "w") as f:
            f.write("evaluate orders-service\n")
        cls.server = TlsServer(POLICIES, extra=[
            f"--tls_cert={cls.pki.path('server.pem')}", f"--tls_key={cls.pki.path('server.key')}",
            f"--tokens={cls.pki.path('tokens')}", f"--roles={cls.pki.path('roles')}"])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.pki.cleanup()

    def evaluate(self, token):
        channel = self.server.secure(self.pki, "ca")
        try:
            metadata = [("authorization", f"Bearer {token}")] if token else []
            return rpc.DecisionServiceStub(channel).Evaluate(dunning(), timeout=10,
                                                             metadata=metadata)
        finally:
            channel.close()

    def test_a_known_token_is_its_identity(self):
        decision = self.evaluate(self.token).decision
        db = sqlite3.connect(self.server.snapshot())
        caller = db.execute("SELECT caller FROM decisions WHERE decision_id = ?",
                            (decision.decision_id,)).fetchone()[0]
        db.close()
        self.assertEqual(caller, "orders-service")

    def test_unknown_or_missing_token_is_unauthenticated(self):
        for token, message in (("wrong", "unknown bearer token"), (None, "no identity")):
            with self.assertRaises(grpc.RpcError) as caught:
                self.evaluate(token)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
            self.assertIn(message, caught.exception.details())

    def test_the_tokens_file_holds_hashes_not_tokens(self):
        with open(self.pki.path("tokens")) as f:
            self.assertNotIn(self.token, f.read())


class StartupTest(unittest.TestCase):
    def start(self, *flags):
        return subprocess.run([base.CREDITD, *flags], capture_output=True, text=True, timeout=30)

    def test_plaintext_off_loopback_needs_insecure(self):
        run = self.start("--listen=0.0.0.0:0", f"--policies={POLICIES}")
        self.assertEqual(run.returncode, 2)
        self.assertIn("is not a loopback address", run.stderr)
        self.assertEqual(run.stdout, "")

    def test_a_key_that_is_not_the_certificates_is_refused(self):
        pki = Pki()
        try:
            pki.ca("ca")
            pki.cert("ca", "a", "DNS:localhost", server=True)
            pki.cert("ca", "b", "DNS:localhost", server=True)
            run = self.start("--listen=127.0.0.1:0", f"--policies={POLICIES}",
                             f"--tls_cert={pki.path('a.pem')}", f"--tls_key={pki.path('b.key')}")
            self.assertEqual(run.returncode, 2)
            self.assertIn("is not the key of the certificate", run.stderr)
        finally:
            pki.cleanup()

    def test_logs_go_to_stderr(self):
        server = base.Server(POLICIES)
        try:
            server.decisions.Evaluate(dunning(), timeout=10)
        finally:
            server.stop()
            server.cleanup()
        # base.Server merges stderr into its log; run once more with them apart.
        directory = tempfile.mkdtemp(prefix="creditd-stderr-")
        try:
            proc = subprocess.Popen(
                [base.CREDITD, "--listen=127.0.0.1:0", f"--policies={POLICIES}",
                 f"--audit_db={directory}/audit.db"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1.5)
            proc.terminate()
            out, err = proc.communicate(timeout=30)
            self.assertEqual(out, "")
            self.assertIn("listening on", err)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


# --- malformed requests ----------------------------------------------------------------------

def field(number, wire, payload):
    key = (number << 3) | wire
    out = bytearray()
    while True:
        byte = key & 0x7F
        key >>= 7
        out.append(byte | (0x80 if key else 0))
        if not key:
            break
    if wire == 2:
        n = len(payload)
        length = bytearray()
        while True:
            byte = n & 0x7F
            n >>= 7
            length.append(byte | (0x80 if n else 0))
            if not n:
                break
        return bytes(out) + bytes(length) + payload
    return bytes(out) + payload


def with_facts(**changes):
    facts = base.facts_from(base.example("dunning"))
    for name, value in changes.items():
        if value is None:
            facts.pop(name, None)
        else:
            facts[name] = value
    return pb.EvaluateRequest(decision="dunning", facts=facts)


def fv(**kw):
    return pb.FactValue(**kw)


def many_facts(n):
    request = dunning()
    for i in range(n):
        request.facts[f"extra_{i}"].CopyFrom(fv(bool_value=True))
    return request


INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
EVAL = "/credit.v1.DecisionService/Evaluate"
LIST = "/credit.v1.PolicyService/ListPolicies"
SOURCE_M = "/credit.v1.PolicyService/GetPolicySource"
VALIDATE = "/credit.v1.PolicyService/ValidatePolicy"
RELOAD = "/credit.v1.PolicyService/Reload"


def ser(message):
    return message.SerializeToString()


# (name, method, request bytes, code, text the message must contain)
MALFORMED = [
    ("garbage bytes", EVAL, b"\xff\xff\xff\xff", INVALID, "not a valid credit.v1.EvaluateRequest"),
    ("truncated field", EVAL, b"\x0a\x05ab", INVALID, "not a valid"),
    ("decision not UTF-8", EVAL, field(1, 2, b"\xc3\x28"), INVALID, "strings must be UTF-8"),
    ("fact name not UTF-8", EVAL, field(2, 2, field(1, 2, b"\xff") + field(2, 2, b"\x08\x01")),
     INVALID, "not a valid"),
    ("field number zero", EVAL, b"\x00\x01", INVALID, "not a valid"),
    ("unknown group nested too deeply", EVAL, b"\x0b" * 5000, INVALID, "not a valid"),
    ("length past the end", EVAL, b"\x12\xff\xff\x03", INVALID, "not a valid"),
    ("empty request", EVAL, b"", NOT_FOUND, "no decision ``"),
    ("unknown decision", EVAL, ser(pb.EvaluateRequest(decision="nope")), NOT_FOUND,
     "no decision `nope`; served: credit_application"),
    ("unknown version", EVAL, ser(dunning(policy_version="9.9.9")), NOT_FOUND,
     "no version 9.9.9 of decision `dunning`"),
    ("decision name too long", EVAL, ser(pb.EvaluateRequest(decision="d" * 200)), INVALID,
     "is 200 bytes; at most 128"),
    ("decision name in a large request", EVAL, ser(pb.EvaluateRequest(decision="d" * 300000)),
     EXHAUSTED, "the request is 300004 bytes; this server accepts at most 262144"),
    ("version too long", EVAL, ser(dunning(policy_version="1" * 129)), INVALID,
     "policy_version is 129 bytes; at most 128"),
    ("request_id too long", EVAL, ser(dunning(request_id="r" * 129)), INVALID,
     "request_id is 129 bytes; at most 128"),
    ("customer_id too long", EVAL, ser(dunning(customer_id="c" * 5000)), INVALID,
     "customer_id is 5000 bytes; at most 128"),
    ("request_id with NUL", EVAL, ser(dunning(request_id="a\x00b")), INVALID,
     "request_id `a\\x00b` holds a control character"),
    ("customer_id with a line break", EVAL, ser(dunning(customer_id="a\nforged: b")), INVALID,
     "customer_id `a\\x0aforged: b` holds a control character"),
    ("customer_id with DEL", EVAL, ser(dunning(customer_id="a\x7f")), INVALID,
     "control character"),
    ("too many facts", EVAL, ser(many_facts(300)), INVALID,
     "305 facts; a request may hold at most 256"),
    ("fact name too long", EVAL, ser(with_facts(**{"n" * 200: fv(bool_value=True)})), INVALID,
     "the name is 200 bytes; at most 128"),
    ("enum value too long", EVAL, ser(with_facts(segment=fv(enum_value="x" * 300))), INVALID,
     "`segment`: the value is 300 bytes; at most 256"),
    ("enum value of 80 KB", EVAL, ser(with_facts(segment=fv(enum_value="x" * 80000))), INVALID,
     "the value is 80000 bytes"),
    ("decimal value too long", EVAL,
     ser(with_facts(overdue_amount=fv(decimal_value="1" * 400))), INVALID,
     "`overdue_amount`: the value is 400 bytes"),
    ("date value too long", EVAL,
     ser(with_facts(segment=fv(date_value="2026-01-01" * 30))), INVALID, "the value is 300 bytes"),
    ("unknown fact", EVAL, ser(with_facts(colour=fv(enum_value="red"))), INVALID,
     "`colour`: not an input of `dunning`"),
    ("missing fact", EVAL, ser(with_facts(segment=None)), INVALID, "`segment`: missing (Segment)"),
    ("fact without a value", EVAL, ser(with_facts(segment=fv())), INVALID,
     "`segment`: missing"),
    ("bool for money", EVAL, ser(with_facts(overdue_amount=fv(bool_value=True))), INVALID,
     "`overdue_amount`: expected money"),
    ("enum symbol unknown", EVAL, ser(with_facts(segment=fv(enum_value="vip"))), INVALID,
     "`segment`: `vip` is not one of"),
    ("int for an enum", EVAL, ser(with_facts(segment=fv(int_value=1))), INVALID,
     "`segment`: expected Segment"),
    ("enum symbol with control characters", EVAL,
     ser(with_facts(segment=fv(enum_value="a\x00\n\x1b[31m"))), INVALID, "`a\\x00\\x0a\\x1b[31m` is not one"),
    ("decimal not a number", EVAL, ser(with_facts(overdue_amount=fv(decimal_value="12a"))),
     INVALID, "`overdue_amount`: `12a` is not"),
    ("decimal empty", EVAL, ser(with_facts(overdue_amount=fv(decimal_value=""))), INVALID,
     "`overdue_amount`: `` is not"),
    ("decimal NaN", EVAL, ser(with_facts(overdue_amount=fv(decimal_value="NaN"))), INVALID,
     "`NaN` is not"),
    ("decimal exponent", EVAL, ser(with_facts(overdue_amount=fv(decimal_value="1e5"))), INVALID,
     "`1e5` is not"),
    ("decimal too many digits", EVAL,
     ser(with_facts(overdue_amount=fv(decimal_value="9" * 200))), INVALID, "`overdue_amount`"),
    ("money below its range", EVAL, ser(with_facts(overdue_amount=fv(decimal_value="-1"))),
     INVALID, "`overdue_amount`: -1 is outside the declared range >= 0"),
    ("int above its range", EVAL, ser(with_facts(days_past_due=fv(int_value=10 ** 12))), INVALID,
     "`days_past_due`: 1000000000000 is outside the declared range"),
    ("int as text", EVAL, ser(with_facts(days_past_due=fv(enum_value="47"))), INVALID,
     "`days_past_due`: expected int"),
    ("bool as int", EVAL, ser(with_facts(dunning_block=fv(int_value=1))), INVALID,
     "`dunning_block`: expected bool"),
    ("eleven problems, ten shown", EVAL,
     ser(pb.EvaluateRequest(decision="dunning",
                            facts={f"x{i:02}": fv(bool_value=True) for i in range(11)})),
     INVALID, "and 6 more"),
    ("problems with a fact name of control characters", EVAL,
     ser(with_facts(**{"a\x00b": fv(bool_value=True)})), INVALID, "`a\\x00b`: not an input"),
    ("explain with bad facts", EVAL,
     ser(pb.EvaluateRequest(decision="dunning", explain=True)), INVALID, "problems with the facts"),
    ("pinned version with bad facts", EVAL,
     ser(pb.EvaluateRequest(decision="dunning", policy_version="9.9.9")), NOT_FOUND,
     "no version 9.9.9"),
    ("list policies garbage", LIST, b"\xff", INVALID,
     "not a valid credit.v1.ListPoliciesRequest"),
    ("source garbage", SOURCE_M, b"\x0a\xff", INVALID, "not a valid"),
    ("source of an unknown decision", SOURCE_M, ser(pb.GetPolicySourceRequest(name="nope")),
     NOT_FOUND, "no decision `nope`"),
    ("source of an unknown version", SOURCE_M,
     ser(pb.GetPolicySourceRequest(name="dunning", version="0.0.1")), NOT_FOUND,
     "no decision `dunning` version 0.0.1"),
    ("source request too large", SOURCE_M, ser(pb.GetPolicySourceRequest(name="n" * 5000)),
     EXHAUSTED, "this server accepts at most 4096"),
    ("source name echo is cut", SOURCE_M, ser(pb.GetPolicySourceRequest(name="n" * 4000)),
     NOT_FOUND, "n" * 32 + "\u2026"),
    ("validate garbage", VALIDATE, b"\x12\x03\xff\xfe\xfd", INVALID,
     "not a valid credit.v1.ValidatePolicyRequest"),
    ("validate a path with ..", VALIDATE,
     ser(pb.ValidatePolicyRequest(source="policy x", path="../x.credit")), INVALID,
     "must be a relative path inside the policy directory"),
    ("validate an absolute path", VALIDATE,
     ser(pb.ValidatePolicyRequest(source="policy x", path="/etc/x.credit")), INVALID,
     "must be a relative path"),
    ("validate a path that climbs out", VALIDATE,
     ser(pb.ValidatePolicyRequest(source="policy x", path="shared/../../x.credit")), INVALID,
     "without `..`"),
    ("validate a path that is not a policy file", VALIDATE,
     ser(pb.ValidatePolicyRequest(source="policy x", path="x.txt")), INVALID, "ending in .credit"),
    ("validate a path with a NUL", VALIDATE,
     ser(pb.ValidatePolicyRequest(source="policy x", path="a\x00.credit")), INVALID,
     "`a\\x00.credit`"),
    ("validate a path with an empty part", VALIDATE,
     ser(pb.ValidatePolicyRequest(source="policy x", path="a//b.credit")), INVALID,
     "relative path"),
    ("validate a source over 1 MiB", VALIDATE,
     ser(pb.ValidatePolicyRequest(source="#" * ((1 << 20) + 1))), INVALID,
     "the candidate is 1048577 bytes; a policy file may be at most 1048576"),
    ("reload garbage", RELOAD, b"\xff\xff", INVALID, "not a valid credit.v1.ReloadRequest"),
    ("a message over --max_message_bytes", EVAL,
     ser(pb.EvaluateRequest(decision="d" * (5 << 20))), EXHAUSTED, ""),
]

# (name, item bytes, code of the item's answer, text its message must contain)
STREAM_ITEMS = [
    ("garbage item", b"\xff\xff", 3, "not a valid credit.v1.EvaluateRequest"),
    ("item not UTF-8", field(1, 2, b"\xc3\x28"), 3, "strings must be UTF-8"),
    ("item over --max_request_bytes", ser(pb.EvaluateRequest(decision="d" * 300000)), 8,
     "the request is 300004 bytes"),
    ("item with bad facts", ser(with_facts(segment=fv(enum_value="vip"))), 3, "`vip` is not one"),
    ("item for an unknown decision", ser(pb.EvaluateRequest(decision="nope")), 5,
     "no decision `nope`"),
    ("item with a long request id", ser(dunning(request_id="r" * 500)), 3,
     "request_id is 500 bytes"),
]


class MalformedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = base.Server(POLICIES)

    @classmethod
    def tearDownClass(cls):
        output = cls.server.output()
        code = cls.server.stop()
        cls.server.cleanup()
        if code != 0:
            raise AssertionError(f"creditd exited with {code}:\n{output}")

    def good(self):
        return self.server.decisions.Evaluate(dunning(request_id="good"), timeout=10).decision

    def test_malformed_requests_leave_no_log_lines(self):
        for data in (field(1, 2, b"\xc3\x28"), b"\xff\xff"):
            with self.assertRaises(grpc.RpcError):
                raw_unary(self.server.channel, EVAL)(data, timeout=10)
        output = self.server.output()
        self.assertNotIn("libprotobuf", output)
        self.assertNotIn("invalid UTF-8", output)

    def test_the_table_has_enough_cases(self):
        self.assertGreaterEqual(len(MALFORMED) + len(STREAM_ITEMS), 60)

    def test_each_malformed_request_gets_its_status_and_nothing_is_logged(self):
        for name, method, data, code, text in MALFORMED:
            with self.subTest(name):
                before = decisions_logged(self.server.snapshot())
                with self.assertRaises(grpc.RpcError) as caught:
                    raw_unary(self.server.channel, method)(data, timeout=30)
                e = caught.exception
                self.assertEqual(e.code(), code, e.details())
                self.assertIn(text, e.details() or "")
                # Short enough to travel in trailers, whatever was sent.
                self.assertLess(len((e.details() or "").encode()), 2048)
                metadata = dict(e.trailing_metadata() or ())
                if "credit-fact-problems-bin" in metadata:
                    problems = pb.FactProblems.FromString(metadata["credit-fact-problems-bin"])
                    self.assertLessEqual(len(problems.problems), 10)
                    self.assertLess(len(metadata["credit-fact-problems-bin"]), 4096)
                self.assertEqual(decisions_logged(self.server.snapshot()), before)
                # The same connection still answers.
                self.assertEqual(self.good().request_id, "good")

    def test_unknown_method_is_unimplemented(self):
        with self.assertRaises(grpc.RpcError) as caught:
            raw_unary(self.server.channel, "/credit.v1.DecisionService/Nope")(b"", timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.assertEqual(self.good().request_id, "good")

    def test_each_bad_stream_item_gets_its_own_answer_and_the_stream_goes_on(self):
        good = ser(dunning(request_id="after"))
        for name, data, code, text in STREAM_ITEMS:
            with self.subTest(name):
                before = decisions_logged(self.server.snapshot())
                answers = list(raw_stream(self.server.channel)(iter([data, good]), timeout=30))
                self.assertEqual(len(answers), 2)
                self.assertEqual(answers[0].WhichOneof("result"), "error")
                self.assertEqual(answers[0].error.code, code)
                self.assertIn(text, answers[0].error.message)
                self.assertLessEqual(len(answers[0].request_id), 128)
                self.assertEqual(answers[1].WhichOneof("result"), "decision")
                self.assertEqual(answers[1].request_id, "after")
                self.assertEqual(decisions_logged(self.server.snapshot()), before + 1)

    def test_empty_set_output_has_its_oneof(self):
        facts = base.example("credit_application")
        facts.update({"segment": "existing", "cooperation_years": 5, "has_collateral": True,
                      "requested_limit": "100000"})
        r = self.server.decisions.Evaluate(
            pb.EvaluateRequest(decision="credit_application", facts=base.facts_from(facts)),
            timeout=10).decision
        self.assertEqual(r.outputs["requirements"].WhichOneof("value"), "set_value")

    def test_health_knows_the_services_by_name(self):
        check = raw_unary(self.server.channel, "/grpc.health.v1.Health/Check")
        for service in (b"", b"credit.v1.DecisionService", b"credit.v1.PolicyService"):
            request = b"\x0a" + bytes([len(service)]) + service if service else b""
            self.assertEqual(check(request, timeout=10), b"\x08\x01", service)


def large_table_policy(rows):
    lines = ["policy big_table", "  version 1.0.0", "  effective 2026-01-01", "",
             "input a: int in [0, 1000000]", "input b: int in [0, 10]",
             "table t hit unique", "  | a | b => v: int"]
    for i in range(rows):
        lines.append(f"  | [{i * 10}, {i * 10 + 9}] | any => {i}")
    lines.append(f"  | >= {rows * 10} | any => 0")
    lines.append("output x: int = t.v")
    return "\n".join(lines) + "\n"


class PolicyWorkTest(unittest.TestCase):
    """ValidatePolicy and Reload run off the serving threads."""

    @classmethod
    def setUpClass(cls):
        cls.server = base.Server(POLICIES)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def test_validating_a_large_table_does_not_stall_evaluate(self):
        source = large_table_policy(4000)
        results = []

        def validate():
            results.append(self.server.policies.ValidatePolicy(
                pb.ValidatePolicyRequest(source=source, path="big_table.credit"), timeout=300))

        workers = [threading.Thread(target=validate) for _ in range(2)]
        for w in workers:
            w.start()
        slowest = 0.0
        calls = 0
        while any(w.is_alive() for w in workers) or calls < 20:
            started = time.time()
            self.server.decisions.Evaluate(dunning(), timeout=30)
            slowest = max(slowest, time.time() - started)
            calls += 1
        for w in workers:
            w.join()
        self.assertEqual(len(results), 2)
        self.assertTrue(results[0].id.name == "big_table" or results[0].diagnostics,
                        results[0].report)
        # Before, two of these stalled every Evaluate for seconds.
        self.assertLess(slowest, 2.0, f"an Evaluate took {slowest:.2f} s during validation")

    def test_policy_work_beyond_the_queue_is_refused(self):
        source = large_table_policy(3000)
        codes = []
        lock = threading.Lock()

        def validate():
            try:
                self.server.policies.ValidatePolicy(
                    pb.ValidatePolicyRequest(source=source, path="big_table.credit"),
                    timeout=300)
                code = grpc.StatusCode.OK
            except grpc.RpcError as e:
                code = e.code()
                if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    self.assertIn("retry later", e.details())
            with lock:
                codes.append(code)

        workers = [threading.Thread(target=validate) for _ in range(16)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.assertIn(grpc.StatusCode.RESOURCE_EXHAUSTED, codes)
        self.assertIn(grpc.StatusCode.OK, codes)
        self.assertEqual(set(codes), {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED})


class StreamStressTest(unittest.TestCase):
    """Many short streams at once, with the default limits: none may hang."""

    @classmethod
    def setUpClass(cls):
        cls.server = base.Server(POLICIES)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        output = cls.server.output()
        cls.server.cleanup()
        if code != 0:
            raise AssertionError(f"creditd exited with {code}:\n{output}")

    def test_many_short_streams_never_hang(self):
        request = ser(dunning())
        channels = [grpc.insecure_channel(f"127.0.0.1:{self.server.port}") for _ in range(4)]

        def one(i):
            channel = channels[i % len(channels)]
            items = 1 + i % 3
            try:
                call = raw_stream(channel)(iter([request] * items), timeout=20)
                if i % 7 == 0:  # some are cancelled after their first answer
                    next(call)
                    call.cancel()
                    return "ok"
                answers = list(call)
            except grpc.RpcError as e:
                return e.code()
            return "ok" if len(answers) == items else f"{len(answers)} of {items}"

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(2000)))
        for channel in channels:
            channel.close()
        failures = [r for r in results if r != "ok"]
        self.assertEqual(failures, [], f"{len(failures)} of {len(results)} streams failed")


class StreamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A small ASan quarantine, so that freed memory shows in RSS.
        os.environ["ASAN_OPTIONS"] = "quarantine_size_mb=8"
        try:
            cls.server = base.Server(POLICIES, extra=["--max_streams=8", "--drain_seconds=20"])
        finally:
            del os.environ["ASAN_OPTIONS"]

    @classmethod
    def tearDownClass(cls):
        started = time.time()
        code = cls.server.stop()
        stopped = time.time() - started
        output = cls.server.output()
        cls.server.cleanup()
        if code != 0:
            raise AssertionError(f"creditd exited with {code}:\n{output}")
        if stopped > 10:
            raise AssertionError(f"SIGTERM took {stopped:.1f} s: a stream was never finished")

    def test_cancelled_right_after_the_first_write(self):
        for _ in range(20):
            call = raw_stream(self.server.channel)(iter([ser(dunning())] * 3), timeout=30)
            next(call)
            call.cancel()
        self.assertTrue(self.server.decisions.Evaluate(dunning(), timeout=10).decision.decision_id)

    def test_streams_that_never_read_their_answers_hold_bounded_memory(self):
        # The report: two streams that never read their answers, with 512 KiB
        # request ids, held 2.2 GB. Ids over 128 bytes are refused now (their
        # answers do not echo them) and a stream reads ahead at most 8 MiB.
        def rss_mb():
            with open(f"/proc/{self.server.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) // 1024
            return 0

        item = ser(dunning(request_id="r" * (512 << 10)))
        before = rss_mb()

        def items():
            for _ in range(200):
                yield item

        calls = [raw_stream(self.server.channel)(items(), timeout=120) for _ in range(2)]
        time.sleep(6)
        grown = rss_mb() - before
        for call in calls:
            call.cancel()
        self.assertLess(grown, 300, f"the server grew by {grown} MB")
        answers = list(raw_stream(self.server.channel)(iter([item]), timeout=30))
        self.assertEqual(answers[0].error.code, 8)  # over --max_request_bytes
        self.assertEqual(answers[0].request_id, "")
        self.assertTrue(self.server.decisions.Evaluate(dunning(), timeout=10).decision.decision_id)

    def test_concurrent_streams_are_bounded(self):
        gate = threading.Event()

        def held():
            yield ser(dunning())
            gate.wait(20)

        calls = [raw_stream(self.server.channel)(held(), timeout=30) for _ in range(8)]
        for call in calls:
            next(call)  # all eight are open
        refused = raw_stream(self.server.channel)(iter([ser(dunning())]), timeout=10)
        with self.assertRaises(grpc.RpcError) as caught:
            list(refused)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("8 streams are open", caught.exception.details())
        gate.set()
        for call in calls:
            list(call)


if __name__ == "__main__":
    unittest.main()
