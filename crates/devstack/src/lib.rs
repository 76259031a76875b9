//! The Lakepass devstack: a local OIDC identity provider and two Databricks workspace emulators
//! (`dev` and `prod`), faithful enough to be both Lakepass's embedded demo default and the peer
//! its tests talk to over real HTTP.
//!
//! It deliberately depends on no other Lakepass crate: it plays the *other* party, so it must not
//! share code (or bugs) with the client it tests. Every listener binds loopback only.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let stack = lakepass_devstack::start(Default::default()).await?;
//! println!("issuer: {}", stack.info().issuer);
//! stack.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Layout: `keys` signs tokens and publishes the JWKS; `idp` (authorize, login page) and
//! `idp_token` (the token endpoint) are the IdP; `workspace` (the router and token endpoint),
//! `exchange` (JWT verification against federation policies), `serving` (Anthropic Messages),
//! `serving_admin` and `mcp` are a workspace, on top of `workspace_state` (token store, handler
//! state, `authenticate`); `faults` injects failures; `account_auth` (the accounts listener and
//! its token endpoint), `account` (federation policies) and `scim` (service principals) are the
//! account console, on top of `account_state` (the account and its admin check); `stats` counts
//! what peers did; `control` exposes all of it over HTTP for out-of-process tests; `server` runs the listeners; `errors` holds the wire error formats;
//! `client_config` writes the Lakepass config that points a client at a devstack.

mod account;
mod account_auth;
mod account_state;
mod chat;
mod client_config;
mod control;
mod errors;
mod exchange;
mod faults;
mod gemini;
mod idp;
mod idp_token;
mod keys;
mod mcp;
mod model_services;
mod owner;
mod responses;
mod scim;
mod server;
mod serving;
mod serving_admin;
mod stats;
mod tls;
mod workspace;
mod workspace_state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

pub use client_config::{ClientConfigOptions, IDP_NAME};
pub use faults::{FaultKind, FaultRule, Faults, Target};
pub use gemini::GEMINI_MODELS;
pub use keys::SigningAlg;
pub use mcp::{FUNCTION_SCHEMA, GENIE_SPACE, SEARCH_INDEX};
pub use server::ConnectionStats;
pub use stats::{IdpStats, PathStats, Stats, WorkspaceStats, fingerprint};
pub use tls::CA_NAME;

/// The OAuth client id of the one public client the devstack IdP knows.
pub const CLIENT_ID: &str = "lakepass-dev";

/// How to start a devstack. Build it with `..Default::default()` so new fields do not break you.
#[derive(Debug, Clone)]
pub struct DevstackOptions {
    /// Where the IdP listens (loopback only). With a non-zero port the `dev` workspace takes
    /// port + 1, `prod` port + 2 and the account console port + 3; with port 0 every listener
    /// takes its own ephemeral port.
    pub addr: SocketAddr,
    /// When set, `GET /authorize` approves at once as this email instead of showing a login page.
    pub auto_approve: Option<String>,
    /// Lifetime of the IdP's id_token and access_token.
    pub idp_token_ttl: Duration,
    /// Lifetime of the tokens a workspace mints by token exchange or client credentials. As on
    /// Databricks, an exchanged token never outlives its subject JWT: it gets the smaller of
    /// this and the JWT's remaining life.
    pub workspace_token_ttl: Duration,
    /// Whether every refresh grant returns a new refresh token and invalidates the old one.
    pub rotate_refresh_tokens: bool,
    /// Whether the IdP's answer to a refresh grant carries a new id_token. OIDC Core §12.2
    /// allows an IdP to leave it out; `false` plays such an IdP.
    pub id_token_on_refresh: bool,
    /// Role claims per signed-in email (lowercase): issued as the `roles` claim of the IdP's
    /// tokens. An email with a `+tag` local part (`bob+analyst@x`) also gets role `tag`.
    pub user_roles: std::collections::BTreeMap<String, Vec<String>>,
    /// More workspaces besides `dev` and `prod`, named `ws001`, `ws002`, …, each on its own
    /// ephemeral loopback port with the same default federation policy (for benchmarks of many
    /// workspaces on one IdP).
    pub extra_workspaces: usize,
    /// Serve everything over HTTPS with a CA generated at start ([`DevstackInfo::ca_pem`]) and
    /// a certificate for `127.0.0.1`, `::1` and `localhost`.
    pub tls: bool,
    /// The Claude models every workspace serves, as Databricks names its pay-per-token
    /// endpoints (`databricks-claude-sonnet-4-5`), newest first: what
    /// `GET <base>/v1/models` lists and what `model` may name. Tests serve other sets here
    /// (a newer family member, a workspace without Haiku).
    pub claude_models: Vec<String>,
    /// The OpenAI (GPT) models every workspace serves on AI Gateway's Responses API
    /// (`/ai-gateway/codex/v1/responses`, `responses.rs`), as endpoint names
    /// (`databricks-gpt-5-2`), newest first; the model-services listing names them
    /// `system.ai.gpt-…`.
    pub openai_models: Vec<String>,
    /// Whether the workspaces have AI Gateway (`/ai-gateway/anthropic`). Without it, as on
    /// older workspaces, only `/serving-endpoints/anthropic` answers.
    pub ai_gateway: bool,
    /// Each workspace and the account console on its own loopback address at port 443
    /// (`https://127.<r>.<r>.2` for `dev`, `.3` for `prod`, `.4` for the accounts, then the
    /// extra workspaces; `<r>` random per devstack, so parallel ones do not collide), as real
    /// workspace URLs have no port. Some clients drop a URL's port (the JavaScript SDK keeps
    /// only the host name), and only this lets them reach a workspace. Needs `tls` (a
    /// workspace URL is https) and the right to bind port 443 (root, or CAP_NET_BIND_SERVICE).
    pub port_443: bool,
    /// Whether the workspaces answer Unity Catalog's model-services listing
    /// (`/api/2.1/unity-catalog/model-services`, `model_services.rs`), with the served models'
    /// `system.ai.*` names; only where AI Gateway is on. Off, the path is a 404.
    pub model_services: bool,
}

/// The Claude models a devstack serves unless told otherwise ([`DevstackOptions::claude_models`]).
pub const DEFAULT_CLAUDE_MODELS: &[&str] = &[
    "databricks-claude-opus-4-6",
    "databricks-claude-sonnet-4-6",
    "databricks-claude-opus-4-5",
    "databricks-claude-sonnet-4-5",
    "databricks-claude-haiku-4-5",
];

/// The OpenAI models a devstack serves unless told otherwise ([`DevstackOptions::openai_models`]).
pub const DEFAULT_OPENAI_MODELS: &[&str] = &["databricks-gpt-5-2", "databricks-gpt-5-1"];

impl Default for DevstackOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            auto_approve: None,
            idp_token_ttl: Duration::from_secs(3600),
            workspace_token_ttl: Duration::from_secs(3600),
            rotate_refresh_tokens: true,
            id_token_on_refresh: true,
            user_roles: Default::default(),
            extra_workspaces: 0,
            tls: false,
            claude_models: DEFAULT_CLAUDE_MODELS.iter().map(|m| m.to_string()).collect(),
            openai_models: DEFAULT_OPENAI_MODELS.iter().map(|m| m.to_string()).collect(),
            ai_gateway: true,
            port_443: false,
            model_services: true,
        }
    }
}

/// Where everything listens and which credentials to use: what a client needs to be configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevstackInfo {
    /// The IdP issuer, e.g. `http://127.0.0.1:8400` (no trailing slash; it is compared exactly).
    pub issuer: String,
    /// The public OAuth client id to sign in with ([`CLIENT_ID`]).
    pub client_id: String,
    /// The emulated workspaces, `dev` then `prod`.
    pub workspaces: Vec<WorkspaceInfo>,
    /// A service principal every workspace accepts for `client_credentials` (M2M); it is also
    /// the account admin for the account APIs.
    pub service_principal: ServicePrincipalInfo,
    /// The Databricks account id of the account APIs (`/api/2.0/accounts/{account_id}/…`).
    #[serde(default)]
    pub account_id: String,
    /// The account console's base URL: the account APIs and the account token endpoint
    /// (`/oidc/accounts/{account_id}/v1/token`) listen here, on no workspace host.
    #[serde(default)]
    pub account_host: String,
    /// With TLS, the CA certificate (PEM) clients must trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// One emulated Databricks workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// `dev` or `prod`.
    pub name: String,
    /// Base URL, e.g. `http://127.0.0.1:8401`.
    pub host: String,
    /// The numeric workspace id reported by `/.well-known/databricks-config`.
    pub workspace_id: u64,
}

/// Credentials of the devstack's service principal (Databricks OAuth M2M).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePrincipalInfo {
    /// The service principal's application id (a UUID).
    pub client_id: String,
    /// Its OAuth secret.
    pub client_secret: String,
}

impl std::fmt::Debug for ServicePrincipalInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicePrincipalInfo")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// A Databricks OIDC federation policy: which IdP tokens a workspace accepts for exchange.
///
/// Mirrors Databricks' `oidc_policy` (issuer, audiences, subject_claim, subject). With
/// `service_principal_client_id` set it is a service-principal federation policy: it only
/// applies to exchanges naming that `client_id`, and the token then acts as that principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationPolicy {
    /// Trusted issuer, compared to the token's `iss` as an exact string.
    pub issuer: String,
    /// Accepted `aud` values; the token needs at least one of them.
    pub audiences: Vec<String>,
    /// The claim naming the user (default `sub`).
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// When set, the subject claim must equal this value.
    #[serde(default)]
    pub subject: Option<String>,
    /// When set, a service-principal policy for this application id.
    #[serde(default)]
    pub service_principal_client_id: Option<String>,
}

fn default_subject_claim() -> String {
    "sub".to_owned()
}

impl FederationPolicy {
    /// An account-wide (user) policy trusting `issuer` for `audiences`, subject claim `sub`.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            subject_claim: default_subject_claim(),
            subject: None,
            service_principal_client_id: None,
        }
    }
}

/// State shared by every listener of one devstack.
pub(crate) struct Shared {
    pub(crate) info: DevstackInfo,
    pub(crate) auto_approve: Option<String>,
    pub(crate) idp_token_ttl: Duration,
    pub(crate) workspace_token_ttl: Duration,
    pub(crate) rotate_refresh_tokens: bool,
    pub(crate) keys: keys::SigningKeys,
    pub(crate) idp: Mutex<idp_token::IdpStore>,
    pub(crate) clients: Vec<idp::Client>,
    pub(crate) workspaces: Vec<workspace_state::Workspace>,
    pub(crate) stats: stats::Recorder,
    pub(crate) faults: Faults,
    pub(crate) verifier: exchange::Verifier,
    pub(crate) user_roles: std::collections::BTreeMap<String, Vec<String>>,
    pub(crate) account: account_state::Account,
    pub(crate) endpoints: serving_admin::Endpoints,
    pub(crate) connections: Arc<server::Connections>,
    pub(crate) claude_models: Vec<String>,
    pub(crate) openai_models: Vec<String>,
    pub(crate) ai_gateway: bool,
    /// Whether `/api/2.0/mcp/vector-search/…` is served (see `mcp.rs`).
    pub(crate) vector_search_route: std::sync::atomic::AtomicBool,
    /// How the token exchange answers a request for scopes narrower than `all-apis`.
    pub(crate) narrow_scopes: Mutex<NarrowScopes>,
    pub(crate) model_services: bool,
    /// `true` while streams hold back all but their first event ([`Devstack::hold_streams`]).
    pub(crate) stream_gate: tokio::sync::watch::Sender<bool>,
}

/// How a workspace's token exchange answers a request for scopes other than `all-apis` (and
/// `offline_access`): whether the exchange grants the managed-MCP scopes (`sql`, `genie`, …)
/// is not published; the federation docs only ever send `all-apis`. So both answers are
/// modelled, and a third, wrong one for the client's checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NarrowScopes {
    /// Grants exactly the scopes asked for (the default).
    #[default]
    Grant,
    /// Refuses them: HTTP 400 `invalid_scope`, naming the scopes (RFC 6749 §5.2's code for "the
    /// requested scope is invalid, unknown, or malformed"; Databricks' own wording for this case
    /// is not published).
    Refuse,
    /// Answers with an `all-apis` token whatever was asked: the answer a client must not take
    /// for the narrow token it asked for.
    AnswerAllApis,
}

impl Shared {
    pub(crate) fn workspace(&self, name: &str) -> Option<&workspace_state::Workspace> {
        self.workspaces.iter().find(|w| w.info.name == name)
    }
}

/// A running devstack. Dropping it stops the listeners; [`Devstack::shutdown`] also waits.
pub struct Devstack {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the IdP and the `dev` and `prod` workspaces.
///
/// Generates fresh signing keys (RSA 2048 and P-256), so this takes a moment.
pub async fn start(opts: DevstackOptions) -> anyhow::Result<Devstack> {
    anyhow::ensure!(
        opts.addr.ip().is_loopback(),
        "the devstack listens on loopback only, not on {}",
        opts.addr.ip()
    );
    let port = |offset: u16| -> anyhow::Result<SocketAddr> {
        let mut addr = opts.addr;
        if addr.port() != 0 {
            let p = addr
                .port()
                .checked_add(offset)
                .context("the devstack port is too high to leave room for two workspaces")?;
            addr.set_port(p);
        }
        Ok(addr)
    };
    anyhow::ensure!(
        !opts.port_443 || opts.tls,
        "workspaces on port 443 are served over TLS only: set tls too"
    );
    anyhow::ensure!(
        opts.extra_workspaces <= 250 || !opts.port_443,
        "at most 250 extra workspaces on port 443"
    );
    // With `port_443`, host `k` of a random 127.<a>.<b>.0/24 at port 443; else `port(offset)`.
    let net = opts.port_443.then(|| {
        let r = keys::random_bytes(2);
        [r[0].max(1), r[1]]
    });
    let own = |k: usize, offset: u16| -> anyhow::Result<SocketAddr> {
        match net {
            Some([a, b]) => Ok(SocketAddr::from(([127, a, b, u8::try_from(k)?], 443))),
            None => port(offset),
        }
    };
    let idp_listener = server::bind(port(0)?).await?;
    let dev_listener = server::bind(own(2, 1)?).await?;
    let prod_listener = server::bind(own(3, 2)?).await?;
    let accounts_listener = server::bind(own(4, 3)?).await?;
    let mut extra_listeners = Vec::with_capacity(opts.extra_workspaces);
    for i in 0..opts.extra_workspaces {
        let addr = match net {
            Some(_) => own(5 + i, 0)?,
            None => SocketAddr::new(opts.addr.ip(), 0),
        };
        extra_listeners.push(server::bind(addr).await?);
    }
    let tls = if opts.tls {
        let mut ips: Vec<std::net::IpAddr> = Vec::new();
        for l in [&dev_listener, &prod_listener, &accounts_listener].into_iter().chain(&extra_listeners) {
            ips.push(l.local_addr()?.ip());
        }
        Some(
            tokio::task::spawn_blocking(move || tls::Tls::generate(&ips))
                .await
                .context("CA generation panicked")??,
        )
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // A URL at https' own port names no port, as a real workspace URL does.
    let base = |l: &tokio::net::TcpListener| -> anyhow::Result<String> {
        let addr = l.local_addr()?;
        Ok(if scheme == "https" && addr.port() == 443 {
            format!("https://{}", addr.ip())
        } else {
            format!("{scheme}://{addr}")
        })
    };
    let issuer = base(&idp_listener)?;
    let workspaces = vec![
        WorkspaceInfo { name: "dev".into(), host: base(&dev_listener)?, workspace_id: 7_000_000_000_000_001 },
        WorkspaceInfo {
            name: "prod".into(),
            host: base(&prod_listener)?,
            workspace_id: 7_000_000_000_000_002,
        },
    ];
    let mut workspaces = workspaces;
    for (i, l) in extra_listeners.iter().enumerate() {
        workspaces.push(WorkspaceInfo {
            name: format!("ws{:03}", i + 1),
            host: base(l)?,
            workspace_id: 7_000_000_000_001_001 + i as u64,
        });
    }
    let names: Vec<String> = workspaces.iter().map(|w| w.name.clone()).collect();
    let info = DevstackInfo {
        issuer: issuer.clone(),
        client_id: CLIENT_ID.to_owned(),
        workspaces: workspaces.clone(),
        service_principal: ServicePrincipalInfo {
            client_id: keys::random_uuid(),
            client_secret: format!("dose{}", keys::random_hex(20)),
        },
        account_id: keys::random_uuid(),
        account_host: base(&accounts_listener)?,
        ca_pem: tls.as_ref().map(|t| t.ca_pem.clone()),
    };
    let keys = tokio::task::spawn_blocking(keys::SigningKeys::generate)
        .await
        .context("key generation panicked")??;
    let shared = Arc::new(Shared {
        auto_approve: opts.auto_approve,
        idp_token_ttl: opts.idp_token_ttl,
        workspace_token_ttl: opts.workspace_token_ttl,
        rotate_refresh_tokens: opts.rotate_refresh_tokens,
        keys,
        idp: Mutex::new(idp_token::IdpStore::default()),
        clients: vec![idp::Client::lakepass_dev(opts.id_token_on_refresh)],
        workspaces: workspaces.into_iter().map(|w| workspace_state::Workspace::new(w, &issuer)).collect(),
        stats: stats::Recorder::new(&names.iter().map(String::as_str).collect::<Vec<_>>()),
        faults: Faults::default(),
        verifier: exchange::Verifier::new(tls.as_ref().map(tls::Tls::root).transpose()?)?,
        user_roles: opts.user_roles.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect(),
        account: account_state::Account::new(&info.service_principal.client_id),
        endpoints: Default::default(),
        connections: Default::default(),
        claude_models: opts.claude_models,
        openai_models: opts.openai_models,
        ai_gateway: opts.ai_gateway,
        vector_search_route: std::sync::atomic::AtomicBool::new(true),
        narrow_scopes: Mutex::new(NarrowScopes::Grant),
        model_services: opts.model_services,
        stream_gate: tokio::sync::watch::Sender::new(false),
        info,
    });
    let conns = &shared.connections;
    let acceptor = tls.map(|t| t.acceptor);
    let serve = |l, router| server::spawn(l, router, conns.clone(), acceptor.clone());
    let mut tasks = vec![
        serve(idp_listener, idp::router(shared.clone())),
        serve(dev_listener, workspace::router(shared.clone(), "dev")),
        serve(prod_listener, workspace::router(shared.clone(), "prod")),
        serve(accounts_listener, account_auth::router(shared.clone())),
    ];
    for (l, name) in extra_listeners.into_iter().zip(names.iter().skip(2)) {
        tasks.push(serve(l, workspace::router(shared.clone(), name)));
    }
    tracing::info!(issuer = %shared.info.issuer, "devstack started");
    Ok(Devstack { shared, tasks })
}

impl Devstack {
    /// Where everything listens and which credentials to use.
    pub fn info(&self) -> &DevstackInfo {
        &self.shared.info
    }

    /// The fault-injection handle (cheap to clone; affects this devstack live).
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// A Lakepass `config.toml` pointing at this devstack ([`DevstackInfo::client_config`]).
    pub fn client_config(&self, opts: &ClientConfigOptions) -> String {
        self.info().client_config(opts)
    }

    /// A snapshot of what the peers have done so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Connections open now and at most (every listener together), and the most requests served
    /// at once: what a client really held open.
    pub fn connections(&self) -> ConnectionStats {
        self.shared.connections.snapshot()
    }

    /// Starts the peaks of [`Devstack::connections`] again from what is open now.
    pub fn reset_connection_peaks(&self) {
        self.shared.connections.reset_peaks();
    }

    /// Revokes every refresh token issued so far (later sign-ins get working ones again).
    pub fn revoke_refresh_tokens(&self) {
        self.shared.idp.lock().expect("idp store poisoned").revoke_all();
    }

    /// Adds a federation policy to workspace `workspace` (`dev` or `prod`), e.g. to trust a real
    /// external OIDC provider. An unknown workspace name is ignored with a warning.
    pub fn add_federation_policy(&self, workspace: &str, policy: FederationPolicy) {
        add_policy(&self.shared, workspace, policy);
    }

    /// Makes the IdP sign new tokens with `alg` (the JWKS always publishes both keys).
    pub fn set_signing_alg(&self, alg: SigningAlg) {
        self.shared.keys.set_alg(alg);
    }

    /// Replaces the RSA signing key with a new one under a new kid; the old kid leaves the JWKS,
    /// so tokens it signed stop verifying. Returns the new kid.
    pub async fn rotate_signing_key(&self) -> String {
        self.shared.keys.rotate_rsa().await
    }

    /// Makes every workspace's token exchange answer narrow scope requests as `mode` says.
    pub fn set_narrow_scopes(&self, mode: NarrowScopes) {
        *self.shared.narrow_scopes.lock().expect("narrow scopes poisoned") = mode;
    }

    /// While `hold` is true, a Gemini SSE stream sends its first event and then waits, open,
    /// until it is false again (see `gemini.rs`).
    pub fn hold_streams(&self, hold: bool) {
        self.shared.stream_gate.send_replace(hold);
    }

    /// Serves (or not) the `/api/2.0/mcp/vector-search/…` spelling of the search servers; the
    /// `ai-search` one is always served.
    pub fn set_vector_search_route(&self, on: bool) {
        self.shared.vector_search_route.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Signs arbitrary claims with the IdP's current key (for tests that need a correctly signed
    /// token with a wrong claim). The header carries the current alg and kid. Like a sign-in, it
    /// provisions the account users its `sub` and `email` name, so only the claim under test is
    /// wrong; [`Devstack::remove_account_user`] undoes that.
    pub fn sign_claims(&self, claims: &serde_json::Value) -> String {
        self.provision(claims);
        self.shared.keys.sign(claims)
    }

    /// Like [`Devstack::sign_claims`], but the header names no `kid`.
    pub fn sign_claims_without_kid(&self, claims: &serde_json::Value) -> String {
        self.provision(claims);
        self.shared.keys.sign_with_kid(claims, false)
    }

    fn provision(&self, claims: &serde_json::Value) {
        for claim in ["sub", "email"] {
            if let Some(name) = claims.get(claim).and_then(serde_json::Value::as_str) {
                self.shared.account.add_user(name);
            }
        }
    }

    /// Stops every listener and waits until they are gone.
    pub async fn shutdown(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Devstack {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

// The CLI and tests move a devstack across tasks.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Devstack>();
    send_sync::<Faults>();
};

pub(crate) fn add_policy(shared: &Shared, workspace: &str, policy: FederationPolicy) -> bool {
    match shared.workspace(workspace) {
        Some(ws) => {
            ws.policies.lock().expect("policies poisoned").push(policy);
            true
        }
        None => {
            tracing::warn!(workspace, "no such devstack workspace; policy ignored");
            false
        }
    }
}
