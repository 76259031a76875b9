//! Support for Lakepass's end-to-end tests: the BUILT `lakepass` binary run as a real process
//! against a real devstack (in-process, over real HTTP on 127.0.0.1) and real third-party peers.
//!
//! What lives here and why:
//! - [`lakepass_bin`]: where the binary is. A test crate cannot depend on a bin target, so
//!   `.ci/run` builds it first (`cargo build -p lakepass-cli`); `LAKEPASS_BIN` overrides. A
//!   missing binary fails with a message saying so, rather than building behind your back.
//! - [`TempHome`]: a throwaway HOME with every path Lakepass and the Databricks tools read
//!   pointed into it, and a scrubbed environment for children (no inherited `DATABRICKS_*`,
//!   proxies or log settings), `LAKEPASS_VAULT=file` so no keyring is needed.
//! - [`Proc`]: a child that is killed when dropped and whose pipes are drained in the
//!   background, so a hung or chatty child can neither hang nor deadlock a test.
//! - [`PendingLogin`] / [`TempHome::login`]: `lakepass login --no-browser`, with the test playing
//!   the browser.
//! - Peers ([`peer_node`], [`peer_python`]): the npm/PyPI peers installed by
//!   `scripts/ci-deps.sh`; missing peers fail under `CI` and skip elsewhere.
//!
//! Tokens never appear in assertion messages: use [`redact`] on anything printed, or compare
//! [`fingerprint`]s.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;
use url::Url;

pub use lakepass_devstack::{self as devstack, Devstack, DevstackOptions, fingerprint};

/// The email the devstack approves sign-ins as.
pub const USER_EMAIL: &str = "ada@example.com";
/// The default bound on any one `lakepass` command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The `lakepass` binary under test: `$LAKEPASS_BIN`, else `<target dir>/debug/lakepass`.
///
/// Panics with instructions when it is missing, and warns once when it is older than the CLI or
/// core sources (a stale binary tests yesterday's code).
pub fn lakepass_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = match std::env::var_os("LAKEPASS_BIN").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| workspace_root().join("target"));
                target.join("debug").join("lakepass")
            }
        };
        assert!(
            bin.is_file(),
            "the lakepass binary is not at {}: build it first with `cargo build -p lakepass-cli` \
             (the e2e tests run the built binary; .ci/run builds it), or set LAKEPASS_BIN",
            bin.display()
        );
        warn_if_stale(&bin);
        bin
    })
    .clone()
}

fn warn_if_stale(bin: &Path) {
    let Ok(built) = bin.metadata().and_then(|m| m.modified()) else {
        return;
    };
    let root = workspace_root();
    let newest =
        ["crates/cli/src", "crates/core/src"].iter().filter_map(|d| newest_mtime(&root.join(d))).max();
    if newest.is_some_and(|n| n > built) {
        eprintln!(
            "warning: {} is older than the sources in crates/cli or crates/core; run \
             `cargo build -p lakepass-cli` to test the current code",
            bin.display()
        );
    }
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().ok().and_then(|m| m.modified().ok())
        };
        newest = newest.max(t);
    }
    newest
}

/// Replaces anything that looks like a token (a JWT, a devstack or Databricks token, or any
/// long opaque run) with its length and fingerprint prefix, for assertion messages.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let tokenish = word.len() >= 24
            && (word.starts_with("eyJ")
                || word.starts_with("dvs")
                || word.starts_with("dapi")
                || (word.len() >= 32 && !word.contains('/') && !word.contains('.')));
        if tokenish {
            out.push_str(&format!("[redacted {} chars, sha256 {}…]", word.len(), &fingerprint(word)[..8]));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-_.~+/=".contains(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A finished process: exit code and everything it printed.
pub struct Output {
    /// What ran, for messages (arguments only; never secrets).
    pub what: String,
    /// The exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.code,
            redact(&tail(&self.stdout, 4000)),
            redact(&tail(&self.stderr, 8000))
        )
    }
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = s.len() - max;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &s[cut..])
}

impl Output {
    /// Panics (with the redacted output) unless it exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "expected success: {self:?}");
        self
    }

    /// Panics (with the redacted output) unless it exited with `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "expected exit {code}: {self:?}");
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// A running child: killed on drop, its stdout and stderr drained by background tasks.
pub struct Proc {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

/// Which output stream of a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Proc {
    /// Spawns `cmd` with piped stdio (stdin stays open until [`Proc::close_stdin`] or drop).
    pub fn spawn(what: impl Into<String>, mut cmd: Command) -> Self {
        let what = what.into();
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
        let stdin = child.stdin.take();
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        Proc { what, child, stdin, stdout, stderr }
    }

    /// Like [`Proc::spawn`], but reads `stream` line by line until `pick` returns `Some`,
    /// within `timeout`; the rest is then drained in the background.
    pub async fn spawn_until<T>(
        what: impl Into<String>,
        mut cmd: Command,
        stream: Stream,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> (Self, T) {
        let what = what.into();
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let (watched, other): (Box<dyn AsyncRead + Unpin + Send>, _) = match stream {
            Stream::Stdout => (Box::new(out), drain(err)),
            Stream::Stderr => (Box::new(err), drain(out)),
        };
        let mut lines = BufReader::new(watched).lines();
        let mut head = String::new();
        let found = tokio::time::timeout(timeout, async {
            while let Ok(Some(line)) = lines.next_line().await {
                head.push_str(&line);
                head.push('\n');
                if let Some(v) = pick(&line) {
                    return Some(v);
                }
            }
            None
        })
        .await;
        let value = match found {
            Ok(Some(v)) => v,
            other => {
                let _ = child.start_kill();
                let why = if other.is_err() { "timed out" } else { "closed its output" };
                panic!(
                    "`{what}` {why} before printing what the test waits for; {stream:?} so far:\n{}",
                    redact(&head)
                );
            }
        };
        let rest = tokio::spawn(async move {
            let mut rest = String::new();
            let _ = lines.into_inner().read_to_string(&mut rest).await;
            format!("{head}{rest}")
        });
        let (stdout, stderr) = match stream {
            Stream::Stdout => (rest, other),
            Stream::Stderr => (other, rest),
        };
        let proc = Proc { what, child, stdin, stdout, stderr };
        (proc, value)
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("child still running")
    }

    /// Closes the child's stdin (peers exit when it closes).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends SIGTERM (via `kill(1)`: the workspace forbids `unsafe`).
    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits up to `timeout` for the child to exit (killing it on timeout, which panics).
    pub async fn wait(mut self, timeout: Duration) -> Output {
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(s) => s.expect("wait for child"),
            Err(_) => {
                let _ = self.child.kill().await;
                let out = self.collect(None).await;
                panic!("timed out after {timeout:?}; killed it: {out:?}");
            }
        };
        self.collect(status.code()).await
    }

    async fn collect(&mut self, code: Option<i32>) -> Output {
        self.stdin = None;
        let grab = |h: &mut JoinHandle<String>| {
            let h = std::mem::replace(h, tokio::spawn(async { String::new() }));
            async move {
                tokio::time::timeout(Duration::from_secs(5), h)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default()
            }
        };
        let stdout = grab(&mut self.stdout).await;
        let stderr = grab(&mut self.stderr).await;
        Output { what: self.what.clone(), code, stdout, stderr }
    }
}

fn drain(pipe: impl AsyncRead + Unpin + Send + 'static) -> JoinHandle<String> {
    tokio::spawn(async move {
        let mut bytes = Vec::new();
        let _ = BufReader::new(pipe).read_to_end(&mut bytes).await;
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A throwaway home directory for one test, with every path Lakepass and the Databricks tools
/// read pointed into it. Deleted on drop.
pub struct TempHome {
    dir: tempfile::TempDir,
    extra_env: BTreeMap<String, OsString>,
}

impl Default for TempHome {
    fn default() -> Self {
        Self::new()
    }
}

impl TempHome {
    /// Creates the folders.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("lakepass-e2e-").tempdir().expect("create temp home");
        let home = TempHome { dir, extra_env: BTreeMap::new() };
        for d in [home.home(), home.xdg_config(), home.xdg_data()] {
            std::fs::create_dir_all(d).expect("create temp home folders");
        }
        home
    }

    /// The temp root (HOME is `<root>/home`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    /// `$HOME`.
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }
    /// `$XDG_CONFIG_HOME`.
    pub fn xdg_config(&self) -> PathBuf {
        self.home().join(".config")
    }
    /// `$XDG_DATA_HOME`.
    pub fn xdg_data(&self) -> PathBuf {
        self.home().join(".local/share")
    }
    /// `$LAKEPASS_DATA_DIR`.
    pub fn data_dir(&self) -> PathBuf {
        self.root().join("lakepass-data")
    }
    /// The default config path (`$XDG_CONFIG_HOME/lakepass/config.toml`).
    pub fn config_path(&self) -> PathBuf {
        self.xdg_config().join("lakepass").join("config.toml")
    }
    /// `$DATABRICKS_CONFIG_FILE` (`~/.databrickscfg`).
    pub fn databrickscfg(&self) -> PathBuf {
        self.home().join(".databrickscfg")
    }
    /// The file vault (`$LAKEPASS_DATA_DIR/vault.json`).
    pub fn vault_path(&self) -> PathBuf {
        self.data_dir().join("vault.json")
    }

    /// Sets an extra environment variable for every later child (e.g. `LAKEPASS_LOG`).
    pub fn set_env(&mut self, key: &str, value: impl Into<OsString>) {
        self.extra_env.insert(key.to_string(), value.into());
    }

    /// The whole environment children get: `PATH` and the locale from ours, nothing else
    /// inherited (no `DATABRICKS_*`, proxies, `LAKEPASS_*` or D-Bus address).
    pub fn env(&self) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = ["PATH", "LANG", "LC_ALL", "TZ"]
            .iter()
            .filter_map(|k| std::env::var_os(k).map(|v| (k.to_string(), v)))
            .collect();
        let own = [
            ("HOME", self.home()),
            ("XDG_CONFIG_HOME", self.xdg_config()),
            ("XDG_DATA_HOME", self.xdg_data()),
            ("XDG_CACHE_HOME", self.home().join(".cache")),
            ("LAKEPASS_DATA_DIR", self.data_dir()),
            ("DATABRICKS_CONFIG_FILE", self.databrickscfg()),
            ("TMPDIR", std::env::temp_dir()),
        ];
        env.extend(own.into_iter().map(|(k, v)| (k.to_string(), v.into_os_string())));
        env.push(("LAKEPASS_VAULT".into(), "file".into()));
        env.push(("NO_COLOR".into(), "1".into()));
        env.push(("RUST_BACKTRACE".into(), "1".into()));
        for (k, v) in &self.extra_env {
            env.retain(|(key, _)| key != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// A command for `program` with this home's environment, run from the temp root.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(self.env()).current_dir(self.root());
        cmd
    }

    /// `lakepass <args>` with this home's environment.
    pub fn lakepass(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(lakepass_bin());
        cmd.args(args);
        cmd
    }

    /// Runs `lakepass <args>` to completion (bounded by [`COMMAND_TIMEOUT`]).
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_timeout(args, COMMAND_TIMEOUT).await
    }

    /// Runs `lakepass <args>` to completion within `timeout`.
    pub async fn run_timeout(&self, args: &[&str], timeout: Duration) -> Output {
        let what = format!("lakepass {}", args.join(" "));
        let mut p = Proc::spawn(what, self.lakepass(args));
        p.close_stdin();
        p.wait(timeout).await
    }

    /// Starts `lakepass <args>` in the background (e.g. the daemon).
    pub fn spawn(&self, args: &[&str]) -> Proc {
        let mut p = Proc::spawn(format!("lakepass {}", args.join(" ")), self.lakepass(args));
        p.close_stdin();
        p
    }

    /// Writes the Lakepass config file.
    pub fn write_config(&self, toml: &str) {
        let path = self.config_path();
        std::fs::create_dir_all(path.parent().expect("config has a folder")).expect("mkdir");
        std::fs::write(&path, toml).expect("write config");
    }

    /// Writes a config pointing at `ds` (IdP `devstack`, workspaces `dev` and `prod`).
    pub fn write_devstack_config(&self, ds: &Devstack) {
        self.write_config(&devstack_config(ds));
    }

    /// `~/.databrickscfg` as text (empty when missing).
    pub fn databrickscfg_text(&self) -> String {
        std::fs::read_to_string(self.databrickscfg()).unwrap_or_default()
    }

    /// The value of `key` in `[profile]` of `~/.databrickscfg`.
    pub fn profile_value(&self, profile: &str, key: &str) -> Option<String> {
        ini_value(&self.databrickscfg_text(), profile, key)
    }

    /// One vault entry (e.g. `idp:devstack`), parsed from its JSON string.
    pub fn vault_entry(&self, key: &str) -> Option<serde_json::Value> {
        let raw = std::fs::read_to_string(self.vault_path()).ok()?;
        let entries: BTreeMap<String, String> = serde_json::from_str(&raw).ok()?;
        serde_json::from_str(entries.get(key)?).ok()
    }

    /// Every secret string the file vault holds now (tokens of IdP sessions and workspaces),
    /// and for JWTs also their payload and signature parts.
    pub fn vault_secrets(&self) -> BTreeSet<String> {
        let raw = std::fs::read_to_string(self.vault_path())
            .unwrap_or_else(|e| panic!("cannot read the vault {}: {e}", self.vault_path().display()));
        let entries: BTreeMap<String, String> =
            serde_json::from_str(&raw).expect("vault.json is a JSON object of key → string");
        let mut out = BTreeSet::new();
        for value in entries.values() {
            match serde_json::from_str::<serde_json::Value>(value) {
                Ok(v) => collect_tokens(&v, None, &mut out),
                Err(_) => {
                    out.insert(value.clone());
                }
            }
        }
        let jwt_parts: Vec<String> = out
            .iter()
            .filter(|s| s.starts_with("eyJ") && s.matches('.').count() == 2)
            .flat_map(|s| s.split('.').skip(1).map(String::from).collect::<Vec<_>>())
            .filter(|p| p.len() >= 20)
            .collect();
        out.extend(jwt_parts);
        out
    }
}

fn collect_tokens(v: &serde_json::Value, key: Option<&str>, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::String(s) if key.is_some_and(|k| k.contains("token")) && s.len() >= 16 => {
            out.insert(s.clone());
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                collect_tokens(v, Some(k), out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                collect_tokens(v, key, out);
            }
        }
        _ => {}
    }
}

/// Minimal INI lookup (as Python's configparser reads `key = value`).
pub fn ini_value(text: &str, profile: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            in_section = &t[1..t.len() - 1] == profile;
        } else if in_section
            && !t.starts_with(';')
            && !t.starts_with('#')
            && let Some((k, v)) = t.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

/// A config pointing at `ds`: IdP `devstack`, workspaces `dev` (active) and `prod` with
/// profiles `devstack-dev` and `devstack-prod`.
pub fn devstack_config(ds: &Devstack) -> String {
    let info = ds.info();
    let mut s = format!(
        "# written by the e2e tests\nactive = \"dev\"\n\n[idp.devstack]\nissuer = \"{}\"\n\
         client_id = \"{}\"\nscopes = [\"openid\", \"email\", \"profile\", \"offline_access\"]\n",
        info.issuer, info.client_id
    );
    for ws in &info.workspaces {
        s.push_str(&format!(
            "\n[workspace.{n}]\nidp = \"devstack\"\nhost = \"{h}\"\nprofile = \"devstack-{n}\"\n",
            n = ws.name,
            h = ws.host
        ));
    }
    s
}

/// The base URL of devstack workspace `name`.
pub fn ws_host(ds: &Devstack, name: &str) -> String {
    ds.info()
        .workspaces
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no devstack workspace {name}"))
        .host
        .clone()
}

/// Starts a devstack that approves every sign-in as [`USER_EMAIL`], with `ttl` for IdP and
/// workspace tokens alike.
pub async fn start_devstack(ttl: Duration) -> Devstack {
    lakepass_devstack::start(DevstackOptions {
        auto_approve: Some(USER_EMAIL.to_string()),
        idp_token_ttl: ttl,
        workspace_token_ttl: ttl,
        ..DevstackOptions::default()
    })
    .await
    .expect("start the devstack")
}

/// An HTTP client for the test's own requests: loopback only, no proxy, bounded.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().expect("http client")
}

/// `GET <host>/api/2.0/preview/scim/v2/Me` with `token`: the status and the JSON body.
pub async fn scim_me(host: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = http()
        .get(format!("{host}/api/2.0/preview/scim/v2/Me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("SCIM Me request");
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// A `lakepass login --no-browser` waiting for the browser; the URL it printed.
pub struct PendingLogin {
    /// The running `lakepass login`.
    pub proc: Proc,
    /// The sign-in URL it printed on its own line.
    pub url: Url,
}

impl PendingLogin {
    /// A query parameter of the sign-in URL (`state`, `redirect_uri`, …).
    pub fn param(&self, name: &str) -> Option<String> {
        self.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// The loopback callback Lakepass listens on.
    pub fn redirect_uri(&self) -> Url {
        let r = self.param("redirect_uri").expect("sign-in URL has redirect_uri");
        Url::parse(&r).expect("redirect_uri is a URL")
    }

    /// Waits for `lakepass login` to exit.
    pub async fn finish(self) -> Output {
        self.proc.wait(COMMAND_TIMEOUT).await
    }
}

impl TempHome {
    /// Starts `lakepass login --no-browser <extra>` and waits for the sign-in URL.
    pub async fn start_login(&self, extra: &[&str]) -> PendingLogin {
        let mut args = vec!["login", "--no-browser", "--timeout", "60"];
        args.extend_from_slice(extra);
        let (mut proc, url) = Proc::spawn_until(
            format!("lakepass {}", args.join(" ")),
            self.lakepass(&args),
            Stream::Stderr,
            Duration::from_secs(30),
            |line| Url::parse(line.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https")),
        )
        .await;
        proc.close_stdin();
        PendingLogin { proc, url }
    }

    /// Signs in against an auto-approving devstack: follows the sign-in URL like a browser
    /// (devstack → 302 → Lakepass's loopback callback) and waits for `login` to succeed.
    pub async fn login(&self, extra: &[&str]) -> Output {
        let pending = self.start_login(extra).await;
        let resp = http().get(pending.url.clone()).send().await.expect("follow the sign-in URL");
        let status = resp.status();
        let page = resp.text().await.unwrap_or_default();
        let out = pending.finish().await;
        assert!(
            status.is_success() && page.contains("Signed in"),
            "the callback page should say `Signed in` (HTTP {status}): {}\n{out:?}",
            redact(&page)
        );
        out.success()
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout` with `what`.
pub async fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sleeps until the wall clock is at least `t` (UNIX seconds) plus `extra`.
pub async fn sleep_until_unix(t: i64, extra: Duration) {
    let now =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock after 1970").as_secs_f64();
    let wait = (t as f64 - now).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait) + extra).await;
}

/// The Unix permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display())).permissions().mode()
        & 0o777
}

/// A free TCP port on 127.0.0.1 (bound then released; a tiny race is acceptable in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// `tests/peers` with its installed dependencies: `$LAKEPASS_PEERS_DIR`, else the one in the
/// source tree.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("LAKEPASS_PEERS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("tests").join("peers"))
}

fn peer_missing(what: &str, looked_at: &Path) -> Option<PathBuf> {
    let msg = format!("{what} is not installed ({} is missing): run scripts/ci-deps.sh", looked_at.display());
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{msg} (CI is set, so a missing peer fails the test)");
    }
    eprintln!("skipped: {msg}");
    None
}

/// The peers folder if the npm peer (`oidc-provider`) and `node` are installed; else `None`
/// after printing "skipped" — or a panic when `CI` is set.
pub fn peer_node() -> Option<PathBuf> {
    let dir = peers_dir();
    let module = dir.join("node_modules").join("oidc-provider").join("package.json");
    if !module.is_file() {
        return peer_missing("the npm peer oidc-provider", &module);
    }
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        return peer_missing("node", Path::new("node on PATH"));
    }
    Some(dir)
}

/// The venv's python if the PyPI peer (`databricks-sdk`) is installed; else `None` after
/// printing "skipped" — or a panic when `CI` is set.
pub fn peer_python() -> Option<PathBuf> {
    let python = peers_dir().join(".venv").join("bin").join("python");
    if !python.is_file() {
        return peer_missing("the Python peer (databricks-sdk venv)", &python);
    }
    Some(python)
}

impl TempHome {
    /// The keys the file vault holds now (`idp:…`, `ws:…`, `live:ws:…`, `m2m:…`); never values.
    pub fn vault_keys(&self) -> BTreeSet<String> {
        let Ok(raw) = std::fs::read_to_string(self.vault_path()) else { return BTreeSet::new() };
        let entries: BTreeMap<String, serde_json::Value> = serde_json::from_str(&raw).unwrap_or_default();
        entries.into_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_tokens_and_keeps_words() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let shown = redact(&format!("token {jwt} for dvs0123456789abcdef0123456789 ok"));
        assert!(!shown.contains(jwt) && !shown.contains("dvs0123456789abcdef0123456789"));
        assert!(shown.starts_with("token [redacted ") && shown.ends_with(" ok"));
        assert_eq!(redact("http://127.0.0.1:8080/callback"), "http://127.0.0.1:8080/callback");
    }

    #[test]
    fn ini_value_reads_sections() {
        let text = "[a]\nhost = x\n[b]\n; c\nhost= y\ntoken =z\n";
        assert_eq!(ini_value(text, "b", "host").as_deref(), Some("y"));
        assert_eq!(ini_value(text, "b", "token").as_deref(), Some("z"));
        assert_eq!(ini_value(text, "c", "host"), None);
    }
}
