"""Ory Hydra's lines (v2.3 logrus JSON, v2.2 logrus text), and its traffic:
authorize redirects, token requests (started, access denied, completed),
health probes, discovery and admin calls, and the failure flows of
HY_CAUSES written as `sample_logs/hydra/` shows them."""

import json

from .common import Stamp

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
