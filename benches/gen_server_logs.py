#!/usr/bin/env python3
"""Writes a large Keycloak or Ory Hydra server log with known failures, for
issue 14's "a Keycloak and a Hydra log of 1 GB each (about 5% failures)".

The lines copy the shapes of `sample_logs/keycloak/` and `sample_logs/hydra/`
(and of what `parsers/src/formats/keycloak/` and `.../hydra/` read):

  keycloak --format quarkus26  Keycloak 26 Quarkus text console, every event
                               value double-quoted (keycloak-26.log); default
           --format quarkus21  Keycloak 21 Quarkus text console, bare values,
                               '...' around values with spaces (keycloak-21.log)
           --format json       Keycloak 26 JSON console (keycloak.json.log)
  hydra    --format json       Hydra v2.3 logrus JSON, keys sorted, token
                               errors logged by LogAudit ("access denied")
                               (hydra-v2.3.json.log); default
           --format text       Hydra v2.2 logrus text, Go map[...] values
                               (hydra-v2.2.text.log)

Mostly ordinary traffic: browser logins that end in a code, the code
exchanged (CODE_TO_TOKEN / a 200 on /oauth2/token), refreshes, logouts,
health probes and discovery requests, scheduled tasks, now and then a stack
trace (Keycloak). About `--failure-share` of the token requests fail, each
flow written as the server writes it, with ids random per flow and the same
within it (the exchange names the session its login opened, a reused code
follows the successful exchange of that code, a reused refresh token follows
the refresh that rotated it):

  keycloak  code_reused (OAuth2CodeParser "already used" + invalid_code
            "Code not valid"), code_expired (expired_code "Code is expired",
            1-5 min after the login), refresh_token_expired ("Token is not
            active"), session_terminated ("Session not active" after the
            session's LOGOUT), pkce_verifier_mismatch (PkceUtils warning +
            pkce_verification_failed), pkce_missing (code_verifier_missing),
            refresh_token_reused ("Maximum allowed refresh token reuse
            exceeded" 20-60 ms after the successful refresh),
            invalid_client_credentials (KC-SERVICES0014 with its stack trace)
  hydra     code_reused ("The authorization code has already been used."),
            code_expired (invalid_grant, no hint, debug "invalid_token", 11-20
            min after the authorize request), pkce_verifier_mismatch,
            refresh_token_reused ("The refresh token was already used." +
            "Refresh token re-use was detected..."; Hydra 2.2 text:
            token_inactive 401 "Token validation failed."),
            refresh_token_expired ("The refresh token expired."),
            redirect_uri_mismatch, client_mismatch, invalid_client_credentials
            (invalid_client 401, bcrypt debug text)

Timestamps start at 2025-03-11 00:00 UTC and increase (a step every
`--mean-gap-ms`, 25 by default: a 1 GB Keycloak log spans about 15 hours,
a failure about every second); `--token-share` of the steps are token
requests, the rest lines of no OAuth interest. Every value is fake. The
count of failures written, per expected cause, goes to OUT.expected.txt;
`--compare` sets it beside `grantwatch analyze --json OUT`. Python 3
standard library only (the servers' lines are in `benches/serverlogs/`);
about 60 s per GB.

Usage:
  python3 benches/gen_server_logs.py --server keycloak --size 1G \\
      --failure-share 0.05 --seed 1 /work/kc.log
  python3 benches/gen_server_logs.py --server hydra --size 1G --seed 1 /work/hydra.log
  target/release/grantwatch analyze --json /work/kc.log > /work/kc.json
  python3 benches/gen_server_logs.py --compare /work/kc.json /work/kc.log  # found / injected
"""

import argparse
import json
import os
import random
import sys

# The modules beside this script, without leaving __pycache__ in the tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from serverlogs.common import MEAN_GAP, START, Ids, Writer, parse_size  # noqa: E402
from serverlogs.hydra import Hydra  # noqa: E402
from serverlogs.keycloak import Keycloak  # noqa: E402


def compare(out, found_json):
    """Prints found / injected per cause: `found_json` is the output of
    `grantwatch analyze --json OUT` (one failure a line)."""
    want = {}
    with open(out + ".expected.txt") as f:
        for line in f:
            if line.startswith("#") or line.startswith("total "):
                continue
            cause, n = line.split()
            want[cause] = int(n)
    got = {}
    with open(found_json) as f:
        for line in f:
            if line.strip():
                cause = json.loads(line)["cause"]
                got[cause] = got.get(cause, 0) + 1
    print("%-28s %9s %9s %7s" % ("cause", "injected", "found", "ratio"))
    for cause in sorted(set(want) | set(got)):
        w, g = want.get(cause, 0), got.get(cause, 0)
        print("%-28s %9d %9d %7s" % (cause, w, g, "%.2f" % (g / w) if w else "-"))
    w, g = sum(want.values()), sum(got.values())
    print("%-28s %9d %9d %7.2f" % ("total", w, g, g / max(1, w)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["keycloak", "hydra"])
    ap.add_argument("--format", help="keycloak: quarkus26 (default), quarkus21, json; "
                    "hydra: json (default), text")
    ap.add_argument("--size", default="64M", help="bytes, or with a K, M or G suffix")
    ap.add_argument("--failure-share", type=float, default=0.05,
                    help="share of token requests that fail")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--token-share", type=float, default=0.45,
                    help="share of steps that are a token request (with its login, logout, "
                    "authorize request); the others write a line of no OAuth interest")
    ap.add_argument("--mean-gap-ms", type=float, default=MEAN_GAP * 1000,
                    help="mean time between two lines (default 25: 1 GB spans about 17 h)")
    ap.add_argument("--compare", metavar="JSON",
                    help="write nothing: compare `grantwatch analyze --json OUT > JSON` "
                    "with OUT.expected.txt, per cause")
    ap.add_argument("out")
    a = ap.parse_args()
    if a.compare:
        compare(a.out, a.compare)
        return
    if not a.server:
        ap.error("--server is required")
    formats = {"keycloak": ("quarkus26", "quarkus21", "json"), "hydra": ("json", "text")}
    fmt = a.format or formats[a.server][0]
    if fmt not in formats[a.server]:
        ap.error("--format for %s: one of %s" % (a.server, ", ".join(formats[a.server])))
    size = parse_size(a.size)
    rng = random.Random(a.seed)
    w = Writer(a.out, rng)
    ids = Ids(rng)
    gen = (Keycloak if a.server == "keycloak" else Hydra)(w, ids, fmt, a.failure_share)
    t = START
    gen.preamble(t)
    t += 20
    # A token request slot at --token-share of the steps; noise between.
    while w.bytes < size:
        t += rng.expovariate(1000 / a.mean_gap_ms)
        w.run_due(t)
        if rng.random() < a.token_share:
            (gen.failure if rng.random() < gen.p_fail else gen.success)(t)
        else:
            gen.noise(t)
    w.drain()
    w.close()
    failed = sum(w.causes.values())
    with open(a.out + ".expected.txt", "w") as f:
        f.write("# %s --server %s --format %s --size %s --failure-share %s --seed %d "
                "--token-share %s --mean-gap-ms %s\n"
                % (sys.argv[0], a.server, fmt, a.size, a.failure_share, a.seed, a.token_share,
                   a.mean_gap_ms))
        f.write("# %d bytes, %d lines, %d token requests, %d failed (%.2f%%)\n"
                % (w.bytes, w.lines, w.token_requests, failed, 100 * failed / max(1, w.token_requests)))
        for cause in sorted(w.causes):
            f.write("%s %d\n" % (cause, w.causes[cause]))
        f.write("total %d\n" % failed)
    print("%s: %d bytes, %d lines, %d token requests, %d failed (%.2f%%); counts in %s.expected.txt"
          % (a.out, w.bytes, w.lines, w.token_requests, failed,
             100 * failed / max(1, w.token_requests), a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
