#!/usr/bin/env python3
"""End-to-end: champion / challenger. creditd --challenger DIR
--challenger_share P% evaluates the challenger's version alongside for a
sticky share of customers; only the champion's answer is returned, the
challenger's result is in the same record under its hash, and verify and
replay cover it.

    challenger_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)
import approvals_test  # noqa: E402
import versions_test  # noqa: E402

pb = base.pb
CREDITD = base.CREDITD
CREDITCTL = base.CREDITCTL


def bucket(customer_id):
    """docs/operations.md: the first 8 bytes of sha256(customer_id),
    big-endian, modulo 10000."""
    return int.from_bytes(hashlib.sha256(customer_id.encode()).digest()[:8], "big") % 10000


def challenger_dir(policies):
    """A copy of the policies with credit_application 1.1.0 in place of
    1.0.0: the example's refer becomes approve."""
    root = os.path.join(os.path.dirname(policies), "challenger")
    shutil.copytree(policies, root)
    app = os.path.join(root, "credit_application.credit")
    with open(app) as f:
        text = f.read()
    with open(app, "w") as f:
        f.write(versions_test.application_1_1(text))
    return root


def records(audit):
    db = sqlite3.connect(audit)
    rows = db.execute("SELECT customer_id, policy_version, outcome, challenger FROM decisions "
                      "WHERE kind = 'decision' ORDER BY sequence").fetchall()
    db.close()
    return rows


def challenger_of(blob):
    result = pb.ChallengerResult()
    result.ParseFromString(bytes(blob))
    return result


class ChallengerTest(unittest.TestCase):
    def setUp(self):
        self.policies = versions_test.copy_policies()
        self.challenger = challenger_dir(self.policies)
        self.audit = os.path.join(os.path.dirname(self.policies), "audit.db")
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            if server.proc.poll() is None:
                server.stop()

    def start(self, share):
        server = base.Server(self.policies, audit=self.audit,
                             extra=[f"--challenger={self.challenger}",
                                    f"--challenger_share={share}"])
        self.servers.append(server)
        return server

    def evaluate(self, server, customer, **kw):
        request = versions_test.request("credit_application", **kw)
        request.customer_id = customer
        return server.decisions.Evaluate(request, timeout=10).decision

    def test_only_the_champion_answers_and_the_record_keeps_both(self):
        server = self.start("100%")
        answer = self.evaluate(server, "C-1")
        self.assertEqual((answer.policy.version, answer.outcome), ("1.0.0", "refer"))
        pinned = self.evaluate(server, "C-2", policy_version="1.0.0")
        self.assertEqual(pinned.outcome, "refer")
        anonymous = self.evaluate(server, "")
        self.assertEqual(anonymous.outcome, "refer")
        self.assertEqual(server.stop(), 0)
        self.assertIn("challenger: evaluated alongside 1 decisions; 1 disagreed", server.output())

        rows = records(self.audit)
        self.assertEqual([(c, v, o) for c, v, o, _ in rows],
                         [("C-1", "1.0.0", "refer"), ("C-2", "1.0.0", "refer"),
                          ("", "1.0.0", "refer")])
        # The pinned request and the one without a customer got none.
        self.assertEqual([len(ch) > 0 for *_, ch in rows], [True, False, False])
        result = challenger_of(rows[0][3])
        self.assertEqual(result.policy.version, "1.1.0")
        self.assertEqual(result.decision.outcome, "approve")
        self.assertEqual(result.decision.decision_id, answer.decision_id)
        self.assertEqual(result.error, "")

        for verb in ("verify", "replay"):
            done = subprocess.run([CREDITCTL, "audit", verb, self.audit], capture_output=True,
                                  text=True)
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        shown = subprocess.run([CREDITCTL, "audit", "show", self.audit, answer.decision_id],
                               capture_output=True, text=True)
        self.assertIn('challenger:   {"decision"', shown.stdout)
        self.assertIn('"outcome":"approve"', shown.stdout)

        # impact --challenger compares the two as impact compares a candidate.
        done = subprocess.run([CREDITCTL, "impact", "--audit", self.audit, "--challenger",
                               "--by", "segment", "--format", "json"],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        report = json.loads(done.stdout)
        self.assertEqual(report["compared_with"], "challenger")
        figures = report["decisions"]["credit_application"]
        self.assertEqual(figures["candidate"]["version"], "1.1.0")
        self.assertEqual((figures["compared"], figures["outcome_changed"]), (1, 1))
        self.assertEqual(figures["outcome"][0]["before"], "refer")
        self.assertEqual(figures["outcome"][0]["after"], "approve")
        self.assertEqual(figures["outcome"][0]["examples"], [answer.decision_id])
        self.assertEqual(report["without_candidate"], {"credit_application": 2})
        text = subprocess.run([CREDITCTL, "impact", "--audit", self.audit, "--challenger"],
                              capture_output=True, text=True)
        self.assertIn("credit_application: challenger 1.1.0 against the champion's answers",
                      text.stdout)
        self.assertIn("2 logged decisions without a challenger result", text.stdout)

        # The hash covers the challenger's result.
        tampered = self.audit + ".tampered"
        shutil.copy(self.audit, tampered)
        result.decision.outcome = "refer"
        db = sqlite3.connect(tampered)
        db.execute("UPDATE decisions SET challenger = ? WHERE customer_id = 'C-1'",
                   (result.SerializeToString(),))
        db.commit()
        db.close()
        done = subprocess.run([CREDITCTL, "audit", "verify", tampered], capture_output=True,
                              text=True)
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("does not match its hash", done.stdout)

    def test_the_share_is_sticky_by_customer(self):
        server = self.start("50%")
        customers = [f"C-{i}" for i in range(24)]
        for _ in range(2):
            for customer in customers:
                self.assertEqual(self.evaluate(server, customer).policy.version, "1.0.0")
        self.assertEqual(server.stop(), 0)
        chosen = {}
        for customer, _, _, blob in records(self.audit):
            chosen.setdefault(customer, set()).add(len(blob) > 0)
        for customer in customers:
            self.assertEqual(chosen[customer], {bucket(customer) < 5000}, customer)
        # Both kinds occur among 24 customers.
        self.assertEqual({bucket(c) < 5000 for c in customers}, {True, False})

    def test_the_challenger_needs_its_approvals_too(self):
        # One decision on each side: credit_application 1.0.0 and 1.1.0.
        root = os.path.dirname(self.policies)
        for d in (self.policies, self.challenger):
            for name in os.listdir(d):
                if name not in ("credit_application.credit", "shared"):
                    path = os.path.join(d, name)
                    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        pem, public = approvals_test.make_key(root, "alice")
        approvers = os.path.join(root, "approvers")
        with open(approvers, "w") as f:
            f.write(f"alice {public}\n")

        def approve(d):
            approvals_test.run(CREDITCTL, "approve", "--key", pem, "--approver", "alice",
                               "--comment", "ok", os.path.join(d, "credit_application.credit"))

        args = [CREDITD, "--listen=127.0.0.1:0", f"--policies={self.policies}",
                f"--audit_db={self.audit}", f"--challenger={self.challenger}",
                "--challenger_share=100%", f"--approvers={approvers}", "--required_approvals=1"]
        approve(self.policies)
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("challenger load rejected", done.stderr)
        self.assertIn("version 1.1.0 of `credit_application`", done.stderr)
        approve(self.challenger)
        server = base.Server(self.policies, audit=self.audit, extra=args[4:])
        self.servers.append(server)
        self.assertEqual(self.evaluate(server, "C-1").policy.version, "1.0.0")
        self.assertEqual(server.stop(), 0)
        shown = approvals_test.run(CREDITCTL, "audit", "approvals", self.audit, "--approvers",
                                   approvers)
        self.assertIn("credit_application 1.0.0", shown.stdout)
        self.assertIn("credit_application 1.1.0", shown.stdout)

    def test_bad_configurations_do_not_start(self):
        for extra, code, says in (
                ([f"--challenger={self.challenger}"], 2, "--challenger_share"),
                ([f"--challenger={self.challenger}", "--challenger_share=0%"], 2, "share"),
                ([f"--challenger={self.challenger}", "--challenger_share=0.1"], 2, "share"),
                ([f"--challenger={self.challenger}", "--challenger_share=100.5%"], 2, "share"),
                ([f"--challenger={self.policies}x", "--challenger_share=5%"], 1,
                 "challenger's policies"),
                # Overlapping directories: one would serve the other's files.
                ([f"--challenger={self.policies}/examples", "--challenger_share=5%"], 2,
                 "overlap"),
                ([f"--challenger={os.path.dirname(self.policies)}", "--challenger_share=5%"], 2,
                 "overlap"),
                ([f"--challenger={self.policies}/", "--challenger_share=5%"], 2, "overlap")):
            done = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={self.policies}",
                                   f"--audit_db={self.audit}", *extra],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, code, done.stderr)
            self.assertIn(says, done.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
