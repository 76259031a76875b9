//! The plain-hyper baseline for the live token service (target 4 of issue 13): the smallest
//! server that answers what the daemon's `-live` URL answers, a static JSON token reply of the
//! same shape and size, with the same runtime shape (tokio, two workers, hyper http1). It runs as
//! its own process (`lakepass-bench serve-baseline PORT`) so it can be pinned to the same core
//! as the daemon with `taskset`, while wrk gets the other core: then the ratio of the two p99s
//! measures the daemon's own work, not the scheduler.

use std::convert::Infallible;

use anyhow::Context as _;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A reply the size of a real one: an 850-character token, `Bearer`, an expiry.
fn reply() -> String {
    let token = "x".repeat(850);
    format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_on":4102444800}}"#)
}

/// Serves the static reply on `127.0.0.1:port` until killed.
pub async fn serve(port: u16) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let body: &'static str = Box::leak(reply().into_boxed_str());
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_req: Request<Incoming>| async move {
                Ok::<_, Infallible>(
                    Response::builder()
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .expect("static response"),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
