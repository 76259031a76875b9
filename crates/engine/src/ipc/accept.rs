//! One bounded accept loop for every server Lakepass runs on this machine: the engine socket,
//! the dashboard socket (both through [`LineServer`](super::LineServer)) and the live token
//! service on loopback TCP.
//!
//! The bound is taken before `accept`: past `max_clients` open connections a new client is not
//! accepted (it waits in the kernel's listen queue, and is refused by the kernel when that is
//! full) until one ends, so neither memory nor tasks grow with the number of clients. Each
//! server gets this and the other shared habits (a failing `accept` is logged and retried
//! after a pause, every connection ends with the loop) from one place, so they cannot drift.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// A listener that hands over its next client.
pub(crate) trait Accept: Send + 'static {
    /// A client's connection.
    type Stream: Send + 'static;
    /// The next client. An error is logged and retried; it does not end the loop.
    fn accept(&mut self) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl Accept for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<tokio::net::TcpStream> {
        tokio::net::TcpListener::accept(self).await.map(|(stream, _)| stream)
    }
}

/// Pause after a failed `accept` (out of file descriptors, say), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Accepts clients of `listener` until `stop` resolves, at most `max_clients` open at once, and
/// serves each on its own task with `serve`. When the loop ends (or its task is aborted) every
/// open connection ends too. `what` names the server in logs.
pub(crate) async fn accept_bounded<A, F, Fut>(
    mut listener: A,
    max_clients: usize,
    what: &'static str,
    stop: impl Future<Output = ()>,
    mut serve: F,
) where
    A: Accept,
    F: FnMut(A::Stream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(max_clients));
    // Dropping the set (when the loop ends) aborts every open connection.
    let mut clients = JoinSet::new();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            _ = &mut stop => return,
            Some(_) = clients.join_next(), if !clients.is_empty() => continue,
            p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
        };
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(%error, "{what}: accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        let client = serve(stream);
        clients.spawn(async move {
            let _permit = permit;
            client.await;
        });
    }
}
