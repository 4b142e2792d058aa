//! The logfmt grammar as Go and Rust loggers write it: `key=value` pairs
//! separated by spaces, a value bare (`level=error`), double-quoted with Go
//! escapes (`msg="a \"b\"\n"`, logrus, slog, go-kit, Grafana), or a Go
//! `map[k:v k2:v with spaces]` (logrus printing a `map[string]interface{}`
//! field). Map entries are flattened to `key.subkey` pairs.
//!
//! Words that are not pairs (the free text of a Rust `tracing` message) are
//! skipped. Every function here returns what it could read and never
//! panics: a quote left open runs to the end of the line, a map left open
//! too.

use std::borrow::Cow;

/// One `key=value` pair, the value unquoted and unescaped.
pub(super) type Pair<'t> = (Cow<'t, str>, Cow<'t, str>);

/// Whether `b` may be part of a key (`level`, `http.target`, `@t`, `err-x`).
fn key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@' | b'/')
}

/// The length of the key at the start of `s` when a `=` follows it.
pub(super) fn key_len(s: &str) -> Option<usize> {
    let len = s.bytes().take_while(|b| key_byte(*b)).count();
    (len > 0 && s.as_bytes().get(len) == Some(&b'=')).then_some(len)
}

/// Every pair of `line`, in order. Words that are not pairs are skipped.
pub(super) fn pairs(line: &str) -> Vec<Pair<'_>> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let Some(klen) = key_len(&line[i..]) else {
            // A free word (or a quoted phrase) of a message: skip it whole.
            i = skip_word(line, i);
            continue;
        };
        let key = &line[i..i + klen];
        let start = i + klen + 1;
        let (value, next) = read_value(line, start);
        if let Some(map) = value.strip_prefix("map[").and_then(|m| m.strip_suffix(']')) {
            for (k, v) in map_entries(map) {
                out.push((Cow::Owned(format!("{key}.{k}")), Cow::Owned(v.to_owned())));
            }
            out.push((Cow::Borrowed(key), Cow::Borrowed(value)));
        } else {
            out.push((Cow::Borrowed(key), unquote(value)));
        }
        i = next;
    }
    out
}

/// Where the word starting at `i` ends (a quoted phrase counts as one).
fn skip_word(line: &str, i: usize) -> usize {
    let b = line.as_bytes();
    if b[i] == b'"' {
        return quoted_end(b, i);
    }
    memchr::memchr(b' ', &b[i..]).map_or(b.len(), |p| i + p)
}

/// The raw value starting at `start` and where the next pair may start.
fn read_value(line: &str, start: usize) -> (&str, usize) {
    let b = line.as_bytes();
    let end = match b.get(start) {
        Some(b'"') => quoted_end(b, start),
        _ if line[start..].starts_with("map[") => bracket_end(b, start + 3),
        _ => memchr::memchr(b' ', &b[start..]).map_or(b.len(), |p| start + p),
    };
    (&line[start..end], end)
}

/// The end (exclusive) of a double-quoted string starting at `at`.
fn quoted_end(b: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The end (exclusive) of a `[…]` group whose `[` is at `open`.
fn bracket_end(b: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'[' => depth += 1,
            b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    b.len()
}

/// The entries of a Go map body (`message:invalid_grant reason:The code
/// has expired status_code:400`): an entry starts at a word that is an
/// identifier followed by `:`, so values keep their spaces. Nested maps
/// stay whole in their entry.
fn map_entries(body: &str) -> Vec<(&str, &str)> {
    let b = body.as_bytes();
    let mut starts = Vec::new();
    let mut depth = 0usize;
    for i in 0..b.len() {
        match b[i] {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let at_word = i == 0 || b[i - 1] == b' ';
        if depth == 0 && at_word && map_key_len(&body[i..]).is_some() {
            starts.push(i);
        }
    }
    let mut out = Vec::new();
    for (n, &s) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(b.len(), |&e| e);
        let Some(klen) = map_key_len(&body[s..]) else {
            continue;
        };
        out.push((&body[s..s + klen], body[s + klen + 1..end].trim_end()));
    }
    out
}

/// A Go map key: letters, digits and `_`, then `:` (never `://`).
fn map_key_len(s: &str) -> Option<usize> {
    let len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let colon = s.as_bytes().get(len) == Some(&b':');
    let url = s.as_bytes().get(len + 1) == Some(&b'/');
    (len > 0 && colon && !url).then_some(len)
}

/// A value without its quotes, Go escapes resolved (`\"`, `\\`, `\n`, `\t`,
/// `\r`, `\uXXXX`); a bare value as written.
pub(super) fn unquote(raw: &str) -> Cow<'_, str> {
    let Some(body) = raw.strip_prefix('"') else {
        return Cow::Borrowed(raw);
    };
    let body = body.strip_suffix('"').unwrap_or(body);
    if !body.contains('\\') {
        return Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push_str("\\u");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'p>(p: &'p [Pair<'_>], key: &str) -> Option<&'p str> {
        p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    #[test]
    fn quoted_bare_and_escaped_values() {
        let p = pairs(
            r#"t=2019-06-19T16:52:44-0400 lvl=eror msg=login.OAuthLogin(NewTransportWithCode) logger=context uname= error="oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"error\":\"invalid_grant\",\"error_description\":\"MSIS9612: The authorization code received in \\u0027code\\u0027 parameter is invalid. \"}""#,
        );
        assert_eq!(get(&p, "lvl"), Some("eror"));
        assert_eq!(get(&p, "uname"), Some(""));
        assert_eq!(
            get(&p, "error"),
            Some(
                "oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"error\":\"invalid_grant\",\"error_description\":\"MSIS9612: The authorization code received in \\u0027code\\u0027 parameter is invalid. \"}"
            )
        );
    }

    #[test]
    fn go_maps_are_flattened() {
        let p = pairs(
            "level=error error=map[message:invalid_grant reason:The refresh token has expired. status_code:400] msg=x",
        );
        assert_eq!(get(&p, "error.message"), Some("invalid_grant"));
        assert_eq!(
            get(&p, "error.reason"),
            Some("The refresh token has expired.")
        );
        assert_eq!(get(&p, "error.status_code"), Some("400"));
        assert_eq!(get(&p, "msg"), Some("x"));
    }

    #[test]
    fn free_words_are_skipped() {
        let p = pairs("oxide: token request failed \"quoted words\" error=\"invalid_grant\" n=3");
        assert_eq!(get(&p, "error"), Some("invalid_grant"));
        assert_eq!(get(&p, "n"), Some("3"));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn broken_input_never_panics() {
        for s in [
            "",
            "=",
            "a=\"",
            "a=\"\\",
            "a=\"\\u12",
            "a=map[",
            "a=map[b:map[c:",
            "a=map[]",
            "\"",
            "é=é",
            "a=\"\\uZZZZ\"",
        ] {
            let _ = pairs(s);
            let _ = unquote(s);
        }
    }
}
