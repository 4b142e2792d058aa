//! The HTTP side: the JSON API and the Prometheus metrics over a database,
//! as one axum [`Router`] (see docs/DESIGN.md, "Contract").
//!
//! The web side only reads. Every query runs on tokio's blocking pool with a
//! read-only connection taken from a small pool ([`AppState`]); a connection
//! is never shared by two queries at once and no lock is held across an
//! `.await`. Every response carries a strict Content-Security-Policy and
//! `X-Content-Type-Options: nosniff`, and every body is serialized (JSON by
//! serde, metrics by the exposition format's escaping), never assembled from
//! log text. When a token is set, every route but `/healthz`, the sign-in
//! and the stylesheet asks for it, as `Authorization: Bearer <token>` or as
//! the session cookie a browser gets by signing in (`auth.rs`, `login.rs`);
//! [`listen_addrs`] refuses a non-loopback address without one.
//!
//! Paths are of two kinds ([`is_machine_path`]): those of machines (`/api`,
//! `/metrics`, `/healthz`), whose errors are JSON, and the pages, whose
//! errors (an unknown path, a wrong method) are HTML pages that never echo
//! the path asked for.

pub mod api;
mod auth;
pub mod error;
pub mod events;
pub mod health;
pub mod healthz;
pub mod hub;
pub mod listener;
mod login;
pub mod metrics;
pub mod pages;
mod session;
mod state;
mod throttle;

use std::net::{SocketAddr, ToSocketAddrs};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use error::WebError;
use error::is_machine_path;
pub use session::SESSION_COOKIE;
pub use state::AppState;

/// The routes of the JSON API, the metrics and the health check, with the
/// token check and the security headers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz::healthz))
        .route("/api/failures", get(api::failures))
        .route("/api/failures/{id}", get(api::failure))
        .route("/api/requests/{request_id}", get(api::request))
        .route("/api/stats", get(api::stats))
        .route("/api/incidents", get(pages::api_incidents))
        .route("/api/events", get(events::events))
        .route("/api/incidents/{id}", get(pages::api_incident))
        .route("/incidents", get(pages::incidents))
        .route("/incidents/{id}", get(pages::incident))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(pages::overview))
        .route("/failures", get(pages::failures))
        .route("/failures/{id}", get(pages::failure))
        .route("/requests", get(pages::request_search))
        .route("/requests/{request_id}", get(pages::request))
        .route("/sources", get(pages::sources))
        .route("/static/style.css", get(pages::style))
        .route("/static/live.js", get(pages::live_js))
        .route("/login", get(login::page).post(login::sign_in))
        .route("/logout", post(login::sign_out))
        .merge(crate::fleet::http::routes(state.fleet.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Layers run outside in: the headers are set on every answer,
        // including a 401 or a redirect of the token check.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn(security_headers))
        // Outermost: HTML pages get their own policy (their stylesheet).
        .layer(middleware::from_fn(pages::page_csp))
        .with_state(state)
}

/// Any other path: a JSON 404 for a program, an HTML page for a browser.
/// The page does not repeat the path (it is the visitor's input).
async fn not_found(uri: Uri) -> Response {
    if is_machine_path(uri.path()) {
        api::not_found().await.into_response()
    } else {
        pages::PageError::from(WebError::NotFound("no such page".into())).into_response()
    }
}

/// A known path with another method: JSON or HTML as for [`not_found`].
async fn method_not_allowed(uri: Uri) -> Response {
    if is_machine_path(uri.path()) {
        api::method_not_allowed().await.into_response()
    } else {
        pages::PageError::from(WebError::MethodNotAllowed).into_response()
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Why a `--listen` address cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address does not parse or resolve.
    #[error("bad --listen address {0:?}: {1}")]
    Resolve(String, std::io::Error),
    /// The address resolves to nothing.
    #[error("--listen {0:?} resolves to no address")]
    Empty(String),
    /// The address is reachable from other hosts, and no token protects it.
    #[error(
        "--listen {0} is not a loopback address: set a token (--token or GRANTWATCH_TOKEN) to serve beyond this host"
    )]
    NotLoopback(SocketAddr),
    /// The address is reachable from other hosts, and the token is short
    /// enough to guess.
    #[error(
        "--listen {0} is not a loopback address: the token must be at least {MIN_PUBLIC_TOKEN} characters (use a long random one)"
    )]
    ShortToken(SocketAddr),
}

/// The shortest token accepted on an address reachable from other hosts.
pub const MIN_PUBLIC_TOKEN: usize = 16;

/// The addresses of `listen` (`HOST:PORT`), refused when one of them is not
/// loopback and no token, or one shorter than [`MIN_PUBLIC_TOKEN`]
/// characters, was given.
pub fn listen_addrs(listen: &str, token: Option<&str>) -> Result<Vec<SocketAddr>, ListenError> {
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|e| ListenError::Resolve(listen.to_owned(), e))?
        .collect();
    if addrs.is_empty() {
        return Err(ListenError::Empty(listen.to_owned()));
    }
    if let Some(open) = addrs.iter().find(|a| !a.ip().to_canonical().is_loopback()) {
        match token {
            None => return Err(ListenError::NotLoopback(*open)),
            Some(t) if t.chars().count() < MIN_PUBLIC_TOKEN => {
                return Err(ListenError::ShortToken(*open));
            }
            Some(_) => {}
        }
    }
    Ok(addrs)
}

/// Serves `state` on `listener` until SIGINT or SIGTERM, then lets the
/// requests in flight finish.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_until(listener, state, shutdown_signal()).await
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish; connections bounded by the default
/// [`listener::Limits`].
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_bounded(listener, state, shutdown, listener::Limits::default()).await
}

/// [`serve_until`] with connections bounded by `limits`: past
/// `limits.served` a connection is answered 503 without reaching the
/// router, past both it waits in the kernel's backlog ([`listener`]).
pub async fn serve_bounded(
    tcp: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    limits: listener::Limits,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    // The peer's address is what the sign-in throttle counts by. axum gives
    // a listener's address as `ConnectInfo` to its own listeners and to
    // `tap_io` ones: the no-op tap makes the bounded listener one.
    let bounded = listener::Bounded::new(tcp, limits).tap_io(|_| ());
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(bounded, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("grantwatch: cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                eprintln!("grantwatch: cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_allowed_without_a_token() {
        assert!(listen_addrs("127.0.0.1:7600", None).is_ok());
        assert!(listen_addrs("[::1]:7600", None).is_ok());
        assert!(listen_addrs("[::ffff:127.0.0.1]:7600", None).is_ok());
        assert!(listen_addrs("127.0.0.1:7600", Some("x")).is_ok());
    }

    #[test]
    fn other_addresses_need_a_token_of_sixteen_characters() {
        for addr in ["0.0.0.0:7600", "[::]:7600", "192.0.2.1:80"] {
            assert!(
                matches!(listen_addrs(addr, None), Err(ListenError::NotLoopback(_))),
                "{addr}"
            );
            assert!(
                matches!(
                    listen_addrs(addr, Some("x")),
                    Err(ListenError::ShortToken(_))
                ),
                "{addr}"
            );
            assert!(
                matches!(
                    listen_addrs(addr, Some("fifteen-chars-x")),
                    Err(ListenError::ShortToken(_))
                ),
                "{addr}"
            );
            assert!(
                listen_addrs(addr, Some("sixteen-chars-xy")).is_ok(),
                "{addr}"
            );
        }
    }

    #[test]
    fn a_malformed_address_is_an_error() {
        assert!(matches!(
            listen_addrs("no port here", None),
            Err(ListenError::Resolve(..))
        ));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let state = AppState::new("g.db").with_token("s3cret");
        let text = format!("{state:?}");
        assert!(!text.contains("s3cret"), "{text}");
    }
}
