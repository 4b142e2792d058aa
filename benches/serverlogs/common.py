"""What every server's generator shares: sizes, the time-ordered writer
(a heap of scheduled steps, so flows interleave, and the count of failures
written per cause), random ids and cached time stamps."""

import calendar
import heapq
import time

# Timestamps start here and advance by an exponential gap between steps.
START = calendar.timegm((2025, 3, 11, 0, 0, 0, 0, 0, 0))
MEAN_GAP = 0.025


def parse_size(text):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text and text[-1] in mult:
        return int(float(text[:-1]) * mult[text[-1]])
    return int(text)


class Writer:
    """Lines out, in time order: a heap of scheduled steps drained up to the
    current time before each new step, so flows interleave."""

    def __init__(self, path, rng):
        self.f = open(path, "w", buffering=1 << 20, encoding="utf-8")
        self.rng = rng
        self.buf = []
        self.bytes = 0
        self.lines = 0
        self.heap = []
        self.seq = 0
        self.causes = {}
        self.token_requests = 0

    def line(self, text):
        self.buf.append(text)
        self.bytes += len(text) + 1
        self.lines += 1
        if len(self.buf) >= 4096:
            self.flush()

    def flush(self):
        if self.buf:
            self.f.write("\n".join(self.buf))
            self.f.write("\n")
            self.buf = []

    def at(self, t, step):
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, step))

    def run_due(self, now):
        while self.heap and self.heap[0][0] <= now:
            t, _, step = heapq.heappop(self.heap)
            step(t)

    def drain(self):
        while self.heap:
            t, _, step = heapq.heappop(self.heap)
            step(t)

    def failed(self, cause):
        self.causes[cause] = self.causes.get(cause, 0) + 1
        self.token_requests += 1

    def succeeded(self):
        self.token_requests += 1

    def close(self):
        self.flush()
        self.f.close()


class Ids:
    def __init__(self, rng):
        self.rng = rng

    def uuid(self):
        h = "%032x" % self.rng.getrandbits(128)
        return "%s-%s-4%s-%s-%s" % (h[:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) & 3] + h[17:20],
                                    h[20:])

    def hex(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def public_ip(self):
        r = self.rng
        return r.choice(("203.0.113.%d", "198.51.100.%d", "192.0.2.%d")) % r.randint(1, 254)

    def inner_ip(self, prefix):
        return "%s.%d.%d" % (prefix, self.rng.randint(0, 9), self.rng.randint(2, 250))


class Stamp:
    """Time-stamp text, the second part cached (one strftime a second)."""

    def __init__(self, fmt):
        self.fmt = fmt
        self.sec = None
        self.text = ""

    def head(self, t):
        s = int(t)
        if s != self.sec:
            self.sec = s
            self.text = time.strftime(self.fmt, time.gmtime(s))
        return self.text
