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
//! Templates (in `redaction_templates`) use `{NAME}` placeholders that
//! [`Planted::fill`] replaces; the shapes are copied from
//! `sample_logs/<format>/`.

mod common;
mod redaction_templates;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use grantwatch_parsers::redact::s256;
use grantwatch_parsers::{Event, Fingerprint, Format, Redactor};

use common::{parse_detected, parse_forced};
use redaction_templates::{
    HYDRA, IDENTITYSERVER, IOS, JSON_LINES, KEYCLOAK, LOGCAT, LOGFMT, LOGRAGE, NODE_OIDC, RAILS,
    RAILS_EVENT, SPRING,
};

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
#[derive(Clone, Copy, Default)]
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

impl Expect {
    /// Everything survives: the templates plant every kind of secret where
    /// the format keeps it.
    const ALL: Expect = Expect {
        code_twice: true,
        code_b: true,
        verifier: true,
        refresh: true,
        assertion: true,
        id_token_claims: true,
    };
}

struct Case {
    format: Format,
    templates: &'static [&'static str],
    expect: Expect,
}

fn cases() -> Vec<Case> {
    // The `id_token` is posted to a non-OAuth path: skipped.
    let id_token_skipped = Expect {
        id_token_claims: false,
        ..Expect::ALL
    };
    let mut cases = vec![
        Case {
            format: Format::Rails,
            templates: RAILS,
            expect: id_token_skipped,
        },
        Case {
            format: Format::Lograge,
            templates: LOGRAGE,
            expect: id_token_skipped,
        },
        Case {
            format: Format::RailsEvent,
            templates: RAILS_EVENT,
            expect: id_token_skipped,
        },
        Case {
            format: Format::Hydra,
            templates: HYDRA,
            expect: Expect::ALL,
        },
        Case {
            format: Format::Keycloak,
            templates: KEYCLOAK,
            expect: Expect::ALL,
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
            expect: Expect::ALL,
        },
        Case {
            format: Format::Spring,
            templates: SPRING,
            expect: Expect {
                verifier: false,
                id_token_claims: false,
                ..Expect::ALL
            },
        },
        Case {
            format: Format::Logcat,
            templates: LOGCAT,
            expect: Expect {
                assertion: false,
                ..Expect::ALL
            },
        },
        Case {
            format: Format::IosConsole,
            templates: IOS,
            expect: Expect::ALL,
        },
        Case {
            format: Format::Logfmt,
            templates: LOGFMT,
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
                id_token_claims: false,
                ..Expect::ALL
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
        expect: Expect::ALL,
    });
    cases
}

/// The case of `format`: each test below checks its format's.
fn case(format: Format) -> Case {
    cases()
        .into_iter()
        .find(|c| c.format == format)
        .unwrap_or_else(|| panic!("no case for {format}"))
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
    check(&case(Format::Rails));
}

#[test]
fn lograge_redacts_every_planted_secret() {
    check(&case(Format::Lograge));
}

#[test]
fn hydra_redacts_every_planted_secret() {
    check(&case(Format::Hydra));
}

#[test]
fn keycloak_redacts_every_planted_secret() {
    check(&case(Format::Keycloak));
}

#[test]
fn node_oidc_redacts_every_planted_secret() {
    check(&case(Format::NodeOidcProvider));
}

#[test]
fn identityserver_redacts_every_planted_secret() {
    check(&case(Format::IdentityServer));
}

#[test]
fn spring_redacts_every_planted_secret() {
    check(&case(Format::Spring));
}

#[test]
fn logcat_redacts_every_planted_secret() {
    check(&case(Format::Logcat));
}

#[test]
fn ios_redacts_every_planted_secret() {
    check(&case(Format::IosConsole));
}

#[test]
fn json_lines_redacts_every_planted_secret() {
    check(&case(Format::JsonLines));
}

#[test]
fn rails_event_redacts_every_planted_secret() {
    check(&case(Format::RailsEvent));
}

#[test]
fn logfmt_redacts_every_planted_secret() {
    check(&case(Format::Logfmt));
}

#[test]
fn mixed_redacts_every_planted_secret() {
    check(&case(Format::Mixed));
}

/// Every format has exactly one case (the tests above look theirs up), and
/// every secret kind is planted somewhere.
#[test]
fn every_format_and_every_secret_kind_is_covered() {
    let cases = cases();
    // By name: the cases list formats in their own order.
    let mut formats: Vec<&str> = cases.iter().map(|c| c.format.as_str()).collect();
    let mut all: Vec<&str> = common::all_formats().iter().map(|f| f.as_str()).collect();
    formats.sort_unstable();
    all.sort_unstable();
    assert_eq!(formats, all);
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
