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

Timestamps start at 2025-03-11 00:00 UTC and increase (a line every 25 ms
on average). Every value is fake. The count of failures written, per
expected cause, goes to OUT.expected.txt. Python 3 standard library only;
about 30-60 s per GB.

Usage:
  python3 benches/gen_server_logs.py --server keycloak --size 1G \\
      --failure-share 0.05 --seed 1 /work/kc.log
  python3 benches/gen_server_logs.py --server hydra --size 1G --seed 1 /work/hydra.log
  target/release/grantwatch analyze --json /work/kc.log > /work/kc.json
  python3 benches/gen_server_logs.py --compare /work/kc.json /work/kc.log  # found / injected
"""

import argparse
import calendar
import heapq
import json
import random
import sys
import time

START = calendar.timegm((2025, 3, 11, 0, 0, 0, 0, 0, 0))
MEAN_GAP = 0.025

KC_CAUSES = {
    "code_reused": 20,
    "code_expired": 10,
    "refresh_token_expired": 20,
    "session_terminated": 15,
    "pkce_verifier_mismatch": 10,
    "pkce_missing": 5,
    "refresh_token_reused": 10,
    "invalid_client_credentials": 10,
}
# Successful token requests a failure flow writes besides its failure.
KC_EXTRA = {"code_reused": 1, "refresh_token_reused": 1}

HY_CAUSES = {
    "code_reused": 20,
    "code_expired": 15,
    "pkce_verifier_mismatch": 10,
    "refresh_token_reused": 20,
    "refresh_token_expired": 10,
    "redirect_uri_mismatch": 8,
    "client_mismatch": 5,
    "invalid_client_credentials": 12,
}
HY_EXTRA = {"code_reused": 1, "refresh_token_reused": 1}


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


# ---------------------------------------------------------------- Keycloak

KC_CLIENTS = [
    # clientId, internal id, redirect_uri, client_auth_method, token caller ip prefix
    ("shop-web", "e4c1b7d2-8a3f-4e6b-9c5d-2f1a0b9c8d7e", "https://shop.example.com/callback",
     "client-secret", "10.20"),
    ("shop-mobile", "5b2d9e71-3c4a-4f8e-a1b6-0d7c9e2f4a13", "com.example.shop:/oauth2redirect",
     "none", None),
    ("admin-portal", "9f330c7c-4985-4c0c-8185-8932b9fa7297", "https://admin.example.com/oidc/callback",
     "client-secret", "10.20"),
    ("partner-api", "1a7e4c2b-9d3f-4b8a-8e6c-5f2d1a0b9c8e", "https://partners.example.net/auth/cb",
     "client-secret", "10.40"),
    ("reporting-portal", "6c3b8a1d-2e4f-4a9b-b7c5-8d1e0f2a3b4c", "https://reports.example.com/login/oauth2/code/keycloak",
     "client-secret", "10.20"),
    ("inventory-svc", "0d4e8f2a-6b1c-4d7e-9a3f-2c5b8e1d4a7f", "https://inventory.example.com/callback",
     "client-secret", "10.30"),
]
KC_PUBLIC = [c for c in KC_CLIENTS if c[3] == "none"]
KC_CONFIDENTIAL = [c for c in KC_CLIENTS if c[3] != "none"]
KC_REALM_ID = "7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13"

KC_NOISE = [
    ("INFO", "org.keycloak.services.scheduled.ScheduledTaskRunner", "Timer-0",
     "Executed scheduled task ClearExpiredUserSessions"),
    ("INFO", "org.keycloak.services.scheduled.ScheduledTaskRunner", "Timer-0",
     "Executed scheduled task ClearExpiredEvents"),
    ("INFO", "org.keycloak.services.scheduled.ScheduledTaskRunner", "Timer-0",
     "Executed scheduled task ClearExpiredAdminEvents"),
    ("INFO", "org.infinispan.CLUSTER", "jgroups-12,keycloak-0-41577",
     "ISPN000094: Received new cluster view for channel ISPN: [keycloak-0-41577|7] (2) [keycloak-0-41577, keycloak-1-20931]"),
    ("INFO", "org.infinispan.CLUSTER", "non-blocking-thread--p2-t3",
     "[Context=sessions] ISPN100010: Finished rebalance with members [keycloak-0-41577, keycloak-1-20931], topology id 12"),
    ("WARN", "org.keycloak.cookie.DefaultCookieProvider", "executor-thread-%d",
     "Non-secure context detected; cookies are not secured, and will not be available in cross-origin POST requests"),
    ("WARN", "org.keycloak.events", "executor-thread-%d", None),  # a browser LOGIN_ERROR
    ("INFO", "org.keycloak.events", "executor-thread-%d", None),  # a CODE_TO_TOKEN's LOGIN twin
]

KC_TRACES = [
    ("WARN", "io.vertx.core.impl.BlockedThreadChecker", "vertx-blocked-thread-checker",
     "Thread Thread[vert.x-eventloop-thread-1,5,main] has been blocked for 2731 ms, time limit is 2000 ms: io.vertx.core.VertxException: Thread blocked",
     ["\tat java.base@17.0.13/java.lang.Object.wait(Native Method)",
      "\tat java.base@17.0.13/java.lang.Object.wait(Object.java:338)",
      "\tat org.infinispan.util.concurrent.CompletableFutures.await(CompletableFutures.java:126)",
      "\tat org.keycloak.models.sessions.infinispan.InfinispanUserSessionProvider.getUserSession(InfinispanUserSessionProvider.java:337)",
      "\tat io.vertx.core.impl.ContextBase.emit(ContextBase.java:230)"]),
    ("ERROR", "org.keycloak.services.error.KeycloakErrorHandler", "executor-thread-%d",
     "Uncaught server error: java.lang.IllegalStateException: Connection pool shut down",
     ["\tat org.apache.http.util.Asserts.check(Asserts.java:34)",
      "\tat org.apache.http.impl.conn.PoolingHttpClientConnectionManager.requestConnection(PoolingHttpClientConnectionManager.java:269)",
      "\tat org.keycloak.connections.httpclient.DefaultHttpClientFactory$1.get(DefaultHttpClientFactory.java:82)",
      "Caused by: java.net.SocketException: Connection reset",
      "\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:328)",
      "\t... 58 more"]),
    ("WARN", "org.keycloak.services", "executor-thread-%d",
     "KC-SERVICES0013: Failed authentication: org.keycloak.authentication.AuthenticationFlowException",
     ["\tat org.keycloak.authentication.AuthenticationProcessor.authenticationAction(AuthenticationProcessor.java:1006)",
      "\tat org.keycloak.services.resources.LoginActionsService.processFlow(LoginActionsService.java:352)",
      "\tat org.keycloak.services.resources.LoginActionsService.authenticate(LoginActionsService.java:635)",
      "\t... 64 more"]),
]

KC_CLIENT_AUTH_TRACE = [
    "\tat org.keycloak.authentication.AuthenticationProcessor.authenticateClient(AuthenticationProcessor.java:880)",
    "\tat org.keycloak.protocol.oidc.endpoints.TokenEndpoint.checkClient(TokenEndpoint.java:262)",
    "\tat org.keycloak.protocol.oidc.endpoints.TokenEndpoint.processGrantRequest(TokenEndpoint.java:198)",
    "\t... 62 more",
]

KC_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
            "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter"]


class Keycloak:
    def __init__(self, w, ids, fmt, share):
        self.w, self.ids, self.fmt, self.rng = w, ids, fmt, w.rng
        self.v26 = fmt != "quarkus21"
        self.stamp = Stamp("%Y-%m-%d %H:%M:%S")
        self.jstamp = Stamp("%Y-%m-%dT%H:%M:%S")
        self.seqno = 60000
        self.sessions = []
        self.users = [(ids.uuid(), "%s.%d@example.com" % (self.rng.choice(KC_USERS), n))
                      for n in range(5000)]
        extra = sum(KC_CAUSES[c] * KC_EXTRA.get(c, 0) for c in KC_CAUSES) / sum(KC_CAUSES.values())
        self.p_fail = share / (1 - share * extra)
        self.causes = list(KC_CAUSES)
        self.weights = [KC_CAUSES[c] for c in self.causes]

    # -- record rendering
    def thread(self):
        return "executor-thread-%d" % self.rng.randint(1, 64)

    def record(self, t, level, logger, thread, message, trace=()):
        if self.fmt == "json":
            self.seqno += 1
            rec = {"timestamp": "%s.%09dZ" % (self.jstamp.head(t), int((t % 1) * 1e9)),
                   "sequence": self.seqno, "loggerClassName": "org.jboss.logging.Logger",
                   "loggerName": logger, "level": level, "message": message,
                   "threadName": thread, "threadId": 300 + self.seqno % 97, "mdc": {},
                   "ndc": "", "hostName": "keycloak-0", "processName": "QuarkusEntryPoint",
                   "processId": 1}
            if trace:
                rec["stackTrace"] = message.split(": ", 1)[-1] + "\n" + "\n".join(trace)
            self.w.line(json.dumps(rec, separators=(",", ":")))
            return
        self.w.line("%s,%03d %-5s [%s] (%s) %s" % (self.stamp.head(t), int((t % 1) * 1000), level,
                                                   logger, thread, message))
        for l in trace:
            self.w.line(l)

    def event(self, t, thread, pairs):
        """An org.keycloak.events line; `pairs` in the listener's order."""
        kind = pairs[0][1]
        level = "WARN" if kind.endswith("_ERROR") else "INFO"
        if self.v26:
            body = ", ".join('%s="%s"' % (k, v.replace('"', '\\"')) for k, v in pairs)
        else:
            body = ", ".join("%s='%s'" % (k, v) if " " in v else "%s=%s" % (k, v)
                             for k, v in pairs if k != "realmName")
        self.record(t, level, "org.keycloak.events", thread, body)

    def head(self, kind, client, user_id, session, ip):
        realm = KC_REALM_ID if self.v26 else "shop"
        pairs = [("type", kind), ("realmId", realm), ("realmName", "shop"),
                 ("clientId", client[0]), ("userId", user_id)]
        if session:
            pairs.append(("sessionId", session))
        pairs.append(("ipAddress", ip))
        return pairs

    def caller_ip(self, client, browser_ip):
        return self.ids.inner_ip(client[4]) if client[4] else browser_ip

    # -- flows
    def login(self, t, client, user, session, ip):
        pairs = self.head("LOGIN", client, user[0], session, ip) + [
            ("auth_method", "openid-connect"), ("auth_type", "code"), ("response_type", "code"),
            ("redirect_uri", client[2]), ("consent", "no_consent_required"), ("code_id", session),
            ("response_mode", "query"), ("username", user[1])]
        self.event(t, self.thread(), pairs)

    def code_to_token(self, t, s):
        self.w.succeeded()
        pairs = self.head("CODE_TO_TOKEN", s["client"], s["user"][0], s["id"], s["caller"]) + [
            ("token_id", "onrtac:" + self.ids.uuid()), ("grant_type", "authorization_code"),
            ("refresh_token_type", "Refresh"), ("scope", "openid profile email"),
            ("refresh_token_id", s["rt"]), ("code_id", s["id"]),
            ("client_auth_method", s["client"][3])]
        self.event(t, self.thread(), pairs)

    def refresh(self, t, s):
        self.w.succeeded()
        new = self.ids.uuid()
        pairs = self.head("REFRESH_TOKEN", s["client"], s["user"][0], s["id"], s["caller"]) + [
            ("token_id", "onrtrt:" + self.ids.uuid()), ("grant_type", "refresh_token"),
            ("refresh_token_type", "Refresh"), ("scope", "openid profile email"),
            ("refresh_token_id", s["rt"]), ("updated_refresh_token_id", new),
            ("client_auth_method", s["client"][3])]
        self.event(t, self.thread(), pairs)
        old, s["rt"] = s["rt"], new
        return old

    def logout(self, t, s):
        pairs = self.head("LOGOUT", s["client"], s["user"][0], s["id"], s["ip"]) + [
            ("redirect_uri", s["client"][2].rsplit("/", 1)[0] + "/")]
        self.event(t, self.thread(), pairs)

    def error(self, t, thread, kind, s, client, ip, error, reason, grant, extra=()):
        pairs = self.head(kind, client, "null", s["id"] if s and kind.startswith("REFRESH") else None, ip)
        pairs.append(("error", error))
        if reason:
            pairs.append(("reason", reason))
        pairs.append(("grant_type", grant))
        pairs.extend(extra)
        pairs.append(("client_auth_method", client[3]))
        self.event(t, thread, pairs)

    def new_session(self, client=None):
        client = client or self.rng.choice(KC_CLIENTS)
        ip = self.ids.public_ip()
        return {"id": self.ids.uuid(), "client": client, "user": self.rng.choice(self.users),
                "rt": self.ids.uuid(), "ip": ip, "caller": self.caller_ip(client, ip)}

    def keep(self, s):
        if len(self.sessions) < 4000:
            self.sessions.append(s)
        else:
            self.sessions[self.rng.randrange(len(self.sessions))] = s

    def take(self):
        if not self.sessions:
            return None
        i = self.rng.randrange(len(self.sessions))
        s = self.sessions[i]
        self.sessions[i] = self.sessions[-1]
        self.sessions.pop()
        return s

    def success(self, t):
        r = self.rng.random()
        if r < 0.45 or len(self.sessions) < 100:
            s = self.new_session()
            self.login(t, s["client"], s["user"], s["id"], s["ip"])
            self.w.at(t + self.rng.uniform(0.2, 1.5), lambda t2: (self.code_to_token(t2, s), self.keep(s)))
        elif r < 0.93:
            s = self.take()
            self.refresh(t, s)
            self.keep(s)
        else:
            # A logout, and the token request slot goes to a refresh.
            s = self.take()
            self.logout(t, s)
            s2 = self.take()
            self.refresh(t + 0.003, s2)
            self.keep(s2)

    def failure(self, t):
        cause = self.rng.choices(self.causes, self.weights)[0]
        rng, w = self.rng, self.w
        if cause in ("code_reused", "code_expired", "pkce_verifier_mismatch", "pkce_missing"):
            client = rng.choice(KC_PUBLIC) if cause.startswith("pkce") else None
            s = self.new_session(client)
            self.login(t, s["client"], s["user"], s["id"], s["ip"])
            if cause == "code_reused":
                t1 = t + rng.uniform(0.2, 1.0)
                w.at(t1, lambda t2: self.code_to_token(t2, s))
                t3 = t1 + rng.uniform(0.1, 0.6)
                w.at(t3, lambda t4: self.reused_code(t4, s))
            elif cause == "code_expired":
                w.at(t + rng.uniform(65, 300), lambda t2: self.expired_code(t2, s))
            else:
                w.at(t + rng.uniform(0.3, 2.0), lambda t2: self.pkce(t2, s, cause))
        elif cause == "refresh_token_expired":
            client = rng.choice(KC_CLIENTS)
            w.failed(cause)
            self.error(t, self.thread(), "REFRESH_TOKEN_ERROR", None, client,
                       self.caller_ip(client, self.ids.public_ip()), "invalid_token",
                       "Token is not active", "refresh_token")
        elif cause == "session_terminated":
            s = self.take() or self.new_session()
            self.logout(t, s)
            w.at(t + rng.uniform(20, 600), lambda t2: self.dead_session(t2, s))
        elif cause == "refresh_token_reused":
            s = self.take() or self.new_session()
            old = self.refresh(t, s)
            w.at(t + rng.uniform(0.02, 0.06), lambda t2: self.reused_refresh(t2, s, old))
        else:
            client = rng.choice(KC_CONFIDENTIAL)
            thread = self.thread()
            self.record(t, "WARN", "org.keycloak.services", thread,
                        "KC-SERVICES0014: Failed client authentication: org.keycloak.authentication.AuthenticationFlowException",
                        KC_CLIENT_AUTH_TRACE)
            w.failed(cause)
            self.error(t + 0.002, thread, "CODE_TO_TOKEN_ERROR", None, client,
                       self.ids.inner_ip(client[4]), "invalid_client_credentials", None,
                       "authorization_code")

    def reused_code(self, t, s):
        thread = self.thread()
        self.record(t, "WARN", "org.keycloak.protocol.oidc.utils.OAuth2CodeParser", thread,
                    "Code '%s' already used for userSession '%s' and client '%s'."
                    % (self.ids.uuid(), s["id"], s["client"][1]))
        self.w.failed("code_reused")
        self.error(t + 0.002, thread, "CODE_TO_TOKEN_ERROR", s, s["client"], s["caller"],
                   "invalid_code", "Code not valid" if self.v26 else None, "authorization_code",
                   [("code_id", s["id"])])

    def expired_code(self, t, s):
        self.w.failed("code_expired")
        self.error(t, self.thread(), "CODE_TO_TOKEN_ERROR", s, s["client"], s["caller"],
                   "expired_code", "Code is expired" if self.v26 else None, "authorization_code",
                   [("code_id", s["id"])])

    def pkce(self, t, s, cause):
        thread = self.thread()
        who = "authUserId = %s, authUsername = %s" % s["user"]
        if cause == "pkce_missing":
            self.record(t, "WARN", "org.keycloak.protocol.oidc.utils.PkceUtils", thread,
                        "PKCE code verifier not specified, " + who)
            error = "code_verifier_missing"
        elif self.v26:
            self.record(t, "WARN", "org.keycloak.protocol.oidc.utils.PkceUtils", thread,
                        "PKCE verification failed: Code mismatch. " + who)
            error = "pkce_verification_failed"
        else:
            self.record(t, "WARN", "org.keycloak.protocol.oidc.endpoints.TokenEndpoint", thread,
                        "PKCE verification failed. " + who)
            error = "pkce_verification_failed"
        self.w.failed(cause)
        self.error(t + 0.001, thread, "CODE_TO_TOKEN_ERROR", s, s["client"], s["caller"], error,
                   None, "authorization_code", [("code_id", s["id"])])

    def dead_session(self, t, s):
        self.w.failed("session_terminated")
        self.error(t, self.thread(), "REFRESH_TOKEN_ERROR", s, s["client"], s["caller"],
                   "invalid_token", "Session not active", "refresh_token",
                   [("refresh_token_type", "Refresh"), ("refresh_token_id", s["rt"]),
                    ("refresh_token_sub", s["user"][0])])

    def reused_refresh(self, t, s, old):
        self.w.failed("refresh_token_reused")
        self.error(t, self.thread(), "REFRESH_TOKEN_ERROR", s, s["client"], s["caller"],
                   "invalid_token", "Maximum allowed refresh token reuse exceeded",
                   "refresh_token",
                   [("refresh_token_type", "Refresh"), ("refresh_token_id", old),
                    ("refresh_token_sub", s["user"][0])])
        self.keep(s)

    def noise(self, t):
        rng = self.rng
        if rng.random() < 0.004:
            level, logger, thread, msg, trace = rng.choice(KC_TRACES)
            self.record(t, level, logger, thread.replace("%d", str(rng.randint(1, 64))), msg, trace)
            return
        level, logger, thread, msg = rng.choice(KC_NOISE)
        thread = thread.replace("%d", str(rng.randint(1, 64)))
        if msg is None and level == "WARN":
            # A wrong password on the login form: a browser LOGIN_ERROR,
            # no grant_type, not a token request.
            client = rng.choice(KC_CLIENTS)
            user = rng.choice(self.users)
            pairs = self.head("LOGIN_ERROR", client, user[0], None, self.ids.public_ip()) + [
                ("error", "invalid_user_credentials"), ("auth_method", "openid-connect"),
                ("auth_type", "code"), ("response_type", "code"), ("redirect_uri", client[2]),
                ("code_id", self.ids.uuid()), ("response_mode", "query"), ("username", user[1]),
                ("authSessionParentId", self.ids.uuid()),
                ("authSessionTabId", self.ids.hex(11))]
            self.event(t, thread, pairs)
        elif msg is None:
            # An access-token introspection by a resource server.
            client = rng.choice(KC_CONFIDENTIAL)
            pairs = self.head("INTROSPECT_TOKEN", client, "null", None,
                              self.ids.inner_ip(client[4])) + [
                ("client_auth_method", "client-secret")]
            self.event(t, thread, pairs)
        else:
            self.record(t, level, logger, thread, msg)

    def preamble(self, t):
        v = "26.1.4 on JVM (powered by Quarkus 3.15.3.1)" if self.v26 else \
            "21.1.1 on JVM (powered by Quarkus 2.13.7.Final)"
        self.record(t, "INFO", "io.quarkus", "main",
                    "Keycloak %s started in 12.881s. Listening on: http://0.0.0.0:8080" % v)
        self.record(t + 0.001, "INFO", "io.quarkus", "main", "Profile prod activated. ")


# ---------------------------------------------------------------- Hydra

HY_APPS = [
    # user-agent of the app's token calls, browser user-agent, caller ip prefix
    ("okhttp/4.12.0", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Mobile Safari/537.36", "10.0.4"),
    ("MyShop/5.2.0 CFNetwork/1494.0.7 Darwin/23.4.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "10.0.6"),
    ("Go-http-client/2.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36", "10.0.5"),
    ("python-requests/2.31.0", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15", "10.0.9"),
    ("Apache-HttpClient/4.5.14 (Java/17.0.10)", "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0", "10.0.7"),
]
HY_REDACTED = ('Value is sensitive and has been redacted. To see the value set config key '
               '"log.leak_sensitive_values = true" or environment variable '
               '"LOG_LEAK_SENSITIVE_VALUES=true".')
HY_STATUS = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 204: "No Content"}

HY_ERRORS = {
    "code_reused": ("invalid_grant", "The authorization code has already been used.", "", 400),
    "code_expired": ("invalid_grant", "", "invalid_token", 400),
    "pkce_verifier_mismatch": ("invalid_grant",
                               "The PKCE code challenge did not match the code verifier.", "", 400),
    "refresh_token_reused": ("invalid_grant", "The refresh token was already used.",
                             "Refresh token re-use was detected. All related tokens have been revoked.",
                             400),
    "refresh_token_expired": ("invalid_grant", "The refresh token expired.", "", 400),
    "redirect_uri_mismatch": ("invalid_grant",
                              'The "redirect_uri" from this request does not match the one from the authorize request.',
                              "", 400),
    "client_mismatch": ("invalid_grant",
                        "The OAuth 2.0 Client ID from this request does not match the one from the authorize request.",
                        "", 400),
    "invalid_client_credentials": ("invalid_client", "",
                                   "crypto/bcrypt: hashedPassword is not the hash of the given password",
                                   401),
}


class Hydra:
    def __init__(self, w, ids, fmt, share):
        self.w, self.ids, self.rng = w, ids, w.rng
        self.text = fmt == "text"
        self.version = "v2.2.0" if self.text else "v2.3.0"
        self.stamp = Stamp("%Y-%m-%dT%H:%M:%S")
        extra = sum(HY_CAUSES[c] * HY_EXTRA.get(c, 0) for c in HY_CAUSES) / sum(HY_CAUSES.values())
        self.p_fail = share / (1 - share * extra)
        self.causes = list(HY_CAUSES)
        self.weights = [HY_CAUSES[c] for c in self.causes]

    def ts(self, t):
        if self.text:
            return self.stamp.head(t) + "Z"
        return "%s.%06dZ" % (self.stamp.head(t), int((t % 1) * 1e6))

    def line(self, t, msg, req, resp=None, error=None, level="info"):
        """One logrusx line. `req`: (method, path, query, remote, headers);
        `resp`: (status, size, took seconds); `error`: (message, reason,
        debug, status_code)."""
        method, path, query, remote, headers, host = req
        if self.text:
            parts = ["time=" + self.ts(t), "level=" + level, "msg=" + msg, "audience=application"]
            if error:
                parts.append("error=map[debug:%s message:%s reason:%s status:%s status_code:%d]"
                             % (error[2], error[0], error[1], HY_STATUS[error[3]], error[3]))
            hdr = " ".join("%s:%s" % kv for kv in sorted(headers.items()))
            parts.append("http_request=map[headers:map[%s] host:%s method:%s path:%s query:%s "
                         "remote:%s scheme:http]" % (hdr, host, method, path,
                                                     query if query else "<nil>", remote))
            if resp:
                took = resp[2]
                took = "%.1fms" % (took * 1e3) if took >= 0.001 else "%.1fµs" % (took * 1e6)
                parts.append("http_response=map[headers:map[cache-control:no-store "
                             "content-type:application/json;charset=UTF-8] size:%d status:%d "
                             "text_status:%s took:%s]" % (resp[1], resp[0], HY_STATUS[resp[0]], took))
            parts.append("service_name=Ory Hydra service_version=" + self.version)
            self.w.line(" ".join(parts))
            return
        rec = {"audience": "application",
               "http_request": {"headers": headers, "host": host, "method": method,
                                "path": path, "query": query, "remote": remote,
                                "scheme": "http"},
               "level": level, "msg": msg, "service_name": "Ory Hydra",
               "service_version": self.version, "time": self.ts(t)}
        if error:
            rec["error"] = {"debug": error[2], "message": error[0], "reason": error[1],
                            "status": HY_STATUS[error[3]], "status_code": error[3]}
        if resp:
            rec["http_response"] = {"headers": {"cache-control": "no-store",
                                                "content-type": "application/json;charset=UTF-8",
                                                "pragma": "no-cache"},
                                    "size": resp[1], "status": resp[0],
                                    "text_status": HY_STATUS[resp[0]], "took": int(resp[2] * 1e9)}
        self.w.line(json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False))

    def headers(self, ua, rid, form):
        h = {"accept-encoding": "gzip"} if self.text else {"accept": "application/json"}
        if form:
            h["content-type"] = "application/x-www-form-urlencoded"
        h["user-agent"] = ua
        if rid:
            h["x-request-id"] = rid
        return h

    def flow(self):
        app = self.rng.choice(HY_APPS)
        return {"app": app, "browser": "10.0.%d.%d" % (self.rng.randint(10, 90), self.rng.randint(2, 250)),
                "caller": "%s.%d" % (app[2], self.rng.randint(2, 250))}

    def remote(self, ip):
        return "%s:%d" % (ip, self.rng.randint(32768, 60999))

    def authorize(self, t, f):
        req = ("GET", "/oauth2/auth", HY_REDACTED, self.remote(f["browser"]),
               self.headers(f["app"][1], self.ids.uuid(), False), "auth.example.com")
        self.line(t, "completed handling request", req, (302, 0, self.rng.uniform(0.0008, 0.002)))

    def token(self, t, f, cause=None):
        """A POST /oauth2/token: started, (access denied), completed."""
        rid = self.ids.uuid()
        req = ("POST", "/oauth2/token", None, self.remote(f["caller"]),
               self.headers(f["app"][0], rid, True), "auth.example.com")
        took = self.rng.uniform(0.02, 0.09)
        self.line(t, "started handling request", req)
        if cause is None:
            self.w.succeeded()
            self.w.at(t + took, lambda t2: self.line(t2, "completed handling request", req,
                                                     (200, self.rng.randint(1780, 1850), took)))
            return
        error = HY_ERRORS[cause]
        if cause == "refresh_token_reused" and self.text:
            # Hydra 2.2 (fosite <= 0.47) answers a reused refresh token so.
            error = ("token_inactive", "Token validation failed.", "", 401)

        def denied(t2):
            self.w.failed(cause)
            self.line(t2, "access denied", req, error=error)
            self.line(t2 + 0.0004, "completed handling request", req,
                      (error[3], self.rng.randint(190, 330), took))
        self.w.at(t + took, denied)

    def success(self, t):
        f = self.flow()
        if self.rng.random() < 0.5:
            self.authorize(t, f)
            self.w.at(t + self.rng.uniform(0.5, 4.0), lambda t2: self.token(t2, f))
        else:
            self.token(t, f)

    def failure(self, t):
        cause = self.rng.choices(self.causes, self.weights)[0]
        f = self.flow()
        rng, w = self.rng, self.w
        if cause in ("code_reused", "code_expired", "pkce_verifier_mismatch",
                     "redirect_uri_mismatch", "client_mismatch"):
            self.authorize(t, f)
            if cause == "code_reused":
                t1 = t + rng.uniform(0.5, 3.0)
                w.at(t1, lambda t2: self.token(t2, f))
                w.at(t1 + rng.uniform(0.03, 0.2), lambda t2: self.token(t2, f, cause))
            elif cause == "code_expired":
                w.at(t + rng.uniform(660, 1200), lambda t2: self.token(t2, f, cause))
            else:
                w.at(t + rng.uniform(0.5, 4.0), lambda t2: self.token(t2, f, cause))
        elif cause == "refresh_token_reused":
            # Two refreshes with the same token at once: the first wins.
            self.token(t, f)
            w.at(t + rng.uniform(0.001, 0.004), lambda t2: self.token(t2, f, cause))
        else:
            self.token(t, f, cause)

    def noise(self, t):
        r = self.rng.random()
        probe = ("kube-probe/1.30", "10.0.3.9:4444", "10.0.3.1:40112")
        if r < 0.55:
            path = "/health/ready" if r < 0.3 else "/health/alive"
            req = ("GET", path, None, probe[2], self.headers(probe[0], None, False), probe[1])
            self.line(t, "completed handling request", req, (200, 16, self.rng.uniform(0.0003, 0.0006)))
            return
        f = self.flow()
        if r < 0.75:
            path, size = self.rng.choice((("/.well-known/openid-configuration", 2288),
                                          ("/.well-known/jwks.json", 1201), ("/userinfo", 412)))
            req = ("GET", path, None, self.remote(f["caller"]),
                   self.headers(f["app"][0], self.ids.uuid(), False), "auth.example.com")
            self.line(t, "completed handling request", req, (200, size, self.rng.uniform(0.0005, 0.003)))
        else:
            # The login and consent apps accepting a challenge on the admin port.
            path = self.rng.choice(("/admin/oauth2/auth/requests/login/accept",
                                    "/admin/oauth2/auth/requests/consent/accept",
                                    "/admin/oauth2/auth/requests/login"))
            req = ("PUT" if path.endswith("accept") else "GET", path, HY_REDACTED,
                   self.remote("10.0.2.%d" % self.rng.randint(2, 40)),
                   self.headers("Go-http-client/1.1", self.ids.uuid(), False), "hydra-admin:4445")
            self.line(t, "completed handling request", req, (200, self.rng.randint(180, 900),
                                                             self.rng.uniform(0.002, 0.009)))

    def preamble(self, t):
        req = ("GET", "/health/alive", None, "10.0.3.1:40998",
               self.headers("kube-probe/1.30", None, False), "10.0.3.9:4444")
        if self.text:
            self.w.line("time=%s level=info msg=Setting up http server on :4444 audience=application "
                        "service_name=Ory Hydra service_version=%s" % (self.ts(t), self.version))
        else:
            self.w.line(json.dumps({"audience": "application", "level": "info",
                                    "msg": "Setting up http server on :4444",
                                    "service_name": "Ory Hydra", "service_version": self.version,
                                    "time": self.ts(t)}, sort_keys=True, separators=(",", ":")))
        self.line(t + 5, "completed handling request", req, (200, 16, 0.0004))


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
    # A token request slot every other step on average; noise between.
    while w.bytes < size:
        t += rng.expovariate(1000 / a.mean_gap_ms)
        w.run_due(t)
        if rng.random() < 0.45:
            (gen.failure if rng.random() < gen.p_fail else gen.success)(t)
        else:
            gen.noise(t)
    w.drain()
    w.close()
    failed = sum(w.causes.values())
    with open(a.out + ".expected.txt", "w") as f:
        f.write("# %s --server %s --format %s --size %s --failure-share %s --seed %d\n"
                % (sys.argv[0], a.server, fmt, a.size, a.failure_share, a.seed))
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
