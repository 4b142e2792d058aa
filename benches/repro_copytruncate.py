#!/usr/bin/env python3
"""Reproduces the defect the model test found with seed 7680933859065218064
(benches/README.md, "The model-based test of the whole daemon").

Each run: `watch` of a folder; two failed requests and half of a third
written, SIGTERM, restart, the third finished and half of a fourth written,
SIGTERM, restart, the fourth finished, then at once a copytruncate (copy
outside the folder, truncate) and ten new failed requests. It waits up to
WAIT seconds for the ten to be stored, then SIGTERMs the daemon and says
when (or whether) they were stored and what it printed on stderr.

Usage:  python3 benches/repro_copytruncate.py [RUNS] [--binary PATH] [--wait S]
"""

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


def line(i):
    return ('{"time":"2025-03-11T09:00:%02d.000Z","request_id":"fail-%05d",'
            '"error":"invalid_grant","error_description":"Code was already redeemed."}\n'
            % (i % 60, i))


def start(binary, work):
    p = subprocess.Popen(
        [binary, "watch", "--listen", "127.0.0.1:0", "--poll-interval-ms", "50",
         "--db", work + "/w.db", work + "/logs"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for text in p.stderr:
        if "on http://" in text:
            break
    p.lines = []
    threading.Thread(target=lambda: [p.lines.append(x.strip()) for x in p.stderr],
                     daemon=True).start()
    return p


def stop(p):
    p.terminate()
    p.wait()


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def stored(work):
    try:
        c = sqlite3.connect("file:%s/w.db?mode=ro" % work, uri=True, timeout=5)
        try:
            return set(r[0] for r in c.execute("SELECT request_id FROM events"))
        finally:
            c.close()
    except sqlite3.Error:
        return set()


def run(binary, wait):
    """True when the ten new requests were stored while the daemon ran."""
    work = tempfile.mkdtemp()
    os.makedirs(work + "/logs")
    log = work + "/logs/app.jsonl"
    open(log, "w").close()
    p = start(binary, work)
    append(log, line(1) + line(2))
    third = line(3)
    append(log, third[:26])
    stop(p)
    p = start(binary, work)
    append(log, third[26:])
    fourth = line(4)
    append(log, fourth[:111])
    stop(p)
    p = start(binary, work)
    append(log, fourth[111:])
    shutil.copy(log, work + "/copy")
    open(log, "w").close()
    append(log, "".join(line(i) for i in range(5, 15)))
    want = set("fail-%05d" % i for i in range(5, 15))
    began = time.time()
    while time.time() - began < wait and not want <= stored(work):
        time.sleep(0.1)
    took = time.time() - began
    ok = want <= stored(work)
    stop(p)
    after = want <= stored(work)
    if ok:
        print("stored after %.2f s" % took)
        shutil.rmtree(work)
    else:
        print("NOT stored after %.0f s (%d of 10); after SIGTERM: %s; stderr: %s; kept %s"
              % (took, len(want & stored(work)), "all" if after else "not all", p.lines, work))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=int, nargs="?", default=10)
    ap.add_argument("--binary", default="target/release/grantwatch")
    ap.add_argument("--wait", type=float, default=60)
    a = ap.parse_args()
    bad = sum(not run(a.binary, a.wait) for _ in range(a.runs))
    print("%d of %d runs with the new requests not stored in time" % (bad, a.runs))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
