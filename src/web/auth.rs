//! Who may read: the token check of every request (the token and the
//! browser sessions that stand in for it once signed in are in
//! `session.rs`; the sign-in and sign-out pages that set and clear a
//! session are in `login.rs`).
//!
//! When a token is set, a request passes with `Authorization: Bearer
//! <token>` or with the session cookie
//! [`SESSION_COOKIE`](super::SESSION_COOKIE); `/healthz`,
//! `/login`, `/logout` and `/static/style.css` pass without either. Without
//! them a program's path (`/api`, `/metrics`) answers today's JSON 401 asking
//! for a bearer token, and a page answers 303 to `/login?next=<the page>`.
//! A `next` target is only ever a path of this origin ([`local_path`]),
//! never another site.

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{WebError, is_machine_path};
use super::state::AppState;

/// The `Set-Cookie` value that removes the session.
pub(super) const CLEARED_COOKIE: &str =
    "grantwatch_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0";

/// The paths a visitor reaches without the token: the health check, the
/// sign-in and sign-out, and the stylesheet of the sign-in page.
const PUBLIC_PATHS: [&str; 5] = [
    "/healthz",
    "/login",
    "/logout",
    "/static/style.css",
    "/static/live.js",
];

tokio::task_local! {
    /// Whether the request being answered passed the token check with a
    /// token set: the page header then shows "Sign out". A task-local
    /// rather than a field of every page, so that the error pages (rendered
    /// without the state) show it too.
    static SIGNED_IN: bool;
}

/// Whether the page being rendered is for a signed-in visitor (read by
/// `templates/base.html`; false outside a request).
pub(crate) fn signed_in() -> bool {
    SIGNED_IN.try_with(|s| *s).unwrap_or(false)
}

/// `next` when it is a path of this origin, else `/`: it starts with one
/// `/` (`//host` is another site), and holds only visible ASCII without a
/// backslash (browsers read `\` as `/` and drop tabs and line feeds, so
/// `/\host` or `/<TAB>/host` would be another site too).
pub(super) fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if local { next } else { "/" }
}

/// A 303 See Other to `location` (a local path or a percent-encoded one:
/// always a valid header value, else a 500 rather than a panic).
pub(super) fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The sign-in page, coming back to `uri` afterwards.
fn to_login(uri: &Uri) -> Response {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    see_other(&format!("/login?next={}", super::pages::encode(target)))
}

/// The token check (a middleware of every route).
pub(super) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let signed_in = token.allows(request.headers());
    let path = request.uri().path();
    if signed_in || PUBLIC_PATHS.contains(&path) {
        SIGNED_IN.scope(signed_in, next.run(request)).await
    } else if is_machine_path(path) {
        WebError::Unauthorized.into_response()
    } else {
        to_login(request.uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_or_the_overview() {
        for local in [
            "/",
            "/failures",
            "/failures?cause=code_reused&page=2",
            "/a/b%2F/c",
        ] {
            assert_eq!(local_path(local), local);
        }
        for other in [
            "",
            "failures",
            "//evil.example",
            "//evil.example/path",
            "https://evil.example",
            "javascript:alert(1)",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/é",
        ] {
            assert_eq!(local_path(other), "/", "{other:?}");
        }
    }

    #[test]
    fn the_sign_in_redirect_keeps_the_page_and_its_query() {
        let uri: Uri = "/failures?cause=code_reused&page=2".parse().expect("uri");
        let response = to_login(&uri);
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[header::LOCATION],
            "/login?next=%2Ffailures%3Fcause%3Dcode_reused%26page%3D2"
        );
    }
}
