//! The providers' own words, read from the one provider catalog
//! (`grantwatch_parsers::catalog`, the TOML files under `parsers/catalog/`):
//! the parsers use it to tell which server wrote a text, the diagnosis to turn
//! a field into causes. Nothing is listed here.
//!
//! A field yields every entry it matches. An entry gives its cause at its own
//! confidence and each of its candidates one level lower (never below
//! `low`). Entries whose cause is `unknown` (a sentence a server gives every
//! cause alike, such as Doorkeeper's `invalid_grant` text) give nothing, and
//! shorter entries found only inside such a sentence are ignored.
//!
//! The catalog is fixed, so a text gives the same causes every time: each
//! thread keeps the answers for up to 512 short texts it was asked about,
//! starting again when it holds that many (a server writes a few
//! descriptions thousands of times; a Keycloak gigabyte's analysis spent
//! 1.0–1.3% of its time reading the catalog for them, benches/README.md).

use std::cell::RefCell;
use std::collections::HashMap;

use grantwatch_parsers::catalog::{self, Confidence as CatConfidence, Entry};

use super::cause::{Cause, Confidence};

/// One cause a field's text gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Said {
    /// The cause.
    pub cause: Cause,
    /// How sure the text makes us.
    pub confidence: Confidence,
    /// Who writes the text (the catalog provider's name).
    pub source: &'static str,
    /// For a cause the text only leaves open (one of its entry's
    /// candidates): the cause the text names, and how surely.
    pub names: Option<(Cause, Confidence)>,
}

fn confidence(c: CatConfidence) -> Confidence {
    match c {
        CatConfidence::Low => Confidence::Low,
        CatConfidence::Medium => Confidence::Medium,
        CatConfidence::High => Confidence::High,
    }
}

fn one_lower(c: Confidence) -> Confidence {
    match c {
        Confidence::High => Confidence::Medium,
        Confidence::Medium | Confidence::Low => Confidence::Low,
    }
}

/// Texts whose answers a thread keeps at most; past it, it starts again.
const KEPT_TEXTS: usize = 512;

/// Texts longer than this are read each time (a debug dump is seldom
/// written twice).
const KEPT_TEXT_BYTES: usize = 256;

/// The texts kept and what the catalog said of them, hashed with foldhash.
type Kept = HashMap<Box<str>, Vec<Said>, foldhash::fast::RandomState>;

thread_local! {
    static KEPT: RefCell<Kept> = RefCell::new(Kept::default());
}

/// Every cause the field `value` gives, from the catalog.
pub fn said(value: &str) -> Vec<Said> {
    if value.len() > KEPT_TEXT_BYTES {
        return read_said(value);
    }
    KEPT.with_borrow_mut(|kept| {
        if let Some(answer) = kept.get(value) {
            return answer.clone();
        }
        let answer = read_said(value);
        if kept.len() >= KEPT_TEXTS {
            kept.clear();
        }
        kept.insert(value.into(), answer.clone());
        answer
    })
}

/// [`said`], read from the catalog.
fn read_said(value: &str) -> Vec<Said> {
    let cat = catalog::catalog();
    let hits = cat.matches(value);
    // The catalog names causes by id (the parsers crate does not know
    // `Cause`): read it as one, so that a generic entry is told by the type.
    let is_generic = |e: &Entry| Cause::from_id(&e.cause) == Some(Cause::Unknown);
    let generic: Vec<&Entry> = hits.iter().copied().filter(|e| is_generic(e)).collect();
    let mut out = Vec::new();
    for e in hits {
        if is_generic(e) || generic.iter().any(|g| g.text.contains(e.text.as_str())) {
            continue;
        }
        let source = cat.provider_of(e).name.as_str();
        let Some(cause) = Cause::from_id(&e.cause) else {
            continue;
        };
        let conf = confidence(e.confidence);
        out.push(Said {
            cause,
            confidence: conf,
            source,
            names: None,
        });
        for cand in e.candidates.iter().filter_map(|c| Cause::from_id(c)) {
            if cand != Cause::Unknown {
                out.push(Said {
                    cause: cand,
                    confidence: one_lower(conf),
                    source,
                    names: Some((cause, conf)),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::cause::ALL_CAUSES;

    /// Every entry's text, a longer text holding it and its first half,
    /// each asked again after more texts than a thread keeps: the answer
    /// kept is the catalog's.
    #[test]
    fn a_text_asked_again_gets_the_catalogs_answer() {
        let texts: Vec<String> = catalog::catalog()
            .entries()
            .iter()
            .flat_map(|e| {
                let t = e.text.as_str();
                let cut = t.len() / 2;
                let half = t.is_char_boundary(cut).then(|| t[..cut].to_string());
                [Some(t.to_string()), Some(format!("error: {t}!")), half]
            })
            .flatten()
            .collect();
        assert!(texts.len() > KEPT_TEXTS, "{} texts", texts.len());
        for round in 0..3 {
            for text in &texts {
                assert_eq!(said(text), read_said(text), "round {round}: {text:?}");
            }
        }
        assert!(texts.iter().any(|t| !read_said(t).is_empty()));
    }

    #[test]
    fn catalog_causes_are_the_diagnosis_causes() {
        let ids: Vec<&str> = ALL_CAUSES.iter().map(|c| c.as_str()).collect();
        assert_eq!(ids, catalog::CAUSE_IDS.to_vec());
    }

    #[test]
    fn every_cause_but_unknown_has_provider_words() {
        let cat = catalog::catalog();
        for cause in ALL_CAUSES.into_iter().filter(|c| *c != Cause::Unknown) {
            assert!(
                cat.entries().iter().any(|e| e.cause == cause.as_str()),
                "{cause} has no entry"
            );
        }
    }

    #[test]
    fn a_generic_sentence_gives_no_cause() {
        let dk = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
        assert!(said(dk).is_empty());
    }

    #[test]
    fn a_shared_text_gives_its_cause_and_weaker_candidates() {
        let s = said("Code not valid");
        let reused = s.iter().find(|s| s.cause == Cause::CodeReused);
        let expired = s.iter().find(|s| s.cause == Cause::CodeExpired);
        assert_eq!(reused.map(|s| s.confidence), Some(Confidence::Medium));
        assert_eq!(expired.map(|s| s.confidence), Some(Confidence::Low));
        assert_eq!(reused.map(|s| s.source), Some("Keycloak"));
    }

    #[test]
    fn a_specific_text_names_its_cause_at_high() {
        let s = said("The PKCE code challenge did not match the code verifier.");
        assert!(
            s.iter()
                .any(|s| s.cause == Cause::PkceVerifierMismatch && s.confidence == Confidence::High)
        );
    }

    #[test]
    fn older_keycloaks_refresh_texts_name_their_cause_as_the_whole_field() {
        let top = |v: &str| {
            said(v)
                .into_iter()
                .map(|s| (s.cause, s.confidence))
                .max_by_key(|(_, c)| *c)
        };
        assert_eq!(
            top("Refresh token expired"),
            Some((Cause::RefreshTokenExpired, Confidence::High))
        );
        assert_eq!(
            top("Stale refresh token"),
            Some((Cause::RefreshTokenRevoked, Confidence::High))
        );
        assert_eq!(
            top("Client session not active"),
            Some((Cause::SessionTerminated, Confidence::High))
        );
        // Only as the whole field: an app's own sentence around the words
        // is not Keycloak's answer.
        assert!(
            !said("Refresh token expired, please log in again")
                .iter()
                .any(|s| s.source == "Keycloak")
        );
    }

    #[test]
    fn openiddicts_token_endpoint_texts_name_their_cause() {
        let names = |v: &str, cause: Cause, conf: Confidence| {
            said(v)
                .iter()
                .any(|s| s.cause == cause && s.confidence == conf && s.source == "OpenIddict")
        };
        assert!(names(
            "The specified authorization code has already been redeemed.",
            Cause::CodeReused,
            Confidence::High
        ));
        assert!(names(
            "The specified 'code_verifier' is invalid.",
            Cause::PkceVerifierMismatch,
            Confidence::High
        ));
        // "No longer valid" is given for an expired code and a revoked one.
        assert!(names(
            "The specified authorization code is no longer valid.",
            Cause::CodeExpired,
            Confidence::Medium
        ));
    }
}
