//! Signing a browser in when a token is set, through the router without a
//! socket: pages send to the sign-in form and the API keeps its JSON 401,
//! the right token sets a new random session cookie at each sign-in (never
//! the token), the cookie opens pages and API alike, a tampered one does
//! not, signing out clears it and ends the session on the server, guessing
//! is throttled, `next` never leads to another site, and the bearer token
//! still works.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use grantwatch::web::pages::PAGE_CSP;
use grantwatch::web::{AppState, SESSION_COOKIE, router};

use crate::helpers::{Fixture, Reply, send};

const TOKEN: &str = "s3cret-token";

/// One guarded state per fixture database: the sessions a sign-in opens
/// (and the sign-in throttle) live in the state, as in the one `serve`
/// builds at start.
fn state_of(db: &std::path::Path) -> AppState {
    static STATES: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, AppState>>,
    > = std::sync::OnceLock::new();
    let mut states = STATES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    states
        .entry(db.to_path_buf())
        .or_insert_with(|| AppState::new(db).with_token(TOKEN))
        .clone()
}

impl Fixture {
    fn guarded(&self) -> Router {
        router(state_of(&self.db))
    }

    /// Signs in with the right token; the `name=value` of the cookie set.
    async fn sign_in(&self) -> String {
        let reply = send(
            self.guarded(),
            login_form(&format!("token={TOKEN}&next=%2F")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        reply.cookie_pair()
    }
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii"))
    }

    fn location(&self) -> &str {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.text());
        self.header(header::LOCATION).expect("a Location")
    }

    fn set_cookie(&self) -> &str {
        self.header(header::SET_COOKIE).expect("a Set-Cookie")
    }

    /// The `name=value` part of the Set-Cookie.
    fn cookie_pair(&self) -> String {
        let pair = self.set_cookie().split(';').next().expect("a pair");
        pair.to_owned()
    }

    fn assert_page(&self, status: StatusCode, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.text());
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            Some("text/html; charset=utf-8"),
            "{what}"
        );
        assert_eq!(self.header(header::CONTENT_SECURITY_POLICY), Some(PAGE_CSP));
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

fn get_with(uri: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    Request::get(uri)
        .header(name, value)
        .body(Body::empty())
        .expect("request")
}

fn login_form(body: &str) -> Request<Body> {
    Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
async fn pages_without_auth_go_to_the_sign_in_page_keeping_where_they_were() {
    let fx = Fixture::sample();
    for (uri, next) in [
        ("/", "%2F"),
        ("/failures", "%2Ffailures"),
        (
            "/failures?cause=code_reused&page=2",
            "%2Ffailures%3Fcause%3Dcode_reused%26page%3D2",
        ),
        ("/requests/a%20b", "%2Frequests%2Fa%2520b"),
        ("/nope", "%2Fnope"),
    ] {
        let reply = send(fx.guarded(), get(uri)).await;
        assert_eq!(reply.location(), format!("/login?next={next}"), "{uri}");
        assert!(reply.header(header::SET_COOKIE).is_none(), "{uri}");
        assert_eq!(
            reply.header(header::X_CONTENT_TYPE_OPTIONS),
            Some("nosniff")
        );
    }
}

#[tokio::test]
async fn the_api_and_metrics_without_auth_stay_a_json_401() {
    let fx = Fixture::sample();
    for uri in ["/api/failures", "/api/stats", "/api/nope", "/metrics"] {
        for request in [
            get(uri),
            get_with(uri, header::COOKIE, &format!("{SESSION_COOKIE}={TOKEN}")),
        ] {
            let reply = send(fx.guarded(), request).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
            assert_eq!(reply.header(header::WWW_AUTHENTICATE), Some("Bearer"));
            assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
        }
    }
}

#[tokio::test]
async fn the_sign_in_page_the_stylesheet_and_healthz_are_public() {
    let fx = Fixture::sample();
    let reply = send(fx.guarded(), get("/login?next=%2Ffailures%3Fpage%3D2")).await;
    reply.assert_page(StatusCode::OK, "/login");
    let page = reply.text();
    assert!(page.contains(r#"<form class="login" method="post" action="/login">"#));
    assert!(page.contains(r#"type="password" name="token""#), "{page}");
    assert!(
        page.contains(r#"<input type="hidden" name="next" value="/failures?page=2">"#),
        "{page}"
    );
    assert!(!page.contains("Sign out"), "not signed in yet");
    let reply = send(fx.guarded(), get("/login?next=%2F%2Fevil.example")).await;
    assert!(reply.text().contains(r#"name="next" value="/">"#));
    for uri in ["/static/style.css", "/healthz"] {
        let reply = send(fx.guarded(), get(uri)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn a_wrong_token_is_a_401_with_the_form_again_and_no_cookie() {
    let fx = Fixture::sample();
    for body in [
        "token=wrong&next=%2Ffailures",
        "token=s3cret-toke&next=%2F",
        "token=&next=%2F",
        "next=%2F",
    ] {
        let reply = send(fx.guarded(), login_form(body)).await;
        reply.assert_page(StatusCode::UNAUTHORIZED, body);
        let page = reply.text();
        assert!(page.contains("wrong token"), "{body}");
        assert!(page.contains(r#"action="/login""#), "{body}");
        assert!(reply.header(header::SET_COOKIE).is_none(), "{body}");
        assert!(!page.contains(TOKEN));
    }
    let reply = send(fx.guarded(), login_form("token=wrong&next=%2Ffailures")).await;
    assert!(
        reply.text().contains(r#"value="/failures""#),
        "next is kept"
    );
}

#[tokio::test]
async fn the_right_token_sets_a_new_session_cookie_at_each_sign_in() {
    let fx = Fixture::sample();
    let body = format!("token={TOKEN}&next=%2Ffailures%3Fpage%3D2");
    let reply = send(fx.guarded(), login_form(&body)).await;
    assert_eq!(reply.location(), "/failures?page=2");
    let set = reply.set_cookie();
    let attributes: Vec<&str> = set.split(';').skip(1).map(str::trim).collect();
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} in {set}");
    }
    assert!(
        !set.contains("Secure;") && !set.ends_with("Secure"),
        "{set}"
    );
    let pair = reply.cookie_pair();
    let value = pair
        .strip_prefix(&format!("{SESSION_COOKIE}="))
        .expect("the session cookie");
    assert!(!value.is_empty());
    assert!(!value.contains(TOKEN), "the cookie is not the token: {set}");
    let again = fx.sign_in().await;
    assert_ne!(again, pair, "each sign-in has a session of its own");
}

#[tokio::test]
async fn the_cookie_opens_pages_and_the_api() {
    let fx = Fixture::sample();
    let cookie = fx.sign_in().await;
    for uri in ["/", "/failures", "/sources", "/api/failures", "/metrics"] {
        let reply = send(fx.guarded(), get_with(uri, header::COOKIE, &cookie)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
    }
    // Signed in, every page (an error page too) offers to sign out.
    for (uri, status) in [
        ("/failures", StatusCode::OK),
        ("/nope", StatusCode::NOT_FOUND),
    ] {
        let reply = send(fx.guarded(), get_with(uri, header::COOKIE, &cookie)).await;
        reply.assert_page(status, uri);
        let page = reply.text();
        assert!(page.contains(r#"<form class="signout" method="post" action="/logout">"#));
    }
    // Among other cookies, too.
    let several = format!("theme=dark; {cookie}; lang=en");
    let reply = send(
        fx.guarded(),
        get_with("/api/stats", header::COOKIE, &several),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    // Signed in, the sign-in page sends on to `next`.
    let request = get_with("/login?next=%2Fsources", header::COOKIE, &cookie);
    assert_eq!(send(fx.guarded(), request).await.location(), "/sources");
}

#[tokio::test]
async fn a_tampered_cookie_is_refused() {
    let fx = Fixture::sample();
    let cookie = fx.sign_in().await;
    let last = cookie.chars().last().expect("a value");
    let flipped = if last == '0' { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &cookie[..cookie.len() - 1]);
    for bad in [
        tampered,
        format!("{cookie}0"),
        format!("{SESSION_COOKIE}="),
        format!("{SESSION_COOKIE}={TOKEN}"),
        cookie.replace(SESSION_COOKIE, "other_session"),
    ] {
        let reply = send(fx.guarded(), get_with("/", header::COOKIE, &bad)).await;
        assert_eq!(reply.location(), "/login?next=%2F", "{bad}");
        let reply = send(
            fx.guarded(),
            get_with("/api/failures", header::COOKIE, &bad),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
}

#[tokio::test]
async fn signing_out_clears_the_cookie() {
    let fx = Fixture::sample();
    let cookie = fx.sign_in().await;
    let request = Request::post("/logout")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("request");
    let reply = send(fx.guarded(), request).await;
    assert_eq!(reply.location(), "/login");
    let set = reply.set_cookie();
    assert_eq!(reply.cookie_pair(), format!("{SESSION_COOKIE}="));
    assert!(set.contains("Max-Age=0"), "{set}");
    assert!(set.contains("Path=/"), "{set}");
    // A GET does not sign out (a link or an image could).
    let reply = send(fx.guarded(), get_with("/logout", header::COOKIE, &cookie)).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(reply.header(header::SET_COOKIE).is_none());
    // The session ended on the server: a copy of the cookie kept after
    // signing out opens nothing.
    let reply = send(fx.guarded(), get_with("/", header::COOKIE, &cookie)).await;
    assert_eq!(reply.location(), "/login?next=%2F");
    let reply = send(
        fx.guarded(),
        get_with("/api/failures", header::COOKIE, &cookie),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_hundred_wrong_tokens_in_a_second_are_mostly_refused_with_429() {
    let fx = Fixture::sample();
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for i in 0..100 {
        let reply = send(
            fx.guarded(),
            login_form(&format!("token=guess-{i:03}&next=%2F")),
        )
        .await;
        assert!(reply.header(header::SET_COOKIE).is_none());
        statuses.push(reply.status);
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(refused + wrong, 100, "{statuses:?}");
    // The burst, and one more per second spent.
    let allowed = 10 + started.elapsed().as_secs() as usize + 1;
    assert!(wrong <= allowed, "{wrong} wrong tokens looked at");
    assert!(refused >= 80, "only {refused} refused");
    // Refused attempts do not even look at the token: the right one waits
    // for the bucket too.
    let reply = send(fx.guarded(), login_form(&format!("token={TOKEN}&next=%2F"))).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header(header::RETRY_AFTER), Some("1"));
}

#[tokio::test]
async fn next_never_leads_to_another_site() {
    let fx = Fixture::sample();
    for next in [
        "%2F%2Fevil.example",
        "%2F%2Fevil.example%2Fpath",
        "https%3A%2F%2Fevil.example",
        "https://evil.example",
        "%2F%5Cevil.example",
        "%2F%09%2Fevil.example",
        "evil.example",
        "javascript%3Aalert(1)",
        "",
    ] {
        let reply = send(
            fx.guarded(),
            login_form(&format!("token={TOKEN}&next={next}")),
        )
        .await;
        assert_eq!(reply.location(), "/", "{next}");
    }
}

#[tokio::test]
async fn the_bearer_token_still_opens_everything() {
    let fx = Fixture::sample();
    let bearer = format!("Bearer {TOKEN}");
    for uri in ["/", "/failures", "/api/failures", "/metrics"] {
        let reply = send(fx.guarded(), get_with(uri, header::AUTHORIZATION, &bearer)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert!(reply.header(header::SET_COOKIE).is_none(), "{uri}");
    }
}

#[tokio::test]
async fn without_a_token_there_is_nothing_to_sign_in_to() {
    let fx = Fixture::sample();
    let reply = send(fx.app(), get("/login?next=%2Ffailures")).await;
    assert_eq!(reply.location(), "/");
    let reply = send(fx.app(), login_form("token=anything&next=%2Ffailures")).await;
    assert_eq!(reply.location(), "/");
    assert!(reply.header(header::SET_COOKIE).is_none());
    let reply = send(fx.app(), get("/")).await;
    reply.assert_page(StatusCode::OK, "/");
    assert!(!reply.text().contains("Sign out"), "no token, no sign-out");
}

#[tokio::test]
async fn a_sign_in_that_is_not_a_form_is_a_400_page() {
    let fx = Fixture::sample();
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(r#"{{"token":"{TOKEN}"}}"#)))
        .expect("request");
    let reply = send(fx.guarded(), request).await;
    reply.assert_page(StatusCode::BAD_REQUEST, "JSON sign-in");
    assert!(reply.header(header::SET_COOKIE).is_none());
}
