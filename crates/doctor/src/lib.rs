//! `lakepass doctor`: explains a failed token exchange link by link, claim by claim.
//!
//! A refused exchange answers 400/401 with a body that names little, and the first hour of
//! adopting federation is spent guessing: a trailing slash on the issuer, the account id as
//! audience, the wrong subject claim, a clock off by an hour. The doctor walks the chain a
//! token travels — config → IdP discovery and JWKS → signed-in session and its refresh → the
//! JWT's claims → its algorithm, key and signature → this machine's clock against the
//! workspace's `Date` → the expected federation policy → the exchange itself — and stops at the
//! first broken link, naming it with a fix ([`problems::Problem`]).
//!
//! It returns a typed [`Report`] (steps with status, detail, fix and a machine-readable
//! problem) so the CLI prints it, `--json` serializes it, and the dashboard renders the same
//! thing on a failed card. The JWT itself is never in the report: only claims a user may share
//! (iss, aud, sub, the subject claim, exp, iat, alg, kid).
//!
//! This file holds the chain's order; each link is one function in the file of its job:
//! `report` (what is reported), `signin` (IdP, session, secret), `token` (JWT, signature),
//! `policy` (role mapping, expected policy) and `workspace` (clock, exchange).
//!
//! lakepass-doctor: why an exchange fails, step by step. What it may use: `lakepass-wire`,
//! `lakepass-store`, `lakepass-config`, `lakepass-engine`; it changes nothing it inspects.

mod mcp;
mod policy;
mod problems;
mod report;
mod signin;
mod token;
mod workspace;

use lakepass_config::{Config, IdpConfig, Workspace};
use lakepass_engine::engine::{Engine, EngineOptions};
use lakepass_engine::roles;
use lakepass_engine::store::Store;
use lakepass_store::paths::Paths;
use lakepass_wire::Secret;
use lakepass_wire::clock::SharedClock;
use lakepass_wire::http::Http;

pub use mcp::{McpCheck, McpFinding, McpReport, check_mcp};
use problems::TokenFacts;
pub use problems::{KnownPolicy, Problem};
pub use report::{Claims, ClaudeCodeFacts, Report, Step, StepId, StepStatus};
use report::{Run, Stopped};

/// A clock difference larger than this is reported (Databricks allows little leeway).
pub(crate) const SKEW_TOLERANCE_SECS: i64 = 60;

/// What the doctor is given besides the config.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// Diagnose this IdP JWT instead of the signed-in session's (e.g. from another tool).
    pub subject_token: Option<Secret>,
    /// Federation policies fetched with admin rights; when empty, `[workspace.x.policy]`.
    pub policies: Vec<KnownPolicy>,
    /// True when the account's policies were fetched (`--admin-workspace`), even if none came
    /// back: then suggesting `--admin-workspace` would send the user in a circle.
    pub policies_fetched: bool,
    /// What `--admin-workspace` could not look up (a service principal unknown to the account,
    /// a refused list): shown as a warning while the other checks go on.
    pub policy_lookup_failures: Vec<String>,
}

/// Runs the whole chain from the config file: the entry point for the CLI.
pub async fn run(
    paths: &Paths,
    store: Store,
    http: Http,
    clock: SharedClock,
    workspace: Option<&str>,
    opts: &DoctorOptions,
) -> Report {
    let config = Config::load(&paths.config).and_then(|c| c.workspace(workspace).map(|w| (c, w)));
    let (config, ws) = match config {
        Ok(x) => x,
        Err(e) => {
            let mut run =
                Run::new(workspace.unwrap_or("?").into(), "?".into(), workspace.map(String::from), None);
            if matches!(e, lakepass_config::ConfigError::UnknownWorkspace { .. }) {
                let message = e.to_string();
                let _: Stopped = run.fail(StepId::Config, "Config", Problem::UnknownWorkspace { message });
                return run.report;
            }
            return config_invalid(run, e.to_string());
        }
    };
    let engine = match Engine::new(config, paths.clone(), store, http, clock, EngineOptions::default()) {
        Ok(e) => e,
        Err(e) => {
            let run = Run::new(ws.name.clone(), ws.idp.clone(), Some(ws.name.clone()), None);
            return config_invalid(run, e.to_string());
        }
    };
    diagnose(&engine, &ws, opts).await
}

/// Runs the chain after the config for one workspace of a built engine.
pub async fn diagnose(engine: &Engine, ws: &Workspace, opts: &DoctorOptions) -> Report {
    let mut run = Run::new(ws.name.clone(), ws.idp.clone(), Some(ws.name.clone()), Some(ws.host.to_string()));
    let auth = if roles::is_m2m(ws) {
        format!("service principal `{}` (M2M)", ws.client_id.as_deref().unwrap_or(""))
    } else {
        format!("identity provider `{}`", ws.idp)
    };
    run.step(
        StepId::Config,
        "Config",
        StepStatus::Ok,
        format!(
            "{} is valid; workspace `{}` is {} via {auth}",
            engine.paths().config.display(),
            ws.name,
            ws.host
        ),
    );
    for (what, url) in [("workspace", ws.host.to_string()), ("issuer", idp_issuer(engine, ws))] {
        if let Some(host) = punycode_host(&url) {
            run.step(
                StepId::Config,
                "Lookalike names",
                StepStatus::Warning,
                format!(
                    "the {what} host `{host}` is an internationalised (punycode) name: a browser may show it \
                     as letters that imitate another name. Check it is the {what} you mean."
                ),
            );
        }
    }
    // Where the chain stopped is the report's failed step.
    let _: Result<(), Stopped> = if roles::is_m2m(ws) {
        m2m(engine, ws, &mut run).await
    } else {
        federation(engine, ws, opts, &mut run).await
    };
    run.report
}

/// The issuer of `ws`'s IdP, or nothing for a service principal or an unknown IdP.
fn idp_issuer(engine: &Engine, ws: &Workspace) -> String {
    engine.config().idp(&ws.idp).map(|i| i.issuer.clone()).unwrap_or_default()
}

/// The host of `url` when one of its labels is punycode (`xn--`), which can imitate another
/// name (`dаtabricks.com` with a Cyrillic `а`).
pub fn punycode_host(url: &str) -> Option<String> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
    host.split('.').any(|label| label.starts_with("xn--")).then_some(host)
}

/// The report of a config that could not be loaded, or not built into an engine.
fn config_invalid(mut run: Run, message: String) -> Report {
    let _: Stopped = config_failed(&mut run, message);
    run.report
}

/// The config step, failed.
fn config_failed(run: &mut Run, message: String) -> Stopped {
    run.fail(StepId::Config, "Config", Problem::ConfigInvalid { message })
}

/// A service principal's chain: its secret, the clock, client credentials.
async fn m2m(engine: &Engine, ws: &Workspace, run: &mut Run) -> Result<(), Stopped> {
    let client_id = ws.client_id.clone().unwrap_or_default();
    let secret = signin::client_secret(engine, ws, &client_id, run).await?;
    workspace::clock(engine, ws, run).await?;
    workspace::client_credentials(engine, ws, &client_id, &secret, run).await
}

/// A federated user's chain, from the IdP to the token exchange.
async fn federation(
    engine: &Engine,
    ws: &Workspace,
    opts: &DoctorOptions,
    run: &mut Run,
) -> Result<(), Stopped> {
    let idp_cfg = idp_config(engine, ws, run)?;
    let policies = policy::expected(ws, opts);
    let jwks = signin::idp(engine, &idp_cfg, &policies, ws.host.is_loopback(), run).await?;
    let (subject, refreshable) = match &opts.subject_token {
        Some(t) => signin::given(t, run),
        None => signin::session(engine, ws, run).await?,
    };
    let jwt = token::jwt(engine, ws, &subject, &policy::subject_claim(&policies), refreshable, run)?;
    token::signature(&jwt, &subject, &jwks, run)?;
    workspace::clock(engine, ws, run).await?;
    let client_id = policy::role(ws, &subject, run)?;
    let facts = TokenFacts {
        claims: &jwt.claims,
        audiences: jwt.audiences(),
        client_id: &idp_cfg.client_id,
        account_id: ws.account_id.as_deref(),
    };
    policy::policy(
        ws,
        &facts,
        &policies,
        opts.policies_fetched,
        &opts.policy_lookup_failures,
        client_id.as_deref(),
        run,
    )?;
    let sp_without_policy = client_id.as_deref().filter(|c| {
        opts.policies_fetched
            && opts.policy_lookup_failures.is_empty()
            && !policies.iter().any(|p| p.service_principal.as_deref() == Some(*c))
    });
    workspace::token_exchange(engine, ws, &subject, client_id.as_deref(), sp_without_policy, run).await
}

/// The workspace's IdP, from the config the engine was built with.
fn idp_config(engine: &Engine, ws: &Workspace, run: &mut Run) -> Result<IdpConfig, Stopped> {
    engine.config().idp(&ws.idp).cloned().map_err(|e| config_failed(run, e.to_string()))
}
