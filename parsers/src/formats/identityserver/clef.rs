//! Serilog's compact JSON (CLEF, `Serilog.Formatting.Compact`): one object a
//! line, `{"@t":"…","@mt":"…","@l":"Error","SourceContext":"…",…}` with the
//! template's properties at the top level, or `@m` (the rendered message)
//! from `RenderedCompactJsonFormatter`.
//!
//! The message is rendered the way Serilog's `:lj` does (strings bare,
//! structured values as JSON), which is the shape [`super::messages`] reads
//! (`head {values}, details: {…}`). The raw line is only taken apart here;
//! the rendered message and the evidence are redacted by the caller before
//! anything is read from them.

use serde_json::{Map, Value};

use crate::common;
use crate::event::Timestamp;
use crate::parser::Context;

/// One CLEF record, its message rendered.
#[derive(Debug)]
pub(super) struct Clef {
    pub ts: Option<Timestamp>,
    pub message: String,
    /// An ASP.NET scope text (`RequestPath:/connect/token RequestId:…`)
    /// made of the request properties, when the record has them.
    pub scope: Option<String>,
}

/// Whether a line is a CLEF record (checked on bytes only).
pub(super) fn is_clef(line: &str) -> bool {
    line.starts_with("{\"@t\":\"")
        && (memchr::memmem::find(line.as_bytes(), b"\"@mt\":").is_some()
            || memchr::memmem::find(line.as_bytes(), b"\"@m\":").is_some())
}

/// The source context of a CLEF line, read without parsing it.
pub(super) fn source_context(line: &str) -> Option<&str> {
    let key = "\"SourceContext\":\"";
    let p = memchr::memmem::find(line.as_bytes(), key.as_bytes())?;
    let rest = line.get(p + key.len()..)?;
    rest.find('"').map(|end| &rest[..end])
}

/// Parses a CLEF line; `None` when it is not a JSON object.
pub(super) fn parse(line: &str, ctx: &Context) -> Option<Clef> {
    let Value::Object(obj) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str);
    let message = match (text("@m"), text("@mt")) {
        (Some(m), _) => m.to_owned(),
        (None, Some(t)) => render(t, &obj),
        (None, None) => return None,
    };
    let scope = match (text("RequestPath"), text("RequestId")) {
        (None, None) => None,
        (p, id) => Some(format!(
            "RequestPath:{} RequestId:{}",
            p.unwrap_or(""),
            id.unwrap_or("")
        )),
    };
    Some(Clef {
        ts: text("@t")
            .and_then(|t| common::timestamp(t, ctx))
            .map(|(ts, _)| ts),
        message,
        scope,
    })
}

/// Renders a message template: `{Name}`, `{@Name}`, `{$Name}`,
/// `{Name:format}`, `{Name,align}`; `{{` and `}}` are literal braces; a
/// hole without its property stays as written.
fn render(template: &str, props: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(p) = rest.find(['{', '}']) {
        out.push_str(&rest[..p]);
        let tail = &rest[p..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            out.push('}');
            rest = after;
            continue;
        }
        let Some(close) = tail.find('}') else {
            out.push_str(tail);
            return out;
        };
        let hole = &tail[1..close];
        let name = hole
            .trim_start_matches(['@', '$'])
            .split([':', ','])
            .next()
            .unwrap_or("");
        match props.get(name) {
            Some(Value::String(s)) => out.push_str(s),
            Some(v) => out.push_str(&v.to_string()),
            None => out.push_str(&tail[..=close]),
        }
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn renders_like_serilog_lj() {
        let p = props(
            r#"{"clientId":"reports","details":{"ClientId":"reports","GrantType":"authorization_code"},"n":3}"#,
        );
        assert_eq!(
            render(
                "Invalid client {clientId} {@details} n={n,5} {Missing} {{x}}",
                &p
            ),
            r#"Invalid client reports {"ClientId":"reports","GrantType":"authorization_code"} n=3 {Missing} {x}"#
        );
    }

    #[test]
    fn broken_templates_never_panic() {
        let p = props("{}");
        for t in ["{", "}", "{{", "{a", "a}", "{é}", "{@}", "{:}"] {
            let _ = render(t, &p);
        }
        assert!(parse("{\"@t\":\"x\"}", &Context::default()).is_none());
        assert!(parse("[1]", &Context::default()).is_none());
    }
}
