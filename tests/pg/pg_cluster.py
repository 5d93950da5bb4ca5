#!/usr/bin/python3
"""A throwaway PostgreSQL 15 for tests: initdb and pg_ctl in a temporary
directory, as the unprivileged `postgres` user (the server refuses root), on
a free port of 127.0.0.1.

Two roles, as a deployment has them: `creditd_owner`, who owns the database
and runs `creditctl audit migrate`, and `creditd`, the serving role, which
gets only what migrate grants it. Both log in over TCP with passwords read
from a libpq password file, never from a connection string.

Used two ways:
  pg_cluster.py -- COMMAND ARGS...   runs COMMAND with CREDITD_TEST_PG_OWNER,
                                     CREDITD_TEST_PG_SERVING and
                                     CREDITD_TEST_PG_SUPER (connection strings)
                                     and CREDITD_TEST_PG_CTL (a script that
                                     stops/starts the server) set, then stops
                                     the server; exits with COMMAND's status.
  from pg_cluster import PgCluster   in a Python test.
"""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile


def _bindir():
    for candidate in sorted(os.listdir("/usr/lib/postgresql"), reverse=True):
        path = os.path.join("/usr/lib/postgresql", candidate, "bin")
        if os.path.exists(os.path.join(path, "initdb")):
            return path
    raise RuntimeError("no PostgreSQL server: install the Debian package `postgresql`")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    OWNER_PASSWORD = "owner-secret"
    SERVING_PASSWORD = "serving-secret"

    def __init__(self, ssl=False, durable=False):
        """`ssl`: serve TLS too, with a certificate for localhost and
        127.0.0.1 from a test CA (`self.ca`), for sslmode=verify-full.
        `durable`: flush to disk as a production server does (tests run
        without, for speed; measurements with)."""
        self.ssl = ssl
        self.durable = durable
        self.bindir = _bindir()
        self.dir = tempfile.mkdtemp(prefix="creditd-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "log")
        self.port = _free_port()
        self.running = False

    # -- as the postgres user -------------------------------------------------
    def _as_postgres(self, args, **kwargs):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + args, check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              **kwargs)

    def start(self):
        pw = pwd.getpwnam("postgres")
        if not os.path.exists(self.data):
            for d in (self.data, self.sock, self.log):
                os.makedirs(d, exist_ok=True)
                os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(self.data, 0o700)
            self._as_postgres([os.path.join(self.bindir, "initdb"), "-D", self.data,
                               "--locale=C.UTF-8", "-E", "UTF8", "--no-sync", "-U", "postgres",
                               "--auth-local=trust", "--auth-host=scram-sha-256"])
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
                f.write("local all postgres trust\n"
                        "host all all 127.0.0.1/32 scram-sha-256\n")
            if self.ssl:
                self._make_certificates(pw)
        self._as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l",
                           os.path.join(self.log, "server.log"), "-w", "-t", "30", "-o",
                           f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1"
                           + ("" if self.durable else " -c fsync=off -c full_page_writes=off")
                           + self._ssl_options(),
                           "start"])
        self.running = True
        return self

    def _make_certificates(self, pw):
        tls = os.path.join(self.dir, "tls")
        os.makedirs(tls)
        self.ca = os.path.join(tls, "ca.pem")
        ca_key = os.path.join(tls, "ca.key")

        def openssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                "/CN=creditd test database CA", "-keyout", ca_key, "-out", self.ca)
        self.server_cert = os.path.join(tls, "server.pem")
        self.server_key = os.path.join(tls, "server.key")
        csr = os.path.join(tls, "server.csr")
        ext = os.path.join(tls, "server.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
                self.server_key, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key, "-CAcreateserial",
                "-days", "2", "-extfile", ext, "-out", self.server_cert)
        for path in (self.server_cert, self.server_key):
            os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(path, 0o600)
        os.chmod(tls, 0o755)

    def _ssl_options(self):
        if not self.ssl:
            return ""
        return (f" -c ssl=on -c ssl_cert_file={self.server_cert}"
                f" -c ssl_key_file={self.server_key}")

    def stop(self, mode="fast"):
        if self.running:
            self._as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", mode,
                               "-w", "stop"])
            self.running = False

    def psql(self, sql, db="postgres", user="postgres"):
        """Runs SQL as the superuser over the socket; returns its output."""
        return subprocess.run(
            [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.sock, "-p", str(self.port), "-U", user, "-d", db, "-c", sql],
            check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout

    def setup_roles(self):
        self.psql(f"CREATE ROLE creditd_owner LOGIN PASSWORD '{self.OWNER_PASSWORD}'")
        self.psql(f"CREATE ROLE creditd LOGIN PASSWORD '{self.SERVING_PASSWORD}'")
        self.psql("CREATE DATABASE creditd OWNER creditd_owner")
        self.psql("REVOKE ALL ON DATABASE creditd FROM PUBLIC")
        self.psql("GRANT CONNECT ON DATABASE creditd TO creditd")
        self.passfile = os.path.join(self.dir, "pgpass")
        with open(self.passfile, "w") as f:
            for host in ("127.0.0.1", "localhost"):
                f.write(f"{host}:{self.port}:*:creditd_owner:{self.OWNER_PASSWORD}\n"
                        f"{host}:{self.port}:*:creditd:{self.SERVING_PASSWORD}\n")
        os.chmod(self.passfile, 0o600)
        return self

    def conninfo(self, user):
        return (f"host=127.0.0.1 port={self.port} dbname=creditd user={user} "
                f"passfile={self.passfile}")

    @property
    def owner(self):
        return self.conninfo("creditd_owner")

    @property
    def serving(self):
        return self.conninfo("creditd")

    @property
    def super(self):
        return f"host={self.sock} port={self.port} dbname=creditd user=postgres"

    def close(self):
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start().setup_roles()
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv):
    if "--" not in argv:
        sys.exit("usage: pg_cluster.py -- COMMAND ARGS...")
    command = argv[argv.index("--") + 1:]
    with PgCluster() as cluster:
        ctl = os.path.join(cluster.dir, "ctl")
        with open(ctl, "w") as f:
            f.write("#!/bin/sh\n# ctl stop|start: stops or starts the test's PostgreSQL\n"
                    f"exec runuser -u postgres -- {cluster.bindir}/pg_ctl -D {cluster.data} "
                    f"-l {cluster.log}/server.log -w -t 30 -m fast "
                    f"-o '-p {cluster.port} -k {cluster.sock} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c full_page_writes=off' \"$1\" >/dev/null\n")
        os.chmod(ctl, 0o755)
        env = dict(os.environ, CREDITD_TEST_PG_OWNER=cluster.owner,
                   CREDITD_TEST_PG_SERVING=cluster.serving, CREDITD_TEST_PG_SUPER=cluster.super,
                   CREDITD_TEST_PG_CTL=ctl)
        return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
