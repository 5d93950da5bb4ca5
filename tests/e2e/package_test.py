#!/usr/bin/env python3
"""End-to-end: the Debian package. `cpack -G DEB` builds it from the build
directory; its contents, control fields, conffiles and maintainer scripts are
checked with dpkg-deb; it is unpacked into a temporary root (never installed:
the host is not changed, no user is made), its unit is checked with
systemd-analyze when systemd is there, and the unpacked creditd is started
with the packaged flags file, served a decision, and stopped with SIGTERM.

    package_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR BUILD_DIR
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)

pb = base.pb
SOURCE = base.SOURCE
BUILD = os.path.abspath(sys.argv[1])
del sys.argv[1]

CONF = "/etc/creditd/creditd.conf"
UNIT = "/lib/systemd/system/creditd.service"
# The Debian packages of the libraries creditd and creditctl link, as
# dpkg-shlibdeps names them (a prefix: sonames are in the names).
LINKED = ["libc6", "libstdc++6", "libgrpc++", "libgrpc", "libprotobuf", "libantlr4-runtime",
          "libabsl", "libsqlite3", "libssl3", "libspdlog"]
# What the maintainer scripts and creditd use besides.
NAMED = ["adduser", "openssl", "tzdata"]


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        m = re.search(r"project\(creditd VERSION ([0-9.]+)", f.read())
    if m is None:
        raise AssertionError("no project() version in CMakeLists.txt")
    return m.group(1)


def run(*args, **kw):
    done = subprocess.run(args, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout}{done.stderr}")
    return done.stdout


def flags(path):
    """The flags of a flags file, in order: (name, value)."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, value = line[2:].partition("=")
                out.append((name, value))
    return out


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="creditd-package-")
        cls.version = project_version()
        cls.arch = run("dpkg", "--print-architecture").strip()
        started = time.monotonic()
        # zstd in place of the package's xz: the sanitizer build's programs
        # are large, and xz alone would take a minute.
        run("cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
            "-B", os.path.join(cls.dir, "out"), "-D", "CPACK_DEBIAN_COMPRESSION_TYPE=zstd")
        cls.cpack_seconds = time.monotonic() - started
        cls.deb = os.path.join(cls.dir, "out", f"creditd_{cls.version}_{cls.arch}.deb")
        if not os.path.isfile(cls.deb):
            raise AssertionError(f"cpack wrote no {os.path.basename(cls.deb)}: "
                                 f"{os.listdir(os.path.join(cls.dir, 'out'))}")
        print(f"\ncpack -G DEB: {cls.cpack_seconds:.1f} s, "
              f"{os.path.getsize(cls.deb) / 1e6:.1f} MB", file=sys.stderr)
        cls.root = os.path.join(cls.dir, "root")
        run("dpkg-deb", "-x", cls.deb, cls.root)
        cls.control = os.path.join(cls.dir, "control")
        run("dpkg-deb", "-e", cls.deb, cls.control)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def contents(self):
        """Path (without the leading `.`) -> (mode, owner)."""
        listing = {}
        for line in run("dpkg-deb", "-c", self.deb).splitlines():
            mode, owner, _size, _date, _time, path = line.split(None, 5)
            listing[path[1:].split(" -> ")[0].rstrip("/") or "/"] = (mode, owner)
        return listing

    def field(self, name):
        return run("dpkg-deb", "-f", self.deb, name).strip()

    def test_contents(self):
        listing = self.contents()
        expected = {"/usr/sbin/creditd": "-rwxr-xr-x", "/usr/bin/creditctl": "-rwxr-xr-x",
                    CONF: "-rw-r--r--", UNIT: "-rw-r--r--",
                    "/usr/share/doc/creditd/README.md": "-rw-r--r--"}

        def tree(source, into):
            # Every file, as in the source tree: the reference policies with
            # their tests and any approvals; the docs.
            for path in glob.glob(os.path.join(SOURCE, source, "**"), recursive=True):
                if os.path.isfile(path):
                    relative = os.path.relpath(path, os.path.join(SOURCE, source))
                    expected[f"{into}/{relative}"] = "-rw-r--r--"

        tree("policies", "/usr/share/creditd/policies")
        tree("docs", "/usr/share/doc/creditd/docs")
        self.assertIn("/usr/share/doc/creditd/docs/install.md", expected)
        files = {path: mode for path, (mode, _) in listing.items() if not mode.startswith("d")}
        self.assertEqual(files, expected)
        for path, (mode, owner) in listing.items():
            self.assertEqual(owner, "root/root", path)
            if mode.startswith("d"):
                self.assertEqual(mode, "drwxr-xr-x", path)

    def test_control_fields(self):
        self.assertEqual(self.field("Package"), "creditd")
        self.assertEqual(self.field("Version"), self.version)
        self.assertEqual(self.field("Architecture"), self.arch)
        self.assertTrue(self.field("Maintainer"))
        self.assertTrue(self.field("Description"))
        depends = [d.strip().split(" ")[0] for d in self.field("Depends").split(",")]
        for name in LINKED:
            self.assertTrue([d for d in depends if d.startswith(name)], (name, depends))
        for name in NAMED:
            self.assertIn(name, depends)
        # The library packages carry the versions dpkg-shlibdeps found.
        self.assertRegex(self.field("Depends"), r"libgrpc\+\+[^,]*\(>= ")
        info = run("dpkg-deb", "-I", self.deb)
        for script in ("postinst", "prerm", "postrm", "conffiles"):
            self.assertIn(f" {script}", info)

    def test_conffiles(self):
        with open(os.path.join(self.control, "conffiles")) as f:
            conffiles = f.read().split()
        self.assertEqual(conffiles, [CONF])
        # Every file the package puts in /etc is a conffile.
        shipped = [p for p, (mode, _) in self.contents().items()
                   if p.startswith("/etc/") and mode.startswith("-")]
        self.assertEqual(shipped, conffiles)

    def test_maintainer_scripts_are_posix_sh(self):
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            with open(path) as f:
                text = f.read()
            self.assertTrue(text.startswith("#!/bin/sh\n"), script)
            self.assertIn("\nset -e\n", text)
            run("sh", "-n", path)
            run("shellcheck", "--shell=sh", path)

    def test_the_flags_file_names_only_creditd_flags(self):
        help_text = subprocess.run([os.path.join(self.root, "usr/sbin/creditd"), "--help"],
                                   capture_output=True, text=True, timeout=60).stdout
        known = set(re.findall(r"^    --([a-z_]+) \(", help_text, re.M))
        self.assertIn("checkpoint_key", known)
        with open(self.root + CONF) as f:
            lines = f.read().splitlines()
        for line in lines:
            # A flag's line is `--name=value` and nothing more: the file's
            # reader keeps trailing spaces or a comment as part of the value.
            m = re.match(r"^#?--([a-z_]+)=(.*)$", line)
            if m:
                self.assertIn(m.group(1), known, line)
                self.assertRegex(m.group(2), r"^\S+$", line)
            else:
                self.assertTrue(line == "" or line.startswith("# ") or line == "#", line)

    def test_unknown_flag_in_the_flags_file_is_refused(self):
        bad = os.path.join(self.dir, "bad.conf")
        with open(bad, "w") as f:
            f.write("# a flag creditd does not have\n--listen=127.0.0.1:0\n--polices=/tmp\n")
        done = subprocess.run([os.path.join(self.root, "usr/sbin/creditd"), f"--flagfile={bad}"],
                              capture_output=True, text=True, timeout=60)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("polices", done.stderr)
        self.assertNotIn("listening", done.stderr)

    def test_unit_runs_creditd_as_its_user_and_waits_out_the_drain(self):
        unit = {}
        with open(self.root + UNIT) as f:
            for line in f:
                name, sep, value = line.strip().partition("=")
                if sep and not name.startswith("#"):
                    unit.setdefault(name, []).append(value)
        self.assertEqual(unit["ExecStart"], [f"/usr/sbin/creditd --flagfile={CONF}"])
        self.assertEqual(unit["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(unit["User"], ["creditd"])
        self.assertNotIn("DynamicUser", unit)
        self.assertEqual(unit["StateDirectory"], ["creditd"])
        self.assertEqual(unit["ProtectSystem"], ["strict"])
        self.assertEqual(unit["CapabilityBoundingSet"], [""])
        # SIGTERM may take --drain_seconds for the calls in flight and as long
        # again for a log that cannot be written.
        drain = int(dict(flags(self.root + CONF))["drain_seconds"])
        self.assertGreaterEqual(int(unit["TimeoutStopSec"][0]), 2 * drain + 5)

    def test_unit_verifies(self):
        if shutil.which("systemd-analyze") is None:
            print("systemd-analyze is not installed: the unit is not verified", file=sys.stderr)
            return
        # The unit, with its programs' paths in the unpacked root.
        unit = os.path.join(self.dir, "creditd.service")
        with open(self.root + UNIT) as f:
            text = f.read()
        with open(unit, "w") as f:
            f.write(text.replace("/usr/sbin/creditd", self.root + "/usr/sbin/creditd")
                        .replace("--flagfile=/etc/", f"--flagfile={self.root}/etc/"))
        done = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertNotIn("creditd.service", done.stdout + done.stderr)

    def test_unpacked_creditd_serves_with_the_packaged_flags_and_stops_cleanly(self):
        root = self.root
        etc = f"{root}/etc/creditd"
        # What postinst does on a host: the policies copied into place, the
        # checkpoint key made.
        shutil.copytree(f"{root}/usr/share/creditd/policies", f"{etc}/policies")
        run("openssl", "genpkey", "-algorithm", "ed25519", "-out", f"{etc}/checkpoint.key")
        run("openssl", "pkey", "-in", f"{etc}/checkpoint.key", "-pubout",
            "-out", f"{etc}/checkpoint.pub")
        os.makedirs(f"{root}/var/lib/creditd")
        # A second flags file after the packaged one: every path moved into
        # the root, and a free port. Nothing else differs.
        packaged = flags(root + CONF)
        self.assertEqual(dict(packaged)["listen"], "127.0.0.1:50051")
        override = os.path.join(self.dir, "override.conf")
        moved = {}
        with open(override, "w") as f:
            for name, value in packaged:
                if name == "listen":
                    f.write("--listen=127.0.0.1:0\n")
                elif value.startswith("/"):
                    moved[name] = root + value
                    f.write(f"--{name}={root}{value}\n")
        self.assertEqual(sorted(moved), ["audit_db", "checkpoint_dir", "checkpoint_key",
                                         "policies"])
        server = base.Server(None, audit=moved["audit_db"], command=[
            f"{root}/usr/sbin/creditd", f"--flagfile={root}{CONF}", f"--flagfile={override}"])
        try:
            self.assertEqual(server.health(), b"\x08\x01")  # SERVING
            answer = server.decisions.Evaluate(pb.EvaluateRequest(
                decision="credit_application",
                facts=base.facts_from(base.example("credit_application"))), timeout=10)
            self.assertTrue(answer.decision.decision_id)
            listed = server.policies.ListPolicies(pb.ListPoliciesRequest(), timeout=10)
            self.assertIn("order_release", {p.id.name for p in listed.policies})
            output = server.output()
            self.assertIn("signing checkpoints", output)
            self.assertIn("(durable)", output)
            self.assertNotIn("--insecure", output)
        finally:
            code = server.stop()
            output = server.output()
            server.cleanup()
        self.assertEqual(code, 0, output)
        self.assertIn("signal 15: draining", output)
        self.assertIn("creditd stopped", output)
        # The log verifies against the checkpoints signed at start and exit,
        # with the unpacked creditctl.
        verified = run(f"{root}/usr/bin/creditctl", "audit", "verify", moved["audit_db"],
                       "--checkpoints", moved["checkpoint_dir"], "--key", f"{etc}/checkpoint.pub")
        self.assertRegex(verified, r"agrees with \d+ checkpoints")
        # And the packaged policies pass their own tests.
        run(f"{root}/usr/bin/creditctl", "test", f"{etc}/policies")


if __name__ == "__main__":
    unittest.main(verbosity=2)
