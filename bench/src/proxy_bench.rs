//! The agents' proxy's added latency (issue 25, item 7), in one run against an in-process
//! devstack: the same small Gemini request sent directly to the workspace (with the token) and
//! through the proxy (with none), interleaved; p50 and p99 of each, the time to the first SSE
//! byte, and 50 streams at once. Targets: ≤ 1 ms added at p99 on loopback, first byte ≤ 1.05×
//! direct. Run with `bash bench/proxy.sh` (one release build); it prints a table and never
//! fails on a missed target (performance targets live here, not in timed tests).

#[allow(dead_code)]
#[path = "setup.rs"]
mod setup;

use std::time::Instant;

use lakepass_devstack::DevstackOptions;
use lakepass_engine::engine::EngineOptions;
use lakepass_engine::proxy::Proxy;
use serde_json::json;

const MODEL: &str = "databricks-gemini-2-5-pro";
const SMALL: usize = 2000;
const SSE: usize = 500;
const STREAMS: usize = 50;

fn pct(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some("ada@example.com".into()),
        ..DevstackOptions::default()
    })
    .await?;
    let info = ds.info().clone();
    let home = setup::Home::new(tmp.path(), "proxy")?;
    home.write_config(&setup::config_text(&info, &[&info.workspaces[0]], setup::free_port()))?;
    home.login().await?;
    let engine = home.engine(EngineOptions::default()).await?;
    let ws = engine.workspaces()[0].clone();
    let token = engine.live_token(&ws).await?.access_token;
    // The proxy stops when dropped: it lives as long as the run.
    let proxy = Proxy::new(engine.clone());
    let grant = proxy.grant(&ws).await?;
    let path = |method: &str| format!("/ai-gateway/gemini/v1beta/models/{MODEL}:{method}");
    let direct = |method: &str| format!("{}{}", ws.host.as_str(), path(method));
    let proxied = |method: &str| grant.url(&path(method)).secret().to_string();
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(64).build()?;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "say pong"}]}]});
    let send = |url: String, bearer: bool| {
        let mut req = client.post(url).json(&body);
        if bearer {
            req = req.bearer_auth(token.secret());
        }
        req
    };

    // Warm both paths (connections, the engine's held token).
    for _ in 0..50 {
        send(direct("generateContent"), true).send().await?.bytes().await?;
        send(proxied("generateContent"), false).send().await?.bytes().await?;
    }

    // 1. A small request, interleaved.
    let (mut d, mut p) = (Vec::with_capacity(SMALL), Vec::with_capacity(SMALL));
    for _ in 0..SMALL {
        let t = Instant::now();
        let r = send(direct("generateContent"), true).send().await?;
        anyhow::ensure!(r.status().is_success(), "direct: {}", r.status());
        r.bytes().await?;
        d.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let r = send(proxied("generateContent"), false).send().await?;
        anyhow::ensure!(r.status().is_success(), "proxy: {}", r.status());
        r.bytes().await?;
        p.push(t.elapsed().as_secs_f64() * 1e3);
    }

    // 2. Time to the first SSE byte, interleaved.
    let sse = |proxy: bool| {
        if proxy {
            format!("{}?alt=sse", proxied("streamGenerateContent"))
        } else {
            format!("{}?alt=sse", direct("streamGenerateContent"))
        }
    };
    let (mut fd, mut fp) = (Vec::with_capacity(SSE), Vec::with_capacity(SSE));
    for _ in 0..SSE {
        for proxy in [false, true] {
            let t = Instant::now();
            let mut r = send(sse(proxy), !proxy).send().await?;
            r.chunk().await?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            while r.chunk().await?.is_some() {}
            if proxy { fp.push(ms) } else { fd.push(ms) }
        }
    }

    // 3. 50 streams at once: all first events while the devstack holds the rest, then the ends.
    let mut concurrent = Vec::new();
    for proxy in [false, true] {
        ds.hold_streams(true);
        let t = Instant::now();
        let mut open = Vec::new();
        for _ in 0..STREAMS {
            let req = send(sse(proxy), !proxy);
            open.push(tokio::spawn(async move {
                let mut r = req.send().await?;
                r.chunk().await?;
                Ok::<_, reqwest::Error>(r)
            }));
        }
        let mut streams = Vec::new();
        for h in open {
            streams.push(h.await??);
        }
        let first_all = t.elapsed().as_secs_f64() * 1e3;
        ds.hold_streams(false);
        let mut ended = 0;
        for mut r in streams {
            while r.chunk().await?.is_some() {}
            ended += 1;
        }
        anyhow::ensure!(ended == STREAMS, "{ended} of {STREAMS} streams ended");
        concurrent.push(first_all);
    }

    let (d50, d99, p50, p99) = (pct(&mut d, 0.5), pct(&mut d, 0.99), pct(&mut p, 0.5), pct(&mut p, 0.99));
    let (fd50, fp50) = (pct(&mut fd, 0.5), pct(&mut fp, 0.5));
    println!("| measure | direct | through the proxy | proxy / direct | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| small request p50 ({SMALL}) | {d50:.3} ms | {p50:.3} ms | {:.2}× (+{:.3} ms) | |",
        p50 / d50,
        p50 - d50
    );
    let met = if p99 - d99 <= 1.0 { "met" } else { "MISSED" };
    println!(
        "| small request p99 | {d99:.3} ms | {p99:.3} ms | {:.2}× (+{:.3} ms) | ≤ +1 ms: {met} |",
        p99 / d99,
        p99 - d99
    );
    let met = if fp50 <= fd50 * 1.05 { "met" } else { "MISSED" };
    println!(
        "| first SSE byte p50 ({SSE}) | {fd50:.3} ms | {fp50:.3} ms | {:.2}× | ≤ 1.05×: {met} |",
        fp50 / fd50
    );
    println!(
        "| {STREAMS} streams at once, all first events | {:.1} ms | {:.1} ms | {:.2}× | all {STREAMS} ended |",
        concurrent[0],
        concurrent[1],
        concurrent[1] / concurrent[0]
    );
    ds.shutdown().await;
    Ok(())
}
