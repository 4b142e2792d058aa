//! The failure page's comparisons: the two redirect URIs with the differing
//! part marked (and log markup in them shown as text on every page), and the
//! client's clock against the server's.

use axum::http::StatusCode;
use grantwatch::store::{FailureFilter, Store};
use grantwatch::web::{AppState, router};

use crate::helpers::{Fixture, analyze_into, get, root};
use crate::pages::{encoded, escaped};

/// The failure of `cause` in `file` (a sample log path ending).
fn failure_in(fx: &Fixture, cause: &str, file: &str) -> String {
    let filter = FailureFilter {
        cause: Some(grantwatch::cause::Cause::from_id(cause).expect("a cause id")),
        ..FailureFilter::default()
    };
    let (_, failures) = fx.store().failures(&filter, 1000, 0).expect("failures");
    failures
        .into_iter()
        .find(|f| f.evidence.iter().any(|e| e.file.ends_with(file)))
        .unwrap_or_else(|| panic!("a {cause} failure in {file}"))
        .id
}

#[tokio::test]
async fn the_redirect_uris_are_side_by_side_with_the_difference_marked() {
    let fx = Fixture::sample();
    let id = failure_in(&fx, "redirect_uri_mismatch", "rails/production.log");
    let reply = get(fx.app(), &format!("/failures/{}", encoded(&id))).await;
    reply.assert_html(StatusCode::OK, "failure");
    let page = reply.text();
    // The authorize request had no trailing slash, the token request had one.
    assert!(
        page.contains(
            "<code>https://app.example.com/auth/callback<mark><span class=\"gap\">nothing here</span></mark></code>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<code>https://app.example.com/auth/callback<mark>/</mark></code>"),
        "{page}"
    );
    assert!(page.contains("Only a trailing slash differs"));
}

#[tokio::test]
async fn the_client_clock_is_shown_with_its_offset() {
    let fx = Fixture::sample();
    let id = failure_in(&fx, "clock_skew", "clock_skew/logcat.txt");
    let reply = get(fx.app(), &format!("/failures/{}", encoded(&id))).await;
    reply.assert_html(StatusCode::OK, "failure");
    let page = reply.text();
    assert!(page.contains("<h2>Client clock</h2>"), "{page}");
    assert!(page.contains("clock_skew/logcat.txt</span>"), "{page}");
    assert!(
        page.contains("<strong>9 min 11 s ahead of the server: clock drift</strong>"),
        "{page}"
    );
    assert!(page.contains("offset +9 min 11 s"), "{page}");

    // A server-only failure has nothing to compare: no section at all.
    let id = failure_in(&fx, "code_reused", "rails/production.log");
    let page = get(fx.app(), &format!("/failures/{}", encoded(&id)))
        .await
        .text();
    assert!(!page.contains("Client clock"));
    assert!(!page.contains("<mark>"));
}

#[tokio::test]
async fn markup_in_a_redirect_uri_is_text_on_every_page() {
    // The real authorize and token requests of the redirect scenario, with
    // markup appended to the token request's redirect_uri.
    let scenario = std::fs::read_to_string(
        root().join("sample_logs/scenarios/redirect_uri_mismatch/production.log"),
    )
    .expect("scenario");
    let hostile = "com.acme.fieldapp:/oauth2redirect<script>alert(1)</script><b>x</b>";
    let lines: Vec<String> = scenario
        .lines()
        .skip(99)
        .take(16)
        .map(|l| l.replace("com.acme.fieldapp:/oauth2redirect", hostile))
        .collect();
    assert!(
        lines[12].contains(hostile),
        "the token request's parameters"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("production.log");
    std::fs::write(&log, lines.join("\n") + "\n").expect("write");
    let db = dir.path().join("g.db");
    analyze_into(vec![log], &db);
    let store = Store::open_read_only(&db).expect("open");
    let (_, failures) = store
        .failures(&FailureFilter::default(), 10, 0)
        .expect("failures");
    assert_eq!(failures.len(), 1);
    let f = &failures[0];
    assert_eq!(f.cause.as_str(), "redirect_uri_mismatch");
    let app = || router(AppState::new(&db));
    let failure_uri = format!("/failures/{}", encoded(&f.id));
    let request_uri = format!(
        "/requests/{}",
        encoded(f.request_id.as_deref().expect("id"))
    );
    for uri in ["/", "/failures", &failure_uri, &request_uri, "/sources"] {
        let reply = get(app(), uri).await;
        reply.assert_html(StatusCode::OK, uri);
        let text = reply.text();
        assert!(!text.contains("<script>"), "{uri}: raw script");
        assert!(!text.contains("<b>x"), "{uri}: raw markup");
    }
    let page = get(app(), &failure_uri).await.text();
    assert!(
        page.contains(&format!("<mark>{}</mark>", escaped(hostile))),
        "the token request's redirect_uri, escaped and marked: {page}"
    );
    assert!(page.contains(&escaped("<script>alert(1)</script>")));
}
