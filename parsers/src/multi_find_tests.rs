//! The packed searcher held to the automaton's answers, for every pattern
//! set the parsers search with: on every line of the sample logs and the
//! corpus, and on generated texts dense with the patterns' pieces (a
//! pattern, its prefixes and suffixes, patterns overlapping and nested).

use aho_corasick::{Match, MatchKind};

use super::*;
use crate::format::Format;
use crate::test_support::{Rng, sample_and_corpus_lines};

/// The searchers the parsers use, by name.
fn finders() -> Vec<(&'static str, &'static MultiFind, Vec<String>)> {
    static ERROR_WORDS: std::sync::LazyLock<MultiFind> = std::sync::LazyLock::new(|| {
        MultiFind::new(MatchKind::LeftmostFirst, crate::extract::ERROR_WORDS).expect("words")
    });
    static RAILS_QUIET: std::sync::LazyLock<crate::quiet::QuietSkip> =
        std::sync::LazyLock::new(|| {
            let parser = crate::registry::new_parser(Format::Rails);
            crate::quiet::QuietSkip::new(parser.quiet_needles()).expect("Rails has needles")
        });
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let rails = crate::registry::new_parser(Format::Rails);
    let mut quiet = strings(rails.quiet_needles());
    quiet.extend(strings(&crate::extract::ERROR_WORDS));
    vec![
        ("redactor keys", &*crate::redact::KEYS, redactor_keys()),
        (
            "error words",
            &*ERROR_WORDS,
            strings(&crate::extract::ERROR_WORDS),
        ),
        ("Rails quiet needles", RAILS_QUIET.finder(), quiet),
        (
            "extractor keys",
            &*crate::extract::keys::KEY_FINDER,
            Vec::new(),
        ),
        (
            "named keys",
            &*crate::extract::keys::NAMED_FINDER,
            Vec::new(),
        ),
    ]
}

fn redactor_keys() -> Vec<String> {
    crate::redact::SECRET_KEYS
        .iter()
        .map(|(k, _)| k.to_string())
        .chain(["OAuth2CodeParser".to_string()])
        .collect()
}

/// What the automaton alone answers for `from`: searched in the rest of
/// the text, as the redactor searched before, offsets moved back.
fn reference(finder: &MultiFind, haystack: &str, from: usize) -> Option<Match> {
    finder
        .automaton()
        .find(&haystack[from..])
        .map(|m| Match::new(m.pattern(), m.start() + from..m.end() + from))
}

/// Every match in order, and the first from every `step`th char boundary
/// and from just inside and just after each match, the automaton's.
fn assert_same(name: &str, finder: &MultiFind, haystack: &str, step: usize) {
    let packed: Vec<Match> = finder.find_iter(haystack).collect();
    let automaton: Vec<Match> = finder.automaton().find_iter(haystack).collect();
    assert_eq!(packed, automaton, "{name}: {haystack:?}");
    assert_eq!(finder.is_match(haystack), !automaton.is_empty());
    let near_matches = automaton.iter().flat_map(|m| [m.start() + 1, m.end()]);
    for from in (0..=haystack.len()).step_by(step).chain(near_matches) {
        if haystack.is_char_boundary(from) {
            let got = finder.find_from(haystack, from);
            assert_eq!(
                got,
                reference(finder, haystack, from),
                "{name} from {from}: {haystack:?}"
            );
        }
    }
    assert_eq!(finder.find_from(haystack, haystack.len() + 1), None);
}

#[test]
fn the_packed_searcher_is_the_one_tested_where_the_cpu_has_it() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") {
        for (name, finder, _) in finders() {
            assert!(finder.is_packed(), "{name}");
        }
    }
}

#[test]
fn every_sample_and_corpus_line_gets_the_automatons_answers() {
    let lines = sample_and_corpus_lines();
    assert!(lines.len() > 1000, "{} lines", lines.len());
    for (name, finder, _) in finders() {
        for line in &lines {
            assert_same(name, finder, line, 17);
        }
    }
}

/// Texts made of the patterns, their pieces and the bytes keys sit among,
/// each searched from every position.
#[test]
fn texts_dense_with_the_patterns_get_the_automatons_answers() {
    let glue = [
        " ", "=", "\"", "_", ":", "é", "x", "\\\"", "-", ".", "\n", "",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (name, finder, patterns) in finders() {
        let patterns = if patterns.is_empty() {
            vec![
                "error".into(),
                "hint".into(),
                "request_id".into(),
                "time".into(),
            ]
        } else {
            patterns
        };
        for _ in 0..1_000 {
            let mut text = String::new();
            for _ in 0..rng.below(12) {
                let p = &patterns[rng.below(patterns.len())];
                let cut = rng.below(p.len() + 1);
                match rng.below(4) {
                    0 if p.is_char_boundary(cut) => text.push_str(&p[..cut]),
                    1 if p.is_char_boundary(cut) => text.push_str(&p[cut..]),
                    _ => text.push_str(p),
                }
                text.push_str(glue[rng.below(glue.len())]);
            }
            assert_same(name, finder, &text, 1);
        }
    }
}

#[test]
fn the_redactor_keys_are_looked_for_through_their_anchors_where_the_cpu_can() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") {
        assert!(crate::redact::KEYS.is_anchored());
    }
}

/// Pattern sets of a few letters, dense with overlaps and patterns inside
/// patterns, each with anchors cut from its own patterns: every search
/// from every position gives the automaton's answer, for both leftmost
/// kinds; sets whose anchors break the rule (one holds another, a pattern
/// holds none) are searched without them and give it too.
#[test]
fn anchored_searches_give_the_automatons_answers() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let letters = ["a", "b", "c", "ab", "ba", "=", " "];
    let mut anchored = 0;
    for round in 0..600 {
        let word = |rng: &mut Rng, len: usize| -> String {
            (0..len)
                .map(|_| letters[rng.below(letters.len())])
                .collect()
        };
        let patterns: Vec<String> = (0..1 + rng.below(6))
            .map(|_| {
                let len = 1 + rng.below(4);
                word(&mut rng, len)
            })
            .collect();
        let mut anchors: Vec<String> = patterns
            .iter()
            .map(|p| {
                let from = rng.below(p.len());
                p[from..from + 1 + rng.below(p.len() - from)].to_string()
            })
            .collect();
        anchors.sort();
        anchors.dedup();
        let anchors: Vec<&str> = anchors.iter().map(String::as_str).collect();
        let kind = [MatchKind::LeftmostLongest, MatchKind::LeftmostFirst][round % 2];
        let finder = MultiFind::with_anchors(kind, &patterns, &anchors).expect("small set");
        anchored += usize::from(finder.is_anchored());
        for _ in 0..20 {
            let len = rng.below(40);
            let text = word(&mut rng, len);
            let name = format!("{kind:?} {patterns:?} through {anchors:?}");
            assert_same(&name, &finder, &text, 1);
        }
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") {
        assert!(
            anchored > 150,
            "{anchored} sets of 600 searched through anchors"
        );
    }
}
