//! Signing a browser in and out, for when a token is set: a browser cannot
//! send `Authorization: Bearer`, so `GET /login` asks for the token in a form,
//! `POST /login` checks it (constant time, by `session::Token`) and sets the
//! session cookie, and `POST /logout` clears it.
//!
//! Invariants: the cookie's value is a fresh random session, never the
//! token nor derived from it (`session.rs`); `POST /logout` ends that session
//! on the server; a wrong token answers 401 with the form again and "wrong
//! token", no detail and no cookie; the redirect after signing in only goes
//! to a path of this origin (`auth::local_path`), never to `next` as given.
//! Without a token there is nothing to sign in to: `/login` sends to the
//! overview.
//!
//! Guessing is throttled (`throttle.rs`): each client address has a bucket
//! of `LOGIN_BURST` attempts, refilled at `LOGIN_PER_SECOND` a second; an
//! attempt with the bucket empty answers 429 with `Retry-After`, without
//! looking at the token. A person mistyping is never slowed down; a
//! program trying a thousand tokens a second gets one or two through.
//!
//! CSRF: these two are the only routes that change anything (a cookie). The
//! cookie is `SameSite=Strict`, so another site's form never carries it, and
//! the page policy's `form-action 'self'` keeps the pages' forms posting
//! here; a forged sign-in would need the token anyway.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use askama::Template;
use axum::Extension;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::{CLEARED_COOKIE, local_path, see_other};
use super::error::WebError;
use super::pages::{PageError, html_with};
use super::state::AppState;

/// The query of `GET /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// The form of `POST /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    /// Where to go once signed in (a local path, HTML-escaped by askama).
    next: &'a str,
    message: Option<&'static str>,
}

/// `GET /login?next=`: the sign-in form; straight to `next` when already
/// signed in, to the overview when no token is set.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    let next = query.map(|Query(q)| q.next).unwrap_or_default();
    let next = local_path(&next);
    match &state.token {
        None => see_other("/"),
        Some(token) if token.allows(&headers) => see_other(next),
        Some(_) => html_with(
            StatusCode::OK,
            &LoginPage {
                next,
                message: None,
            },
        ),
    }
}

/// `POST /login` (`token`, `next`, form-encoded): 303 to `next` with the
/// session cookie, or 401 with the form again, or 429 when the client
/// tried too often.
pub async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Some(token) = &state.token else {
        return Ok(see_other("/"));
    };
    // Without a socket (the router driven in tests) all share one bucket.
    let client = peer.map_or(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        |Extension(ConnectInfo(a))| a.ip().to_canonical(),
    );
    if !state.login_throttle.allow(client, Instant::now()) {
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "too many sign-in attempts: wait a second\n",
        )
            .into_response());
    }
    let Form(form) =
        form.map_err(|e| WebError::BadRequest(format!("bad sign-in form: {}", e.body_text())))?;
    let next = local_path(&form.next);
    if !token.matches(form.token.trim()) {
        let page = LoginPage {
            next,
            message: Some("wrong token"),
        };
        return Ok(html_with(StatusCode::UNAUTHORIZED, &page));
    }
    let Some(cookie) = token.session_cookie() else {
        return Ok((
            StatusCode::INTERNAL_SERVER_ERROR,
            "no randomness for a session\n",
        )
            .into_response());
    };
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, next), (header::SET_COOKIE, &cookie)],
    )
        .into_response())
}

/// `POST /logout`: ends the session on the server, clears the cookie and
/// goes to the sign-in page. Reachable signed out too, so that a stale or
/// tampered cookie can be cleared.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.token {
        token.revoke(&headers);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login"),
            (header::SET_COOKIE, CLEARED_COOKIE),
        ],
    )
        .into_response()
}
