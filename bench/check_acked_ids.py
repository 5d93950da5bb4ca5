#!/usr/bin/env python3
"""Checks that every decision id the load generator saw acknowledged is in
the audit log: a decision answered OK must have been logged first, crash or
no crash.

  bench/check_acked_ids.py creditd-audit.db acked-ids.txt

Prints how many ids were acked, how many the log holds, and every acked id
missing from it; exits 1 when any is missing, 2 when a file cannot be read.
Opens the log read-only: a stopped creditd's log, or the snapshot a running one
writes on SIGUSR1 (it holds its own log exclusively).
"""
import sqlite3
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    db_path, ids_path = sys.argv[1], sys.argv[2]
    try:
        with open(ids_path, encoding="ascii") as f:
            acked = [line.strip() for line in f if line.strip()]
    except OSError as e:
        print(f"check_acked_ids: cannot read {ids_path}: {e.strerror}", file=sys.stderr)
        return 2
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        logged = {row[0] for row in db.execute("SELECT decision_id FROM decisions")}
    except sqlite3.Error as e:
        print(f"check_acked_ids: cannot read the log {db_path}: {e}", file=sys.stderr)
        return 2
    missing = [i for i in acked if i not in logged]
    duplicates = len(acked) - len(set(acked))
    print(f"{len(acked)} acked ids, {len(logged)} decisions in the log, "
          f"{len(missing)} acked but not logged, {duplicates} acked twice")
    for i in missing[:20]:
        print(f"  not logged: {i}")
    return 1 if missing or duplicates else 0


if __name__ == "__main__":
    sys.exit(main())
