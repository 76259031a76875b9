//! Temp homes, configs, in-process sign-in, and small measuring helpers shared by every
//! benchmark. Every home is a throwaway folder with `LAKEPASS_VAULT=file`, so no keyring or
//! D-Bus is involved and nothing of the user's is read or written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lakepass_config::Config;
use lakepass_devstack::{ClientConfigOptions, DevstackInfo, WorkspaceInfo};
use lakepass_engine::engine::{Engine, EngineOptions};
use lakepass_engine::store::Store;
use lakepass_store::{Paths, Vault, VaultKind};
use lakepass_wire::SystemClock;
use lakepass_wire::http::Http;

/// One throwaway Lakepass installation.
pub struct Home {
    /// Its root folder.
    pub root: PathBuf,
    /// Config, data dir and `~/.databrickscfg`, all under `root`.
    pub paths: Paths,
}

impl Home {
    /// Creates `<base>/<name>` and its folders.
    pub fn new(base: &Path, name: &str) -> anyhow::Result<Home> {
        let root = base.join(name);
        for d in ["home/.config", "home/.local/share", "data"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        let paths = Paths {
            config: root.join("config.toml"),
            data_dir: root.join("data"),
            databrickscfg: root.join("home/.databrickscfg"),
        };
        Ok(Home { root, paths })
    }

    /// The whole environment a child process gets: nothing inherited but `PATH` and locale.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = ["PATH", "LANG", "LC_ALL", "TZ"]
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        let s = |p: &Path| p.display().to_string();
        env.extend([
            ("HOME".into(), s(&self.root.join("home"))),
            ("XDG_CONFIG_HOME".into(), s(&self.root.join("home/.config"))),
            ("XDG_DATA_HOME".into(), s(&self.root.join("home/.local/share"))),
            ("LAKEPASS_CONFIG".into(), s(&self.paths.config)),
            ("LAKEPASS_DATA_DIR".into(), s(&self.paths.data_dir)),
            ("DATABRICKS_CONFIG_FILE".into(), s(&self.paths.databrickscfg)),
            ("LAKEPASS_VAULT".into(), "file".into()),
            ("NO_COLOR".into(), "1".into()),
        ]);
        env
    }

    /// `program` with this home's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        c.env_clear().envs(self.env()).current_dir(&self.root);
        c
    }

    /// Writes the Lakepass config.
    pub fn write_config(&self, text: &str) -> anyhow::Result<()> {
        std::fs::write(&self.paths.config, text).context("writing the config")
    }

    /// An engine over this home, as the CLI builds it (file vault, system clock).
    pub async fn engine(&self, opts: EngineOptions) -> anyhow::Result<Engine> {
        let vault = Vault::open(&self.paths.data_dir, Some(VaultKind::File)).await?;
        let config = Config::load(&self.paths.config)?;
        let engine = Engine::new(
            config,
            self.paths.clone(),
            Store::new(vault),
            Http::new(),
            Arc::new(SystemClock),
            opts,
        )?;
        engine.load().await?;
        Ok(engine)
    }

    /// Signs in to the auto-approving devstack IdP in-process (the bench plays the browser) and
    /// exchanges a first token for every workspace.
    pub async fn login(&self) -> anyhow::Result<()> {
        let engine = self.engine(EngineOptions { concurrency: 64, ..Default::default() }).await?;
        let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
        let browser = tokio::spawn(async move {
            let url = rx.await?;
            let client = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::limited(5))
                .build()?;
            let resp = client.get(url).send().await?;
            anyhow::ensure!(resp.status().is_success(), "sign-in page answered {}", resp.status());
            Ok(())
        });
        let (_, failures) =
            engine.login("devstack", move |u| drop(tx.send(u.clone())), Duration::from_secs(60)).await?;
        browser.await??;
        if let Some((ws, e)) = failures.first() {
            anyhow::bail!("first exchange for {ws} failed: {e}");
        }
        Ok(())
    }
}

/// A config for `workspaces` of the devstack (the first is active), live service on
/// `serve_port`: the devstack's own [`DevstackInfo::client_config`], shaped as the CLI writes it.
pub fn config_text(info: &DevstackInfo, workspaces: &[&WorkspaceInfo], serve_port: u16) -> String {
    info.client_config(&ClientConfigOptions {
        workspaces: workspaces.iter().map(|w| w.name.clone()).collect(),
        serve_port: Some(serve_port),
        ..ClientConfigOptions::like_the_cli()
    })
}

/// A free TCP port on 127.0.0.1 (racy, but the bench owns the machine's loopback briefly).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(18731)
}

/// Median of `xs` (not empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The resident set size of `pid` in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    proc_status_field(pid, "VmRSS:")
}

/// A numeric field of `/proc/<pid>/status` (first number on the line).
pub fn proc_status_field(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until `check` holds, polling every 50 ms, for at most `timeout`.
pub async fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// A child process killed (SIGTERM, then SIGKILL) when dropped.
pub struct Child(pub std::process::Child);

impl Child {
    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGTERM, wait up to 5 s, then kill.
    pub fn stop(&mut self) {
        let _ = std::process::Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        for _ in 0..100 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}
