"""Keycloak's lines (Quarkus text console of 21 and 26, JSON console of
26), and its traffic: browser logins that end in a code, code exchanges,
refreshes, logouts, unrelated lines and stack traces, and the failure flows
of KC_CAUSES written as `sample_logs/keycloak/` shows them."""

import json

from .common import Stamp

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
