#!/usr/bin/env python3
"""End-to-end: the registry of record and versions side by side. Restarts on
one audit log keep every version served pinnable; a text that contradicts a
version served before is refused at start and at reload; scheduled versions;
the watcher never serves a half-written file.

    versions_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)

import grpc  # noqa: E402

pb = base.pb
CREDITD = base.CREDITD
CREDITCTL = base.CREDITCTL
SOURCE = base.SOURCE

STATES = {pb.POLICY_STATE_SCHEDULED: "scheduled", pb.POLICY_STATE_CURRENT: "current",
          pb.POLICY_STATE_SUPERSEDED: "superseded"}


def copy_policies():
    root = tempfile.mkdtemp(prefix="creditd-versions-")
    shutil.copytree(os.path.join(SOURCE, "policies"), os.path.join(root, "policies"))
    return os.path.join(root, "policies")


def read(path):
    with open(path) as f:
        return f.read()


def write_by_rename(path, text):
    """How docs/operations.md says to write a policy file: under a dot-name
    (never loaded), then renamed into place."""
    hidden = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(hidden, "w") as f:
        f.write(text)
    os.rename(hidden, path)


def request(decision, **kw):
    return pb.EvaluateRequest(decision=decision,
                              facts=base.facts_from(base.example(decision)), **kw)


def stored_texts(audit):
    db = sqlite3.connect(audit)
    rows = db.execute("SELECT name, version, sha256 FROM policies").fetchall()
    db.close()
    return set(rows)


def listed(server):
    reply = server.policies.ListPolicies(pb.ListPoliciesRequest(), timeout=10)
    return {(p.id.name, p.id.version): p for p in reply.policies}


# credit_application 1.1.0: the same policy with a limit that turns the
# example's refer into approve (the change the issue saw served under 1.0.0).
NEW_CUSTOMER_RULE = "requested_limit > 500_000 and not has_collateral"


def application_1_1(text, limit="900_000"):
    assert NEW_CUSTOMER_RULE in text, "the rule to change moved"
    return text.replace("version 1.0.0", "version 1.1.0").replace(
        NEW_CUSTOMER_RULE, NEW_CUSTOMER_RULE.replace("500_000", limit))


class VersionsTest(unittest.TestCase):
    def audit(self, verb, db):
        return subprocess.run([CREDITCTL, "audit", verb, db], capture_output=True, text=True)

    def start_refused(self, policies, audit):
        run = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={policies}",
                              f"--audit_db={audit}"], capture_output=True, text=True, timeout=60)
        return run.returncode, run.stdout + run.stderr

    def test_restarts_keep_versions_pinnable_and_refuse_other_text(self):
        policies = copy_policies()
        audit = os.path.join(os.path.dirname(policies), "audit.db")
        app = os.path.join(policies, "credit_application.credit")
        app_next = os.path.join(policies, "credit_application-1.1.0.credit")
        original = read(app)
        servers = []
        try:
            # Day one: 1.0.0, then 1.1.0 beside it (the served file keeps its name).
            server = base.Server(policies, audit=audit)
            servers.append(server)
            first = server.decisions.Evaluate(request("credit_application"), timeout=10).decision
            self.assertEqual((first.policy.version, first.outcome), ("1.0.0", "refer"))
            write_by_rename(app_next, application_1_1(original))
            reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
            self.assertTrue(reply.accepted, reply.report)
            now = server.decisions.Evaluate(request("credit_application"), timeout=10).decision
            self.assertEqual((now.policy.version, now.outcome), ("1.1.0", "approve"))
            self.assertEqual(server.stop(), 0)

            # Day two: 1.0.0 left the directory; a restart on the same log
            # still serves it pinned, under the sha256 it was served with.
            os.remove(app)
            server = base.Server(policies, audit=audit)
            servers.append(server)
            pinned = server.decisions.Evaluate(
                request("credit_application", policy_version="1.0.0"), timeout=10).decision
            self.assertEqual(pinned.policy.sha256, first.policy.sha256)
            self.assertEqual(pinned.outcome, "refer")
            source = server.policies.GetPolicySource(
                pb.GetPolicySourceRequest(name="credit_application", version="1.0.0"), timeout=10)
            self.assertEqual(source.id.sha256, first.policy.sha256)
            versions = listed(server)
            old = versions[("credit_application", "1.0.0")]
            new = versions[("credit_application", "1.1.0")]
            self.assertEqual((STATES[old.state], old.current), ("superseded", False))
            self.assertEqual((STATES[new.state], new.current), ("current", True))
            self.assertTrue(old.first_served.startswith("20"), old.first_served)
            self.assertLessEqual(old.first_served, new.first_served)
            self.assertEqual(new.effective_from, "2026-01-01T00:00:00Z")
            # Unchanged policies are current after reloads too.
            reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
            self.assertTrue(reply.accepted, reply.report)
            self.assertTrue(listed(server)[("dunning", "1.0.0")].current)
            self.assertEqual(server.stop(), 0)

            # Other text under 1.1.0: creditd does not start, and says which
            # file and version; the text is never stored.
            texts = stored_texts(audit)
            served_text = read(app_next)
            write_by_rename(app_next, application_1_1(original, "950_000"))
            code, output = self.start_refused(policies, audit)
            self.assertNotEqual(code, 0)
            self.assertIn("error[E0602]: credit_application-1.1.0.credit:2:3: version 1.1.0 of "
                          "`credit_application` was served before with other text", output)
            self.assertIn("not starting", output)
            self.assertEqual(stored_texts(audit), texts)

            # Put back it starts; at reload the same change is refused and
            # 1.1.0 keeps serving its text.
            write_by_rename(app_next, served_text)
            server = base.Server(policies, audit=audit)
            servers.append(server)
            before = server.decisions.Evaluate(request("credit_application"), timeout=10).decision
            write_by_rename(app_next, application_1_1(original, "950_000"))
            reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
            self.assertFalse(reply.accepted)
            self.assertIn("error[E0602]: credit_application-1.1.0.credit:2:3:", reply.report)
            self.assertNotIn(policies, reply.report)  # files named inside the directory only
            after = server.decisions.Evaluate(request("credit_application"), timeout=10).decision
            self.assertEqual(after.policy.sha256, before.policy.sha256)
            self.assertEqual(after.outcome, "approve")
            self.assertEqual(stored_texts(server.snapshot()), texts)
            # ValidatePolicy gives a candidate the verdict a reload would:
            # other text under a version served is refused, the served text
            # is valid under the identity it serves with.
            candidate = "credit_application-1.1.0.credit"
            verdict = server.policies.ValidatePolicy(pb.ValidatePolicyRequest(
                source=application_1_1(original, "950_000"), path=candidate), timeout=30)
            self.assertFalse(verdict.valid, verdict.report)
            self.assertIn("E0602", [d.code for d in verdict.diagnostics])
            self.assertIn("error[E0602]: credit_application-1.1.0.credit:2:3:", verdict.report)
            same = server.policies.ValidatePolicy(
                pb.ValidatePolicyRequest(source=served_text, path=candidate), timeout=30)
            self.assertTrue(same.valid, same.report)
            self.assertEqual(same.id.sha256, before.policy.sha256)

            # A shared library changed: every policy importing it needs a new
            # version, and the report names each one.
            write_by_rename(app_next, served_text)
            common = os.path.join(policies, "shared", "common.credit")
            write_by_rename(common, read(common) + "\nenum Channel { web, branch }\n")
            reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
            self.assertFalse(reply.accepted)
            self.assertIn("library `shared/common.credit` changed: every policy importing it needs "
                          "a new version: credit_application 1.1.0 "
                          "(credit_application-1.1.0.credit), credit_review 1.0.0 "
                          "(credit_review.credit), dunning 1.0.0 (dunning.credit), "
                          "order_release 1.0.0 (order_release.credit)", reply.report)
            self.assertEqual(server.decisions.Evaluate(request("dunning"), timeout=10)
                             .decision.policy.version, "1.0.0")
            self.assertEqual(server.stop(), 0)
            self.assertEqual(stored_texts(audit), texts)
            for verb in ("verify", "replay"):
                run = self.audit(verb, audit)
                self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        finally:
            for server in servers:
                if server.proc.poll() is None:
                    server.stop()
                server.cleanup()
            shutil.rmtree(os.path.dirname(policies), ignore_errors=True)

    def test_a_scheduled_version_is_listed_pinnable_and_waits_for_its_date(self):
        policies = copy_policies()
        dunning = read(os.path.join(policies, "dunning.credit"))
        write_by_rename(os.path.join(policies, "dunning-2.0.0.credit"),
                        dunning.replace("version 1.0.0", "version 2.0.0")
                               .replace("effective 2026-01-01", "effective 2099-01-01"))
        server = base.Server(policies, ["--effective_zone=Europe/Berlin"])
        try:
            versions = listed(server)
            scheduled = versions[("dunning", "2.0.0")]
            self.assertEqual(STATES[scheduled.state], "scheduled")
            self.assertFalse(scheduled.current)
            self.assertEqual(scheduled.effective, "2099-01-01")
            self.assertEqual(scheduled.effective_from, "2098-12-31T23:00:00Z")  # Berlin's midnight
            self.assertTrue(versions[("dunning", "1.0.0")].current)
            self.assertEqual(server.decisions.Evaluate(request("dunning"), timeout=10)
                             .decision.policy.version, "1.0.0")
            pinned = server.decisions.Evaluate(request("dunning", policy_version="2.0.0"),
                                               timeout=10).decision
            self.assertEqual(pinned.policy.version, "2.0.0")
            self.assertIn("scheduled from 2098-12-31T23:00:00Z", server.output())
        finally:
            self.assertEqual(server.stop(), 0)
            server.cleanup()
            shutil.rmtree(os.path.dirname(policies), ignore_errors=True)
        code = subprocess.run([CREDITD, "--effective_zone=Mars/Olympus_Mons"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(code.returncode, 2)
        self.assertIn("--effective_zone `Mars/Olympus_Mons` is not a time zone", code.stderr)

    def test_the_watcher_never_serves_a_half_written_file(self):
        policies = copy_policies()
        path = os.path.join(policies, "dunning.credit")
        full = read(path).replace("version 1.0.0", "version 1.0.1")
        # Written in place, the first part could be read on its own: a policy
        # that checks, short of its last rule.
        half = full[:full.rindex("\nrule ") + 1]
        candidate = os.path.join(os.path.dirname(policies), "half", "dunning.credit")
        os.makedirs(os.path.dirname(candidate))
        shutil.copytree(os.path.join(policies, "shared"),
                        os.path.join(os.path.dirname(candidate), "shared"))
        with open(candidate, "w") as f:
            f.write(half)
        check = subprocess.run([CREDITCTL, "check", os.path.dirname(candidate)],
                               capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, "the half must be servable: " + check.stderr)
        server = base.Server(policies, ["--watch_seconds=2"])
        try:
            with open(path, "w") as f:  # in place, as an editor saves
                f.write(half)
                f.flush()
                time.sleep(0.3)
                f.write(full[len(half):])
            deadline = time.time() + 30
            version = ""
            while time.time() < deadline and version != "1.0.1":
                time.sleep(0.2)
                version = server.decisions.Evaluate(request("dunning"), timeout=10) \
                    .decision.policy.version
            self.assertEqual(version, "1.0.1")
            source = server.policies.GetPolicySource(
                pb.GetPolicySourceRequest(name="dunning", version="1.0.1"), timeout=10)
            self.assertIn("rule dunning_blocked", source.source)
            self.assertEqual(server.output().count("policy files changed, reloading"), 1)
        finally:
            self.assertEqual(server.stop(), 0)
            server.cleanup()
            shutil.rmtree(os.path.dirname(policies), ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
