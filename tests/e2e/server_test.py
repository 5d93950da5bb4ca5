#!/usr/bin/env python3
"""End-to-end tests: start the real creditd on port 0 and call it with a
gRPC client the project did not write (Python grpcio from Debian).

    server_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
from grpc_tools import protoc

CREDITD = os.path.abspath(sys.argv[1])
CREDITCTL = os.path.abspath(sys.argv[2])
SOURCE = os.path.abspath(sys.argv[3])
del sys.argv[1:4]

STUBS = tempfile.mkdtemp(prefix="creditd-stubs-")
if protoc.main(["protoc", f"-I{SOURCE}/proto", f"--python_out={STUBS}",
                f"--grpc_python_out={STUBS}", f"{SOURCE}/proto/credit/v1/creditd.proto"]) != 0:
    raise SystemExit("cannot compile the proto")
sys.path.insert(0, STUBS)
from credit.v1 import creditd_pb2 as pb  # noqa: E402
from credit.v1 import creditd_pb2_grpc as rpc  # noqa: E402

NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?%?$")


def facts_from(obj):
    """JSON facts to typed FactValues: decimals as text, never floats."""
    facts = {}
    for name, value in obj.items():
        if isinstance(value, bool):
            facts[name] = pb.FactValue(bool_value=value)
        elif isinstance(value, int):
            facts[name] = pb.FactValue(int_value=value)
        elif NUMBER.match(value):
            facts[name] = pb.FactValue(decimal_value=value)
        elif re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            facts[name] = pb.FactValue(date_value=value)
        else:
            facts[name] = pb.FactValue(enum_value=value)
    return facts


def example(name):
    with open(f"{SOURCE}/docs/examples/{name}.json") as f:
        return json.load(f)


class Server:
    def __init__(self, policies, extra=(), audit=None, command=None, store=None):
        """`audit`: the log to open (a restart on the same log); default a new one.
        `command`: a whole command line to run instead (another binary, flags
        files), which must listen on 127.0.0.1 and log to `audit`.
        `store`: an --audit_store (a PostgreSQL log) instead of a SQLite file."""
        self.dir = tempfile.mkdtemp(prefix="creditd-e2e-")
        self.audit = audit or os.path.join(self.dir, "audit.db")
        self.log_path = os.path.join(self.dir, "creditd.log")
        self.stall = os.path.join(self.dir, "stall-log")
        if command is None:
            command = [CREDITD, "--listen=127.0.0.1:0", f"--policies={policies}",
                       f"--audit_store={store}" if store else f"--audit_db={self.audit}",
                       *extra]
        # The output goes through a pipe, copied to the log file by a thread of
        # the test's: a file-size limit set on creditd must not silence it.
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=dict(os.environ, CREDITD_TEST_STALL_LOG_WHILE=self.stall))
        self.copier = threading.Thread(target=self._copy_output, daemon=True)
        self.copier.start()
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline and self.port is None:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.output())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                self.copier.join(timeout=10)
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("creditd did not start:\n" + self.output())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.decisions = rpc.DecisionServiceStub(self.channel)
        self.policies = rpc.PolicyServiceStub(self.channel)

    def _copy_output(self):
        with open(self.log_path, "ab") as log:
            for line in iter(self.proc.stdout.readline, b""):
                log.write(line)
                log.flush()

    def output(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def health(self):
        """grpc.health.v1 Check, raw: b"\\x08\\x01" is SERVING, b"\\x08\\x02" NOT_SERVING."""
        check = self.channel.unary_unary("/grpc.health.v1.Health/Check",
                                         request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
        return check(b"", timeout=10)

    def hold_log(self):
        """Stalls the audit log's writer, as a stalled disk would: commits
        wait until release_log. (creditd holds the log's database lock, so
        another connection cannot take it.)"""
        open(self.stall, "w").close()

    def release_log(self):
        os.remove(self.stall)

    def snapshot(self):
        """The audit log as committed now: creditd writes a copy on SIGUSR1
        (it holds the log itself exclusively). Returns the copy's path."""
        done = "audit log snapshot written"
        before = self.output().count(done)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 30
        while self.output().count(done) == before:
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("no snapshot written:\n" + self.output())
            time.sleep(0.02)
        return self.audit + ".snapshot"

    def stop(self):
        self.channel.close()
        self.proc.terminate()
        code = self.proc.wait(timeout=60)
        self.copier.join(timeout=10)
        return code

    def cleanup(self):
        if self.proc.poll() is not None:
            self.copier.join(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(f"{SOURCE}/policies")

    @classmethod
    def tearDownClass(cls):
        output = cls.server.output()
        code = cls.server.stop()
        try:
            if code != 0:
                raise AssertionError(f"creditd exited with {code} on SIGTERM:\n{output}")
            # Every logged decision verifies and replays to the same answer.
            for verb in ("verify", "replay"):
                run = subprocess.run([CREDITCTL, "audit", verb, cls.server.audit],
                                     capture_output=True, text=True)
                if run.returncode != 0:
                    raise AssertionError(f"audit {verb} failed:\n{run.stdout}{run.stderr}")
            report = re.search(r"(\d+) decisions replayed: (\d+) identical, (\d+) differ",
                               run.stdout)
            if not report or int(report.group(1)) == 0 or int(report.group(3)) != 0:
                raise AssertionError(f"unexpected replay report: {run.stdout}")
        finally:
            cls.server.cleanup()

    def evaluate(self, decision, facts, **kw):
        return self.server.decisions.Evaluate(
            pb.EvaluateRequest(decision=decision, facts=facts_from(facts), **kw), timeout=10)

    def test_health_serving(self):
        self.assertEqual(self.server.health(), b"\x08\x01")  # status: SERVING

    def test_explain_returns_the_trace(self):
        plain = self.evaluate("credit_application", example("credit_application")).decision
        self.assertEqual(len(plain.trace), 0)
        explained = self.evaluate("credit_application", example("credit_application"),
                                  explain=True).decision
        self.assertEqual(explained.outcome, plain.outcome)
        steps = {t.step for t in explained.trace}
        self.assertTrue({"factor", "band", "rule", "output"} <= steps, steps)
        fired = [t for t in explained.trace if t.step == "rule" and t.reads]
        self.assertTrue(fired, "rules name the values they read")

    def test_a_request_over_the_size_limit_is_refused(self):
        facts = facts_from(example("dunning"))
        facts["padding"] = pb.FactValue(enum_value="x" * (5 << 20))  # past the 4 MiB default
        with self.assertRaises(grpc.RpcError) as caught:
            self.server.decisions.Evaluate(
                pb.EvaluateRequest(decision="dunning", facts=facts), timeout=30)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertTrue(self.evaluate("dunning", example("dunning")).decision.decision_id)

    def test_audit_show_prints_a_logged_decision(self):
        r = self.evaluate("dunning", example("dunning"), customer_id="c-7").decision
        show = subprocess.run([CREDITCTL, "audit", "show", self.server.snapshot(), r.decision_id],
                              capture_output=True, text=True)
        self.assertEqual(show.returncode, 0, show.stderr)
        self.assertIn(r.decision_id, show.stdout)
        self.assertIn("c-7", show.stdout)
        self.assertIn(r.policy.sha256, show.stdout)

    def test_reflection_lists_services(self):
        info = self.server.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda b: b, response_deserializer=lambda b: b)
        replies = list(info(iter([b"\x3a\x00"]), timeout=10))  # list_services: ""
        self.assertIn(b"credit.v1.DecisionService", replies[0])
        self.assertIn(b"credit.v1.PolicyService", replies[0])

    def test_credit_application(self):
        r = self.evaluate("credit_application", example("credit_application"),
                          customer_id="c-42", request_id="r-1").decision
        self.assertEqual(r.outcome, "refer")
        self.assertEqual(r.outputs["grade"].enum_value, "C")
        self.assertEqual(r.outputs["credit_limit"].decimal_value, "200000.00")
        self.assertEqual(list(r.outputs["requirements"].set_value.symbols), ["collateral"])
        self.assertEqual([x.code for x in r.reasons],
                         ["NEW_CUSTOMER_COLLATERAL_REQUIRED", "GRADE_BELOW_B_SPECIAL_APPROVAL"])
        self.assertEqual(r.policy.name, "credit_application")
        self.assertEqual(len(r.policy.sha256), 64)
        self.assertEqual(r.request_id, "r-1")
        self.assertTrue(r.decision_id)
        # Logged before it was answered.
        db = sqlite3.connect(self.server.snapshot())
        row = db.execute("SELECT customer_id, policy_sha256 FROM decisions WHERE decision_id = ?",
                         (r.decision_id,)).fetchone()
        db.close()
        self.assertEqual(row, ("c-42", r.policy.sha256))

    def test_other_reference_decisions(self):
        r = self.evaluate("order_release", example("order_release")).decision
        self.assertEqual(r.outcome, "hold")
        self.assertEqual(r.outputs["exposure"].decimal_value, "1555500.00")
        r = self.evaluate("dunning", example("dunning")).decision
        self.assertEqual(r.outputs["level"].enum_value, "yellow")
        self.assertEqual(r.outputs["overdue_interest"].decimal_value, "4380.88")
        r = self.evaluate("credit_review", example("credit_review")).decision
        self.assertEqual(r.outputs["new_limit"].decimal_value, "2160000.00")

    def test_bad_facts_list_every_problem(self):
        facts = example("credit_application")
        facts["requested_limit"] = "12a"
        facts["segment"] = "vip"
        del facts["has_collateral"]
        facts["colour"] = "red"
        with self.assertRaises(grpc.RpcError) as e:
            self.evaluate("credit_application", facts)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        details = dict(e.exception.trailing_metadata())["credit-fact-problems-bin"]
        problems = pb.FactProblems.FromString(details)
        self.assertEqual(sorted(p.fact for p in problems.problems),
                         ["colour", "has_collateral", "requested_limit", "segment"])

    def test_unknown_decision_and_version(self):
        with self.assertRaises(grpc.RpcError) as e:
            self.evaluate("no_such_decision", {})
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as e:
            self.evaluate("dunning", example("dunning"), policy_version="9.9.9")
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_stream_with_a_bad_item_in_the_middle(self):
        good = facts_from(example("dunning"))
        bad = dict(good)
        bad["days_past_due"] = pb.FactValue(int_value=99999)
        requests = [pb.EvaluateRequest(decision="dunning", facts=good, request_id="1"),
                    pb.EvaluateRequest(decision="dunning", facts=bad, request_id="2"),
                    pb.EvaluateRequest(decision="nope", request_id="3"),
                    pb.EvaluateRequest(decision="dunning", facts=good, request_id="4")]
        answers = list(self.server.decisions.EvaluateStream(iter(requests), timeout=30))
        self.assertEqual([a.request_id for a in answers], ["1", "2", "3", "4"])
        self.assertEqual(answers[0].decision.outputs["level"].enum_value, "yellow")
        self.assertEqual(answers[1].error.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertEqual([p.fact for p in answers[1].error.problems], ["days_past_due"])
        self.assertEqual(answers[2].error.code, grpc.StatusCode.NOT_FOUND.value[0])
        self.assertTrue(answers[3].decision.decision_id)

    def test_long_stream_answers_every_item_in_order(self):
        good = facts_from(example("dunning"))
        bad = dict(good)
        bad["overdue_amount"] = pb.FactValue(decimal_value="lots")
        requests = [pb.EvaluateRequest(decision="dunning", facts=bad if i % 97 == 0 else good,
                                       request_id=str(i)) for i in range(3000)]
        answers = list(self.server.decisions.EvaluateStream(iter(requests), timeout=120))
        self.assertEqual([a.request_id for a in answers], [str(i) for i in range(3000)])
        errors = [a.request_id for a in answers if a.HasField("error")]
        self.assertEqual(errors, [str(i) for i in range(0, 3000, 97)])
        ids = {a.decision.decision_id for a in answers if a.HasField("decision")}
        self.assertEqual(len(ids), 3000 - len(errors))

    def test_streams_cancelled_midway_leave_the_server_serving(self):
        good = facts_from(example("dunning"))
        for attempt in range(5):
            requests = (pb.EvaluateRequest(decision="dunning", facts=good, request_id=str(i))
                        for i in range(5000))
            call = self.server.decisions.EvaluateStream(requests, timeout=60)
            for k, answer in enumerate(call):
                if k == 10 * attempt:  # answers still being decided and logged behind it
                    call.cancel()
                    break
            with self.assertRaises(grpc.RpcError) as caught:
                for _ in call:
                    pass
            self.assertEqual(caught.exception.code(), grpc.StatusCode.CANCELLED)
        # Still serving, streams and calls alike.
        self.assertTrue(self.evaluate("dunning", example("dunning")).decision.decision_id)
        answers = list(self.server.decisions.EvaluateStream(
            iter([pb.EvaluateRequest(decision="dunning", facts=good, request_id="x")]), timeout=30))
        self.assertEqual([a.request_id for a in answers], ["x"])

    def test_help_lists_every_flag(self):
        run = subprocess.run([CREDITD, "--help"], capture_output=True, text=True, timeout=30)
        text = run.stdout + run.stderr
        for flag in ("--listen", "--policies", "--audit_db", "--audit_durability",
                     "--max_message_bytes", "--max_threads", "--default_deadline_ms",
                     "--watch_seconds", "--drain_seconds", "--effective_zone"):
            self.assertIn(flag, text)
        self.assertIn("async: answered once queued", text)

    def test_a_second_server_on_the_same_address_refuses_to_start(self):
        audit = os.path.join(tempfile.mkdtemp(prefix="creditd-e2e-"), "other.db")
        second = subprocess.run(
            [CREDITD, f"--listen=127.0.0.1:{self.server.port}",
             f"--policies={SOURCE}/policies", f"--audit_db={audit}"],
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn(f"cannot listen on 127.0.0.1:{self.server.port}", second.stderr + second.stdout)
        # The first one still answers.
        self.assertTrue(self.evaluate("dunning", example("dunning")).decision.decision_id)

    def test_policy_service(self):
        listed = self.server.policies.ListPolicies(pb.ListPoliciesRequest(), timeout=10)
        names = sorted(p.id.name for p in listed.policies if p.current)
        # The four reference decisions and the two examples (policies/examples).
        self.assertEqual(names, ["credit_application", "credit_check", "credit_review", "dunning",
                                 "dunning_procedure", "order_release"])
        source = self.server.policies.GetPolicySource(
            pb.GetPolicySourceRequest(name="dunning"), timeout=10)
        self.assertIn("=== dunning.credit", source.source)
        bad = self.server.policies.ValidatePolicy(
            pb.ValidatePolicyRequest(path="x.credit", source="policy x\ninput a money\n"), timeout=10)
        self.assertFalse(bad.valid)
        self.assertIn("E0001", bad.report)


if __name__ == "__main__":
    unittest.main(verbosity=2)
