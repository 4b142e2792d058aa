//! The HTML pages of the dashboard as a browser meets them, through the
//! router without a socket, over a database analyzed from `sample_logs/`:
//! every page, filters and paging, 404 and 405 pages, the token check, the
//! page policy, and hostile log text escaped.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use grantwatch::store::labels::server_label;
use grantwatch::store::{FailureFilter, FailureRecord, Store};
use grantwatch::web::pages::{PAGE_CSP, PAGE_SIZE};
use grantwatch::web::{AppState, router};
use tower::ServiceExt as _;

use crate::helpers::{Fixture, Reply, analyze_into, analyze_one_record, get, send};

impl Fixture {
    fn all(&self) -> Vec<FailureRecord> {
        self.store()
            .failures(&FailureFilter::default(), 100_000, 0)
            .expect("failures")
            .1
    }

    /// GETs `uri`, asserts a 200 HTML page, returns its text.
    async fn page(&self, uri: &str) -> String {
        let reply = get(self.app(), uri).await;
        reply.assert_html(StatusCode::OK, uri);
        reply.text()
    }
}

impl Reply {
    pub(crate) fn assert_html(&self, status: StatusCode, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.text());
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8",
            "{what}"
        );
        assert_eq!(
            self.headers[header::CONTENT_SECURITY_POLICY],
            PAGE_CSP,
            "{what}"
        );
        assert_eq!(self.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let text = self.text();
        assert!(text.starts_with("<!DOCTYPE html>"), "{what}");
        assert!(
            text.contains(r#"action="/requests""#),
            "{what}: the search box is on every page"
        );
        // One script, from a file (the CSP forbids inline script).
        assert_eq!(
            text.matches("<script").count(),
            text.matches(r#"<script src="/static/live.js" defer></script>"#)
                .count(),
            "{what}: no script but live.js"
        );
        assert!(text.matches("<script").count() <= 1, "{what}");
        assert!(!text.contains("style="), "{what}: no inline style");
    }
}

/// What askama writes for `text` (numeric character references:
/// `<script>` becomes `&#60;script&#62;`, the same as `&lt;script&gt;`).
pub(crate) fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Percent-encodes a path segment or query value.
pub(crate) fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The failure ids linked from the rows of a failure table, in order.
fn row_ids(page: &str) -> Vec<String> {
    page.match_indices(r#"<td class="ts"><a href="/failures/"#)
        .map(|(i, m)| {
            let rest = &page[i + m.len()..];
            rest[..rest.find('"').expect("end of href")].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_overview_shows_counts_a_chart_tops_and_the_newest_failures() {
    let fx = Fixture::sample();
    let all = fx.all();
    let page = fx.page("/").await;
    assert!(page.contains("<svg class=\"chart\""), "an inline SVG chart");
    // It refreshes itself while `watch` adds failures, without script.
    assert!(
        page.contains("<meta http-equiv=\"refresh\""),
        "a light refresh"
    );
    assert!(page.contains("<rect "), "bars in the chart");
    assert!(page.contains("Last week"));
    // The sample logs are old: the windows end at the newest failure not
    // in the future, so they hold at least that one.
    assert!(page.contains("the newest failure"), "{page}");
    assert!(!page.contains("No failure in the last week"), "{page}");
    let newest = &all[0];
    assert!(
        page.contains(&format!("/failures/{}", encoded(&newest.id))),
        "the newest failure is linked"
    );
    assert!(page.contains(newest.cause.as_str()));
    assert_eq!(row_ids(&page).len(), all.len().min(20));
    assert!(page.contains("/failures?cause="), "causes link to the list");
}

#[tokio::test]
async fn the_list_pages_by_fifty_newest_first() {
    let fx = Fixture::sample();
    let all = fx.all();
    assert!(all.len() > PAGE_SIZE as usize, "{}", all.len());
    let first = fx.page("/failures").await;
    let ids = row_ids(&first);
    assert_eq!(ids.len(), PAGE_SIZE as usize);
    let expected: Vec<String> = all[..PAGE_SIZE as usize]
        .iter()
        .map(|f| encoded(&f.id))
        .collect();
    assert_eq!(ids, expected);
    assert!(first.contains(&format!("of {}", all.len())));
    assert!(first.contains(r#"href="/failures?page=2""#), "a next link");
    let second = fx.page("/failures?page=2").await;
    let ids2 = row_ids(&second);
    assert_eq!(
        ids2.first(),
        Some(&encoded(&all[PAGE_SIZE as usize].id)),
        "page 2 follows page 1"
    );
    assert!(second.contains(r#"href="/failures?page=1""#), "a prev link");
    let far = fx.page("/failures?page=9999").await;
    assert!(row_ids(&far).is_empty());
}

#[tokio::test]
async fn filters_select_and_pager_links_keep_them() {
    let fx = Fixture::sample();
    let all = fx.all();
    let reused: Vec<&FailureRecord> = all
        .iter()
        .filter(|f| f.cause.as_str() == "code_reused")
        .collect();
    assert!(!reused.is_empty());
    let page = fx
        .page("/failures?cause=code_reused&client=&server=&since=&until=")
        .await;
    let ids = row_ids(&page);
    assert_eq!(ids.len(), reused.len().min(PAGE_SIZE as usize));
    assert!(
        ids.iter()
            .all(|id| reused.iter().any(|f| encoded(&f.id) == *id))
    );
    assert!(page.contains(r#"<option value="code_reused" selected>"#));

    // Client, server and a time window together, with paging over them.
    let f = all
        .iter()
        .find(|f| f.client_id.is_some() && f.ts.is_some())
        .expect("a dated failure with a client");
    let client = f.client_id.as_deref().expect("client");
    let day = &f.ts.as_deref().expect("ts")[..10];
    let uri = format!(
        "/failures?client={}&server={}&since={day}",
        encoded(client),
        server_label(f.server)
    );
    let page = fx.page(&uri).await;
    let ids = row_ids(&page);
    assert!(ids.contains(&encoded(&f.id)), "{uri}");
    for id in &ids {
        let g = all.iter().find(|g| encoded(&g.id) == *id).expect("known");
        assert_eq!(g.client_id.as_deref(), Some(client));
        assert_eq!(g.server, f.server);
    }

    // A cause with more than one page: the next link keeps the filter.
    let busiest = {
        let mut counts = std::collections::BTreeMap::new();
        for f in &all {
            *counts.entry(f.cause.as_str()).or_insert(0usize) += 1;
        }
        counts.into_iter().max_by_key(|(_, n)| *n).expect("a cause")
    };
    if busiest.1 > PAGE_SIZE as usize {
        let page = fx.page(&format!("/failures?cause={}", busiest.0)).await;
        assert!(
            page.contains(&format!(
                r#"href="/failures?cause={}&amp;page=2""#,
                busiest.0
            )),
            "the pager keeps the filter"
        );
    }

    let none = fx.page("/failures?since=2999-01-01").await;
    assert!(none.contains("No failure matches."));
    for bad in [
        "/failures?cause=nope",
        "/failures?server=apache",
        "/failures?since=yesterday",
        "/failures?page=0",
        "/failures?page=x",
    ] {
        get(fx.app(), bad)
            .await
            .assert_html(StatusCode::BAD_REQUEST, bad);
    }
}

#[tokio::test]
async fn a_failure_page_shows_summary_fix_candidates_and_evidence() {
    let fx = Fixture::sample();
    let all = fx.all();
    let f = all
        .iter()
        .find(|f| !f.candidates.is_empty() && f.evidence.len() > 1 && f.request_id.is_some())
        .or_else(|| all.iter().find(|f| !f.evidence.is_empty()))
        .expect("a failure with evidence");
    let page = fx.page(&format!("/failures/{}", encoded(&f.id))).await;
    assert!(page.contains(&escaped(&f.summary)), "summary");
    assert!(page.contains(&escaped(&f.fix)), "fix");
    assert!(page.contains(f.cause.as_str()));
    assert!(page.contains(&format!("{} confidence", f.confidence)));
    for c in &f.candidates {
        assert!(page.contains(&escaped(&c.why)), "candidate {}", c.cause);
    }
    for e in &f.evidence {
        assert!(page.contains(&escaped(&format!("{}:{}", e.file, e.line))));
        assert!(
            page.contains(&format!("<pre>{}</pre>", escaped(&e.text))),
            "{:?} in {page}",
            e.text
        );
    }
    if let Some(m) = &f.missing {
        assert!(page.contains(&escaped(m)));
    }
    if let Some(rid) = &f.request_id {
        assert!(page.contains(&format!("/requests/{}", encoded(rid))));
    }

    let missing = get(fx.app(), "/failures/no-such-failure").await;
    missing.assert_html(StatusCode::NOT_FOUND, "unknown failure");
    assert!(missing.text().contains("no failure with this id"));
}

#[tokio::test]
async fn a_request_page_from_its_path_or_the_search_box() {
    let fx = Fixture::sample();
    let all = fx.all();
    let f = all
        .iter()
        .find(|f| f.request_id.is_some())
        .expect("a failure with a request id");
    let rid = f.request_id.as_deref().expect("request id");
    let by_path = fx.page(&format!("/requests/{}", encoded(rid))).await;
    assert!(by_path.contains(&escaped(rid)));
    assert!(by_path.contains(&format!("/failures/{}", encoded(&f.id))));
    assert!(by_path.contains("<pre>"), "the evidence lines");
    let by_search = fx.page(&format!("/requests?id={}", encoded(rid))).await;
    assert_eq!(by_path, by_search);

    for uri in [
        "/requests/no-such-request",
        "/requests?id=no-such-request",
        "/requests?id=%20no-such-request%20",
    ] {
        let reply = get(fx.app(), uri).await;
        reply.assert_html(StatusCode::NOT_FOUND, uri);
        let text = reply.text();
        assert!(text.contains("Nothing matched"), "{uri}");
        assert!(text.contains("<code>no-such-request</code>"), "{uri}");
    }
    get(fx.app(), "/requests?id=")
        .await
        .assert_html(StatusCode::BAD_REQUEST, "empty search");
}

#[tokio::test]
async fn the_sources_page_lists_every_file_read() {
    let fx = Fixture::sample();
    let page = fx.page("/sources").await;
    let sources = fx.store().source_details().expect("sources");
    assert!(!sources.is_empty());
    for s in &sources {
        assert!(page.contains(&escaped(&s.path)), "{}", s.path);
    }
    assert!(page.contains("hydra-v2.3.json.log"));
    assert!(page.contains("Read as") && page.contains("Understood"));
}

#[tokio::test]
async fn the_stylesheet_is_served_from_the_binary() {
    let fx = Fixture::sample();
    let reply = get(fx.app(), "/static/style.css").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    assert!(reply.text().contains("body"));
}

#[tokio::test]
async fn unknown_paths_are_html_404_pages_that_do_not_echo_the_path() {
    let fx = Fixture::sample();
    for uri in [
        "/nope",
        "/failures/x/y",
        "/apis",
        "/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/%3Cscript%3Ealert(1)%3C/script%3E?q=%3Cb%3E",
    ] {
        let reply = get(fx.app(), uri).await;
        reply.assert_html(StatusCode::NOT_FOUND, uri);
        let text = reply.text();
        assert!(text.contains("no such page"), "{uri}: {text}");
        assert!(text.contains(r#"<a href="/">Back to the overview</a>"#));
        assert!(!text.contains("alert(1)"), "{uri}: the path is not echoed");
        assert!(!text.contains("<b>"), "{uri}: the query is not echoed");
    }
}

#[tokio::test]
async fn wrong_methods_on_pages_are_html_405_pages() {
    let fx = Fixture::sample();
    for (method, uri) in [("POST", "/failures"), ("DELETE", "/"), ("PUT", "/sources")] {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let reply = send(fx.app(), request).await;
        reply.assert_html(StatusCode::METHOD_NOT_ALLOWED, uri);
        assert_eq!(reply.headers[header::ALLOW], "GET,HEAD", "{uri}");
        assert!(reply.text().contains("method not allowed"), "{uri}");
    }
}

#[tokio::test]
async fn a_token_guards_the_pages_too() {
    let fx = Fixture::sample();
    let app = || router(AppState::new(&fx.db).with_token("s3cret"));
    for uri in ["/", "/failures", "/sources", "/requests/x"] {
        let reply = get(app(), uri).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{uri}");
        let location = reply.headers[header::LOCATION].to_str().expect("ascii");
        assert!(location.starts_with("/login?next=%2F"), "{uri}: {location}");
    }
    // The sign-in page needs its stylesheet.
    let reply = get(app(), "/static/style.css").await;
    assert_eq!(reply.status, StatusCode::OK);
    let request = Request::get("/")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .expect("request");
    send(app(), request)
        .await
        .assert_html(StatusCode::OK, "/ with the token");
}

#[tokio::test]
async fn hostile_log_text_is_escaped_on_every_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = "\"><img src=x onerror=alert(1)>";
    let description = "<script>alert(1)</script>";
    let line = serde_json::json!({
        "time": "2025-03-11T09:00:00Z",
        "request_id": "req-xss-1",
        "error": "invalid_grant",
        "error_description": description,
        "client_id": client,
    });
    let db = analyze_one_record(dir.path(), "app<b>.jsonl", &line);
    let app = || router(AppState::new(&db));
    let store = Store::open_read_only(&db).expect("open");
    let (total, failures) = store
        .failures(&FailureFilter::default(), 10, 0)
        .expect("failures");
    assert_eq!(total, 1);
    let id = encoded(&failures[0].id);

    let pages = [
        "/".to_owned(),
        "/failures".to_owned(),
        format!("/failures?client={}", encoded(client)),
        format!("/failures/{id}"),
        "/requests/req-xss-1".to_owned(),
        "/requests?id=req-xss-1".to_owned(),
        "/sources".to_owned(),
    ];
    for uri in &pages {
        let reply = get(app(), uri).await;
        reply.assert_html(StatusCode::OK, uri);
        let text = reply.text();
        assert!(!text.contains("<script>"), "{uri}: raw script");
        assert!(!text.contains("<img"), "{uri}: raw img");
        assert!(!text.contains("<b>"), "{uri}: raw tag from a path");
        if uri != "/sources" {
            assert!(
                text.contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;"),
                "{uri}: the client id, escaped"
            );
        }
    }
    let request = get(app(), "/requests/req-xss-1").await.text();
    assert!(request.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    let failure = get(app(), &format!("/failures/{id}")).await.text();
    assert!(failure.contains("&#60;script&#62;"), "the evidence line");
    let sources = get(app(), "/sources").await.text();
    assert!(sources.contains("app&#60;b&#62;.jsonl"));

    // A searched id is echoed escaped.
    let reply = get(app(), "/requests?id=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    reply.assert_html(StatusCode::NOT_FOUND, "hostile search");
    let text = reply.text();
    assert!(text.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(!text.contains("<script>"));
}

#[tokio::test]
async fn the_overview_says_which_cause_spikes_against_its_own_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = chrono::Utc::now() - chrono::Duration::minutes(1);
    let line = |at: chrono::DateTime<chrono::Utc>, desc: &str, n: usize| {
        serde_json::json!({
            "time": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "request_id": format!("req-{n}"),
            "error": "invalid_grant",
            "error_description": desc,
        })
        .to_string()
    };
    let mut text = String::new();
    // A steady baseline: one expired refresh token every two hours.
    for h in 0..12 {
        let at = now - chrono::Duration::hours(2 * h + 1);
        text += &line(at, "The refresh token expired.", h as usize);
        text.push('\n');
    }
    // Now: seven reused codes in ten minutes, and one more expiry.
    for i in 0..7 {
        text += &line(
            now - chrono::Duration::minutes(i),
            "Code was already redeemed.",
            100 + i as usize,
        );
        text.push('\n');
    }
    text += &line(
        now - chrono::Duration::minutes(2),
        "The refresh token expired.",
        200,
    );
    text.push('\n');
    let log = dir.path().join("app.jsonl");
    std::fs::write(&log, text).expect("write");
    let db = dir.path().join("spikes.db");
    analyze_into(vec![log], &db);
    let app = router(AppState::new(&db));
    let response = app
        .oneshot(
            Request::builder()
                .uri("/")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let page = String::from_utf8_lossy(&body);
    assert!(
        page.contains("code_reused</a>: 7 in the last 15 min, new (none in the day before)"),
        "{page}"
    );
    assert!(
        !page.contains("refresh_token_expired</a>: 1 in the last 15 min"),
        "a single expiry is not a spike"
    );
}

#[tokio::test]
async fn the_sources_page_says_what_each_file_was_read_as() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rails = std::fs::read_to_string(
        crate::helpers::root().join("sample_logs/rails/production-rails8.log"),
    )
    .expect("sample");
    // The Rails log as a Kubernetes node keeps it, and two pods' lines as
    // `kubectl logs --prefix` interleaves them.
    let cri: String = rails
        .lines()
        .map(|l| format!("2025-11-04T08:00:00.000000000Z stdout F {l}\n"))
        .collect();
    std::fs::write(dir.path().join("web.log"), cri).expect("write");
    let prefixed: String = rails
        .lines()
        .enumerate()
        .map(|(i, l)| format!("[pod/web-{}/web] {l}\n", i % 2))
        .collect();
    std::fs::write(dir.path().join("pods.log"), prefixed).expect("write");
    let noise: String = (0..40)
        .map(|i| format!("{{\"log\":\"worker {i} ok\\n\",\"stream\":\"stdout\",\"time\":\"2025-03-11T08:00:00Z\"}}\n"))
        .collect();
    std::fs::write(dir.path().join("noise.log"), noise).expect("write");
    let db = dir.path().join("g.db");
    crate::helpers::analyze_into(vec![dir.path().to_path_buf()], &db);
    let page = get(
        grantwatch::web::router(grantwatch::web::AppState::new(&db)),
        "/sources",
    )
    .await
    .text();
    assert!(
        page.contains("read as Kubernetes CRI around rails"),
        "{page}"
    );
    assert!(
        page.contains("read as kubectl logs --prefix around rails"),
        "{page}"
    );
    assert!(
        page.contains("looks like docker json-file around an unknown format"),
        "{page}"
    );
    // Each event keeps the pod it came from.
    let conn = rusqlite::Connection::open(&db).expect("open");
    let origins: Vec<String> = conn
        .prepare("SELECT DISTINCT origin FROM events WHERE origin IS NOT NULL ORDER BY origin")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(origins.len(), 2, "{origins:?}");
    assert!(origins.iter().all(|o| o.contains("web-")), "{origins:?}");
    let envelope_times: i64 = conn
        .query_row(
            "SELECT count(*) FROM events e JOIN sources s ON s.id = e.source_id
             WHERE s.path LIKE '%web.log' AND e.envelope_ts_ms IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert!(
        envelope_times > 0,
        "the CRI times are kept beside the lines'"
    );
}
