#!/usr/bin/env python3
"""Benchmarks of `grantwatch watch` as a user runs it (release build).

Three measurements against a real daemon on loopback, writing to a real
file it tails:

  latency  a failing Doorkeeper token request appended to the watched log,
           until GET /api/requests/{id} answers 200: p50, p99, max over N.
  ingest   ordinary Rails lines (1% OAuth) appended as fast as the writer
           can for S seconds while a client reads /api/failures every
           100 ms; lines read per second from /metrics.
  soak     a steady rate of lines for S seconds; the daemon's RSS sampled
           every 30 s (flat memory is the goal).
  idle     CPU of a watch that has read everything, over S seconds.
  kill9    N failed token requests written to the watched file, watch
           started, kill -9 100-500 ms later, restarted: the time from the
           restart until all N are stored once and diagnosed once (--runs).
  catchup  watch started on a folder that already holds a large log (--dir,
           issue 14's 1 GB backlog): the time until every line is read
           (`grantwatch_lines_read_total` reaches the folder's line count and
           `grantwatch_ingest_lag_bytes` is 0, from /metrics every 50 ms),
           as MB/s; meanwhile GET /, /failures, /incidents and /api/stats
           every 250 ms, their p50/p99/max latency during the catch-up; the
           daemon's peak RSS (VmHWM). Counting the lines first reads the
           folder once, so the catch-up reads from the page cache (a backlog
           just written). Its own --db in a temporary folder, so each run
           starts from nothing.

Usage:  python3 benches/watch_bench.py latency|ingest|soak|idle|kill9|catchup
                [--seconds S] [--rate R] [--samples N] [--failures N] [--runs R]
                [--dir DIR] [--binary target/release/grantwatch]
"""

import argparse
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

PREFIX = "I, [{ts} #7]  INFO -- : [{rid}] "


def now_ts():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06d" % int((t % 1) * 1e6)


def started_at():
    return time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime())


def failing_refresh(rid):
    p = PREFIX.format(ts=now_ts(), rid=rid)
    return (
        p + 'Started POST "/oauth/token" for 10.1.2.3 at ' + started_at() + "\n"
        + p + "Processing by Doorkeeper::TokensController#create as */*\n"
        + p + '  Parameters: {"grant_type"=>"password", "username"=>"u@example.com", '
        '"password"=>"[FILTERED]", "client_id"=>"bench"}\n'
        + p + "Completed 400 Bad Request in 12ms (Views: 0.1ms | ActiveRecord: 2.0ms)\n"
    )


def ordinary(rid, n):
    p = PREFIX.format(ts=now_ts(), rid=rid)
    return (
        p + 'Started GET "/products/%d" for 10.0.0.1 at %s\n' % (n, started_at())
        + p + "Processing by ProductsController#show as HTML\n"
        + p + '  Parameters: {"id"=>"%d"}\n' % n
        + p + "Completed 200 OK in 14ms (Views: 8.8ms | ActiveRecord: 1.3ms)\n"
    )


class Daemon:
    def __init__(self, binary, workdir, extra=(), fresh=True, content="", watch_dir=None):
        self.log = os.path.join(watch_dir or os.path.join(workdir, "logs"), "production.log")
        self.db = os.path.join(workdir, "w.db")
        if fresh and not watch_dir:
            os.makedirs(os.path.dirname(self.log))
            with open(self.log, "w") as f:
                f.write(content)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [binary, "watch", "--listen", "127.0.0.1:0", "--db",
             os.path.join(workdir, "w.db"), os.path.dirname(self.log)] + list(extra),
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        for line in self.proc.stderr:
            m = re.search(r"on http://(\S+)", line)
            if m:
                self.addr = m.group(1)
                break
        # With --daemon-log, the daemon's stderr (its trace with
        # GRANTWATCH_TRACE_DIAGNOSIS=1) is kept, each line stamped with the
        # wall time it arrived, to set beside the slowest samples.
        self.trace = []
        threading.Thread(target=lambda: [self.trace.append((time.time(), l.rstrip()))
                                         for l in self.proc.stderr], daemon=True).start()

    def get(self, path, timeout=5):
        try:
            with urllib.request.urlopen("http://%s%s" % (self.addr, path), timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def lines_read(self):
        _, text = self.get("/metrics")
        return sum(int(float(l.rsplit(" ", 1)[1])) for l in text.splitlines()
                   if l.startswith("grantwatch_lines_read_total"))

    def peak_rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle(d, seconds):
    """CPU the daemon uses doing nothing, once it has read everything."""
    while True:
        before = cpu_seconds(d.proc.pid)
        time.sleep(1)
        if cpu_seconds(d.proc.pid) - before < 0.05:
            break
    before = cpu_seconds(d.proc.pid)
    time.sleep(seconds)
    used = cpu_seconds(d.proc.pid) - before
    print("idle: %.2f s of CPU over %d s (%.2f%% of a core)"
          % (used, seconds, 100 * used / seconds))


def latency(d, samples, gap_ms=20, daemon_log=None):
    out = []
    wall = []
    with open(d.log, "a") as f:
        for _ in range(samples):
            rid = str(uuid.uuid4())
            wall.append(time.time())
            start = time.perf_counter()
            f.write(failing_refresh(rid))
            f.flush()
            while d.get("/api/requests/" + rid)[0] != 200:
                time.sleep(0.001)
            out.append((time.perf_counter() - start) * 1000)
            time.sleep(gap_ms / 1000)
    # The slowest appends, by number (0 is the file's first line) and when:
    # a periodic cause shows as a period, a start-up cost as number 0.
    slow = sorted(range(len(out)), key=lambda i: -out[i])[:3]
    print("slowest: " + ", ".join("#%d %.1f ms (appended at %.3f)" % (i, out[i], wall[i])
                                  for i in sorted(slow)))
    if d.trace:
        # Each slow append's time split by the daemon's trace (wall clocks
        # of one machine): until its read round began (wake-up), the round
        # (read, parse, commit), the rest (the web side and this client).
        rounds = []
        for _, l in d.trace:
            m = re.search(r"read round: ([0-9.]+) ms.* began at ([0-9.]+)", l)
            if m:
                rounds.append((float(m.group(2)), float(m.group(1))))
        for i in sorted(slow):
            r = next((r for r in rounds if r[0] >= wall[i] - 0.0005), None)
            if r:
                wake = (r[0] - wall[i]) * 1000
                print("  #%d: wake-up %.1f ms, read round %.1f ms, the rest %.1f ms"
                      % (i, wake, r[1], out[i] - wake - r[1]))
    if daemon_log:
        with open(daemon_log, "w") as f:
            for i, t in enumerate(wall):
                f.write("%.3f append #%d: visible after %.1f ms\n" % (t, i, out[i]))
            for t, l in d.trace:
                f.write("%.3f %s\n" % (t, l))
    out.sort()
    pick = lambda q: out[min(len(out) - 1, int(q * len(out)))]
    print("latency over %d appends %d ms apart: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (len(out), gap_ms, pick(0.5), pick(0.99), out[-1]))


def ingest(d, seconds):
    stop = threading.Event()
    reads = [0]

    def reader():
        while not stop.is_set():
            d.get("/api/failures?limit=100")
            reads[0] += 1
            time.sleep(0.1)

    threading.Thread(target=reader, daemon=True).start()
    written = 0
    start = time.time()
    with open(d.log, "a") as f:
        while time.time() - start < seconds:
            chunk = []
            for i in range(250):
                n = written // 4 + i
                chunk.append(failing_refresh(str(uuid.uuid4())) if n % 100 == 0
                             else ordinary(str(uuid.uuid4()), n))
            f.write("".join(chunk))
            f.flush()
            written += 1000
    wrote_for = time.time() - start
    while d.lines_read() < written and time.time() - start < seconds + 60:
        time.sleep(0.05)
    took = time.time() - start
    stop.set()
    print("ingest: %d lines written in %.1f s, all read after %.1f s: %.0f lines/s "
          "(while serving %d API reads)" % (written, wrote_for, took, d.lines_read() / took, reads[0]))


def soak(d, seconds, rate):
    start = time.time()
    samples = []
    written = 0
    next_sample = start
    with open(d.log, "a") as f:
        while time.time() - start < seconds:
            t = time.time()
            if t >= next_sample:
                samples.append((round(t - start), d.rss_kb()))
                print("t=%5ds rss=%d KiB lines=%d" % (samples[-1] + (written,)), flush=True)
                next_sample += 30
            chunk = [failing_refresh(str(uuid.uuid4())) if (written // 4 + i) % 100 == 0
                     else ordinary(str(uuid.uuid4()), written // 4 + i) for i in range(rate // 40)]
            f.write("".join(chunk))
            f.flush()
            written += 4 * len(chunk)
            time.sleep(max(0.0, 0.1 - (time.time() - t)))
    rss = [r for _, r in samples]
    half = len(rss) // 2
    print("soak: %d s at %d lines/s: RSS min %d KiB, max %d KiB, first-half max %d KiB, "
          "second-half max %d KiB" % (seconds, rate, min(rss), max(rss), max(rss[:half] or rss),
                                      max(rss[half:] or rss)))


def counts(db):
    """(events, distinct request ids of events, failures, distinct request
    ids of failures, failed events linked to no failure)."""
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
        try:
            return c.execute(
                "SELECT (SELECT count(*) FROM events),"
                " (SELECT count(DISTINCT request_id) FROM events),"
                " (SELECT count(*) FROM failures),"
                " (SELECT count(DISTINCT request_id) FROM failures),"
                " (SELECT count(*) FROM events e WHERE NOT EXISTS"
                "   (SELECT 1 FROM failure_events f WHERE f.event_id = e.id))").fetchone()
        finally:
            c.close()
    except sqlite3.Error:
        return (0, 0, 0, 0, 0)


def failed_json(i):
    return ('{"time":"2025-03-11T%02d:%02d:%02d.000Z","request_id":"req-%05d",'
            '"error":"invalid_grant","error_description":"Code was already redeemed."}\n'
            % (9 + i // 3600, (i // 60) % 60, i % 60, i))


def kill9(binary, failures, runs):
    """Issue 11, defect 1: failures stored before a kill -9 are diagnosed
    after the restart, all of them, once."""
    took = []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as work:
            # The order: the file written, watch started, killed
            # 100-500 ms after its start.
            d = Daemon(binary, work, content="".join(failed_json(i) for i in range(failures)))
            wait = random.uniform(0.1, 0.5)
            time.sleep(max(0.0, wait - (time.perf_counter() - d.started)))
            d.proc.kill()
            d.proc.wait()
            at_kill = counts(d.db)
            d = Daemon(binary, work, fresh=False)
            want = (failures, failures, failures, failures, 0)
            while counts(d.db) != want and time.perf_counter() - d.started < 60:
                time.sleep(0.01)
            secs = time.perf_counter() - d.started
            final = counts(d.db)
            d.stop()
            again = counts(d.db)
            print("kill9 run %d: killed %.0f ms after start with %d events and %d failures "
                  "stored; after the restart all %d diagnosed in %.2f s; final %s, after "
                  "SIGTERM %s" % (run + 1, wait * 1000, at_kill[0], at_kill[2], failures,
                                  secs, final, again), flush=True)
            if final != want or again != want:
                print("kill9: FAILED, expected %s" % (want,))
                return 1
            took.append(secs)
    took.sort()
    print("kill9: %d runs of %d failures: restart to all diagnosed min %.2f s, median %.2f s, "
          "max %.2f s" % (runs, failures, took[0], took[len(took) // 2], took[-1]))
    return 0


def metric_sum(text, name):
    """The sum of every sample of `name` in a /metrics text, or None when
    it has none."""
    total = None
    for l in text.splitlines():
        if l.startswith(name + "{") or l.startswith(name + " "):
            total = (total or 0) + float(l.rsplit(" ", 1)[1])
    return total


def folder_size(folder):
    """(bytes, lines) of the files under `folder`."""
    size = lines = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                while True:
                    chunk = f.read(1 << 24)
                    if not chunk:
                        break
                    size += len(chunk)
                    lines += chunk.count(b"\n")
    return size, lines


def catchup(binary, folder, timeout):
    """Issue 14: watch started on a folder that already holds its backlog."""
    size, lines = folder_size(folder)
    print("catchup: %s holds %d bytes, %d lines; load average %.2f %.2f %.2f"
          % ((folder, size, lines) + os.getloadavg()), flush=True)
    routes = ["/", "/failures", "/incidents", "/api/stats"]
    took = {r: [] for r in routes}
    errors = {r: 0 for r in routes}
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as work:
        d = Daemon(binary, work, watch_dir=os.path.abspath(folder))

        def dashboard():
            while not stop.is_set():
                tick = time.perf_counter()
                for r in routes:
                    start = time.perf_counter()
                    try:
                        status, _ = d.get(r, timeout=30)
                    except OSError:
                        status = 0
                    took[r].append((time.perf_counter() - start) * 1000)
                    if status != 200:
                        errors[r] += 1
                stop.wait(max(0.0, 0.25 - (time.perf_counter() - tick)))

        reader = threading.Thread(target=dashboard, daemon=True)
        reader.start()
        read = lag = None
        done = None
        try:
            while time.perf_counter() - d.started < timeout:
                try:
                    _, text = d.get("/metrics", timeout=30)
                except OSError:
                    text = ""
                read = metric_sum(text, "grantwatch_lines_read_total")
                lag = metric_sum(text, "grantwatch_ingest_lag_bytes")
                if read is not None and read >= lines and lag == 0:
                    done = time.perf_counter() - d.started
                    break
                time.sleep(0.05)
            stop.set()
            reader.join()
            at_read = None
            if done is None:
                print("catchup: NOT caught up after %d s: %s lines read, lag %s bytes"
                      % (timeout, read, lag))
                return 1
            # Diagnosis can trail the reading: the failures stored, until
            # their count has not moved for 2 s (30 s while none is stored:
            # a first start on a large backlog builds its indexes before
            # the diagnosis begins).
            failures, settled, changed = -1, None, time.perf_counter()
            while (time.perf_counter() - changed < (2 if failures > 0 else 30)
                   and time.perf_counter() - d.started < timeout):
                _, text = d.get("/metrics", timeout=30)
                now = metric_sum(text, "grantwatch_failures_stored") or 0
                if now != failures:
                    failures, changed = now, time.perf_counter()
                    settled = changed - d.started
                    if at_read is None:
                        at_read = now
                time.sleep(0.05)
            peak = d.peak_rss_kb()
        finally:
            d.stop()
    print("catchup: every line read %.2f s after the start: %.0f MB/s (%.0f MiB/s), "
          "%d lines read, %d failures stored then, %d at %.2f s (no change for 2 s after, 30 s while none); "
          "daemon peak RSS (VmHWM) %d KiB; load average after %.2f %.2f %.2f"
          % ((done, size / done / 1e6, size / done / (1 << 20), read, at_read, failures,
              settled, peak) + os.getloadavg()))
    for r in routes:
        t = sorted(took[r])
        if not t:
            print("  GET %-11s no answer during the catch-up" % r)
            continue
        pick = lambda q: t[min(len(t) - 1, int(q * len(t)))]
        print("  GET %-11s %4d requests during the catch-up (%d not 200): p50 %.1f ms, "
              "p99 %.1f ms, max %.1f ms" % (r, len(t), errors[r], pick(0.5), pick(0.99), t[-1]))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["latency", "ingest", "soak", "idle", "kill9", "catchup"])
    ap.add_argument("--failures", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--gap-ms", type=int, default=20,
                    help="latency: pause between one answer and the next append")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--binary", default="target/release/grantwatch")
    ap.add_argument("--daemon-log",
                    help="latency: write each append and the daemon's stderr, time-stamped, here")
    ap.add_argument("--also", action="append", default=[],
                    help="another path to watch (idle: sample_logs/)")
    ap.add_argument("--dir", help="catchup: the folder that holds the backlog")
    ap.add_argument("--timeout", type=int, default=600,
                    help="catchup: give up after this many seconds")
    a = ap.parse_args()
    if a.what == "kill9":
        return kill9(a.binary, a.failures, a.runs)
    if a.what == "catchup":
        if not a.dir:
            ap.error("catchup needs --dir")
        return catchup(a.binary, a.dir, a.timeout)
    with tempfile.TemporaryDirectory() as work:
        d = Daemon(a.binary, work, [os.path.abspath(p) for p in a.also])
        try:
            if a.what == "latency":
                latency(d, a.samples, a.gap_ms, a.daemon_log)
            elif a.what == "idle":
                idle(d, a.seconds)
            elif a.what == "ingest":
                ingest(d, a.seconds)
            else:
                soak(d, a.seconds, a.rate)
        finally:
            d.stop()


if __name__ == "__main__":
    sys.exit(main())
