#!/usr/bin/env python3
"""End-to-end: four-eyes approval. creditd --approvers --required_approvals 2
serves only versions two distinct trusted approvers signed (`creditctl
approve`); one approval is not enough, the versions serving go on while a
load is refused, ListPolicies says who approved, and the audit log keeps
the approvals with their signatures, verifiable from the log alone.

    approvals_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)
import versions_test  # noqa: E402

pb = base.pb
CREDITD = base.CREDITD
CREDITCTL = base.CREDITCTL
SOURCE = base.SOURCE


def run(*args, check=True):
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def make_key(root, name):
    """An Ed25519 key pair: the PEM private key file, and the public key as
    the approvers file has it (base64 of the raw 32 bytes)."""
    pem = os.path.join(root, name + ".pem")
    run("openssl", "genpkey", "-algorithm", "ed25519", "-out", pem)
    der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return pem, base64.b64encode(der[-32:]).decode()


class ApprovalsTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="creditd-approvals-")
        self.policies = os.path.join(self.root, "policies")
        os.makedirs(self.policies)
        shutil.copytree(os.path.join(SOURCE, "policies", "shared"),
                        os.path.join(self.policies, "shared"))
        self.app = os.path.join(self.policies, "credit_application.credit")
        shutil.copy(os.path.join(SOURCE, "policies", "credit_application.credit"), self.app)
        self.keys = {name: make_key(self.root, name) for name in ("alice", "bob", "mallory")}
        self.approvers = os.path.join(self.root, "approvers")
        self.write_approvers("alice", "bob")
        self.audit = os.path.join(self.root, "audit.db")
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            if server.proc.poll() is None:
                server.stop()

    def write_approvers(self, *names, keys=None):
        keys = keys or {}
        with open(self.approvers, "w") as f:
            f.write("# name  key\n")
            for name in names:
                f.write(f"{name} {keys.get(name, self.keys[name][1])}\n")

    def approve(self, who, path, version=None):
        args = [CREDITCTL, "approve", "--key", self.keys[who][0], "--approver", who,
                "--comment", f"reviewed by {who}", path]
        if version:
            args += ["--version", version]
        return run(*args)

    def flags(self, n=2):
        return [f"--approvers={self.approvers}", f"--required_approvals={n}"]

    def start(self):
        server = base.Server(self.policies, extra=self.flags(), audit=self.audit)
        self.servers.append(server)
        return server

    def evaluate(self, server):
        return server.decisions.Evaluate(
            versions_test.request("credit_application"), timeout=10).decision

    def listed(self, server):
        return {version: sorted((a.approver, a.comment) for a in p.approvals)
                for (name, version), p in versions_test.listed(server).items()
                if name == "credit_application"}

    def test_half_a_configuration_is_refused_at_start(self):
        for extra, says in (([f"--approvers={self.approvers}"], "--required_approvals"),
                            (["--required_approvals=2"], "--approvers")):
            done = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={self.policies}",
                                   f"--audit_db={self.audit}", *extra],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn(says, done.stderr)
        done = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={self.policies}",
                               f"--audit_db={self.audit}", "--required_approvals=2",
                               f"--approvers={self.root}/missing"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("approvers file", done.stderr)

    def test_unsigned_is_refused_at_start(self):
        self.approve("alice", self.app)
        done = subprocess.run([CREDITD, "--listen=127.0.0.1:0", f"--policies={self.policies}",
                               f"--audit_db={self.audit}", *self.flags()],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("E0603", done.stderr)
        self.assertIn("version 1.0.0 of `credit_application`", done.stderr)
        self.assertIn("has 1 approval, 2 required (by alice)", done.stderr)

    def test_two_approvals_serve_one_is_not_enough(self):
        self.approve("alice", self.app)
        self.approve("bob", self.app)
        server = self.start()
        self.assertEqual(self.evaluate(server).policy.version, "1.0.0")
        self.assertEqual(self.listed(server)["1.0.0"],
                         [("alice", "reviewed by alice"), ("bob", "reviewed by bob")])

        # 1.1.0 beside it, with one approval: the load is refused, 1.0.0 serves on.
        app_next = os.path.join(self.policies, "credit_application-1.1.0.credit")
        with open(self.app) as f:
            versions_test.write_by_rename(app_next, versions_test.application_1_1(f.read()))
        self.approve("alice", app_next)
        reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
        self.assertFalse(reply.accepted)
        self.assertIn("E0603", reply.report)
        self.assertIn("1.1.0", reply.report)
        self.assertIn("alice", reply.report)
        self.assertEqual(self.evaluate(server).policy.version, "1.0.0")

        # A second key of alice's is still alice: it does not count twice.
        self.keys["alice2"] = make_key(self.root, "alice2")
        self.write_approvers("alice", "bob")
        with open(self.approvers, "a") as f:
            f.write(f"alice {self.keys['alice2'][1]}\n")
        time.sleep(1.1)  # an approval file is named by its second; never overwritten
        run(CREDITCTL, "approve", "--key", self.keys["alice2"][0], "--approver", "alice",
            "--comment", "again", app_next)
        reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
        self.assertFalse(reply.accepted, reply.report)
        self.assertEqual(self.evaluate(server).policy.version, "1.0.0")

        # Bob's approval makes it servable.
        self.approve("bob", app_next)
        reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
        self.assertTrue(reply.accepted, reply.report)
        self.assertEqual(self.evaluate(server).policy.version, "1.1.0")
        listed = self.listed(server)
        self.assertEqual([a for a, _ in listed["1.1.0"]], ["alice", "bob"])

        # Bob leaves the approvers: the next load is refused, and what was
        # approved when it loaded serves on (docs/review.md).
        self.write_approvers("alice")
        reply = server.policies.Reload(pb.ReloadRequest(), timeout=30)
        self.assertFalse(reply.accepted)
        self.assertIn("E0603", reply.report)
        self.assertEqual(self.evaluate(server).policy.version, "1.1.0")
        self.assertEqual(server.stop(), 0)

        # The log keeps who approved what, verifiable from the log alone.
        self.write_approvers("alice", "bob")
        run(CREDITCTL, "audit", "verify", self.audit)
        shown = run(CREDITCTL, "audit", "approvals", self.audit, "--approvers", self.approvers,
                    "--format", "json")
        versions = {v["version"]: v for v in json.loads(shown.stdout)["versions"]}
        self.assertEqual(sorted(versions), ["1.0.0", "1.1.0"])
        self.assertEqual([(a["approver"], a["verified"]) for a in versions["1.1.0"]["approvals"]],
                         [("alice", True), ("bob", True)])
        text = run(CREDITCTL, "audit", "approvals", self.audit).stdout
        self.assertIn("reviewed by bob", text)
        self.assertIn("not verified (no --approvers)", text)

        # Against keys that did not sign them, the logged approvals fail.
        self.write_approvers("alice", "bob", keys={"bob": self.keys["mallory"][1]})
        shown = run(CREDITCTL, "audit", "approvals", self.audit, "--approvers", self.approvers,
                    check=False)
        self.assertEqual(shown.returncode, 1, shown.stdout + shown.stderr)
        self.assertIn("REFUSED", shown.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
