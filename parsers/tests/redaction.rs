//! Redaction as DESIGN says, checked from outside the crate: known fake
//! secrets (authorization codes, refresh and access tokens, ID tokens and
//! client assertions as JWTs, code verifiers, client secrets, passwords,
//! `Bearer`/`Basic` credentials) are planted in realistic lines of every
//! format, and no field of any event may hold any of them (nor a JWT's
//! signature), whether the format is forced or detected.
//!
//! What must survive redaction is checked too: the same authorization code
//! seen on two lines gives equal `code_fp`s (and a different code a different
//! one), a verifier gives its S256 hash, a refresh token and an assertion
//! their fingerprints, a JWT its `iat`/`exp` claims.
//!
//! Templates use `{NAME}` placeholders that [`Planted::fill`] replaces; the
//! shapes are copied from `sample_logs/<format>/`.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use grantwatch_parsers::redact::s256;
use grantwatch_parsers::{Event, Fingerprint, Format, Redactor};

use common::{parse_detected, parse_forced};

const CODE_A: &str = "PLANTEDcodeA0x7Hq2LxW9mDc4Vn8Bl0Dt6Yw3Pr5";
const CODE_B: &str = "PLANTEDcodeB1zK9pQ4rT7uV2wX5yZ8aB3cD6eF0g";
const REFRESH: &str = "PLANTEDrefresh2nQ8cR2vW6yB0dF4hJ9kL3mP7sT1";
const REFRESH_NEW: &str = "PLANTEDrefreshNEW5aE8gI2oU6wC0rXs4Vt7Yb1";
const ACCESS: &str = "PLANTEDaccess3eA7bC1dE5fG9hI3jK7lM1nO5pQ9";
const VERIFIER: &str = "PLANTEDverifier4Fh2Kd9Lp4Qx7Ws1Ez6Rc3Tv8Yb5Un0Mi2";
const CLIENT_SECRET: &str = "PLANTEDclientsecret5Xw8Ce5Vr0BtZq1Sa6Fd3";
const PASSWORD: &str = "PLANTEDpassw0rd6Hg9Jl4Ok7Mi2Nb8";
const BASIC_SECRET: &str = "PLANTEDbasicsecret7Rt2Yu5Io8Pa1Sd4";
const ID_TOKEN_SIG: &str = "PLANTEDidtokenSig8Qw3Rn9Lp5Zx2Mb8Hd4Fs6Gy0Ja1Kc";
const ASSERTION_SIG: &str = "PLANTEDassertionSig9Tk1Vc7Qw3Rn9Lp5Zx2Mb8Hd4Fs";
const ID_TOKEN_IAT: i64 = 1_741_686_067;
const ID_TOKEN_EXP: i64 = 1_741_686_187;
const ASSERTION_IAT: i64 = 1_741_690_842;
const ASSERTION_EXP: i64 = 1_741_694_442;

/// The planted values, with the JWTs and `Basic` credentials built from
/// their parts.
struct Planted {
    id_token: String,
    assertion: String,
    basic: String,
}

impl Planted {
    fn new() -> Self {
        let jwt = |payload: String, sig: &str| {
            let header =
                URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT","kid":"dk-2025-01"}"#);
            format!("{header}.{}.{sig}", URL_SAFE_NO_PAD.encode(payload))
        };
        Planted {
            id_token: jwt(
                format!(
                    r#"{{"iss":"https://auth.acme-field.com","sub":"42","aud":"Z_7hs3QNNUSy","iat":{ID_TOKEN_IAT},"exp":{ID_TOKEN_EXP},"nonce":"n-0S6_WzA2Mj"}}"#
                ),
                ID_TOKEN_SIG,
            ),
            assertion: jwt(
                format!(
                    r#"{{"iss":"reports-export","sub":"reports-export","aud":"https://auth.acme-field.com/oauth/token","iat":{ASSERTION_IAT},"exp":{ASSERTION_EXP},"jti":"a1b2c3d4-jti"}}"#
                ),
                ASSERTION_SIG,
            ),
            basic: STANDARD.encode(format!("fieldapp:{BASIC_SECRET}")),
        }
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{CODE_A}", CODE_A)
            .replace("{CODE_B}", CODE_B)
            .replace("{REFRESH}", REFRESH)
            .replace("{REFRESH_NEW}", REFRESH_NEW)
            .replace("{ACCESS}", ACCESS)
            .replace("{VERIFIER}", VERIFIER)
            .replace("{SECRET}", CLIENT_SECRET)
            .replace("{PASSWORD}", PASSWORD)
            .replace("{BASIC}", &self.basic)
            .replace("{ID_TOKEN}", &self.id_token)
            .replace("{ASSERTION}", &self.assertion)
    }

    /// Strings that must not appear in any field: every secret, the whole
    /// JWTs and `Basic` value.
    fn forbidden(&self) -> Vec<&str> {
        vec![
            CODE_A,
            CODE_B,
            REFRESH,
            REFRESH_NEW,
            ACCESS,
            VERIFIER,
            CLIENT_SECRET,
            PASSWORD,
            BASIC_SECRET,
            ID_TOKEN_SIG,
            ASSERTION_SIG,
            &self.id_token,
            &self.assertion,
            &self.basic,
        ]
    }
}

/// What a format's templates must still let through after redaction.
#[derive(Default)]
struct Expect {
    /// `CODE_A` on two or more lines: at least two events with its
    /// fingerprint.
    code_twice: bool,
    /// `CODE_B` too: some event has its (different) fingerprint.
    code_b: bool,
    /// Some event has `verifier_s256 == s256(VERIFIER)`.
    verifier: bool,
    /// Some event has the refresh token's fingerprint.
    refresh: bool,
    /// Some event has the assertion's fingerprint and claims.
    assertion: bool,
    /// Some event has the ID token's claims.
    id_token_claims: bool,
}

struct Case {
    format: Format,
    templates: &'static [&'static str],
    expect: Expect,
}

const RAILS: &[&str] = &[
    r##"I, [2025-03-11T09:41:05.100000 #7]  INFO -- : [eaea95c1-21d2-45ef-a996-4ad56b94a5e6] Started GET "/oauth/authorize?client_id=Zr9kq3bB4u2xq0X9&redirect_uri=com.example.app%3A%2Foauth2redirect&response_type=code&scope=read&state=507f38eb2eb23e8a&code_challenge=86a-nBq8ClcI43rwUuwoBqjEpHYHI5gPe3lm3Y92gEE&code_challenge_method=S256" for 192.0.2.239 at 2025-03-11 09:41:05 +0000"##,
    r##"I, [2025-03-11T09:41:05.101000 #7]  INFO -- : [eaea95c1-21d2-45ef-a996-4ad56b94a5e6] Processing by Doorkeeper::AuthorizationsController#new as HTML"##,
    r##"I, [2025-03-11T09:41:05.101200 #7]  INFO -- : [eaea95c1-21d2-45ef-a996-4ad56b94a5e6]   Parameters: {"client_id"=>"Zr9kq3bB4u2xq0X9", "redirect_uri"=>"com.example.app:/oauth2redirect", "response_type"=>"code", "scope"=>"read", "state"=>"507f38eb2eb23e8a", "code_challenge"=>"86a-nBq8ClcI43rwUuwoBqjEpHYHI5gPe3lm3Y92gEE", "code_challenge_method"=>"S256"}"##,
    r##"D, [2025-03-11T09:41:05.110000 #7] DEBUG -- : [eaea95c1-21d2-45ef-a996-4ad56b94a5e6]   Doorkeeper::AccessGrant Create (0.6ms)  INSERT INTO "oauth_access_grants" ("resource_owner_id", "application_id", "token", "expires_in") VALUES ($1, $2, $3, $4) RETURNING "id"  [["resource_owner_id", 1], ["application_id", 1], ["token", "{CODE_A}"], ["expires_in", 600]]"##,
    r##"I, [2025-03-11T09:41:05.118000 #7]  INFO -- : [eaea95c1-21d2-45ef-a996-4ad56b94a5e6] Redirected to com.example.app:/oauth2redirect?code={CODE_A}&state=507f38eb2eb23e8a"##,
    r##"I, [2025-03-11T09:41:05.119000 #7]  INFO -- : [eaea95c1-21d2-45ef-a996-4ad56b94a5e6] Completed 302 Found in 19ms (ActiveRecord: 3.2ms | Allocations: 5123)"##,
    r##"I, [2025-03-11T09:41:07.300000 #7]  INFO -- : [a6c28768-cb65-48da-8300-2ffe2f741e4f] Started POST "/oauth/token" for 192.0.2.239 at 2025-03-11 09:41:07 +0000"##,
    r##"I, [2025-03-11T09:41:07.301000 #7]  INFO -- : [a6c28768-cb65-48da-8300-2ffe2f741e4f] Processing by Doorkeeper::TokensController#create as */*"##,
    r##"I, [2025-03-11T09:41:07.301200 #7]  INFO -- : [a6c28768-cb65-48da-8300-2ffe2f741e4f]   Parameters: {"grant_type"=>"authorization_code", "code"=>"{CODE_A}", "redirect_uri"=>"com.example.app:/oauth2redirect", "client_id"=>"Zr9kq3bB4u2xq0X9", "code_verifier"=>"{VERIFIER}"}"##,
    r##"D, [2025-03-11T09:41:07.303000 #7] DEBUG -- : [a6c28768-cb65-48da-8300-2ffe2f741e4f]   Doorkeeper::AccessGrant Load (0.2ms)  SELECT "oauth_access_grants".* FROM "oauth_access_grants" WHERE "oauth_access_grants"."token" = $1 LIMIT $2  [["token", "{CODE_A}"], ["LIMIT", 1]]"##,
    r##"I, [2025-03-11T09:41:07.324000 #7]  INFO -- : [a6c28768-cb65-48da-8300-2ffe2f741e4f] Completed 200 OK in 24ms (Views: 0.2ms | ActiveRecord: 3.1ms | Allocations: 5120)"##,
    r##"I, [2025-03-11T09:41:07.350000 #9]  INFO -- : [c5b58a92-12bf-4972-8a3f-0e686d1573b1] Started POST "/oauth/token" for 192.0.2.239 at 2025-03-11 09:41:07 +0000"##,
    r##"I, [2025-03-11T09:41:07.351000 #9]  INFO -- : [c5b58a92-12bf-4972-8a3f-0e686d1573b1] Processing by Doorkeeper::TokensController#create as */*"##,
    r##"I, [2025-03-11T09:41:07.351200 #9]  INFO -- : [c5b58a92-12bf-4972-8a3f-0e686d1573b1]   Parameters: {"grant_type"=>"authorization_code", "code"=>"{CODE_A}", "redirect_uri"=>"com.example.app:/oauth2redirect", "client_id"=>"Zr9kq3bB4u2xq0X9", "code_verifier"=>"{VERIFIER}"}"##,
    r##"I, [2025-03-11T09:41:07.362000 #9]  INFO -- : [c5b58a92-12bf-4972-8a3f-0e686d1573b1] Completed 400 Bad Request in 11ms (Views: 0.2ms | ActiveRecord: 0.9ms | Allocations: 2310)"##,
    r##"I, [2025-03-11T09:45:01.000000 #7]  INFO -- : [de764348-77fa-4c87-8564-821e19d70501] Started POST "/oauth/token" for 203.0.113.205 at 2025-03-11 09:45:01 +0000"##,
    r##"I, [2025-03-11T09:45:01.001000 #7]  INFO -- : [de764348-77fa-4c87-8564-821e19d70501] Processing by Doorkeeper::TokensController#create as */*"##,
    r##"I, [2025-03-11T09:45:01.001200 #7]  INFO -- : [de764348-77fa-4c87-8564-821e19d70501]   Parameters: {"grant_type" => "authorization_code", "code" => "{CODE_B}", "redirect_uri" => "https://web.example.com/callback", "client_id" => "web-portal", "client_secret" => "{SECRET}"}"##,
    r##"I, [2025-03-11T09:45:01.020000 #7]  INFO -- : [de764348-77fa-4c87-8564-821e19d70501] Completed 200 OK in 19ms (Views: 0.2ms | ActiveRecord: 2.4ms | Allocations: 4100)"##,
    r##"I, [2025-03-11T09:46:11.000000 #7]  INFO -- : [5c1d2e3f-0a9b-4c8d-9e7f-6a5b4c3d2e1f] Started POST "/oauth/token" for 203.0.113.205 at 2025-03-11 09:46:11 +0000"##,
    r##"I, [2025-03-11T09:46:11.001000 #7]  INFO -- : [5c1d2e3f-0a9b-4c8d-9e7f-6a5b4c3d2e1f] Processing by Doorkeeper::TokensController#create as */*"##,
    r##"I, [2025-03-11T09:46:11.001200 #7]  INFO -- : [5c1d2e3f-0a9b-4c8d-9e7f-6a5b4c3d2e1f]   Parameters: {"grant_type"=>"refresh_token", "refresh_token"=>"{REFRESH}", "client_id"=>"Zr9kq3bB4u2xq0X9"}"##,
    r##"I, [2025-03-11T09:46:11.014000 #7]  INFO -- : [5c1d2e3f-0a9b-4c8d-9e7f-6a5b4c3d2e1f] Completed 400 Bad Request in 13ms (Views: 0.2ms | ActiveRecord: 1.1ms | Allocations: 2011)"##,
    r##"I, [2025-03-11T09:47:30.000000 #9]  INFO -- : [7b74ece2-b265-4b62-9de0-8270e455ed1a] Started POST "/oauth/token" for 10.0.5.20 at 2025-03-11 09:47:30 +0000"##,
    r##"I, [2025-03-11T09:47:30.001000 #9]  INFO -- : [7b74ece2-b265-4b62-9de0-8270e455ed1a] Processing by Doorkeeper::TokensController#create as */*"##,
    r##"I, [2025-03-11T09:47:30.001200 #9]  INFO -- : [7b74ece2-b265-4b62-9de0-8270e455ed1a]   Parameters: {"grant_type"=>"client_credentials", "client_assertion_type"=>"urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion"=>"{ASSERTION}", "scope"=>"read"}"##,
    r##"I, [2025-03-11T09:47:30.010000 #9]  INFO -- : [7b74ece2-b265-4b62-9de0-8270e455ed1a] Completed 401 Unauthorized in 9ms (Views: 0.2ms | ActiveRecord: 0.8ms | Allocations: 1804)"##,
    r##"I, [2025-03-11T09:48:02.000000 #7]  INFO -- : [b2d021f5-8200-4334-95cb-c6f12a6a4467] Started POST "/oauth/revoke" for 203.0.113.205 at 2025-03-11 09:48:02 +0000"##,
    r##"I, [2025-03-11T09:48:02.001000 #7]  INFO -- : [b2d021f5-8200-4334-95cb-c6f12a6a4467] Processing by Doorkeeper::TokensController#revoke as */*"##,
    r##"I, [2025-03-11T09:48:02.001200 #7]  INFO -- : [b2d021f5-8200-4334-95cb-c6f12a6a4467]   Parameters: {"token"=>"{ACCESS}", "token_type_hint"=>"access_token", "client_id"=>"Zr9kq3bB4u2xq0X9"}"##,
    r##"I, [2025-03-11T09:48:02.009000 #7]  INFO -- : [b2d021f5-8200-4334-95cb-c6f12a6a4467] Completed 200 OK in 8ms (Views: 0.2ms | ActiveRecord: 1.0ms | Allocations: 1500)"##,
    r##"I, [2025-03-11T09:49:10.000000 #9]  INFO -- : [0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d] Started POST "/users/sign_in" for 203.0.113.205 at 2025-03-11 09:49:10 +0000"##,
    r##"I, [2025-03-11T09:49:10.001000 #9]  INFO -- : [0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d] Processing by Devise::SessionsController#create as HTML"##,
    r##"I, [2025-03-11T09:49:10.001200 #9]  INFO -- : [0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d]   Parameters: {"authenticity_token"=>"[FILTERED]", "user"=>{"email"=>"dana.lee@example.com", "password"=>"{PASSWORD}", "remember_me"=>"0"}, "commit"=>"Log in"}"##,
    r##"I, [2025-03-11T09:49:10.050000 #9]  INFO -- : [0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d] Completed 302 Found in 49ms (ActiveRecord: 4.0ms | Allocations: 9001)"##,
    r##"I, [2025-03-11T09:50:44.000000 #7]  INFO -- : [1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a] Started POST "/users/auth/apple/callback" for 203.0.113.205 at 2025-03-11 09:50:44 +0000"##,
    r##"I, [2025-03-11T09:50:44.001000 #7]  INFO -- : [1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a] Processing by Users::OmniauthCallbacksController#apple as HTML"##,
    r##"I, [2025-03-11T09:50:44.001200 #7]  INFO -- : [1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a]   Parameters: {"state"=>"9f2c4e6a8b0d", "code"=>"{CODE_B}", "id_token"=>"{ID_TOKEN}"}"##,
    r##"I, [2025-03-11T09:50:44.020000 #7]  INFO -- : [1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a] Completed 302 Found in 19ms (ActiveRecord: 2.0ms | Allocations: 6001)"##,
];

const LOGRAGE: &[&str] = &[
    r##"I, [2025-03-14T11:02:01.100000 #8]  INFO -- : method=GET path=/oauth/authorize format=html controller=Doorkeeper::AuthorizationsController action=new status=302 duration=18.22 view=1.33 db=4.46 location=com.example.app:/oauth2redirect?code={CODE_A}&state=0ba7c2ec26e8bdae request_id=4beced91-39f1-4207-b976-2193f892bc57 remote_ip=203.0.113.114 params={"client_id"=>"Zr9kq3bB4u2xq0X9", "redirect_uri"=>"com.example.app:/oauth2redirect", "response_type"=>"code", "state"=>"0ba7c2ec26e8bdae", "code_challenge"=>"86a-nBq8ClcI43rwUuwoBqjEpHYHI5gPe3lm3Y92gEE", "code_challenge_method"=>"S256"}"##,
    r##"I, [2025-03-14T11:02:03.400000 #8]  INFO -- : method=POST path=/oauth/token format=*/* controller=Doorkeeper::TokensController action=create status=200 duration=24.26 view=4.65 db=3.79 request_id=2abcf2a4-098d-4a71-89b9-3933288acc73 remote_ip=203.0.113.114 params={"grant_type"=>"authorization_code", "code"=>"{CODE_A}", "redirect_uri"=>"com.example.app:/oauth2redirect", "client_id"=>"Zr9kq3bB4u2xq0X9", "code_verifier"=>"{VERIFIER}"}"##,
    r##"I, [2025-03-14T11:05:07.000000 #11]  INFO -- : method=POST path=/oauth/token format=*/* controller=Doorkeeper::TokensController action=create status=400 duration=16.30 view=1.28 db=2.37 request_id=a99fd30b-c0ea-40a0-b61a-e76176fb00e7 remote_ip=172.16.0.150 params={"grant_type"=>"refresh_token", "refresh_token"=>"{REFRESH}", "client_id"=>"Zr9kq3bB4u2xq0X9"}"##,
    r##"I, [2025-03-14T11:11:42.500000 #8]  INFO -- : method=POST path=/oauth/token format=*/* controller=Doorkeeper::TokensController action=create status=401 duration=12.19 view=2.55 db=0.23 request_id=f34ed835-eb71-4139-8390-401d2e43dbd4 remote_ip=192.0.2.200 params={"grant_type"=>"client_credentials", "client_id"=>"8f14e45fceea167a5a36dedd4bea2543", "client_secret"=>"{SECRET}", "scope"=>"read"}"##,
    r##"{"method":"GET","path":"/oauth/authorize","format":"html","controller":"Doorkeeper::AuthorizationsController","action":"new","status":302,"duration":18.22,"view":0.64,"db":0.62,"location":"com.example.app:/oauth2redirect?code={CODE_B}&state=fae7f263befb2705","request_id":"d5898a57-38cb-4f24-965c-48fea20b15b3","remote_ip":"203.0.113.172","params":{"client_id":"Zr9kq3bB4u2xq0X9","redirect_uri":"com.example.app:/oauth2redirect","response_type":"code","state":"fae7f263befb2705","code_challenge":"86a-nBq8ClcI43rwUuwoBqjEpHYHI5gPe3lm3Y92gEE","code_challenge_method":"S256"},"time":"2025-03-15T10:15:31.100Z"}"##,
    r##"{"method":"POST","path":"/oauth/token","format":"*/*","controller":"Doorkeeper::TokensController","action":"create","status":400,"duration":24.42,"view":1.05,"db":4.73,"request_id":"971a8783-3cd1-40b7-85f0-2dd18cc34a40","remote_ip":"198.51.100.23","params":{"grant_type":"authorization_code","code":"{CODE_B}","redirect_uri":"com.example.app:/oauth2redirect","client_id":"Zr9kq3bB4u2xq0X9","code_verifier":"{VERIFIER}"},"time":"2025-03-15T10:15:33.400Z"}"##,
    r##"{"method":"POST","path":"/oauth/token","format":"*/*","controller":"Doorkeeper::TokensController","action":"create","status":401,"duration":9.10,"view":0.40,"db":0.90,"request_id":"0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e","remote_ip":"10.0.5.20","params":{"grant_type":"client_credentials","client_assertion_type":"urn:ietf:params:oauth:client-assertion-type:jwt-bearer","client_assertion":"{ASSERTION}","scope":"read"},"time":"2025-03-15T10:16:00.000Z"}"##,
    r##"{"method":"POST","path":"/oauth/revoke","format":"*/*","controller":"Doorkeeper::TokensController","action":"revoke","status":200,"duration":6.10,"view":0.20,"db":0.90,"request_id":"1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f","remote_ip":"10.0.5.20","params":{"token":"{ACCESS}","token_type_hint":"access_token"},"time":"2025-03-15T10:16:10.000Z"}"##,
    r##"{"method":"POST","path":"/users/sign_in","format":"html","controller":"Devise::SessionsController","action":"create","status":302,"duration":49.00,"view":0.00,"db":4.00,"request_id":"2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a","remote_ip":"10.0.5.21","params":{"user":{"email":"dana.lee@example.com","password":"{PASSWORD}","remember_me":"0"},"commit":"Log in"},"time":"2025-03-15T10:16:20.000Z"}"##,
    r##"{"method":"POST","path":"/users/auth/apple/callback","format":"html","controller":"Users::OmniauthCallbacksController","action":"apple","status":302,"duration":19.00,"view":0.00,"db":2.00,"request_id":"3e4f5a6b-7c8d-4e9f-a0b1-2c3d4e5f6a7b","remote_ip":"10.0.5.21","params":{"state":"9f2c4e6a8b0d","id_token":"{ID_TOKEN}"},"time":"2025-03-15T10:16:30.000Z"}"##,
];

const HYDRA: &[&str] = &[
    r##"{"audience":"application","http_request":{"headers":{"accept":"application/json","user-agent":"Mozilla/5.0 (Linux; Android 14; Pixel 8)","x-request-id":"6b1f0c8e-2d47-4c51-a7a9-3e0d9a1c7b20"},"host":"auth.example.com","method":"GET","path":"/oauth2/auth","query":"client_id=mobile&response_type=code&scope=openid&state=8f2a1c&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256","remote":"10.0.4.17:51590","scheme":"http"},"http_response":{"headers":{"cache-control":"no-store","location":"com.example.app:/oauth2redirect?code={CODE_A}&scope=openid&state=8f2a1c"},"size":0,"status":303,"text_status":"See Other","took":1220817},"level":"info","msg":"completed handling request","service_name":"Ory Hydra","service_version":"v2.3.0","time":"2025-03-11T09:14:01.089311Z"}"##,
    r##"{"audience":"application","http_request":{"headers":{"accept":"application/json","authorization":"Basic {BASIC}","content-type":"application/x-www-form-urlencoded","user-agent":"okhttp/4.12.0","x-request-id":"a5a054ed-7c1e-4f0b-9d3e-2b8c61f4d901"},"host":"auth.example.com","method":"POST","path":"/oauth2/token","query":"grant_type=authorization_code&code={CODE_A}&code_verifier={VERIFIER}&redirect_uri=com.example.app%3A%2Foauth2redirect","remote":"10.0.4.17:51622","scheme":"http"},"level":"info","msg":"started handling request","service_name":"Ory Hydra","service_version":"v2.3.0","time":"2025-03-11T09:14:02.011311Z"}"##,
    r##"{"audience":"application","error":{"debug":"","message":"invalid_grant","reason":"The authorization code has already been used.","status":"Bad Request","status_code":400},"http_request":{"headers":{"accept":"application/json","authorization":"Basic {BASIC}","content-type":"application/x-www-form-urlencoded","user-agent":"okhttp/4.12.0","x-request-id":"c2e91b4a-0d5f-47a8-8e61-9f7d3a20b5c4"},"host":"auth.example.com","method":"POST","path":"/oauth2/token","query":"grant_type=authorization_code&code={CODE_A}&code_verifier={VERIFIER}","remote":"10.0.4.17:51624","scheme":"http"},"level":"info","msg":"access denied","service_name":"Ory Hydra","service_version":"v2.3.0","time":"2025-03-11T09:14:02.131907Z"}"##,
    r##"{"audience":"application","error":{"debug":"Unable to verify the integrity of the 'client_assertion' value {ASSERTION}.","message":"invalid_client","reason":"","status":"Unauthorized","status_code":401},"http_request":{"headers":{"accept":"application/json","content-type":"application/x-www-form-urlencoded","user-agent":"Go-http-client/2.0"},"host":"auth.example.com","method":"POST","path":"/oauth2/token","query":"client_assertion={ASSERTION}","remote":"10.0.8.77:41977","scheme":"http"},"level":"error","msg":"An error occurred","otel":{"span_id":"00f067aa0ba90004","trace_id":"4bf92f3577b34da6a3ce929d0e0e0004"},"service_name":"Ory Hydra","service_version":"v26.2.0","time":"2025-03-12T10:14:52.660913Z"}"##,
    r##"{"audience":"application","error":{"debug":"id_token_hint {ID_TOKEN} is expired","message":"invalid_request","reason":"","status":"Bad Request","status_code":400},"http_request":{"headers":{"accept":"application/json","authorization":"Bearer {ACCESS}","user-agent":"okhttp/4.12.0"},"host":"auth.example.com","method":"GET","path":"/oauth2/sessions/logout","query":"id_token_hint={ID_TOKEN}","remote":"10.0.8.77:41980","scheme":"http"},"level":"error","msg":"An error occurred","otel":{"span_id":"00f067aa0ba90005","trace_id":"4bf92f3577b34da6a3ce929d0e0e0005"},"service_name":"Ory Hydra","service_version":"v26.2.0","time":"2025-03-12T10:15:02.660913Z"}"##,
    r##"time=2025-03-14T08:12:44Z level=info msg=access denied audience=application error=map[debug: message:token_inactive reason:Token validation failed. status:Unauthorized status_code:401] http_request=map[headers:map[accept-encoding:gzip authorization:Basic {BASIC} content-type:application/x-www-form-urlencoded user-agent:MyShop/5.2.0 CFNetwork/1494.0.7 Darwin/23.4.0 x-request-id:53d4e5f6-a7b8-4c92-9dae-2f3a4b5c6d7e] host:auth.example.com method:POST path:/oauth2/token query:grant_type=refresh_token&refresh_token={REFRESH} remote:10.0.6.40:51104 scheme:http] service_name=Ory Hydra service_version=v2.2.0"##,
    r##"time=2025-03-14T08:20:46Z level=info msg=access denied audience=application error=map[debug: message:invalid_grant reason:The authorization code has already been used. status:Bad Request status_code:400] http_request=map[headers:map[accept-encoding:gzip authorization:Bearer {ACCESS} content-type:application/x-www-form-urlencoded user-agent:MyShop/5.2.0 CFNetwork/1494.0.7 Darwin/23.4.0 x-request-id:62a7b8c9-d0e1-4fc2-a0d1-5c6d7e8f9001] host:auth.example.com method:POST path:/oauth2/token query:grant_type=authorization_code&code={CODE_B}&client_secret={SECRET} remote:10.0.6.52:51250 scheme:http] service_name=Ory Hydra service_version=v2.2.0"##,
];

const KEYCLOAK: &[&str] = &[
    r##"2025-03-11 11:05:12,340 WARN  [org.keycloak.protocol.oidc.utils.OAuth2CodeParser] (executor-thread-27) Code '{CODE_A}' already used for userSession '463f87a6-5ab5-484b-b12a-24ee20abb1da' and client '9f330c7c-4985-4c0c-8185-8932b9fa7297'."##,
    r##"2025-03-11 11:05:12,341 WARN  [org.keycloak.events] (executor-thread-27) type=CODE_TO_TOKEN_ERROR, realmId=shop, clientId=shop-back, userId=null, ipAddress=81.184.94.187, error=invalid_code, grant_type=authorization_code, code_id=463f87a6-5ab5-484b-b12a-24ee20abb1da, client_auth_method=client-secret"##,
    r##"{"timestamp":"2025-03-11T12:40:20.700100000Z","sequence":60287,"loggerClassName":"org.jboss.logging.Logger","loggerName":"org.keycloak.protocol.oidc.utils.OAuth2CodeParser","level":"WARN","message":"Code '{CODE_A}' already used for userSession 'Kp2mQ8vX1cN5bR7tZ3wL9yHd' and client 'e4c1b7d2-8a3f-4e6b-9c5d-2f1a0b9c8d7e'.","threadName":"executor-thread-9","threadId":337,"mdc":{},"ndc":"","hostName":"keycloak-0","processName":"QuarkusEntryPoint","processId":1}"##,
    r##"{"timestamp":"2025-03-11T12:41:20.700100000Z","sequence":60289,"loggerClassName":"org.jboss.logging.Logger","loggerName":"org.keycloak.protocol.oidc.utils.OAuth2CodeParser","level":"WARN","message":"Code '{CODE_B}' is bound to a different session","threadName":"executor-thread-9","threadId":337,"mdc":{},"ndc":"","hostName":"keycloak-0","processName":"QuarkusEntryPoint","processId":1}"##,
    r##"2025-03-11 09:02:10,512 INFO  [org.keycloak.events] (executor-thread-3) type="LOGIN", realmId="7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13", realmName="shop", clientId="shop-web", userId="3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", sessionId="f1e2d3c4-b5a6-4978-8e9d-0c1b2a3f4e5d", ipAddress="203.0.113.24", auth_method="openid-connect", auth_type="code", response_type="code", redirect_uri="https://shop.example.com/callback?code={CODE_B}", consent="no_consent_required", code_id="f1e2d3c4-b5a6-4978-8e9d-0c1b2a3f4e5d", username="grace""##,
    r##"2025-03-11 09:05:41,902 INFO  [org.keycloak.events] (executor-thread-9) type="CLIENT_UPDATE", realmId="7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13", realmName="shop", clientId="shop-back", userId="f0e1d2c3-b4a5-4968-8776-655443322110", ipAddress="10.20.0.3", client_secret="{SECRET}", password="{PASSWORD}""##,
    r##"{"timestamp":"2025-03-11T12:09:02.337114520Z","sequence":60284,"loggerClassName":"org.jboss.logging.Logger","loggerName":"org.keycloak.events","level":"WARN","message":"type=\"REFRESH_TOKEN_ERROR\", realmId=\"7c1f3a52-9d4e-4b8a-a6c1-2e5f8b9d0a13\", realmName=\"shop\", clientId=\"shop-mobile\", userId=\"null\", sessionId=\"Vq3xN0dO4b7sEJ2qYw9kR1Tm\", ipAddress=\"198.51.100.90\", error=\"invalid_token\", reason=\"Invalid refresh token\", refresh_token=\"{REFRESH}\", id_token=\"{ID_TOKEN}\", grant_type=\"refresh_token\"","threadName":"executor-thread-4","threadId":333,"mdc":{},"ndc":"","hostName":"keycloak-0","processName":"QuarkusEntryPoint","processId":1}"##,
    r##"2025-03-11 11:20:05,774 WARN  [org.keycloak.protocol.oidc.endpoints.TokenEndpoint] (executor-thread-12) PKCE verification failed. authUserId = 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e, authUsername = grace, code_verifier = {VERIFIER}"##,
    r##"2025-03-11 11:12:40,101 WARN  [org.keycloak.services] (executor-thread-31) KC-SERVICES0014: Failed client authentication: Authorization: Basic {BASIC}, client_assertion={ASSERTION}, token={ACCESS}"##,
];

const NODE_OIDC: &[&str] = &[
    r##"2025-06-03T11:20:44.298Z info  portal: GET /callback?code={CODE_A}&state=Zk3v9QpL2m&iss=https%3A%2F%2Fid.example.com"##,
    r##"2025-06-03T11:20:44.301Z info  portal: GET /callback?code={CODE_A}&state=Zk3v9QpL2m&iss=https%3A%2F%2Fid.example.com"##,
    r##"  <-- GET /auth?client_id=mobile-app&response_type=code&scope=openid%20offline_access&redirect_uri=com.example.app%3A%2Foauth2redirect&state=p8WcX1sRr7&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"##,
    r##"  <-- POST /token?code={CODE_B}&code_verifier={VERIFIER}"##,
    r##"2025-06-03T11:20:44.512Z oidc-provider:error path=/token method=POST error={ error: 'invalid_grant', error_description: 'grant request is invalid' } detail=authorization code already consumed"##,
    r##"  --> POST /token 400 9ms 79b"##,
    r##"2025-06-03T11:20:44.530Z error portal: callback failed OPError: invalid_grant (grant request is invalid)"##,
    r##"    at processResponse (/srv/portal/node_modules/openid-client/lib/helpers/process_response.js:38:13)"##,
    r##"    at async Client.callback (/srv/portal/node_modules/openid-client/lib/client.js:493:24) {"##,
    r##"  error: 'invalid_grant',"##,
    r##"  error_description: 'grant request is invalid',"##,
    r##"  params: { code: '{CODE_A}', code_verifier: '{VERIFIER}', refresh_token: '{REFRESH}', client_secret: '{SECRET}' },"##,
    r##"  headers: { authorization: 'Basic {BASIC}' },"##,
    r##"  response: [IncomingMessage]"##,
    r##"}"##,
    r##"  oidc-provider:error path=/token method=POST error={ error: 'invalid_grant', error_description: 'grant request is invalid' } detail=refresh token is expired +3m"##,
    r##"2025-06-03T11:35:09.661Z error export-job: token request failed OPError: invalid_client (client authentication failed) client_assertion={ASSERTION} id_token={ID_TOKEN} password={PASSWORD} Authorization: Bearer {ACCESS}"##,
];

const IDENTITYSERVER: &[&str] = &[
    r##"[09:48:19 Error] Duende.IdentityServer.Validation.TokenRequestValidator"##,
    r##"Authorization code expired {"code": "{CODE_A}"}, details: {"ClientId": "web", "ClientName": "Partner Portal", "GrantType": "authorization_code", "AuthorizationCode": "****F6-1", "RefreshToken": "********", "Raw": {"client_id": "web", "client_secret": "{SECRET}", "code": "{CODE_A}", "grant_type": "authorization_code", "redirect_uri": "https://portal.example.com/signin-oidc", "code_verifier": "{VERIFIER}"}, "$type": "TokenRequestValidationLog"}"##,
    r##""##,
    r##"[09:48:20 Error] Duende.IdentityServer.Validation.TokenRequestValidator"##,
    r##"Invalid authorization code {"code": "{CODE_A}"}, details: {"ClientId": "web", "ClientName": "Partner Portal", "GrantType": "authorization_code", "Raw": {"client_id": "web", "code": "{CODE_A}", "grant_type": "authorization_code", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": "{ASSERTION}"}, "$type": "TokenRequestValidationLog"}"##,
    r##""##,
    r##"2025-03-11 10:15:02.4873|0|INFO|Duende.IdentityServer.Validation.TokenRequestValidator|User authentication failed:  "invalid_username_or_password", details: {"ClientId":"legacy-cli","ClientName":"Legacy CLI","GrantType":"password","Scopes":"api1 offline_access","AuthorizationCode":"********","RefreshToken":"********","UserName":"j.doe@example.com","Raw":{"client_id":"legacy-cli","client_secret":"{SECRET}","grant_type":"password","username":"j.doe@example.com","password":"{PASSWORD}","scope":"api1 offline_access"},"$type":"TokenRequestValidationLog"}"##,
    r##"2025-03-11 10:16:02.4873|0|ERROR|Duende.IdentityServer.Validation.TokenRequestValidator|Refresh token validation failed. aborting, {"ClientId":"mobile","ClientName":"Mobile App","GrantType":"refresh_token","RefreshToken":"****sT1x","Raw":{"client_id":"mobile","grant_type":"refresh_token","refresh_token":"{REFRESH}"},"$type":"TokenRequestValidationLog"}"##,
    r##"info: Duende.IdentityServer.Hosting.IdentityServerMiddleware[0]"##,
    r##"      Invoking IdentityServer endpoint: Duende.IdentityServer.Endpoints.TokenEndpoint for /connect/token"##,
    r##"fail: Duende.IdentityServer.Validation.TokenRequestValidator[0]"##,
    r##"      => SpanId:3c9e2b7d1f0a4e65, TraceId:6b1f0e9d8c7a4b3e2d1c0f9e8a7b6c5d, ParentId:0000000000000000 => ConnectionId:0HNB4K2Q9T1VA => RequestPath:/connect/token RequestId:0HNB4K2Q9T1VA:00000003"##,
    r##"      Invalid redirect_uri { redirectUri = com.example.fieldapp:/callback, expectedRedirectUri = com.example.fieldapp:/oauth2redirect }, details: {"##,
    r##"        "ClientId": "fieldapp","##,
    r##"        "GrantType": "authorization_code","##,
    r##"        "Raw": {"##,
    r##"          "client_id": "fieldapp","##,
    r##"          "grant_type": "authorization_code","##,
    r##"          "code": "{CODE_B}","##,
    r##"          "redirect_uri": "com.example.fieldapp:/callback","##,
    r##"          "code_verifier": "{VERIFIER}","##,
    r##"          "id_token_hint": "{ID_TOKEN}""##,
    r##"        }"##,
    r##"      }"##,
    r##"info: Microsoft.AspNetCore.Hosting.Diagnostics[1]"##,
    r##"      Request starting HTTP/1.1 GET https://id.example.com/connect/endsession?id_token_hint={ID_TOKEN}&post_logout_redirect_uri=https%3A%2F%2Fportal.example.com - null null"##,
    r##"info: Microsoft.AspNetCore.Hosting.Diagnostics[1]"##,
    r##"      Request starting HTTP/1.1 GET https://id.example.com/connect/userinfo - null null Authorization: Bearer {ACCESS}"##,
];

const SPRING: &[&str] = &[
    r##"2025-03-11T09:41:07.311Z DEBUG 1 --- [auth-server] [nio-9000-exec-3] [67d0030b1a2b3c4d5e6f708192a3b4c5-1a2b3c4d5e6f7081] o.s.security.web.FilterChainProxy        : Securing POST /oauth2/token"##,
    r##"2025-03-11T09:41:07.312Z DEBUG 1 --- [auth-server] [nio-9000-exec-3] [67d0030b1a2b3c4d5e6f708192a3b4c5-1a2b3c4d5e6f7081] o.s.w.f.CommonsRequestLoggingFilter      : Before request [POST /oauth2/token, headers=[authorization:"Basic {BASIC}", content-type:"application/x-www-form-urlencoded"]]"##,
    r##"2025-03-11T09:41:07.334Z  WARN 1 --- [auth-server] [nio-9000-exec-3] [67d0030b1a2b3c4d5e6f708192a3b4c5-1a2b3c4d5e6f7081] 2AuthorizationCodeAuthenticationProvider : Invalidated authorization token(s) previously issued to registered client 'mobile' code={CODE_A}"##,
    r##"2025-03-11T09:41:07.335Z DEBUG 1 --- [auth-server] [nio-9000-exec-3] [67d0030b1a2b3c4d5e6f708192a3b4c5-1a2b3c4d5e6f7081] o.s.w.f.CommonsRequestLoggingFilter      : After request [POST /oauth2/token, headers=[authorization:"Basic {BASIC}"], payload=grant_type=authorization_code&code={CODE_A}&redirect_uri=com.example.app%3A%2Foauth2redirect&code_verifier={VERIFIER}]"##,
    r##"2025-03-11T09:41:07.336Z  INFO 1 --- [auth-server] [nio-9000-exec-3] [67d0030b1a2b3c4d5e6f708192a3b4c5-1a2b3c4d5e6f7081] c.e.auth.web.TokenErrorLoggingFilter     : POST /oauth2/token -> 400 {"error":"invalid_grant"} code={CODE_A}"##,
    r##"2025-03-11T09:46:51.141Z  INFO 1 --- [auth-server] [nio-9000-exec-6] [67d004c3d4e5f60718293a4b5c6d7e8f-d4e5f60718293a4b] c.e.auth.web.TokenErrorLoggingFilter     : POST /oauth2/token -> 200 {"access_token":"{ACCESS}","refresh_token":"{REFRESH_NEW}","id_token":"{ID_TOKEN}","token_type":"Bearer","expires_in":299}"##,
    r##"2025-03-11T10:03:12.571Z DEBUG 1 --- [auth-server] [nio-9000-exec-4] [67d008f0b1c2d3e4f5a6b7c8d9e0f1a2-b1c2d3e4f5a6b7c8] OAuth2RefreshTokenAuthenticationProvider : Invalid request: refresh_token is not active for registered client '2b7c9d4e' refresh_token={REFRESH}"##,
    r##"2025-03-11T10:03:12.574Z  INFO 1 --- [auth-server] [nio-9000-exec-4] [67d008f0b1c2d3e4f5a6b7c8d9e0f1a2-b1c2d3e4f5a6b7c8] c.e.auth.web.TokenErrorLoggingFilter     : POST /oauth2/token -> 400 {"error":"invalid_grant"} client_secret={SECRET}&client_assertion={ASSERTION}"##,
    r##"2025-03-11 11:15:44.902  WARN 1 --- [nio-9000-exec-3] o.s.s.o.s.a.a.OAuth2AuthorizationCodeAuthenticationProvider : Invalidated authorization code used by registered client 'mobile' {"code":"{CODE_B}","password":"{PASSWORD}"}"##,
    r##"2025-03-11 11:15:45.100 DEBUG 1 --- [nio-9000-exec-3] o.s.web.client.RestTemplate              : Writing [{grant_type=[authorization_code], code=[{CODE_B}], code_verifier=[{VERIFIER}]}] as "application/x-www-form-urlencoded""##,
];

const LOGCAT: &[&str] = &[
    r##"03-11 10:17:06.118  4388  4421 I flutter : [Auth] received redirect com.acme.fieldapp:/oauth2redirect?code={CODE_A}&state=Jq4dX0rVb2sLwE7n"##,
    r##"03-11 10:17:06.132  4388  4421 I flutter : *** Request ***"##,
    r##"03-11 10:17:06.133  4388  4421 I flutter : uri: https://auth.acme-field.com/oauth/token"##,
    r##"03-11 10:17:06.134  4388  4421 I flutter : method: POST"##,
    r##"03-11 10:17:06.143  4388  4421 I flutter : headers:"##,
    r##"03-11 10:17:06.144  4388  4421 I flutter :  content-type: application/x-www-form-urlencoded"##,
    r##"03-11 10:17:06.145  4388  4421 I flutter :  authorization: Basic {BASIC}"##,
    r##"03-11 10:17:06.146  4388  4421 I flutter : data:"##,
    r##"03-11 10:17:06.147  4388  4421 I flutter : {grant_type: authorization_code, code: {CODE_A}, redirect_uri: com.acme.fieldapp:/oauth2redirect, client_id: Z_7hs3QNNUSyXcSzxspDgdnpI1ahwsF1XGyeEZ6LeRR, code_verifier: {VERIFIER}}"##,
    r##"03-11 10:17:06.148  4388  4421 I flutter : "##,
    r##"03-11 10:17:06.413  4388  4421 I flutter : *** DioException ***:"##,
    r##"03-11 10:17:06.414  4388  4421 I flutter : uri: https://auth.acme-field.com/oauth/token"##,
    r##"03-11 10:17:06.415  4388  4421 I flutter : DioException [bad response]: This exception was thrown because the response has a status code of 400 and RequestOptions.validateStatus was configured to throw for this status code."##,
    r##"03-11 10:17:06.419  4388  4421 I flutter : uri: https://auth.acme-field.com/oauth/token"##,
    r##"03-11 10:17:06.420  4388  4421 I flutter : statusCode: 400"##,
    r##"03-11 10:17:06.421  4388  4421 I flutter : headers:"##,
    r##"03-11 10:17:06.424  4388  4421 I flutter :  date: Tue, 11 Mar 2025 10:17:06 GMT"##,
    r##"03-11 10:17:06.427  4388  4421 I flutter :  www-authenticate: Bearer realm="Doorkeeper", error="invalid_grant", error_description="The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.""##,
    r##"03-11 10:17:06.431  4388  4421 I flutter :  x-request-id: e2a7c915-0f4b-4b8e-b3d2-6c91f7a05e48"##,
    r##"03-11 10:17:06.432  4388  4421 I flutter : Response Text:"##,
    r##"03-11 10:17:06.433  4388  4421 I flutter : {"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}"##,
    r##"03-11 10:17:06.434  4388  4421 I flutter : "##,
    r##"03-11 14:02:10.221  4388  4421 I flutter : *** Request ***"##,
    r##"03-11 14:02:10.222  4388  4421 I flutter : uri: https://auth.acme-field.com/oauth/token"##,
    r##"03-11 14:02:10.223  4388  4421 I flutter : method: POST"##,
    r##"03-11 14:02:10.235  4388  4421 I flutter : data:"##,
    r##"03-11 14:02:10.236  4388  4421 I flutter : {grant_type: refresh_token, refresh_token: {REFRESH}, client_id: Z_7hs3QNNUSyXcSzxspDgdnpI1ahwsF1XGyeEZ6LeRR, client_secret: {SECRET}}"##,
    r##"03-11 14:02:10.237  4388  4421 I flutter : "##,
    r##"03-11 14:02:10.499  4388  4421 I flutter : *** Response ***"##,
    r##"03-11 14:02:10.500  4388  4421 I flutter : uri: https://auth.acme-field.com/oauth/token"##,
    r##"03-11 14:02:10.501  4388  4421 I flutter : statusCode: 200"##,
    r##"03-11 14:02:10.502  4388  4421 I flutter : headers:"##,
    r##"03-11 14:02:10.505  4388  4421 I flutter :  date: Tue, 11 Mar 2025 13:53:10 GMT"##,
    r##"03-11 14:02:10.512  4388  4421 I flutter :  x-request-id: 71c0e8b4-3d29-4f6a-a8e5-92b4d1f6c037"##,
    r##"03-11 14:02:10.513  4388  4421 I flutter : Response Text:"##,
    r##"03-11 14:02:10.514  4388  4421 I flutter : {"access_token":"{ACCESS}","token_type":"Bearer","expires_in":7200,"refresh_token":"{REFRESH_NEW}","scope":"openid profile offline_access","created_at":1741701190,"id_token":"{ID_TOKEN}"}"##,
    r##"03-11 14:02:10.515  4388  4421 I flutter : "##,
    r##"03-11 14:03:02.030  4388  4421 I flutter :  authorization: Bearer {ACCESS}"##,
    r##"03-11 14:05:44.902  4388  4388 D FieldAuth: handling redirect com.acme.fieldapp:/oauth2redirect?code={CODE_B}&state=Yh2mQ8tWc5nZ1pLx"##,
    r##"03-11 14:05:45.601  4388  4388 D AppAuth : Initiating code exchange request to https://auth.acme-field.com/oauth/token"##,
    r##"03-11 14:05:45.602  4388  4388 D AppAuth : Token request: grant_type=authorization_code&code={CODE_B}&client_assertion={ASSERTION}&password={PASSWORD}"##,
];

const IOS: &[&str] = &[
    r##"2025-03-11 08:11:02.717342+0000 Runner[2817:1190331] flutter: [Auth] callback com.acme.fieldapp:/callback?code={CODE_A}&state=s7Hq2LxW9mDc"##,
    r##"2025-03-11 08:11:02.731300+0000 Runner[2817:1190331] flutter: *** Request ***"##,
    r##"2025-03-11 08:11:02.731480+0000 Runner[2817:1190331] flutter: uri: https://dev-48213977.okta.com/oauth2/default/v1/token"##,
    r##"2025-03-11 08:11:02.731660+0000 Runner[2817:1190331] flutter: method: POST"##,
    r##"2025-03-11 08:11:02.733280+0000 Runner[2817:1190331] flutter: headers:"##,
    r##"2025-03-11 08:11:02.733460+0000 Runner[2817:1190331] flutter:  content-type: application/x-www-form-urlencoded"##,
    r##"2025-03-11 08:11:02.733640+0000 Runner[2817:1190331] flutter:  authorization: Basic {BASIC}"##,
    r##"2025-03-11 08:11:02.733820+0000 Runner[2817:1190331] flutter: data:"##,
    r##"2025-03-11 08:11:02.734000+0000 Runner[2817:1190331] flutter: grant_type=authorization_code&code={CODE_A}&redirect_uri=com.acme.fieldapp%3A%2Foauth2redirect&client_id=0oa9x2kq7mTz3Lp5d4x7&code_verifier={VERIFIER}"##,
    r##"2025-03-11 08:11:02.734180+0000 Runner[2817:1190331] flutter: "##,
    r##"2025-03-11 08:11:03.018635+0000 Runner[2817:1190331] flutter: *** DioException ***:"##,
    r##"2025-03-11 08:11:03.018815+0000 Runner[2817:1190331] flutter: uri: https://dev-48213977.okta.com/oauth2/default/v1/token"##,
    r##"2025-03-11 08:11:03.018995+0000 Runner[2817:1190331] flutter: statusCode: 400"##,
    r##"2025-03-11 08:11:03.019175+0000 Runner[2817:1190331] flutter: headers:"##,
    r##"2025-03-11 08:11:03.019355+0000 Runner[2817:1190331] flutter:  date: [Tue, 11 Mar 2025 08:11:03 GMT]"##,
    r##"2025-03-11 08:11:03.019535+0000 Runner[2817:1190331] flutter: Response Text:"##,
    r##"2025-03-11 08:11:03.019715+0000 Runner[2817:1190331] flutter: {"error":"invalid_grant","error_description":"PKCE verification failed."}"##,
    r##"2025-03-11 08:11:03.019895+0000 Runner[2817:1190331] flutter: "##,
    r##"2025-03-02 18:40:12.004281+0000 Runner[2817:1190331] flutter: *** Request ***"##,
    r##"2025-03-02 18:40:12.004461+0000 Runner[2817:1190331] flutter: uri: https://dev-48213977.okta.com/oauth2/default/v1/token"##,
    r##"2025-03-02 18:40:12.006801+0000 Runner[2817:1190331] flutter: data:"##,
    r##"2025-03-02 18:40:12.006981+0000 Runner[2817:1190331] flutter: grant_type=refresh_token&refresh_token={REFRESH}&client_id=0oa9x2kq7mTz3Lp5d4x7&client_secret={SECRET}&scope=openid%20profile%20offline_access"##,
    r##"2025-03-02 18:40:12.007161+0000 Runner[2817:1190331] flutter: "##,
    r##"2025-03-02 18:40:12.388382+0000 Runner[2817:1190331] flutter: *** Response ***"##,
    r##"2025-03-02 18:40:12.388562+0000 Runner[2817:1190331] flutter: uri: https://dev-48213977.okta.com/oauth2/default/v1/token"##,
    r##"2025-03-02 18:40:12.388742+0000 Runner[2817:1190331] flutter: statusCode: 200"##,
    r##"2025-03-02 18:40:12.390722+0000 Runner[2817:1190331] flutter: Response Text:"##,
    r##"2025-03-02 18:40:12.390902+0000 Runner[2817:1190331] flutter: {"token_type":"Bearer","expires_in":3600,"access_token":"{ACCESS}","scope":"openid profile offline_access","refresh_token":"{REFRESH_NEW}","id_token":"{ID_TOKEN}"}"##,
    r##"2025-03-02 18:40:12.391082+0000 Runner[2817:1190331] flutter: "##,
    r##"2025-03-11 08:20:40.118203+0000 Runner[2817:1190331] flutter: [Auth] callback com.acme.fieldapp:/callback?code={CODE_B}&state=q1Hq2LxW9mDc"##,
    r##"2025-03-11 08:20:41.031877+0000 Runner[2817:1190512] Error fetching fresh tokens: invalid_grant: The refresh token is invalid or expired. refresh_token={REFRESH} Authorization: Bearer {ACCESS} client_assertion={ASSERTION} password={PASSWORD}"##,
];

const JSON_LINES: &[&str] = &[
    r##"{"level":30,"time":1741684887114,"pid":412,"hostname":"notes-web-7f9c","request_id":"req-8c41d7","msg":"exchanging authorization code","grant_type":"authorization_code","client_id":"6f1c9a2e-3b47-4d85-9e0a-7c2b5d8f1e34","code":"{CODE_A}","code_verifier":"{VERIFIER}","client_secret":"{SECRET}","redirect_uri":"https://notes.acme-field.com/auth/callback","token_endpoint":"https://login.microsoftonline.com/5d2e8b14/oauth2/v2.0/token"}"##,
    r##"{"level":30,"time":1741684887424,"pid":412,"hostname":"notes-web-7f9c","request_id":"req-8c41d9","msg":"exchanging authorization code","grant_type":"authorization_code","client_id":"6f1c9a2e-3b47-4d85-9e0a-7c2b5d8f1e34","code":"{CODE_A}","redirect_uri":"https://notes.acme-field.com/auth/callback","token_endpoint":"https://login.microsoftonline.com/5d2e8b14/oauth2/v2.0/token"}"##,
    r##"{"level":50,"time":1741684887731,"pid":412,"hostname":"notes-web-7f9c","request_id":"req-8c41d9","msg":"callback failed","client_id":"6f1c9a2e-3b47-4d85-9e0a-7c2b5d8f1e34","url":"/auth/callback?code={CODE_A}&state=x1","err":{"type":"OPError","message":"invalid_grant (AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.)","error":"invalid_grant","error_description":"AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."}}"##,
    r##"{"level":"debug","time":"2025-03-11T11:00:42.118Z","service":"reports-worker","host":"worker-3","trace_id":"7d3e9b1c04a2f6e8","msg":"requesting service account token","grant_type":"urn:ietf:params:oauth:grant-type:jwt-bearer","assertion":"{ASSERTION}"}"##,
    r##"{"level":"error","time":"2025-03-11T11:00:42.391Z","service":"reports-worker","host":"worker-3","trace_id":"7d3e9b1c04a2f6e8","msg":"service account token request failed","status":400,"error":{"error":"invalid_grant","error_description":"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."},"request":{"headers":{"authorization":"Basic {BASIC}"},"body":"grant_type=refresh_token&refresh_token={REFRESH}"}}"##,
    r##"{"level":"info","time":"2025-03-11T11:01:42.118Z","service":"notes-web","msg":"token response","status":200,"body":{"access_token":"{ACCESS}","refresh_token":"{REFRESH_NEW}","id_token":"{ID_TOKEN}","token_type":"Bearer"}}"##,
    r##"{"level":"warn","time":"2025-03-11T11:02:42.118Z","service":"notes-web","msg":"login failed","error":"invalid_grant","user":{"email":"dana.lee@example.com","password":"{PASSWORD}"},"headers":{"Authorization":"Bearer {ACCESS}"},"code":"{CODE_B}"}"##,
];

fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case {
            format: Format::Rails,
            templates: RAILS,
            // The `id_token` is posted to a non-OAuth path: skipped.
            expect: Expect {
                code_twice: true,
                code_b: true,
                verifier: true,
                refresh: true,
                assertion: true,
                ..Expect::default()
            },
        },
        Case {
            format: Format::Lograge,
            templates: LOGRAGE,
            // The `id_token` is posted to a non-OAuth path: skipped.
            expect: Expect {
                code_twice: true,
                code_b: true,
                verifier: true,
                refresh: true,
                assertion: true,
                ..Expect::default()
            },
        },
        Case {
            format: Format::Hydra,
            templates: HYDRA,
            expect: Expect {
                code_twice: true,
                code_b: true,
                verifier: true,
                refresh: true,
                assertion: true,
                id_token_claims: true,
            },
        },
        Case {
            format: Format::Keycloak,
            templates: KEYCLOAK,
            expect: Expect {
                code_twice: true,
                code_b: true,
                verifier: true,
                refresh: true,
                assertion: true,
                id_token_claims: true,
            },
        },
        Case {
            format: Format::NodeOidcProvider,
            templates: NODE_OIDC,
            expect: Expect {
                // The relying party's callback lines are skipped.
                assertion: true,
                ..Expect::default()
            },
        },
        Case {
            format: Format::IdentityServer,
            templates: IDENTITYSERVER,
            expect: Expect {
                code_twice: true,
                code_b: true,
                verifier: true,
                refresh: true,
                assertion: true,
                id_token_claims: true,
            },
        },
        Case {
            format: Format::Spring,
            templates: SPRING,
            expect: Expect {
                code_twice: true,
                code_b: true,
                refresh: true,
                assertion: true,
                ..Expect::default()
            },
        },
        Case {
            format: Format::Logcat,
            templates: LOGCAT,
            expect: Expect {
                code_twice: true,
                code_b: true,
                verifier: true,
                refresh: true,
                id_token_claims: true,
                ..Expect::default()
            },
        },
        Case {
            format: Format::IosConsole,
            templates: IOS,
            expect: Expect {
                code_twice: true,
                code_b: true,
                verifier: true,
                refresh: true,
                assertion: true,
                id_token_claims: true,
            },
        },
        Case {
            format: Format::JsonLines,
            templates: JSON_LINES,
            expect: Expect {
                code_twice: true,
                code_b: true,
                verifier: true,
                refresh: true,
                assertion: true,
                ..Expect::default()
            },
        },
    ];
    // Mixed: every format's lines, one file; records stay contiguous.
    let all: Vec<&'static str> = cases
        .iter()
        .flat_map(|c| c.templates.iter().copied())
        .collect();
    cases.push(Case {
        format: Format::Mixed,
        templates: all.leak(),
        expect: Expect {
            code_twice: true,
            code_b: true,
            verifier: true,
            refresh: true,
            assertion: true,
            id_token_claims: true,
        },
    });
    cases
}

/// Every leak of a planted secret in any text field of any event.
fn leaks(planted: &Planted, events: &[Event<'_>]) -> Vec<String> {
    let forbidden = planted.forbidden();
    let mut found = Vec::new();
    for event in events {
        for field in event.text_fields() {
            for secret in &forbidden {
                if let Some(piece) = leaked_piece(field, secret) {
                    found.push(format!(
                        "line {} ({:?}): {piece:?} of {secret:?} in {field:?}",
                        event.line(),
                        event.kind
                    ));
                }
            }
        }
    }
    found
}

/// The secret, or a 16-byte piece of it, if `field` holds one (a secret cut
/// short by a wrong value end still leaks).
fn leaked_piece<'s>(field: &str, secret: &'s str) -> Option<&'s str> {
    const PIECE: usize = 16;
    if field.contains(secret) {
        return Some(secret);
    }
    (0..=secret.len().saturating_sub(PIECE))
        .filter_map(|i| secret.get(i..i + PIECE))
        .find(|p| field.contains(p))
}

/// Whether `line` still holds a `{NAME}` placeholder.
fn has_placeholder(line: &str) -> bool {
    line.split('{').skip(1).any(|rest| {
        rest.split_once('}').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        })
    })
}

fn fp(secret: &str) -> Fingerprint {
    Redactor::default().fingerprint(secret)
}

fn check(case: &Case) {
    let planted = Planted::new();
    let lines: Vec<String> = case.templates.iter().map(|t| planted.fill(t)).collect();
    for line in &lines {
        assert!(!has_placeholder(line), "unknown placeholder in {line}");
    }
    let forced = parse_forced(case.format, &lines);
    assert!(
        !forced.is_empty(),
        "{}: the planted lines gave no event at all",
        case.format
    );
    let leaked = leaks(&planted, &forced);
    assert!(
        leaked.is_empty(),
        "{} (forced): secrets survived:\n{}",
        case.format,
        leaked.join("\n")
    );
    let (detected, by_detection) = parse_detected(&lines);
    let leaked = leaks(&planted, &by_detection);
    assert!(
        leaked.is_empty(),
        "{} (detected as {detected}): secrets survived:\n{}",
        case.format,
        leaked.join("\n")
    );
    check_survivors(case, &forced);
}

/// What redaction must keep: fingerprints, the verifier hash, JWT claims.
fn check_survivors(case: &Case, events: &[Event<'_>]) {
    let name = case.format;
    let (a, b) = (fp(CODE_A), fp(CODE_B));
    assert_ne!(a, b, "different codes must give different fingerprints");
    let known = [Some(a), Some(b), None];
    for e in events {
        assert!(
            known.contains(&e.code_fp),
            "{name}: line {} has a code_fp of no planted code: {:?}",
            e.line(),
            e.code_fp
        );
    }
    let lines_with = |want: Fingerprint| {
        let mut lines: Vec<u64> = events
            .iter()
            .filter(|e| e.code_fp == Some(want))
            .map(Event::line)
            .collect();
        lines.dedup();
        lines
    };
    let expect = &case.expect;
    if expect.code_twice {
        let with_a = lines_with(a);
        assert!(
            with_a.len() >= 2,
            "{name}: CODE_A planted on several lines, fingerprinted on {with_a:?}"
        );
    }
    if expect.code_b {
        assert!(
            !lines_with(b).is_empty(),
            "{name}: CODE_B planted but never fingerprinted"
        );
    }
    if expect.verifier {
        let want = s256(VERIFIER);
        assert!(
            events
                .iter()
                .any(|e| e.verifier_s256.as_deref() == Some(want.as_str())
                    && e.verifier_sent == Some(true)),
            "{name}: no event has the verifier's S256 hash {want}"
        );
    }
    if expect.refresh {
        assert!(
            events
                .iter()
                .any(|e| e.refresh_token_fp == Some(fp(REFRESH))),
            "{name}: the presented refresh token was not fingerprinted"
        );
    }
    if expect.assertion {
        let planted = Planted::new();
        assert!(
            events.iter().any(|e| {
                e.assertion_fp == Some(fp(&planted.assertion))
                    && e.jwt.as_ref().is_some_and(|j| {
                        j.iat == Some(ASSERTION_IAT) && j.exp == Some(ASSERTION_EXP)
                    })
            }),
            "{name}: no event has the assertion's fingerprint and iat/exp"
        );
    }
    if expect.id_token_claims {
        assert!(
            events
                .iter()
                .any(|e| e.jwt.as_ref().is_some_and(|j| {
                    j.iat == Some(ID_TOKEN_IAT) && j.exp == Some(ID_TOKEN_EXP)
                })),
            "{name}: no event kept the ID token's iat/exp"
        );
    }
}

#[test]
fn rails_redacts_every_planted_secret() {
    check(&cases()[0]);
}

#[test]
fn lograge_redacts_every_planted_secret() {
    check(&cases()[1]);
}

#[test]
fn hydra_redacts_every_planted_secret() {
    check(&cases()[2]);
}

#[test]
fn keycloak_redacts_every_planted_secret() {
    check(&cases()[3]);
}

#[test]
fn node_oidc_redacts_every_planted_secret() {
    check(&cases()[4]);
}

#[test]
fn identityserver_redacts_every_planted_secret() {
    check(&cases()[5]);
}

#[test]
fn spring_redacts_every_planted_secret() {
    check(&cases()[6]);
}

#[test]
fn logcat_redacts_every_planted_secret() {
    check(&cases()[7]);
}

#[test]
fn ios_redacts_every_planted_secret() {
    check(&cases()[8]);
}

#[test]
fn json_lines_redacts_every_planted_secret() {
    check(&cases()[9]);
}

#[test]
fn mixed_redacts_every_planted_secret() {
    check(&cases()[10]);
}

/// The cases are indexed by position above: keep them in sync, and make
/// sure every format and every secret kind is planted somewhere.
#[test]
fn every_format_and_every_secret_kind_is_covered() {
    let cases = cases();
    let formats: Vec<Format> = cases.iter().map(|c| c.format).collect();
    assert_eq!(formats, common::ALL_FORMATS.to_vec());
    for placeholder in [
        "{CODE_A}",
        "{CODE_B}",
        "{REFRESH}",
        "{REFRESH_NEW}",
        "{ACCESS}",
        "{VERIFIER}",
        "{SECRET}",
        "{PASSWORD}",
        "{BASIC}",
        "{ID_TOKEN}",
        "{ASSERTION}",
    ] {
        assert!(
            cases
                .iter()
                .any(|c| c.templates.iter().any(|t| t.contains(placeholder))),
            "{placeholder} is planted nowhere"
        );
    }
    for case in &cases {
        assert!(
            case.templates
                .iter()
                .any(|t| t.contains("{CODE_") || t.contains("{REFRESH}") || t.contains("{ACCESS}")),
            "{}: neither codes nor tokens planted",
            case.format
        );
    }
}

/// The planted JWTs really are JWTs whose claims the crate can read.
#[test]
fn planted_jwts_carry_their_claims() {
    let planted = Planted::new();
    let claims = grantwatch_parsers::redact::jwt_claims(&planted.id_token).expect("claims");
    assert_eq!(
        (claims.iat, claims.exp),
        (Some(ID_TOKEN_IAT), Some(ID_TOKEN_EXP))
    );
    let claims = grantwatch_parsers::redact::jwt_claims(&planted.assertion).expect("claims");
    assert_eq!(
        (claims.iat, claims.exp),
        (Some(ASSERTION_IAT), Some(ASSERTION_EXP))
    );
}
