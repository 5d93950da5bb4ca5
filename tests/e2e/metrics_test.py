#!/usr/bin/env python3
"""End-to-end: creditd --metrics_listen serves Prometheus text. A known
number of calls of several kinds, made from several threads, must show in
the counts of a scrape exactly: the gRPC server metrics, decisions by
outcome, the audit log's records, reloads and the policies serving; and
no metrics socket is open unless asked for, nor on any address but the one
given.

    metrics_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import collections
import concurrent.futures
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)
import challenger_test  # noqa: E402
import versions_test  # noqa: E402

import grpc  # noqa: E402

pb = base.pb
CREDITD = base.CREDITD
SOURCE = base.SOURCE

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """Prometheus text to {(name, frozenset(labels)): value}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    """The value of the sample with exactly these labels; 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """The sum over every sample of `name` whose labels include these."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def rpc(method, service="credit.v1.DecisionService", kind="unary"):
    return {"grpc_service": service, "grpc_method": method, "grpc_type": kind}


def listening_sockets(pid):
    """The local (address, port) of every TCP socket process `pid` listens on."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    found = []
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                continue
            address, port = cols[1].split(":")
            raw = bytes.fromhex(address)
            if family == 4:
                host = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                host = socket.inet_ntop(socket.AF_INET6, words)
                if host.startswith("::ffff:") and "." in host:
                    host = host[len("::ffff:"):]  # an IPv4 address, v4-mapped
            found.append((host, int(port, 16)))
    return found


class Metrics(base.Server):
    """creditd with --metrics_listen=127.0.0.1:0, the port read from its log."""

    def __init__(self, policies, extra=()):
        super().__init__(policies, extra=["--metrics_listen=127.0.0.1:0", *extra])
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", self.output())
        if not m:
            raise RuntimeError("no metrics address logged:\n" + self.output())
        self.metrics_port = int(m.group(1))

    def scrape(self):
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            self.content_type = reply.headers.get("Content-Type", "")
            return parse(reply.read().decode())


def credit_application(**changes):
    """The reference policy's test defaults (approve), with changes."""
    with open(os.path.join(SOURCE, "policies", "credit_application.tests.json")) as f:
        facts = dict(json.load(f)["defaults"])
    facts.update(changes)
    return pb.EvaluateRequest(decision="credit_application", facts=base.facts_from(facts))


APPROVE = credit_application()
REFER = credit_application(segment="new", requested_limit="500000.01", has_collateral=False)
DECLINE = credit_application(industry_risk="high", debt_ratio="0.81", cooperation_years=0,
                             current_ratio="1.5", overdue_count_12m=2)
DUNNING = versions_test.request("dunning")  # outputs only: no outcome


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.policies = versions_test.copy_policies()
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            if server.proc.poll() is None:
                server.stop()
            server.cleanup()

    def test_counts_match_the_calls_made(self):
        server = Metrics(self.policies, extra=["--max_request_bytes=4096"])
        self.servers.append(server)
        raw = server.channel.unary_unary("/credit.v1.DecisionService/Evaluate",
                                         request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
        unknown = server.channel.unary_unary("/credit.v1.DecisionService/NoSuchMethod",
                                             request_serializer=lambda b: b,
                                             response_deserializer=lambda b: b)
        bad_fact = versions_test.request("dunning")
        bad_fact.facts["days_past_due"].int_value = 99999  # out of its declared range
        too_large = versions_test.request("dunning")
        too_large.customer_id = "c"
        too_large.facts["padding"].enum_value = "x" * 5000  # past --max_request_bytes

        # kind: (how to call, how many times, the code it must get)
        calls = {
            "approve": (lambda: server.decisions.Evaluate(APPROVE, timeout=30), 40, "OK"),
            "refer": (lambda: server.decisions.Evaluate(REFER, timeout=30), 30, "OK"),
            "decline": (lambda: server.decisions.Evaluate(DECLINE, timeout=30), 20, "OK"),
            "dunning": (lambda: server.decisions.Evaluate(DUNNING, timeout=30), 25, "OK"),
            "bad_fact": (lambda: server.decisions.Evaluate(bad_fact, timeout=30), 15,
                         "INVALID_ARGUMENT"),
            "not_a_message": (lambda: raw(b"\xff\xff\xff", timeout=30), 5, "INVALID_ARGUMENT"),
            # The caller's own text never becomes a label.
            "unknown_decision": (lambda: server.decisions.Evaluate(
                pb.EvaluateRequest(decision="attacker_chosen_name"), timeout=30), 10,
                "NOT_FOUND"),
            "too_large": (lambda: server.decisions.Evaluate(too_large, timeout=30), 4,
                          "RESOURCE_EXHAUSTED"),
            # A bearer token over plaintext is refused before anything else.
            "unauthenticated": (lambda: server.decisions.Evaluate(
                APPROVE, timeout=30, metadata=[("authorization", "Bearer nope")]), 6,
                "UNAUTHENTICATED"),
            "list": (lambda: server.policies.ListPolicies(pb.ListPoliciesRequest(),
                                                          timeout=30), 7, "OK"),
            "describe": (lambda: server.policies.DescribeDecision(
                pb.DescribeDecisionRequest(decision="dunning"), timeout=30), 3, "OK"),
            "health": (server.health, 9, "OK"),
            "unknown_method": (lambda: unknown(b"", timeout=30), 4, "UNIMPLEMENTED"),
        }
        stream_items = [APPROVE, REFER, DUNNING, bad_fact, APPROVE]

        def one(kind):
            call, _, _ = calls[kind]
            try:
                call()
                return kind, "OK"
            except grpc.RpcError as e:
                return kind, e.code().name

        def stream():
            replies = list(server.decisions.EvaluateStream(iter(stream_items), timeout=30))
            return "stream", [("error" if r.HasField("error") else r.decision.outcome)
                              for r in replies]

        work = [kind for kind, (_, n, _) in calls.items() for _ in range(n)]
        random.Random(7).shuffle(work)  # the kinds interleaved
        scrapes = []
        stop = threading.Event()

        def scrape_under_load():
            while not stop.is_set():
                scrapes.append(server.scrape())
                time.sleep(0.02)

        scraper = threading.Thread(target=scrape_under_load)
        scraper.start()
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(one, kind) for kind in work]
            futures += [pool.submit(stream) for _ in range(3)]
            results = [f.result() for f in futures]
        stop.set()
        scraper.join()

        got = collections.Counter()
        for kind, code in results:
            if kind == "stream":
                self.assertEqual(code, ["approve", "refer", "", "error", "approve"])
                continue
            self.assertEqual(code, calls[kind][2], kind)
            got[kind] += 1
        self.assertEqual(sum(got.values()), len(work))
        self.assertTrue(scrapes, "no scrape finished during the load")
        # Counters never go down between scrapes under load.
        for before, after in zip(scrapes, scrapes[1:]):
            for key, v in before.items():
                if key[0].endswith("_total"):
                    self.assertGreaterEqual(after.get(key, 0), v, key)

        # Reloads: two accepted, one rejected (a file that does not parse).
        for _ in range(2):
            self.assertTrue(server.policies.Reload(pb.ReloadRequest(), timeout=60).accepted)
        broken = os.path.join(self.policies, "broken.credit")
        with open(broken, "w") as f:
            f.write("policy broken\n  version 1.0.0\n  this does not parse\n")
        self.assertFalse(server.policies.Reload(pb.ReloadRequest(), timeout=60).accepted)
        os.remove(broken)
        listed = server.policies.ListPolicies(pb.ListPoliciesRequest(), timeout=30)

        m = server.scrape()
        self.assertTrue(server.content_type.startswith("text/plain"), server.content_type)

        evaluate = rpc("Evaluate")
        evaluates = {"approve", "refer", "decline", "dunning", "bad_fact", "not_a_message",
                     "unknown_decision", "too_large", "unauthenticated"}
        self.assertEqual(value(m, "grpc_server_started_total", **evaluate),
                         sum(calls[k][1] for k in evaluates))
        by_code = collections.Counter()
        for k in evaluates:
            by_code[calls[k][2]] += calls[k][1]
        for code in ("OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED",
                     "UNAUTHENTICATED", "UNAVAILABLE", "INTERNAL"):
            self.assertEqual(value(m, "grpc_server_handled_total", grpc_code=code, **evaluate),
                             by_code[code], code)
        self.assertEqual(value(m, "grpc_server_handling_seconds_count", **evaluate),
                         sum(calls[k][1] for k in evaluates))
        self.assertEqual(value(m, "grpc_server_handling_seconds_bucket", le="+Inf", **evaluate),
                         sum(calls[k][1] for k in evaluates))
        self.assertGreater(value(m, "grpc_server_handling_seconds_sum", **evaluate), 0)

        stream_rpc = rpc("EvaluateStream", kind="bidi_stream")
        self.assertEqual(value(m, "grpc_server_started_total", **stream_rpc), 3)
        self.assertEqual(value(m, "grpc_server_handled_total", grpc_code="OK", **stream_rpc), 3)
        self.assertEqual(value(m, "grpc_server_handling_seconds_count", **stream_rpc), 3)

        listing = rpc("ListPolicies", "credit.v1.PolicyService")
        self.assertEqual(value(m, "grpc_server_started_total", **listing), 8)
        self.assertEqual(value(m, "grpc_server_handled_total", grpc_code="OK", **listing), 8)
        describe = rpc("DescribeDecision", "credit.v1.PolicyService")
        self.assertEqual(value(m, "grpc_server_handled_total", grpc_code="OK", **describe), 3)
        reload_rpc = rpc("Reload", "credit.v1.PolicyService")
        self.assertEqual(value(m, "grpc_server_handled_total", grpc_code="OK", **reload_rpc), 3)
        health = rpc("Check", "grpc.health.v1.Health")
        self.assertEqual(value(m, "grpc_server_started_total", **health), 9)
        self.assertEqual(value(m, "grpc_server_handled_total", grpc_code="OK", **health), 9)
        self.assertEqual(value(m, "grpc_server_handling_seconds_count", **health), 9)
        other = rpc("unknown", "unknown", "unknown")
        self.assertEqual(value(m, "grpc_server_started_total", **other), 4)
        self.assertEqual(value(m, "grpc_server_handled_total", grpc_code="UNIMPLEMENTED", **other),
                         4)
        # Every call counted: started == handled, method by method.
        self.assertEqual(total(m, "grpc_server_started_total"),
                         total(m, "grpc_server_handled_total"))
        # The load, its streams, three reloads and one listing.
        self.assertEqual(total(m, "grpc_server_started_total"), len(work) + 3 + 3 + 1)
        # Methods come from the server's table only.
        methods = {dict(ls)["grpc_method"] for (n, ls) in m if n == "grpc_server_started_total"}
        self.assertEqual(methods, {"Evaluate", "EvaluateStream", "ListPolicies",
                                   "GetPolicySource", "DescribeDecision", "ValidatePolicy",
                                   "Reload", "Check", "Watch", "ServerReflectionInfo", "unknown"})

        # Decisions by outcome: unary calls plus the streams' items.
        decisions = {(dict(ls)["decision"], dict(ls)["outcome"]): v
                     for (n, ls), v in m.items() if n == "creditd_decisions_total"}
        self.assertEqual(decisions, {
            ("credit_application", "approve"): 40 + 2 * 3,
            ("credit_application", "refer"): 30 + 3,
            ("credit_application", "decline"): 20,
            ("dunning", ""): 25 + 3,
        })
        decided = sum(decisions.values())

        # The log: every decision and reload record written, nothing lost.
        reload_records = 1 + 3  # the start, and the three Reload calls
        self.assertEqual(value(m, "creditd_audit_records_written_total"), decided + reload_records)
        self.assertEqual(value(m, "creditd_audit_group_records_sum"), decided + reload_records)
        self.assertGreaterEqual(value(m, "creditd_audit_commit_seconds_count"),
                                value(m, "creditd_audit_group_records_count"))
        self.assertEqual(value(m, "creditd_audit_commit_failures_total"), 0)
        self.assertEqual(value(m, "creditd_audit_records_dropped_total"), 0)
        self.assertEqual(value(m, "creditd_audit_failing"), 0)
        self.assertEqual(value(m, "creditd_audit_queue_depth"), 0)
        self.assertEqual(value(m, "creditd_audit_queue_limit"), 20000)

        self.assertEqual(value(m, "creditd_reloads_total", result="accepted"), 3)
        self.assertEqual(value(m, "creditd_reloads_total", result="rejected"), 1)

        # policy_info: what ListPolicies lists, each once, value 1.
        states = {pb.POLICY_STATE_SCHEDULED: "scheduled", pb.POLICY_STATE_CURRENT: "current",
                  pb.POLICY_STATE_SUPERSEDED: "superseded"}
        want = {(p.id.name, p.id.version, p.id.sha256, states[p.state]) for p in listed.policies}
        info = {}
        for (n, ls), v in m.items():
            if n == "creditd_policy_info":
                d = dict(ls)
                info[(d["name"], d["version"], d["sha256"], d["state"])] = v
        self.assertEqual(set(info), want)
        self.assertEqual(set(info.values()), {1.0})
        self.assertIn("credit_application", {k[0] for k in info})

        # No series names what a caller sent.
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics",
                                      timeout=10).read().decode()
        self.assertNotIn("attacker_chosen_name", text)
        self.assertNotIn("NoSuchMethod", text)
        self.assertEqual(server.stop(), 0)

    def test_the_challengers_counts_and_versions(self):
        # credit_application 1.1.0 turns the example's refer into approve.
        challenger = challenger_test.challenger_dir(self.policies)
        server = Metrics(self.policies, extra=[f"--challenger={challenger}",
                                               "--challenger_share=100%"])
        self.servers.append(server)
        for customer in ("C-1", "C-2", "C-3"):
            request = versions_test.request("credit_application")
            request.customer_id = customer
            self.assertEqual(server.decisions.Evaluate(request, timeout=30).decision.outcome,
                             "refer")
        approve = credit_application()
        approve.customer_id = "C-4"
        server.decisions.Evaluate(approve, timeout=30)
        m = server.scrape()
        self.assertEqual(value(m, "creditd_challenger_evaluated_total"), 4)
        self.assertEqual(value(m, "creditd_challenger_disagreed_total"), 3)  # refer -> approve
        self.assertEqual(value(m, "creditd_challenger_failed_total"), 0)
        info = [dict(ls) for (n, ls) in m if n == "creditd_policy_info"]
        challengers = {(c["name"], c["version"]) for c in info if c["state"] == "challenger"}
        self.assertIn(("credit_application", "1.1.0"), challengers)
        # One challenger version for each decision the champion serves.
        self.assertEqual({name for name, _ in challengers},
                         {c["name"] for c in info if c["state"] == "current"})
        self.assertEqual(server.stop(), 0)

    def test_no_metrics_socket_unless_asked_and_only_where_asked(self):
        plain = base.Server(self.policies)
        self.servers.append(plain)
        self.assertEqual(listening_sockets(plain.proc.pid), [("127.0.0.1", plain.port)])
        self.assertNotIn("metrics on", plain.output())
        plain.stop()

        server = Metrics(self.policies)
        self.servers.append(server)
        self.assertEqual(sorted(listening_sockets(server.proc.pid)),
                         sorted([("127.0.0.1", server.port), ("127.0.0.1", server.metrics_port)]))
        self.assertEqual(server.stop(), 0)

    def test_bad_addresses_and_a_port_in_use_stop_the_start(self):
        for bad in ("localhost:9464", "9464", "127.0.0.1:80,127.0.0.1:81", "127.0.0.1:70000"):
            done = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={self.policies}",
                                   f"--audit_db={self.policies}/../a.db",
                                   f"--metrics_listen={bad}"], capture_output=True, text=True,
                                  timeout=60)
            self.assertEqual(done.returncode, 2, bad + done.stderr)
            self.assertIn("--metrics_listen", done.stderr)
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        try:
            port = taken.getsockname()[1]
            done = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={self.policies}",
                                   f"--audit_db={self.policies}/../b.db",
                                   f"--metrics_listen=127.0.0.1:{port}"], capture_output=True,
                                  text=True, timeout=60)
        finally:
            taken.close()
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn(f"cannot serve metrics on 127.0.0.1:{port}", done.stderr)


if __name__ == "__main__":
    unittest.main()
