//! Keycloak's `OAuth2CodeParser` warnings quote the code id, the first part
//! of the authorization code, as `Code '<id>' already used …`: capital
//! `Code`, no `=`, so the key scan does not see it. Every line that names
//! the parser gets this pass (the key scan looks for that name too),
//! whatever parser (or none) reads it next, so a Keycloak warning pasted
//! into a ticket never keeps its code.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::secret::{Redacted, Redactor, Secret, SecretKind};

pub(super) const CODE_PARSER: &str = "OAuth2CodeParser";
const CODE_OPEN: &str = "Code '";

/// The search for [`CODE_PARSER`] in the redacted text, built once:
/// building a searcher per line was a thirtieth of reading a Keycloak log
/// when every line was searched (now only those the key scan found it in).
static FIND_CODE_PARSER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(CODE_PARSER));

/// Replaces the id of a `… OAuth2CodeParser … Code '<id>' …` line with a
/// fingerprint marker and records it as a code.
pub(super) fn redact(redactor: &Redactor, red: &mut Redacted<'_>) {
    let Some((start, end)) = span(&red.text) else {
        return;
    };
    let fp = redactor.fingerprint(&red.text[start..end]);
    let hex = fp.to_hex();
    let mut out = String::with_capacity(red.text.len());
    out.push_str(&red.text[..start]);
    out.push_str("[REDACTED fp=");
    out.push_str(hex.get(..12).unwrap_or(&hex));
    out.push(']');
    out.push_str(&red.text[end..]);
    red.text = Cow::Owned(out);
    red.secrets.push(Secret {
        kind: SecretKind::Code,
        key: "Code '",
        fingerprint: fp,
        s256: None,
        claims: None,
    });
}

/// Byte span of the id, when the line is such a warning and the id is not
/// already a marker.
fn span(text: &str) -> Option<(usize, usize)> {
    let parser = FIND_CODE_PARSER.find(text.as_bytes())?;
    let open = parser + text[parser..].find(CODE_OPEN)? + CODE_OPEN.len();
    let len = text[open..].find('\'')?;
    let id = &text[open..open + len];
    (!id.is_empty() && !id.starts_with("[REDACTED")).then_some((open, open + len))
}
