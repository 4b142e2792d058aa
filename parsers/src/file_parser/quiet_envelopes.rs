//! The quiet path for docker json-file and CRI lines
//! (`FileParser::skim_enveloped`) checked against the exact path: a Rails
//! log in docker's or the kubelet's envelope, fed with the hints `analyze`
//! computes, gives the events, counts and tally of the same lines all fed
//! (`Hint::Feed`, which never skims), across an OAuth failure, escapes,
//! 16 KiB pieces, needles escapes complete and lines off the shape.

use super::*;

/// A line as docker's json-file driver writes it (Go's escaping).
fn docker(text: &str, n: usize) -> String {
    let log = serde_json::to_string(text).expect("a string");
    let log = log
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!(
        r#"{{"log":{log},"stream":"stdout","time":"2025-03-11T08:00:{:02}.{n:09}Z"}}"#,
        n % 60
    )
}

/// Each application line wrapped, split into 16 KiB pieces when longer.
fn wrap(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let text = format!("{line}\n");
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(16 * 1024) {
            out.push(docker(&piece.iter().collect::<String>(), out.len() + 1));
        }
    }
    out
}

/// The Rails lines: requests with quoted SQL, one OAuth failure whose
/// parameters line is split into pieces, a long line outside any request,
/// a path whose slashes docker escaped.
fn rails_lines() -> Vec<String> {
    let p = |id: &str, level: &str, msg: &str| {
        format!("{level}, [2025-03-11T09:02:15.978492 #7]  INFO -- : [{id}] {msg}")
    };
    let mut lines = Vec::new();
    for i in 0..30 {
        let id = format!("00000000-0000-4000-8000-0000000000{i:02}");
        lines.push(p(
            &id,
            "I",
            &format!("Started GET \"/products/{i}\" for 10.0.0.1 at 2025-03-11 09:02:15 +0000"),
        ));
        lines.push(p(&id, "I", "Processing by ProductsController#show as HTML"));
        lines.push(p(&id, "D", "  Product Load (0.4ms)  SELECT \"products\".* FROM \"products\" WHERE \"id\" = $1 <> & x"));
        if i == 7 {
            lines.push(p(
                &id,
                "D",
                &format!("  Big dump {}", "\"q\" <x> & é ".repeat(3000)),
            ));
        }
        lines.push(p(
            &id,
            "I",
            "Completed 200 OK in 14ms (Views: 8.8ms | ActiveRecord: 1.3ms)",
        ));
        if i == 12 {
            let id = "8bcd97aa-1bd2-4c92-b92b-e7e08f264ec1";
            lines.push(p(
                id,
                "I",
                "Started POST \"/oauth/token\" for 10.0.3.235 at 2025-03-11 09:02:15 +0000",
            ));
            lines.push(p(
                id,
                "I",
                "Processing by Doorkeeper::TokensController#create as */*",
            ));
            lines.push(p(id, "I", &format!(
                "  Parameters: {{\"grant_type\"=>\"refresh_token\", \"refresh_token\"=>\"wqhbnIw2OpRszwqkNdVIekqE700lTlXJcYc8ErcErLw\", \"pad\"=>\"{}\"}}",
                "x".repeat(40_000)
            )));
            lines.push(p(
                id,
                "I",
                "  Doorkeeper::AccessToken Load (0.3ms)  SELECT \"oauth_access_tokens\".*",
            ));
            lines.push(p(
                id,
                "I",
                "Completed 400 Bad Request in 19ms (Views: 0.1ms | ActiveRecord: 5.8ms)",
            ));
        }
    }
    lines
}

/// Events (as text), counts and tally of `lines` fed with `hint_of`.
fn run(lines: &[String], quiet_hints: bool) -> (String, LineCounts, crate::handover::Tally) {
    let mut parser = FileParser::new(Format::Rails, Context::default());
    let quiet = parser.quiet_skip().expect("Rails has a quiet rule");
    let chunk = lines.join("\n");
    let mut candidates = quiet.lines(&chunk);
    let mut events = Vec::new();
    let mut start = 0;
    for (i, line) in lines.iter().enumerate() {
        let hint = candidates.line(start, start + line.len());
        start += line.len() + 1;
        let hint = if quiet_hints { hint } else { Hint::Feed };
        parser.feed_hinted(i as u64 + 1, line, hint, &mut events);
    }
    parser.flush(&mut events);
    (format!("{events:?}"), parser.counts(), parser.tally())
}

#[test]
fn skimmed_docker_lines_change_nothing_the_exact_path_gives() {
    let mut app = rails_lines();
    // An escape completes a needle (`\/oauth\/` has none, `/oauth/` one):
    // docker escapes no `/`, a shipper may.
    app.push("I, [2025-03-11T09:03:00.000000 #7]  INFO -- : x".to_string());
    let mut lines = wrap(&app);
    let last = lines.len() - 1;
    lines[last] = lines[last].replace(
        "-- : x",
        r"-- : invalid_grant at \/oauth\/token"
            .replace("invalid_grant", "nv\\u0061lid")
            .as_str(),
    );
    let pieces = lines
        .iter()
        .filter(|l| !l.contains(r#"\n","stream""#))
        .count();
    assert!(pieces >= 4, "the long lines are split: {pieces}");
    let exact = run(&lines, false);
    let quiet = run(&lines, true);
    assert_eq!(quiet, exact);
    // What a user checks: the failure is there, the skimmed lines counted.
    assert!(quiet.0.contains("refresh_token"), "{}", quiet.0);
    assert!(quiet.1.skipped > 100, "{:?}", quiet.1);
}

/// Each application line as the kubelet writes it: split into `P` pieces
/// of 16 KiB when longer, the last one `F`; the streams alternate.
fn wrap_cri(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let stream = if i % 5 == 0 { "stderr" } else { "stdout" };
        let chars: Vec<char> = line.chars().collect();
        let pieces: Vec<String> = chars
            .chunks(16 * 1024)
            .map(|p| p.iter().collect())
            .collect();
        for (j, piece) in pieces.iter().enumerate() {
            let tag = if j + 1 == pieces.len() { "F" } else { "P" };
            let n = out.len() + 1;
            out.push(format!(
                "2025-03-11T08:00:{:02}.{n:09}Z {stream} {tag} {piece}",
                n % 60
            ));
        }
    }
    out
}

#[test]
fn skimmed_cri_lines_change_nothing_the_exact_path_gives() {
    let mut lines = wrap_cri(&rails_lines());
    let pieces = lines.iter().filter(|l| l.contains(" P ")).count();
    assert!(pieces >= 4, "the long lines are split: {pieces}");
    // Lines off the shape among them: more tags, a time CRI does not
    // take, a digit-led line in no envelope, a line in a second envelope.
    let odd = [
        "2025-03-11T08:01:00.000000001Z stdout F:x I, [2025-03-11T09:02:15.978492 #7]  INFO -- : [a] tagged",
        "2025-03-11T08:01:00,5Z stdout F I, [2025-03-11T09:02:15.978492 #7]  INFO -- : [a] comma",
        "2025-13-11T08:01:00Z stdout F I, [2025-03-11T09:02:15.978492 #7]  INFO -- : [a] month 13",
        "12345 a line in no envelope",
        r#"2025-03-11T08:01:00.000000002Z stdout F {"log":"I, [x #7]  INFO -- : inner\n","stream":"stdout","time":"2025-03-11T08:00:00Z"}"#,
    ];
    for (i, line) in odd.iter().enumerate() {
        lines.insert(40 + 17 * i, line.to_string());
    }
    let exact = run(&lines, false);
    let quiet = run(&lines, true);
    assert_eq!(quiet, exact);
    assert!(quiet.0.contains("refresh_token"), "{}", quiet.0);
    assert!(quiet.1.skipped > 100, "{:?}", quiet.1);
}
