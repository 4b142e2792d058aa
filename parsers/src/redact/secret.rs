//! What redaction finds and gives back: each [`Secret`] (its kind, the key
//! it was under, its keyed fingerprint), a line with its secrets replaced
//! ([`Redacted`]), and the [`Redactor`] with its key and fingerprint. The
//! key scan that fills them is in `mod.rs`; the pass for Keycloak's code
//! ids in `code_parser_id.rs` fills them too. A leaf, so that those two do
//! not import each other.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use crate::event::{Event, EventKind, Fingerprint, JwtClaims};

/// What kind of secret a value was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// An authorization code.
    Code,
    /// A refresh token.
    RefreshToken,
    /// An access token.
    AccessToken,
    /// An ID token.
    IdToken,
    /// A PKCE code verifier.
    CodeVerifier,
    /// A `client_assertion` or jwt-bearer `assertion`.
    Assertion,
    /// A client secret, a password or `Basic` credentials.
    Credential,
    /// A token of unknown kind (`token=` of a revoke call, a bearer token, a
    /// bare JWT).
    Token,
}

/// One secret found in a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    /// What it was.
    pub kind: SecretKind,
    /// The key it was found under as the redactor matched it (`code`,
    /// `token`, `Bearer `, `eyJ` for a bare JWT, ...).
    pub key: &'static str,
    /// Keyed fingerprint of the (percent-decoded) value.
    pub fingerprint: Fingerprint,
    /// For a code verifier: BASE64URL(SHA256(verifier)).
    pub s256: Option<String>,
    /// For a JWT: its claims.
    pub claims: Option<JwtClaims>,
}

/// A line with its secrets replaced, and what was replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted<'a> {
    /// The redacted text (borrowed when there was nothing to replace).
    pub text: Cow<'a, str>,
    /// The secrets found, in order of appearance.
    pub secrets: Vec<Secret>,
}

impl Redacted<'_> {
    /// Attaches the fingerprints, verifier hash and JWT claims to `event`.
    /// An authorization code, refresh token or assertion fills the matching
    /// fingerprint if it is still empty. On a [`EventKind::RevokeRequest`],
    /// the RFC 7009 `token=` parameter counts as the refresh token unless the
    /// same text says `token_type_hint=access_token` (set the kind before
    /// calling this).
    pub fn apply_to(&self, event: &mut Event<'_>) {
        let revoked_refresh = event.kind == EventKind::RevokeRequest
            && event.refresh_token_fp.is_none()
            && !hints_access_token(&self.text);
        for s in &self.secrets {
            if revoked_refresh && s.key == "token" {
                event.refresh_token_fp.get_or_insert(s.fingerprint);
            }
            match s.kind {
                SecretKind::Code => {
                    event.code_fp.get_or_insert(s.fingerprint);
                }
                SecretKind::RefreshToken => {
                    event.refresh_token_fp.get_or_insert(s.fingerprint);
                }
                SecretKind::Assertion => {
                    event.assertion_fp.get_or_insert(s.fingerprint);
                    if event.jwt.is_none() {
                        event.jwt = s.claims.clone().map(Box::new);
                    }
                }
                SecretKind::CodeVerifier => {
                    event.verifier_sent = Some(true);
                    if event.verifier_s256.is_none() {
                        event.verifier_s256.clone_from(&s.s256);
                    }
                }
                SecretKind::IdToken | SecretKind::AccessToken | SecretKind::Token => {
                    if event.jwt.is_none() {
                        event.jwt = s.claims.clone().map(Box::new);
                    }
                }
                SecretKind::Credential => {}
            }
        }
    }

    /// The first secret of `kind`, if any.
    pub fn find(&self, kind: SecretKind) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.kind == kind)
    }
}

/// Replaces secrets with fingerprint markers. Cheap to clone; one per
/// deployment key.
#[derive(Clone)]
pub struct Redactor {
    key: [u8; 32],
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor { key: <hidden> }")
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(b"grantwatch default fingerprint key")
    }
}

impl Redactor {
    /// A redactor whose fingerprints are keyed with `key` (any length).
    pub fn new(key: &[u8]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"grantwatch-fingerprint-key\0")
            .chain_update(key)
            .finalize();
        let mut k = [0u8; 32];
        k.copy_from_slice(&digest);
        Redactor { key: k }
    }

    /// The keyed fingerprint of a secret value.
    pub fn fingerprint(&self, secret: &str) -> Fingerprint {
        let digest = Sha256::new()
            .chain_update(self.key)
            .chain_update(secret.as_bytes())
            .finalize();
        let mut fp = [0u8; 12];
        fp.copy_from_slice(&digest[..12]);
        Fingerprint(fp)
    }
}

/// Whether a revoke call says it revokes an access token (RFC 7009
/// `token_type_hint`), in any of the shapes [`Redactor`] reads.
fn hints_access_token(text: &str) -> bool {
    const KEY: &str = "token_type_hint";
    memchr::memmem::find_iter(text.as_bytes(), KEY.as_bytes()).any(|p| {
        let rest = text.get(p + KEY.len()..).unwrap_or_default();
        let value = rest.trim_start_matches(['"', '\'', '\\', ' ', '=', '>', ':']);
        value.starts_with("access_token")
    })
}
