//! A generator of large, realistic Rails + Doorkeeper production logs with
//! known failure causes mixed into ordinary traffic: the input of the
//! benchmarks and of the accuracy test (precision and recall per cause).
//!
//! The log is tagged (`[request-id]`) with the Ruby Logger prefix, as Rails
//! 7.1+ production writes it; ordinary requests carry SQL and render lines.
//! OAuth flows use PKCE (as mobile apps do) with a filtered `code`, so the
//! diagnosis has to rebuild flows the way it must on a real Doorkeeper log.
//! Every secret is random and fake. The output is deterministic for a seed.

use std::io::{self, Write};

use chrono::{DateTime, Duration, Utc};
use grantwatch_parsers::redact::s256;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Stop after about this many bytes.
    pub target_bytes: u64,
    /// Share of requests that start an OAuth flow (0.01 = 1%).
    pub oauth_share: f64,
    /// Share of OAuth flows that fail with an injected cause.
    pub failure_share: f64,
    /// PRNG seed.
    pub seed: u64,
    /// Time of the first line.
    pub start: DateTime<Utc>,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            target_bytes: 10 * 1024 * 1024,
            oauth_share: 0.01,
            failure_share: 0.3,
            seed: 42,
            start: DateTime::from_timestamp(1_741_683_600, 0).unwrap_or_default(),
        }
    }
}

/// The cause injected into one failing token request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Expected {
    /// Request id of the failing token request.
    pub request_id: String,
    /// The cause id.
    pub cause: &'static str,
}

/// The causes the generator injects, in rotation.
pub const INJECTED: [&str; 10] = [
    "code_reused",
    "pkce_verifier_mismatch",
    "redirect_uri_mismatch",
    "code_expired",
    "pkce_missing",
    "refresh_token_reused",
    "refresh_token_revoked",
    "invalid_client_credentials",
    "invalid_resource_owner_credentials",
    "client_mismatch",
];

const CLIENT: &str = "Zr9kq3bB4u2xq0X9mB7Yt0a6v1c8d2e3f4g5h6i7j8k";
const WEB_CLIENT: &str = "wQ3mP8sLk2Jd9Vb4Xn7Rt1Yc6Hf0Ga5Ez8Uo3Ii2Ww";
const REDIRECT: &str = "com.example.app:/oauth2redirect";

struct Gen<'w> {
    out: &'w mut dyn Write,
    rng: fastrand::Rng,
    now: DateTime<Utc>,
    written: u64,
    pid: u32,
}

impl Gen<'_> {
    fn id(&mut self) -> String {
        let r = &mut self.rng;
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            r.u32(..),
            r.u16(..),
            r.u16(..0x1000),
            r.u16(0x8000..0xc000),
            r.u64(..1 << 48)
        )
    }

    fn secret(&mut self) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..43)
            .map(|_| A[self.rng.usize(..A.len())] as char)
            .collect()
    }

    fn ip(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.rng.u8(..),
            self.rng.u8(..),
            self.rng.u8(1..255)
        )
    }

    fn line(&mut self, sev: char, rid: &str, offset_us: i64, msg: &str) -> io::Result<()> {
        let t = self.now + Duration::microseconds(offset_us);
        let level = if sev == 'D' { "DEBUG" } else { " INFO" };
        let text = format!(
            "{sev}, [{} #{}] {level} -- : [{rid}] {msg}\n",
            t.format("%Y-%m-%dT%H:%M:%S%.6f"),
            self.pid
        );
        self.written += text.len() as u64;
        self.out.write_all(text.as_bytes())
    }

    fn started(&mut self, rid: &str, method: &str, path: &str, ip: &str) -> io::Result<()> {
        let at = self.now.format("%Y-%m-%d %H:%M:%S +0000");
        self.line(
            'I',
            rid,
            0,
            &format!("Started {method} \"{path}\" for {ip} at {at}"),
        )
    }

    fn ordinary(&mut self) -> io::Result<()> {
        let rid = self.id();
        let ip = self.ip();
        let id = self.rng.u32(1..5000);
        self.started(&rid, "GET", &format!("/products/{id}"), &ip)?;
        self.line(
            'I',
            &rid,
            2000,
            "Processing by ProductsController#show as HTML",
        )?;
        self.line(
            'I',
            &rid,
            2200,
            &format!("  Parameters: {{\"id\"=>\"{id}\"}}"),
        )?;
        self.line('D', &rid, 4000, &format!("  Product Load (0.4ms)  SELECT \"products\".* FROM \"products\" WHERE \"products\".\"id\" = $1 LIMIT $2  [[\"id\", {id}], [\"LIMIT\", 1]]"))?;
        self.line('D', &rid, 7000, &format!("  Review Load (0.9ms)  SELECT \"reviews\".* FROM \"reviews\" WHERE \"reviews\".\"product_id\" = $1  [[\"product_id\", {id}]]"))?;
        self.line('I', &rid, 10000, "  Rendered products/show.html.erb within layouts/application (Duration: 4.1ms | Allocations: 2311)")?;
        self.line(
            'I',
            &rid,
            14000,
            "Completed 200 OK in 14ms (Views: 8.8ms | ActiveRecord: 1.3ms | Allocations: 2052)",
        )
    }

    fn authorize(
        &mut self,
        client: &str,
        redirect: &str,
        challenge: &str,
        ip: &str,
    ) -> io::Result<()> {
        let rid = self.id();
        let state = format!("{:016x}", self.rng.u64(..));
        let enc = redirect.replace(':', "%3A").replace('/', "%2F");
        self.started(&rid, "GET", &format!("/oauth/authorize?client_id={client}&redirect_uri={enc}&response_type=code&scope=read&state={state}&code_challenge={challenge}&code_challenge_method=S256"), ip)?;
        self.line(
            'I',
            &rid,
            2000,
            "Processing by Doorkeeper::AuthorizationsController#new as HTML",
        )?;
        self.line('I', &rid, 2300, &format!("  Parameters: {{\"client_id\"=>\"{client}\", \"redirect_uri\"=>\"{redirect}\", \"response_type\"=>\"code\", \"scope\"=>\"read\", \"state\"=>\"{state}\", \"code_challenge\"=>\"{challenge}\", \"code_challenge_method\"=>\"S256\"}}"))?;
        let code = self.secret();
        self.line(
            'I',
            &rid,
            17000,
            &format!("Redirected to {redirect}?code={code}&state={state}"),
        )?;
        self.line(
            'I',
            &rid,
            17300,
            "Completed 302 Found in 17ms (ActiveRecord: 4.1ms | Allocations: 4012)",
        )
    }

    fn token(&mut self, params: &str, ip: &str, status: &str) -> io::Result<String> {
        let rid = self.id();
        self.started(&rid, "POST", "/oauth/token", ip)?;
        self.line(
            'I',
            &rid,
            2600,
            "Processing by Doorkeeper::TokensController#create as */*",
        )?;
        self.line('I', &rid, 2700, &format!("  Parameters: {{{params}}}"))?;
        self.line('I', &rid, 14000, &format!("Completed {status} in 13ms (Views: 0.1ms | ActiveRecord: 3.1ms | Allocations: 2560)"))?;
        Ok(rid)
    }

    fn code_params(client: &str, redirect: &str, verifier: Option<&str>) -> String {
        let v = verifier
            .map(|v| format!(", \"code_verifier\"=>\"{v}\""))
            .unwrap_or_default();
        format!(
            "\"grant_type\"=>\"authorization_code\", \"code\"=>\"[FILTERED]\", \"redirect_uri\"=>\"{redirect}\", \"client_id\"=>\"{client}\"{v}"
        )
    }

    fn refresh_params(client: &str) -> String {
        format!(
            "\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"[FILTERED]\", \"client_id\"=>\"{client}\""
        )
    }

    fn advance_ms(&mut self, ms: i64) {
        self.now += Duration::milliseconds(ms);
    }

    /// A code flow; `cause` injects a failure into its exchange.
    fn code_flow(
        &mut self,
        cause: Option<&'static str>,
        expected: &mut Vec<Expected>,
    ) -> io::Result<()> {
        let ip = self.ip();
        let verifier = self.secret();
        let challenge = s256(&verifier);
        let auth_client = if cause == Some("client_mismatch") {
            WEB_CLIENT
        } else {
            CLIENT
        };
        self.authorize(auth_client, REDIRECT, &challenge, &ip)?;
        self.advance_ms(if cause == Some("code_expired") {
            14 * 60_000
        } else {
            1_500
        });
        let ok = "200 OK";
        let bad = "400 Bad Request";
        let rid = match cause {
            Some("pkce_verifier_mismatch") => {
                let other = self.secret();
                self.token(&Self::code_params(CLIENT, REDIRECT, Some(&other)), &ip, bad)?
            }
            Some("redirect_uri_mismatch") => {
                let r = format!("{REDIRECT}/");
                self.token(&Self::code_params(CLIENT, &r, Some(&verifier)), &ip, bad)?
            }
            Some("pkce_missing") => {
                self.token(&Self::code_params(CLIENT, REDIRECT, None), &ip, bad)?
            }
            Some("code_reused") => {
                self.token(
                    &Self::code_params(CLIENT, REDIRECT, Some(&verifier)),
                    &ip,
                    ok,
                )?;
                self.advance_ms(300);
                self.token(
                    &Self::code_params(CLIENT, REDIRECT, Some(&verifier)),
                    &ip,
                    bad,
                )?
            }
            Some(_) => self.token(
                &Self::code_params(CLIENT, REDIRECT, Some(&verifier)),
                &ip,
                bad,
            )?,
            None => {
                self.token(
                    &Self::code_params(CLIENT, REDIRECT, Some(&verifier)),
                    &ip,
                    ok,
                )?;
                return Ok(());
            }
        };
        expected.extend(cause.map(|c| Expected {
            request_id: rid,
            cause: c,
        }));
        Ok(())
    }

    fn other_flow(
        &mut self,
        cause: Option<&'static str>,
        expected: &mut Vec<Expected>,
    ) -> io::Result<()> {
        let ip = self.ip();
        let (ok, bad) = ("200 OK", "400 Bad Request");
        let rid = match cause {
            Some("refresh_token_reused") => {
                self.token(&Self::refresh_params(CLIENT), &ip, ok)?;
                self.advance_ms(25);
                self.token(&Self::refresh_params(CLIENT), &ip, bad)?
            }
            Some("refresh_token_revoked") => {
                let rid = self.id();
                self.started(&rid, "POST", "/oauth/revoke", &ip)?;
                self.line('I', &rid, 2000, "Processing by Doorkeeper::TokensController#revoke as */*")?;
                self.line('I', &rid, 2100, &format!("  Parameters: {{\"token\"=>\"[FILTERED]\", \"client_id\"=>\"{CLIENT}\"}}"))?;
                self.line('I', &rid, 9000, "Completed 200 OK in 9ms (Views: 0.1ms | ActiveRecord: 2.0ms | Allocations: 1900)")?;
                self.advance_ms(45_000);
                self.token(&Self::refresh_params(CLIENT), &ip, bad)?
            }
            Some("invalid_client_credentials") => self.token(
                &format!("\"grant_type\"=>\"client_credentials\", \"client_id\"=>\"{WEB_CLIENT}\", \"client_secret\"=>\"[FILTERED]\""),
                &ip,
                "401 Unauthorized",
            )?,
            Some("invalid_resource_owner_credentials") => {
                let user = self.rng.u32(..10000);
                self.token(
                    &format!("\"grant_type\"=>\"password\", \"username\"=>\"user{user}@example.com\", \"password\"=>\"[FILTERED]\", \"client_id\"=>\"{WEB_CLIENT}\""),
                    &ip,
                    bad,
                )?
            }
            _ => {
                self.token(&Self::refresh_params(CLIENT), &ip, ok)?;
                return Ok(());
            }
        };
        expected.extend(cause.map(|c| Expected {
            request_id: rid,
            cause: c,
        }));
        Ok(())
    }
}

/// Writes a Rails production log to `out` and returns the injected causes.
pub fn generate(opts: &GenOptions, out: &mut dyn Write) -> io::Result<Vec<Expected>> {
    let mut g = Gen {
        out,
        rng: fastrand::Rng::with_seed(opts.seed),
        now: opts.start,
        written: 0,
        pid: 7,
    };
    let mut expected = Vec::new();
    let mut next_cause = 0usize;
    while g.written < opts.target_bytes {
        // Ordinary traffic comes every ~40 ms; an OAuth flow must not run
        // into the refresh-race window of the previous one.
        g.pid = if g.rng.bool() { 7 } else { 9 };
        if g.rng.f64() < opts.oauth_share {
            g.advance_ms(3_000);
            let cause = (g.rng.f64() < opts.failure_share).then(|| {
                let c = INJECTED[next_cause % INJECTED.len()];
                next_cause += 1;
                c
            });
            let code = match cause {
                Some(c) => matches!(
                    c,
                    "code_reused"
                        | "pkce_verifier_mismatch"
                        | "redirect_uri_mismatch"
                        | "code_expired"
                        | "pkce_missing"
                        | "client_mismatch"
                ),
                None => g.rng.bool(),
            };
            if code {
                g.code_flow(cause, &mut expected)?;
            } else {
                g.other_flow(cause, &mut expected)?;
            }
            g.advance_ms(3_000);
        } else {
            g.ordinary()?;
            let gap = g.rng.i64(5..80);
            g.advance_ms(gap);
        }
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_log() {
        let opts = GenOptions {
            target_bytes: 50_000,
            oauth_share: 0.2,
            ..GenOptions::default()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ea = generate(&opts, &mut a).expect("gen");
        let eb = generate(&opts, &mut b).expect("gen");
        assert_eq!(a, b);
        assert_eq!(ea, eb);
        assert!(a.len() >= 50_000);
        assert!(!ea.is_empty());
    }
}
