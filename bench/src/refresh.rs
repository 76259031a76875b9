//! Refresh cost: one full refresh (IdP refresh_token grant + exchange) against the same two
//! requests made directly (target 2), and 100 workspaces on one IdP expiring together against
//! one (target 3).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use lakepass_devstack::{Devstack, FaultKind, FaultRule, Target};
use lakepass_engine::engine::{Engine, EngineOptions};
use lakepass_wire::Clock as _;
use lakepass_wire::SystemClock;

use crate::Opts;
use crate::report::{Row, hyperfine, ms};
use crate::setup::{Home, config_text, free_port, median, wait_until};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Makes the engine's IdP session stale (so the next exchange must refresh it first) and, with
/// `tokens`, every workspace token due, exactly as an hour of wall-clock time would.
pub async fn make_stale(engine: &Engine, tokens: bool) -> anyhow::Result<()> {
    let now = SystemClock.now();
    let store = engine.store();
    let owner = engine.session_owner("devstack")?;
    let mut s = store.idp_session(&owner).await?.found().context("signed in")?;
    s.session.id_token_exp = now - 1;
    store.save_idp_session(&s).await?;
    if tokens {
        for ws in engine.workspaces() {
            if let Some(mut t) = store.workspace_token(ws).await? {
                t.issued_at = now - 3601;
                t.expires_at = now - 1;
                store.save_workspace_token(ws, &t).await?;
            }
        }
    }
    Ok(())
}

/// `lakepass-bench make-stale <LAKEPASS_DATA_DIR> <config>`: hyperfine's `--prepare` step.
pub async fn make_stale_cmd(data_dir: &str, config: &str) -> anyhow::Result<()> {
    let home = Home {
        root: std::path::PathBuf::from(data_dir).parent().context("data dir has a parent")?.to_path_buf(),
        paths: lakepass_store::Paths {
            config: config.into(),
            data_dir: data_dir.into(),
            databrickscfg: std::path::PathBuf::from(data_dir).join("../home/.databrickscfg"),
        },
    };
    let engine = home.engine(EngineOptions::default()).await?;
    make_stale(&engine, false).await
}

struct Direct {
    client: reqwest::Client,
    token_endpoint: String,
    refresh_token: String,
    exchange_url: String,
}

impl Direct {
    /// The same two requests, nothing else: refresh grant, then exchange of the new id_token.
    async fn refresh(&mut self) -> anyhow::Result<()> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", &self.refresh_token),
            ("client_id", "lakepass-dev"),
        ];
        let r: serde_json::Value = self
            .client
            .post(&self.token_endpoint)
            .form(&form)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if let Some(rt) = r["refresh_token"].as_str() {
            self.refresh_token = rt.to_string();
        }
        let id = r["id_token"].as_str().context("id_token")?;
        let form = [
            ("grant_type", EXCHANGE),
            ("subject_token_type", JWT),
            ("subject_token", id),
            ("scope", "all-apis"),
        ];
        let x: serde_json::Value =
            self.client.post(&self.exchange_url).form(&form).send().await?.error_for_status()?.json().await?;
        anyhow::ensure!(x["access_token"].is_string(), "no access_token");
        Ok(())
    }
}

/// Target 2.
pub async fn one_refresh(o: &Opts, ds: &Devstack, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let info = ds.info();
    let dev = &info.workspaces[0];
    let home = Home::new(&o.tmp, "refresh-engine")?;
    home.write_config(&config_text(info, &[dev], free_port()))?;
    home.login().await?;
    let base_home = Home::new(&o.tmp, "refresh-direct")?;
    base_home.write_config(&config_text(info, &[dev], free_port()))?;
    base_home.login().await?;
    let session = base_home
        .engine(EngineOptions::default())
        .await?
        .stored_session("devstack")
        .await?
        .context("session")?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let disco: serde_json::Value =
        client.get(format!("{}/.well-known/openid-configuration", info.issuer)).send().await?.json().await?;
    let mut direct = Direct {
        client,
        token_endpoint: disco["token_endpoint"].as_str().context("token_endpoint")?.to_string(),
        refresh_token: session.refresh_token.as_ref().context("refresh token")?.secret().to_string(),
        exchange_url: format!("{}/oidc/v1/token", dev.host),
    };

    let engine = home.engine(EngineOptions::default()).await?;
    let ws = engine.workspace_named("dev").context("dev")?.clone();
    for latency in [0u64, 50] {
        let n = if o.quick {
            10
        } else if latency == 0 {
            40
        } else {
            15
        };
        if latency > 0 {
            ds.faults().add(FaultRule::new(Target::Any, FaultKind::Latency(latency)));
        }
        let row = refresh_pair(ds, &engine, &ws, &mut direct, n, latency).await;
        ds.faults().clear();
        rows.push(row?);
    }
    drop(engine);
    cli_vs_curl(o, &home, &mut direct, rows).await
}

async fn refresh_pair(
    ds: &Devstack,
    engine: &Engine,
    ws: &lakepass_config::Workspace,
    direct: &mut Direct,
    n: usize,
    latency: u64,
) -> anyhow::Result<Row> {
    let (mut e_times, mut d_times) = (Vec::new(), Vec::new());
    let mut requests_per_refresh = None;
    for i in 0..n + 3 {
        make_stale(engine, false).await?;
        let before = ds.stats();
        let t = Instant::now();
        engine.refresh_workspace(ws, true).await?;
        let e = t.elapsed().as_secs_f64();
        let after = ds.stats();
        requests_per_refresh.get_or_insert((
            after.idp.refresh_grants - before.idp.refresh_grants,
            after.workspaces["dev"].exchanges_ok - before.workspaces["dev"].exchanges_ok,
        ));
        let t = Instant::now();
        direct.refresh().await?;
        let d = t.elapsed().as_secs_f64();
        if i >= 3 {
            e_times.push(e);
            d_times.push(d);
        }
    }
    let (e, d) = (median(&e_times), median(&d_times));
    let (grants, exchanges) = requests_per_refresh.unwrap_or_default();
    let lat = if latency == 0 { String::new() } else { format!(", +{latency} ms/request") };
    Ok(Row {
        what: format!("2a one full refresh, in-process{lat}"),
        value: ms(e),
        baseline: format!("reqwest pair {}", ms(d)),
        ratio: format!("{:.2}×", e / d),
        // The issue sets the target with a network's latency; on bare loopback the figure
        // weighs the local work (fsyncs, locks, the id_token check) against two ~1 ms requests.
        target: if latency == 0 { "reported (the target is with +50 ms)".into() } else { "≤ 1.1×".into() },
        met: (latency != 0).then_some(e / d <= 1.1),
        note: format!(
            "`Engine::refresh_workspace(dev, force)` with the IdP session made stale first, {n} runs after 3 warm-ups, \
             alternating with the baseline: one warm reqwest client doing only the refresh_token grant and the exchange, \
             parsing both JSON bodies. Lakepass also verifies the new id_token (signature, against the kept JWKS), takes the IdP and \
             workspace file locks, writes the vault (fsync) twice, `~/.databrickscfg` (fsync) and the audit log. Devstack \
             counted {grants} refresh grant(s) and {exchanges} exchange(s) per Lakepass refresh.{}",
            if latency > 0 {
                format!(
                    " Every devstack request (JWKS included, discovery is cached in the engine) delayed {latency} ms, as a real network would: Lakepass makes 2 round trips (refresh, exchange: the JWKS is kept and fetched again only for an unknown kid), the baseline 2."
                )
            } else {
                String::new()
            }
        ),
    })
}

async fn cli_vs_curl(o: &Opts, home: &Home, direct: &mut Direct, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    // The CLI against curl: whole processes, each run cold (new connections, discovery).
    let rt = &direct.refresh_token;
    let forms = o.tmp.join("forms");
    std::fs::create_dir_all(&forms)?;
    std::fs::write(
        forms.join("refresh"),
        format!("grant_type=refresh_token&refresh_token={rt}&client_id=lakepass-dev"),
    )?;
    let r: serde_json::Value = direct
        .client
        .post(&direct.token_endpoint)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", "lakepass-dev"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let id = r["id_token"].as_str().context("id_token")?;
    std::fs::write(
        forms.join("exchange"),
        format!(
            "grant_type={}&subject_token_type={}&subject_token={id}&scope=all-apis",
            urlenc(EXCHANGE),
            urlenc(JWT)
        ),
    )?;
    let curl = format!(
        "curl -sf -o /dev/null --data-binary @{} {} --next -sf -o /dev/null --data-binary @{} {}",
        forms.join("refresh").display(),
        direct.token_endpoint,
        forms.join("exchange").display(),
        direct.exchange_url
    );
    let lp = format!("{} refresh -w dev", o.lakepass.display());
    let prepare = format!(
        "{} make-stale {} {}",
        o.self_exe.display(),
        home.paths.data_dir.display(),
        home.paths.config.display()
    );
    let runs = if o.quick { 15 } else { 30 };
    let t = hyperfine_prepared(o, home, &prepare, runs, &[lp, curl])?;
    let (l, c) = (t[0].median, t[1].median);
    rows.push(Row {
        what: "2b `lakepass refresh -w dev`, whole process".into(),
        value: ms(l),
        baseline: format!("one curl process, same 2 requests {}", ms(c)),
        ratio: format!("{:.2}×", l / c),
        target: "≤ 1.2× curl".into(),
        met: Some(l / c <= 1.2),
        note: "hyperfine -N with `--prepare` making the IdP session stale before every run (both commands), so each \
               Lakepass run does exactly one IdP refresh and one exchange. The curl baseline sends the same two requests \
               in one process (`--next`) with a fixed subject token; Lakepass also starts its runtime, reads config and \
               vault, fetches discovery and JWKS (3 extra connections' worth of work in a cold process) and writes files; \
               2a compares the same refresh without the process start."
            .into(),
    });
    Ok(())
}

fn hyperfine_prepared(
    o: &Opts,
    home: &Home,
    prepare: &str,
    runs: u32,
    cmds: &[String],
) -> anyhow::Result<Vec<crate::report::Timed>> {
    // hyperfine's --prepare runs through a shell even with -N; it is not timed.
    let mut all = vec!["--prepare".to_string(), prepare.to_string()];
    all.extend(cmds.iter().cloned());
    hyperfine(home, &o.out_dir, "refresh-cli", 2, runs, &all)
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Target 3: `n` workspaces of one IdP, all due at once, refreshed by one engine pass, against
/// one workspace, with `latency_ms` added to every IdP and workspace token request.
pub async fn many(
    o: &Opts,
    ds: &Devstack,
    n: usize,
    latency_ms: u64,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let info = ds.info();
    let extra: Vec<_> = info.workspaces.iter().filter(|w| w.name.starts_with("ws")).take(n).collect();
    anyhow::ensure!(extra.len() == n, "the devstack has {} extra workspaces, not {n}", extra.len());
    let one = Home::new(&o.tmp, "many-1")?;
    one.write_config(&config_text(info, &extra[..1], free_port()))?;
    one.login().await?;
    let all = Home::new(&o.tmp, &format!("many-{n}"))?;
    all.write_config(&config_text(info, &extra, free_port()))?;
    all.login().await?;

    let faults = ds.faults();
    faults.add(FaultRule::new(Target::IdpToken, FaultKind::Latency(latency_ms)));
    faults.add(FaultRule::new(Target::WorkspaceToken, FaultKind::Latency(latency_ms)));
    let reps = if o.quick { 3 } else { 7 };
    let concurrency = std::env::var("LAKEPASS_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(EngineOptions::default().concurrency);
    let (mut t1, mut tn) = (Vec::new(), Vec::new());
    let (mut peak_open, mut peak_flight, mut grants_n, mut exchanges_n) = (0, 0, Vec::new(), Vec::new());
    for rep in 0..reps + 1 {
        for (home, count) in [(&one, 1usize), (&all, n)] {
            let r = one_pass(ds, home, concurrency).await?;
            if rep == 0 {
                continue; // warm-up: page cache, devstack JWKS cache
            }
            if count == 1 {
                t1.push(r.secs);
            } else {
                tn.push(r.secs);
                peak_open = peak_open.max(r.peak_open);
                peak_flight = peak_flight.max(r.peak_in_flight);
                grants_n.push(r.grants);
                exchanges_n.push(r.exchanges);
            }
            anyhow::ensure!(
                r.exchanges == count as u64,
                "expected {count} exchanges, the devstack counted {}",
                r.exchanges
            );
        }
    }
    faults.clear();
    let (a, b) = (median(&t1), median(&tn));
    let shared = grants_n.iter().all(|g| *g == 1);
    rows.push(Row {
        what: format!("3 {n} workspaces expiring together, +{latency_ms} ms/request"),
        value: ms(b),
        baseline: format!("1 workspace {}", ms(a)),
        ratio: format!("{:.2}×", b / a),
        target: "≤ 1.5×, bounded, one IdP refresh".into(),
        met: Some(b / a <= 1.5 && shared),
        note: format!(
            "One pass of `Engine::run` (the daemon's loop) over a fresh engine (cold connections, as after an hour asleep) with every token and the \
             IdP session made due first; {reps} runs each, alternating. {n} distinct devstack workspace hosts (additive devstack \
             option `extra_workspaces`: each workspace its own listener, so no connection or token is shared by accident). \
             Concurrency bound: {concurrency} refreshes at once (`EngineOptions::concurrency`); devstack saw at most \
             {peak_flight} requests in flight and {peak_open} connections open at once (connections to hosts already done stay \
             idle in the pool until the engine drops). IdP refresh grants per pass: {grants_n:?} (one shared); exchanges per pass: \
             {exchanges_n:?}."
        ),
    });
    Ok(())
}

struct Pass {
    secs: f64,
    peak_open: usize,
    peak_in_flight: usize,
    grants: u64,
    exchanges: u64,
}

async fn one_pass(ds: &Devstack, home: &Home, concurrency: usize) -> anyhow::Result<Pass> {
    {
        let e = home.engine(EngineOptions::default()).await?;
        make_stale(&e, true).await?;
    }
    // Connections of the previous pass close when its engine is dropped.
    let _ = wait_until(Duration::from_secs(5), || ds.connections().open <= 2).await;
    let engine = home.engine(EngineOptions { concurrency, ..EngineOptions::default() }).await?;
    ds.reset_connection_peaks();
    let before = ds.stats();
    let t = Instant::now();
    // `run` with a shutdown that is already due: exactly one pass, as the daemon's loop does it
    // (the daemon owns the state file; a bare `tick` would behave like a CLI call).
    engine.run(std::future::ready(())).await;
    let secs = t.elapsed().as_secs_f64();
    let after = ds.stats();
    let c = ds.connections();
    let exchanges = after
        .workspaces
        .iter()
        .map(|(k, w)| w.exchanges_ok - before.workspaces.get(k).map_or(0, |b| b.exchanges_ok))
        .sum();
    Ok(Pass {
        secs,
        peak_open: c.peak_open,
        peak_in_flight: c.peak_in_flight,
        grants: after.idp.refresh_grants - before.idp.refresh_grants,
        exchanges,
    })
}
