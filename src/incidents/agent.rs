//! User agents parsed into what an on-call engineer asks of them: the app
//! and its version (the release), the operating system and its version, and
//! the HTTP stack or SDK that sent the request (okhttp, Dart, CFNetwork,
//! Expo, a browser).
//!
//! A user agent is log text: the parser never fails, never panics, and
//! returns `None` for what it cannot tell rather than a guess. It reads the
//! shapes clients really send: product tokens `Name/1.2.3` (names may hold
//! spaces: `Field Notes/4.3.1`), comments in parentheses (`(iPhone; iOS
//! 18.3.1)`, `(Linux; Android 14; Pixel 8)`), and the `Chrome 133.0.0 / Mac
//! OS X 10.15.7` form some loggers write.

/// What a user agent says about the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agent {
    /// The app's name, when the agent names one that is not an SDK.
    pub app: Option<String>,
    /// The app's version.
    pub version: Option<String>,
    /// Operating system and version (`iOS 18.3.1`, `Android 14`).
    pub os: Option<String>,
    /// HTTP stack or SDK and version (`okhttp 4.12.0`, `Chrome 133.0.0`).
    pub sdk: Option<String>,
}

impl Agent {
    /// `app version`: what the per-release breakdowns count by.
    pub fn release(&self) -> Option<String> {
        match (&self.app, &self.version) {
            (Some(a), Some(v)) => Some(format!("{a} {v}")),
            (Some(a), None) => Some(a.clone()),
            _ => None,
        }
    }
}

/// Product names that are stacks, engines or platforms, never the app.
/// Checked in order for the SDK: the first found names it, so a browser's
/// own name comes before the engines every browser claims.
const SDKS: &[(&str, &str)] = &[
    ("okhttp", "okhttp"),
    ("Dart", "Dart"),
    ("Expo", "Expo"),
    ("CFNetwork", "CFNetwork"),
    ("Alamofire", "Alamofire"),
    ("Dalvik", "Dalvik"),
    ("Edg", "Edge"),
    ("OPR", "Opera"),
    ("Firefox", "Firefox"),
    ("Chrome", "Chrome"),
    ("CriOS", "Chrome"),
    ("Safari", "Safari"),
    ("python-requests", "python-requests"),
    ("axios", "axios"),
    ("node-fetch", "node-fetch"),
    ("curl", "curl"),
    ("Apache-HttpClient", "Apache HttpClient"),
    ("Go-http-client", "Go net/http"),
    ("Python-urllib", "Python urllib"),
    ("undici", "undici"),
    ("Ktor client", "Ktor"),
    ("Java", "Java"),
];

/// Tokens that are neither the app nor an SDK worth naming.
const NOT_APPS: &[&str] = &[
    "Mozilla",
    "AppleWebKit",
    "Gecko",
    "Version",
    "Mobile",
    "Darwin",
    "KHTML",
    "like",
];

/// Parses a user agent. Unknown shapes give an empty [`Agent`].
pub fn parse(ua: &str) -> Agent {
    let ua = ua.trim();
    let mut agent = Agent::default();
    if ua.is_empty() {
        return agent;
    }
    let (products, comments) = split(ua);
    // `Chrome 133.0.0 / Mac OS X 10.15.7`: a name and version, a slash, an OS.
    if products.is_empty()
        && let Some((left, right)) = ua.split_once(" / ")
    {
        if let Some((name, version)) = name_version(left) {
            agent.sdk = sdk_name(name).map(|s| format!("{s} {version}"));
        }
        agent.os = os_of(right.trim());
        return agent;
    }
    for c in &comments {
        for part in c.split(';') {
            if agent.os.is_none() {
                agent.os = os_of(part.trim());
            }
        }
    }
    for (name, version) in &products {
        if agent.sdk.is_none() {
            agent.sdk = sdk_name(name).map(|s| format!("{s} {version}"));
        }
    }
    // A browser's token order is engine, browser, Safari: the browser is
    // the most specific one found in SDKS order, not the first in text.
    if let Some(found) = SDKS.iter().find_map(|(token, shown)| {
        products
            .iter()
            .find(|(n, _)| n == token)
            .map(|(_, v)| format!("{shown} {v}"))
    }) {
        agent.sdk = Some(found);
    }
    if let Some((name, version)) = products
        .iter()
        .find(|(n, _)| sdk_name(n).is_none() && !NOT_APPS.contains(&n.as_str()))
    {
        agent.app = Some(name.clone());
        agent.version = Some(version.clone());
    }
    if agent.os.is_none()
        && let Some((_, v)) = products.iter().find(|(n, _)| n == "Darwin")
    {
        agent.os = Some(format!("Darwin {v}"));
    }
    agent
}

fn sdk_name(name: &str) -> Option<&'static str> {
    SDKS.iter().find(|(t, _)| *t == name).map(|(_, s)| *s)
}

/// The `Name/version` products and the parenthesized comments of `ua`.
fn split(ua: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut products = Vec::new();
    let mut comments = Vec::new();
    let mut text = String::new();
    let mut depth = 0usize;
    let mut comment = String::new();
    for c in ua.chars() {
        match c {
            '(' => {
                if depth == 0 {
                    products.extend(tokens(&text));
                    text.clear();
                } else {
                    comment.push(c);
                }
                depth += 1;
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    comments.push(std::mem::take(&mut comment));
                } else {
                    comment.push(c);
                }
            }
            _ if depth > 0 => comment.push(c),
            _ => text.push(c),
        }
    }
    products.extend(tokens(&text));
    (products, comments)
}

/// `Field Notes/4.3.1 okhttp/4.12.0` → the two products. A name runs back
/// from its slash over words (so it may hold spaces) up to the previous
/// product's version.
fn tokens(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name_words: Vec<&str> = Vec::new();
    for word in text.split_whitespace() {
        match word.split_once('/') {
            Some((last, version)) if !version.is_empty() && !last.is_empty() => {
                name_words.push(last);
                out.push((name_words.join(" "), version.to_owned()));
                name_words.clear();
            }
            _ => name_words.push(word),
        }
    }
    out
}

/// `Chrome 133.0.0` → (`Chrome`, `133.0.0`).
fn name_version(text: &str) -> Option<(&str, &str)> {
    let (name, version) = text.trim().rsplit_once(' ')?;
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then_some((name.trim(), version))
}

/// An OS named in a comment part, with its version, normalized.
fn os_of(part: &str) -> Option<String> {
    let dotted = |v: &str| v.replace('_', ".");
    for (prefix, shown) in [
        ("iPhone OS ", "iOS"),
        ("CPU iPhone OS ", "iOS"),
        ("CPU OS ", "iPadOS"),
        ("iOS ", "iOS"),
        ("iPadOS ", "iPadOS"),
        ("Android ", "Android"),
        ("Intel Mac OS X ", "macOS"),
        ("Mac OS X ", "macOS"),
        ("macOS ", "macOS"),
        ("Windows NT ", "Windows NT"),
    ] {
        if let Some(rest) = part.strip_prefix(prefix) {
            let version: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect();
            let version = version.split(" like").next().unwrap_or("").to_owned();
            return Some(if version.is_empty() {
                shown.to_owned()
            } else {
                format!("{shown} {}", dotted(&version))
            });
        }
    }
    match part {
        "Linux" | "X11" => None,
        "Android" | "iOS" | "Windows" => Some(part.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ua: &str) -> (Option<String>, Option<String>, Option<String>) {
        let a = parse(ua);
        (a.release(), a.os, a.sdk)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn mobile_apps_name_their_release_os_and_stack() {
        assert_eq!(
            p("Field Notes/4.3.1 (iPhone; iOS 18.3.1)"),
            (s("Field Notes 4.3.1"), s("iOS 18.3.1"), None)
        );
        assert_eq!(
            p("FieldNotes/4.12.0 (Linux; Android 14; Pixel 8) okhttp/4.12.0"),
            (s("FieldNotes 4.12.0"), s("Android 14"), s("okhttp 4.12.0"))
        );
        assert_eq!(
            p("FieldNotes/812 CFNetwork/1494.0.7 Darwin/23.4.0"),
            (
                s("FieldNotes 812"),
                s("Darwin 23.4.0"),
                s("CFNetwork 1494.0.7")
            )
        );
        assert_eq!(p("Dart/3.5 (dart:io)"), (None, None, s("Dart 3.5")));
        assert_eq!(p("okhttp/4.11.0"), (None, None, s("okhttp 4.11.0")));
    }

    #[test]
    fn browsers_are_the_sdk_not_the_app() {
        assert_eq!(
            p(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36"
            ),
            (None, s("macOS 10.15.7"), s("Chrome 133.0.0.0"))
        );
        assert_eq!(
            p(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
            ),
            (None, s("iOS 17.4"), s("Safari 604.1"))
        );
        assert_eq!(
            p("Chrome 133.0.0 / Mac OS X 10.15.7"),
            (None, s("macOS 10.15.7"), s("Chrome 133.0.0"))
        );
    }

    #[test]
    fn hostile_or_empty_agents_give_nothing_and_never_panic() {
        assert_eq!(parse(""), Agent::default());
        assert_eq!(parse("((((/"), Agent::default());
        let _ = parse(")))/// ( ; ; iOS ");
        let _ = parse("é/ü (Android \u{0}) /1");
    }
}
