#!/usr/bin/python3
"""The measured inputs of docs/scaling.md, on this machine:

  - decisions per second per core: one creditd pinned to one core (SQLite log,
    durable), the load generator on the other;
  - log bytes per decision, in SQLite and in PostgreSQL;
  - PostgreSQL commits and decisions per second with 1 and 2 replicas writing
    their own chains (everything shares this machine's cores: a ratio, not a
    promise).

    bench/scaling.py --bin build/release [--seconds 10] [--runs 3]

Needs the release build (creditd, creditctl, loadgen) and PostgreSQL 15 (it
starts a throwaway one, as the tests do). Prints one line per figure, medians
of --runs runs.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "pg"))
from pg_cluster import PgCluster  # noqa: E402

POLICIES = os.path.join(SOURCE, "policies")


def start_creditd(binary, args, cpu=None):
    prefix = ["taskset", "-c", cpu] if cpu is not None else []
    log = tempfile.NamedTemporaryFile(prefix="creditd-", suffix=".log", delete=False)
    proc = subprocess.Popen(prefix + [binary, "--listen=127.0.0.1:0", f"--policies={POLICIES}",
                                      *args], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        with open(log.name, errors="replace") as f:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
        if m:
            return proc, int(m.group(1)), log.name
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with open(log.name, errors="replace") as f:
        raise RuntimeError("creditd did not start:\n" + f.read())


def stop(proc):
    proc.terminate()
    if proc.wait(timeout=120) != 0:
        raise RuntimeError(f"creditd exited {proc.returncode}")


def loadgen(binary, ports, seconds, cpu=None):
    """Evaluate calls per second, summed over one loadgen per port."""
    prefix = ["taskset", "-c", cpu] if cpu is not None else []
    procs = [subprocess.Popen(prefix + [binary, f"--target=127.0.0.1:{port}", "--mode=evaluate",
                                        f"--seconds={seconds}", f"--policies={POLICIES}",
                                        "--concurrency=128"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for port in ports]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        m = re.search(r"=\s+(\d+)/s", out)
        if not m:
            raise RuntimeError("loadgen printed no rate:\n" + out)
        total += float(m.group(1))
    return total


def per_core(args, work):
    rates, sizes = [], []
    for run in range(args.runs):
        db = os.path.join(work, f"per-core-{run}.db")
        proc, port, _ = start_creditd(os.path.join(args.bin, "server/creditd"),
                                      [f"--audit_db={db}"], cpu="0")
        try:
            rates.append(loadgen(os.path.join(args.bin, "bench/loadgen"), [port], args.seconds,
                                 cpu="1"))
        finally:
            stop(proc)
        records = int(subprocess.run(["sqlite3", db, "SELECT count(*) FROM decisions"],
                                     capture_output=True, text=True, check=True).stdout)
        size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
        sizes.append(size / records)
    print(f"decisions/s, one creditd on one core (SQLite, durable): "
          f"median {statistics.median(rates):.0f} of {sorted(round(r) for r in rates)}")
    print(f"SQLite log bytes per decision: median {statistics.median(sizes):.0f}")


def pg_replicas(args, work, cluster, replicas):
    rates, commits, per_record = [], [], []
    for run in range(args.runs):
        procs, ports = [], []
        for r in range(replicas):
            proc, port, _ = start_creditd(
                os.path.join(args.bin, "server/creditd"),
                [f"--audit_store={cluster.serving}", f"--replica_id=bench-{replicas}-{run}-{r}"])
            procs.append(proc)
            ports.append(port)
        before = int(cluster.psql("SELECT xact_commit FROM pg_stat_database "
                                  "WHERE datname = 'creditd'").strip())
        start = time.time()
        try:
            rate = loadgen(os.path.join(args.bin, "bench/loadgen"), ports, args.seconds)
        finally:
            elapsed = time.time() - start
            after = int(cluster.psql("SELECT xact_commit FROM pg_stat_database "
                                     "WHERE datname = 'creditd'").strip())
            for proc in procs:
                stop(proc)
        rates.append(rate)
        commits.append((after - before) / elapsed)
    count = int(cluster.psql("SELECT count(*) FROM creditd.records", db="creditd").strip())
    size = int(cluster.psql("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i "
                            "JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = 'creditd.records'::regclass", db="creditd")
               .strip())
    per_record.append(size / count)
    print(f"PostgreSQL, {replicas} replica(s): decisions/s median {statistics.median(rates):.0f} "
          f"of {sorted(round(r) for r in rates)}; database commits/s median "
          f"{statistics.median(commits):.0f} (all sessions, warm-up included)")
    return statistics.median(per_record)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(SOURCE, "build", "release"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; loadgen --mode=evaluate --concurrency=128 "
          f"--seconds={args.seconds}, {args.runs} runs each")
    work = tempfile.mkdtemp(prefix="creditd-scaling-")
    try:
        per_core(args, work)
        with PgCluster(durable=True) as cluster:
            subprocess.run([os.path.join(args.bin, "cli/creditctl"), "audit", "migrate",
                            cluster.owner, "--grant", "creditd"], check=True,
                           capture_output=True)
            size = 0.0
            for replicas in (1, 2):
                size = pg_replicas(args, work, cluster, replicas)
            print(f"PostgreSQL log bytes per decision (table and indexes): {size:.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
