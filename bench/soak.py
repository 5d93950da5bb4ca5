#!/usr/bin/env python3
"""Soak: steady load on all four decisions over mTLS, a reload every 10 s.

Starts a release creditd with a test CA made here (openssl), roles, and the
reference policies; runs bench/loadgen against it for --seconds at --rate
calls per second; sends SIGHUP every --reload_seconds; samples the server's
RSS; then checks that every acknowledged decision is in the log and that the
log verifies. Not part of the tests: it reports.

    /usr/bin/python3 bench/soak.py --seconds=600 --rate=3000
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "release")


def openssl(directory, *args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)


def make_pki(directory):
    openssl(directory, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=soak-ca")
    for name, san, usage in (("server", "DNS:localhost,IP:127.0.0.1", "serverAuth"),
                             ("client", "URI:spiffe://soak.test/loadgen", "clientAuth")):
        with open(os.path.join(directory, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\nextendedKeyUsage={usage}\n")
        openssl(directory, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey",
                "ca.key", "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                "-out", f"{name}.pem")
    with open(os.path.join(directory, "roles"), "w") as f:
        f.write("evaluate spiffe://soak.test/loadgen\n")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--rate", type=int, default=3000)
    parser.add_argument("--reload_seconds", type=int, default=10)
    parser.add_argument("--build", default=BUILD)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="creditd-soak-")
    make_pki(work)
    log = open(os.path.join(work, "creditd.log"), "w+")
    audit = os.path.join(work, "audit.db")
    server = subprocess.Popen(
        [os.path.join(args.build, "server", "creditd"), "--listen=127.0.0.1:0",
         f"--policies={ROOT}/policies", f"--audit_db={audit}",
         f"--tls_cert={work}/server.pem", f"--tls_key={work}/server.key",
         f"--tls_client_ca={work}/ca.pem", f"--roles={work}/roles"],
        stdout=log, stderr=subprocess.STDOUT)
    port = None
    for _ in range(300):
        log.seek(0)
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read())
        if m:
            port = m.group(1)
            break
        time.sleep(0.1)
    if port is None:
        log.seek(0)
        sys.exit("creditd did not start:\n" + log.read())

    acked = os.path.join(work, "acked.txt")
    load = subprocess.Popen(
        [os.path.join(args.build, "bench", "loadgen"), f"--target=127.0.0.1:{port}",
         "--mode=evaluate", f"--seconds={args.seconds}", "--warmup_seconds=0",
         f"--rate={args.rate}", "--mix=all", f"--policies={ROOT}/policies",
         f"--ca_file={work}/ca.pem", f"--cert_file={work}/client.pem",
         f"--key_file={work}/client.key", "--server_name=localhost", "--deadline_ms=5000",
         f"--acked_ids_file={acked}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    samples = []
    reloads = 0
    started = time.time()
    stop = threading.Event()

    def sample():
        while not stop.wait(1):
            samples.append((time.time() - started, rss_kb(server.pid)))

    sampler = threading.Thread(target=sample)
    sampler.start()
    next_reload = started + args.reload_seconds
    while load.poll() is None:
        time.sleep(0.2)
        if time.time() >= next_reload:
            server.send_signal(signal.SIGHUP)
            reloads += 1
            next_reload += args.reload_seconds
    stop.set()
    sampler.join()
    output = load.stdout.read()
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=120)

    checked = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "check_acked_ids.py"),
                              audit, acked], capture_output=True, text=True)
    verify = subprocess.run([os.path.join(args.build, "cli", "creditctl"), "audit", "verify",
                             audit], capture_output=True, text=True)
    log.seek(0)
    accepted = len(re.findall(r"serving credit_application", log.read()))
    first = [kb for t, kb in samples if t >= 10][:1] or [samples[0][1] if samples else 0]
    last = samples[-1][1] if samples else 0
    peak = max((kb for _, kb in samples), default=0)
    print(output.strip())
    print(f"reloads sent: {reloads}; accepted reloads in the log: {accepted}")
    print(f"RSS: {first[0] // 1024} MB at 10 s, {last // 1024} MB at the end, "
          f"peak {peak // 1024} MB")
    print(f"creditd exit code: {code}")
    print("acked ids:", (checked.stdout + checked.stderr).strip())
    print("audit verify:", (verify.stdout + verify.stderr).strip())
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
