//! Only the user who started the devstack may drive it: its `/_devstack` control endpoints
//! (faults, revocation, key rotation, federation policies) and its auto-approving `/authorize`,
//! which signs anyone in as the configured user without a page.
//!
//! The devstack listens on loopback, which every local user can reach; its ports are in its
//! printed config and in `ss`. So each of those requests is checked to come from a socket of
//! the devstack's own user (the same check as Lakepass's sign-in listener,
//! [`lakepass_wire::peer`]); another user gets a 403. On a platform where the check is not
//! available the devstack serves as before.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lakepass_wire::peer::{self, Peer};

use crate::errors::html_error;

/// The two ends of the connection a request came on, put on every request by `server`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnAddrs {
    /// The listener's address.
    pub(crate) local: SocketAddr,
    /// The client's address.
    pub(crate) peer: SocketAddr,
}

/// Whether the request came from the devstack's own user (or the platform cannot tell).
/// A request that did not come through `server` (no addresses) is refused.
pub(crate) async fn from_this_user(addrs: Option<&ConnAddrs>) -> bool {
    let Some(&ConnAddrs { local, peer }) = addrs else { return false };
    let owner =
        tokio::task::spawn_blocking(move || peer::tcp_peer(local, peer)).await.unwrap_or(Peer::Unknown);
    if owner.is_refused() {
        tracing::warn!(?owner, "devstack: refused a request from another local user");
    }
    !owner.is_refused()
}

const REFUSED: &str = "only the user who started this devstack may use this endpoint";

/// The refusal another user's sign-in gets (an HTML page, as the browser sees it).
pub(crate) fn refusal_page() -> Response {
    html_error(StatusCode::FORBIDDEN, REFUSED)
}

/// Middleware for the control endpoints: another user's request gets a 403.
pub(crate) async fn only_this_user(req: Request, next: Next) -> Response {
    if from_this_user(req.extensions().get::<ConnAddrs>()).await {
        next.run(req).await
    } else {
        (StatusCode::FORBIDDEN, REFUSED).into_response()
    }
}
