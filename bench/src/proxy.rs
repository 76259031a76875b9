//! Figure 7, the agents' proxy (issues 25 and 27): the same small Gemini request sent directly
//! to an in-process devstack workspace (with the token) and through the engine's proxy (with
//! none), interleaved; p50 and p99 of each, the time to the first SSE byte (against a workspace
//! answering at once, and one starting its answer after [`SLOW_MS`], as a model does), 50
//! streams at once, and the whole process's memory over rounds of 50 proxied streams.
//! Targets: ≤ 1 ms added at p99 on loopback, first byte ≤ 1.05× direct, memory flat.

use std::path::Path;
use std::time::Instant;

use lakepass_devstack::{DevstackOptions, FaultKind, FaultRule, Target};
use lakepass_engine::engine::EngineOptions;
use lakepass_engine::proxy::Proxy;
use serde_json::json;

use crate::report::{Row, ms};
use crate::setup;

const MODEL: &str = "databricks-gemini-2-5-pro";
/// Streams opened at once.
const STREAMS: usize = 50;
/// A model's first token takes hundreds of milliseconds; 20 ms is well under any of them.
const SLOW_MS: u64 = 20;

/// How many of each.
struct Counts {
    small: usize,
    sse: usize,
    sse_slow: usize,
    /// Rounds of [`STREAMS`] proxied streams whose memory is compared.
    rounds: usize,
}

/// This process's resident memory, KiB (`VmRSS` of /proc/self/status; Linux, as the bench).
fn rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))
}

fn pct(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs figure 7 with its own devstack and engine under `tmp`, adding its rows.
pub async fn run(tmp: &Path, quick: bool, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let n = if quick {
        Counts { small: 200, sse: 50, sse_slow: 10, rounds: 15 }
    } else {
        Counts { small: 2000, sse: 500, sse_slow: 100, rounds: 150 }
    };
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some("ada@example.com".into()),
        ..DevstackOptions::default()
    })
    .await?;
    let info = ds.info().clone();
    let home = setup::Home::new(tmp, "proxy")?;
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
    let sse = |proxy: bool| {
        let method = "streamGenerateContent";
        if proxy { format!("{}?alt=sse", proxied(method)) } else { format!("{}?alt=sse", direct(method)) }
    };
    // Time to the first SSE byte, direct and proxied interleaved, `count` of each, ms.
    let first_bytes = async |count: usize| -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
        let (mut d, mut p) = (Vec::with_capacity(count), Vec::with_capacity(count));
        for _ in 0..count {
            for proxy in [false, true] {
                let t = Instant::now();
                let mut r = send(sse(proxy), !proxy).send().await?;
                anyhow::ensure!(r.status().is_success(), "stream (proxy: {proxy}): {}", r.status());
                r.chunk().await?;
                let took = t.elapsed().as_secs_f64() * 1e3;
                while r.chunk().await?.is_some() {}
                if proxy { p.push(took) } else { d.push(took) }
            }
        }
        Ok((d, p))
    };

    // Warm both paths (connections, the engine's held token).
    for _ in 0..50 {
        send(direct("generateContent"), true).send().await?.bytes().await?;
        send(proxied("generateContent"), false).send().await?.bytes().await?;
    }

    // 1. A small request, interleaved.
    let (mut d, mut p) = (Vec::with_capacity(n.small), Vec::with_capacity(n.small));
    for _ in 0..n.small {
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

    // 2. The first SSE byte from a workspace answering at once, then from one that takes
    // SLOW_MS before it answers, as a model does before its first token: what an agent waits
    // for, and the proxy's share of it.
    let (mut fd, mut fp) = first_bytes(n.sse).await?;
    ds.faults().add(FaultRule::new(Target::WorkspaceApi, FaultKind::Latency(SLOW_MS)));
    let slow = first_bytes(n.sse_slow).await;
    ds.faults().clear();
    let (mut sd, mut sp) = slow?;

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

    // 4. Memory over rounds of 50 proxied streams: this process (proxy, devstack and client)
    // after each round.
    let mut rss = Vec::new();
    for _ in 0..n.rounds {
        let mut open = Vec::new();
        for _ in 0..STREAMS {
            let req = send(sse(true), false);
            open.push(tokio::spawn(async move {
                let mut r = req.send().await?;
                while r.chunk().await?.is_some() {}
                Ok::<_, reqwest::Error>(())
            }));
        }
        for h in open {
            h.await??;
        }
        rss.push(rss_kib()?);
    }
    ds.shutdown().await;

    let s = |m: f64| ms(m / 1e3);
    let (d50, d99, p50, p99) = (pct(&mut d, 0.5), pct(&mut d, 0.99), pct(&mut p, 0.5), pct(&mut p, 0.99));
    rows.push(Row {
        what: "7a agents' proxy, small request p99".into(),
        value: s(p99),
        baseline: format!("direct to the workspace {}", s(d99)),
        ratio: format!("+{:.3} ms ({:.2}×)", p99 - d99, p99 / d99),
        target: "≤ +1 ms at p99".into(),
        met: Some(p99 - d99 <= 1.0),
        note: format!(
            "{} small `generateContent` requests each way, interleaved on one keep-alive client, after 50 warm-ups; \
             p50 {} through the proxy against {} direct (+{:.3} ms). Through the proxy a request has no credential; \
             the proxy admits its key, takes the engine's live token and sends it on over its own pooled connection.",
            n.small,
            s(p50),
            s(d50),
            p50 - d50
        ),
    });
    let (fd50, fp50, sd50, sp50) =
        (pct(&mut fd, 0.5), pct(&mut fp, 0.5), pct(&mut sd, 0.5), pct(&mut sp, 0.5));
    rows.push(Row {
        what: "7b first SSE byte, the workspace answering at once".into(),
        value: s(fp50),
        baseline: format!("direct {}", s(fd50)),
        ratio: format!("{:.2}× (+{:.3} ms)", fp50 / fd50, fp50 - fd50),
        target: "≤ 1.05× direct".into(),
        met: Some(fp50 <= fd50 * 1.05),
        note: format!(
            "Median of {} `streamGenerateContent?alt=sse` requests each way, interleaved, to the first body chunk. \
             The devstack answers its first event at once, so the baseline is one loopback round trip and the ratio \
             is the proxy's own hop (its server, its client) against it.",
            n.sse
        ),
    });
    rows.push(Row {
        what: format!("7b first SSE byte, the workspace starting after {SLOW_MS} ms"),
        value: s(sp50),
        baseline: format!("direct {}", s(sd50)),
        ratio: format!("{:.3}× (+{:.3} ms)", sp50 / sd50, sp50 - sd50),
        target: "≤ 1.05× direct".into(),
        met: Some(sp50 <= sd50 * 1.05),
        note: format!(
            "As above, {} each way, with every workspace API request delayed {SLOW_MS} ms by the devstack's latency \
             fault before it answers: less than any model takes to its first token, so what an agent waits for.",
            n.sse_slow
        ),
    });
    let mb = |kib: u64| kib as f64 / 1024.0;
    let tail = n.rounds / 3;
    let (third, last) = (rss[n.rounds - 1 - tail], rss[n.rounds - 1]);
    rows.push(Row {
        what: format!("7c {STREAMS} streams at once through the proxy"),
        value: format!("all first events {}, memory {:+.2} MB over the last {tail} rounds", s(concurrent[1]), mb(last) - mb(third)),
        baseline: format!("direct {}", s(concurrent[0])),
        ratio: format!("{:.2}×", concurrent[1] / concurrent[0]),
        target: "all end; memory flat (last third within 0.25 MB)".into(),
        met: Some(last.abs_diff(third) <= 256),
        note: format!(
            "{STREAMS} SSE streams opened together while the devstack holds their second event, until all {STREAMS} \
             have their first; then released and read to the end, direct and proxied. Memory: the whole bench \
             process (proxy, devstack, client) after each of {} rounds of {STREAMS} proxied streams: {:.1} MB after \
             round 1, {:.1} MB after round {}, {:.1} MB after round {}; the allocator's pools grow over the first \
             rounds and then stop.",
            n.rounds,
            mb(rss[0]),
            mb(third),
            n.rounds - tail,
            mb(last),
            n.rounds
        ),
    });
    Ok(())
}
