//! The accept loop: HTTP/1.1 over hyper with our axum routers.
//!
//! A hand-rolled loop instead of `axum::serve` for two reasons: a dropped-connection fault must
//! be able to close a connection without a response (a service error makes hyper do exactly
//! that), and shutdown must be immediate and total (aborting the loop task drops its `JoinSet`,
//! which aborts every connection, keep-alive ones included).

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt as _;

use crate::faults::DropConnection;

/// Binds a loopback listener.
pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the devstack to {addr}"))
}

/// The error that makes hyper abort a connection.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by a devstack fault")]
struct Dropped;

/// Serves `router` on `listener` until the returned task is aborted.
pub(crate) fn spawn(listener: TcpListener, router: Router) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::warn!(%err, "devstack accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                // Reap finished connections so the set does not grow forever.
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let router = router.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let router = router.clone();
                    async move {
                        let resp: Response<Body> = match router.oneshot(req.map(Body::new)).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        };
                        if resp.extensions().get::<DropConnection>().is_some() {
                            return Err(Dropped);
                        }
                        Ok::<_, Dropped>(resp)
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(err) = conn.await {
                    tracing::debug!(%err, "devstack connection ended");
                }
            });
        }
    })
}
