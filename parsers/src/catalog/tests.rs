//! The catalog's invariants, checked on every embedded file.

use std::collections::HashMap;

use super::*;

#[test]
fn every_file_parses_and_every_entry_names_a_url_and_known_causes() {
    let cat = Catalog::load().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cat.providers().len(), FILES.len());
    assert!(cat.entries().len() > 500, "{} entries", cat.entries().len());
    for e in cat.entries() {
        assert!(e.source.starts_with("https://"), "{}: {}", e.text, e.source);
        assert!(CAUSE_IDS.contains(&e.cause.as_str()), "{}", e.text);
        assert!(
            !e.candidates.contains(&e.cause),
            "{} lists its own cause",
            e.text
        );
    }
}

#[test]
fn no_text_is_listed_twice_with_different_causes() {
    let cat = catalog();
    let mut seen: HashMap<String, &Entry> = HashMap::new();
    for e in cat.entries() {
        let key = match e.kind {
            MatchKind::Exact => e.text.trim().to_ascii_lowercase(),
            _ => e.text.clone(),
        };
        if let Some(first) = seen.insert(key, e) {
            assert_eq!(first.cause, e.cause, "`{}` has two causes", e.text);
        }
    }
}

#[test]
fn an_identifying_text_identifies_one_server() {
    let cat = catalog();
    let mut seen: HashMap<&str, ServerKind> = HashMap::new();
    for e in cat.entries() {
        if let Some(server) = cat.identifies(e)
            && let Some(other) = seen.insert(e.text.as_str(), server)
        {
            assert_eq!(other, server, "`{}` identifies two servers", e.text);
        }
    }
}

#[test]
fn a_generic_sentence_gives_at_most_medium_and_names_candidates() {
    for e in catalog().entries().iter().filter(|e| e.cause == "unknown") {
        assert!(e.confidence < Confidence::High, "{}", e.text);
    }
    let dk = catalog()
        .matches("The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.")
        .into_iter()
        .find(|e| e.cause == "unknown")
        .unwrap_or_else(|| panic!("Doorkeeper's sentence is in the catalog"));
    assert!(dk.candidates.len() >= 5);
}

#[test]
fn codes_match_whole_words_only() {
    let causes = |v: &str| -> Vec<String> {
        catalog()
            .matches(v)
            .into_iter()
            .map(|e| e.cause.clone())
            .collect()
    };
    assert!(causes("AADSTS50011: The redirect URI").contains(&"redirect_uri_mismatch".into()));
    // AADSTS70008 (code expired) must not fire inside AADSTS700082 (refresh expired).
    let c = causes("AADSTS700082: The refresh token has expired due to inactivity.");
    assert!(c.contains(&"refresh_token_expired".into()));
    assert!(!c.contains(&"code_expired".into()), "{c:?}");
}

#[test]
fn exact_entries_need_the_whole_field() {
    let cat = catalog();
    assert!(
        cat.matches("Code not valid")
            .iter()
            .any(|e| e.cause == "code_reused")
    );
    assert!(
        cat.matches(" code not valid ")
            .iter()
            .any(|e| e.cause == "code_reused")
    );
    assert!(cat.matches("Code not valid for this user").is_empty());
}

#[test]
fn every_doorkeeper_locale_is_covered() {
    let cat = catalog();
    let dk = cat
        .entries()
        .iter()
        .filter(|e| cat.provider_of(e).server == Some(ServerKind::Doorkeeper))
        .filter(|e| e.cause == "unknown" && e.source.contains("doorkeeper-i18n"))
        .count();
    assert!(dk >= 20, "{dk} localized invalid_grant sentences");
}

#[test]
fn the_readme_table_gives_the_current_counts() {
    let readme = include_str!("../../../README.md");
    let cat = catalog();
    for (i, p) in cat.providers().iter().enumerate() {
        let n = cat.entries().iter().filter(|e| e.provider == i).count();
        let row = format!("| {} | `{}` | {n} |", p.name, FILES[i].0);
        assert!(readme.contains(&row), "README lacks `{row}`");
    }
    let total = format!("| **total** | | {} |", cat.entries().len());
    assert!(readme.contains(&total), "README lacks `{total}`");
}

/// A text found inside a line is cut from its first character and trimmed
/// before the diagnosis reads it: a text that began with a blank would no
/// longer match the very description it was found in.
#[test]
fn no_contained_text_begins_with_a_blank() {
    for e in catalog().entries() {
        if e.kind == MatchKind::Contains {
            assert!(
                !e.text.starts_with(char::is_whitespace),
                "`{}` begins with a blank",
                e.text
            );
        }
    }
}

/// A sentence `cut.rs` keeps with its cut matches the entries it begins.
/// Here rather than beside `cut.rs`'s own tests: the catalog imports
/// `cut.rs`, which then does not import the catalog back.
#[test]
fn a_cut_sentence_matches_the_catalog_entries_it_begins() {
    let catalog = catalog();
    // Hydra/fosite's reason, cut in a log viewer.
    let cut = catalog.matches("reason: The authorization code has al...");
    assert!(
        cut.iter().any(|e| e.cause == "code_reused"),
        "{:?}",
        cut.iter().map(|e| &e.text).collect::<Vec<_>>()
    );
    // Too little left to tell: nothing.
    assert!(catalog.matches("The auth…").is_empty());
    // Not cut: only whole texts match.
    assert!(
        catalog
            .matches("The authorization code has al")
            .iter()
            .all(|e| e.cause != "code_reused")
    );
}

/// `identify_in` and `words_in` find by prefix what the whole-text
/// leftmost-longest automata they replaced found (kept here as the
/// reference): on every catalog text alone and inside a line, and on lines
/// made of pieces of them, cut short, repeated and joined by line noise.
mod prefix_search_as_before {
    use aho_corasick::{AhoCorasick, MatchKind as AcKind};
    use proptest::prelude::*;

    use super::super::catalog;

    /// Built once: the property below asks for it in every case.
    static REFERENCE: std::sync::LazyLock<Vec<(AhoCorasick, Vec<String>)>> =
        std::sync::LazyLock::new(whole_text_automata);

    fn whole_text_automata() -> Vec<(AhoCorasick, Vec<String>)> {
        let cat = catalog();
        cat.index
            .set_entries()
            .iter()
            .map(|entries| {
                let texts: Vec<String> = entries
                    .iter()
                    .map(|&i| cat.entries()[i].text.clone())
                    .collect();
                let ac = AhoCorasick::builder()
                    .match_kind(AcKind::LeftmostLongest)
                    .build(&texts)
                    .expect("reference automaton");
                (ac, texts)
            })
            .collect()
    }

    /// Each set searched alone, and both in one pass, answer as the set's
    /// whole-text automaton does.
    fn same_answer(haystack: &str, reference: &[(AhoCorasick, Vec<String>)]) {
        let expected: Vec<Option<(usize, usize)>> = reference
            .iter()
            .map(|(ac, _)| {
                ac.find(haystack)
                    .map(|m| (m.pattern().as_usize(), m.start()))
            })
            .collect();
        let index = &catalog().index;
        assert_eq!(
            index.places_in(haystack, [true, true]).to_vec(),
            expected,
            "{haystack:?}"
        );
        assert_eq!(
            index.places_in(haystack, [true, false])[0],
            expected[0],
            "{haystack:?}"
        );
        assert_eq!(
            index.places_in(haystack, [false, true])[1],
            expected[1],
            "{haystack:?}"
        );
    }

    #[test]
    fn every_text_alone_and_in_a_line() {
        let reference = &*REFERENCE;
        for (_, texts) in reference {
            for t in texts {
                same_answer(t, reference);
                same_answer(&format!("error=\"x\", reason=\"{t}\", more {t}"), reference);
            }
        }
    }

    #[test]
    fn the_prefix_search_stays_small() {
        // Its table of first bytes stays in the first-level cache.
        let bytes = catalog().index.heap_bytes();
        assert!(bytes < 64 << 10, "{bytes} bytes");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn pieces_of_catalog_texts(
            picks in prop::collection::vec((any::<prop::sample::Index>(), 0..40usize, "[ ,.:=\"'a-z]{0,4}"), 1..6)
        ) {
            let reference = &*REFERENCE;
            let all: Vec<&String> = reference.iter().flat_map(|(_, t)| t).collect();
            let mut haystack = String::new();
            for (pick, cut, noise) in &picks {
                let t = all[pick.index(all.len())];
                let mut end = t.len().saturating_sub(*cut % 12);
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                haystack.push_str(&t[..end]);
                haystack.push_str(noise);
            }
            same_answer(&haystack, reference);
        }
    }
}
