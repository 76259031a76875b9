//! The accept loop: HTTP/1.1 over hyper with our axum routers, over TLS with `--tls`.
//!
//! A hand-rolled loop instead of `axum::serve` for two reasons: a dropped-connection fault must
//! be able to close a connection without a response (a service error makes hyper do exactly
//! that), and shutdown must be immediate and total (aborting the loop task drops its `JoinSet`,
//! which aborts every connection, keep-alive ones included).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::faults::DropConnection;
use crate::owner::ConnAddrs;

/// Binds a loopback listener.
pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| format!("binding the devstack to {addr}"))
}

/// The error that makes hyper abort a connection.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by a devstack fault")]
struct Dropped;

/// Open-connection and in-flight-request counters across every listener of one devstack, so a
/// benchmark can report how many connections a client really held open at once.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    open: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicU64,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

/// A snapshot of [`Connections`] (see [`crate::Devstack::connections`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: usize,
    /// Most connections open at once since the start (or the last reset).
    pub peak_open: usize,
    /// Connections accepted in all.
    pub accepted: u64,
    /// Most requests being served at once since the start (or the last reset).
    pub peak_in_flight: usize,
}

impl Connections {
    pub(crate) fn snapshot(&self) -> ConnectionStats {
        ConnectionStats {
            open: self.open.load(Ordering::SeqCst),
            peak_open: self.peak.load(Ordering::SeqCst),
            accepted: self.accepted.load(Ordering::SeqCst),
            peak_in_flight: self.peak_in_flight.load(Ordering::SeqCst),
        }
    }

    /// Starts the peaks again from what is open now.
    pub(crate) fn reset_peaks(&self) {
        self.peak.store(self.open.load(Ordering::SeqCst), Ordering::SeqCst);
        self.peak_in_flight.store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    fn opened(self: &Arc<Self>) -> Guard {
        let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.accepted.fetch_add(1, Ordering::SeqCst);
        Guard { counters: self.clone(), request: false }
    }

    fn request(self: &Arc<Self>) -> Guard {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        Guard { counters: self.clone(), request: true }
    }
}

/// Decrements its counter when dropped (a connection closed, a request answered or aborted).
struct Guard {
    counters: Arc<Connections>,
    request: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let c = if self.request { &self.counters.in_flight } else { &self.counters.open };
        c.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is set) until the returned task is aborted.
pub(crate) fn spawn(
    listener: TcpListener,
    router: Router,
    conns: Arc<Connections>,
    tls: Option<TlsAcceptor>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let local = listener.local_addr();
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
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
            let conns = conns.clone();
            let tls = tls.clone();
            connections.spawn(async move {
                let _open = conns.opened();
                // Who connected, for the endpoints only the devstack's own user may use.
                let addrs = local.ok().map(|local| ConnAddrs { local, peer });
                let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    if let Some(addrs) = addrs {
                        req.extensions_mut().insert(addrs);
                    }
                    let router = router.clone();
                    let in_flight = conns.request();
                    async move {
                        let _in_flight = in_flight;
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
                let http = hyper::server::conn::http1::Builder::new();
                let served = match tls {
                    None => http.serve_connection(TokioIo::new(stream), service).await,
                    Some(tls) => match tls.accept(stream).await {
                        Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
                        Err(err) => {
                            // A client that does not trust the CA hangs up here.
                            tracing::debug!(%err, "devstack TLS handshake failed");
                            return;
                        }
                    },
                };
                if let Err(err) = served {
                    tracing::debug!(%err, "devstack connection ended");
                }
            });
        }
    })
}
