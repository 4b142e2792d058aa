//! What may be kept of a secret once it is redacted: a PKCE verifier's S256
//! hash (so the challenge can still be checked) and a JWT's claims (times,
//! issuer, audience; never the signature). Pure functions of the secret's
//! text; the redactor calls them before the text is dropped.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::event::JwtClaims;

/// BASE64URL-ENCODE(SHA256(ASCII(verifier))), as RFC 7636 §4.2 defines it.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The claims of a compact JWT (`header.payload.signature`), if its payload
/// decodes to a JSON object. The signature is ignored.
pub fn jwt_claims(token: &str) -> Option<JwtClaims> {
    let mut parts = token.split('.');
    let _header = parts.next()?;
    let payload = parts.next()?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(payload))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let obj = value.as_object()?;
    let num = |k: &str| {
        obj.get(k)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    };
    let text = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let aud = match obj.get("aud") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(a)) => Some(
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    };
    Some(JwtClaims {
        iat: num("iat"),
        exp: num("exp"),
        nbf: num("nbf"),
        iss: text("iss"),
        aud,
        jti: text("jti"),
    })
}
