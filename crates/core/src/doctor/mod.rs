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

mod problems;

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde::Serialize;

use crate::Secret;
use crate::clock::{SharedClock, UnixTime};
use crate::config::{Config, SubjectTokenKind, Workspace};
use crate::engine::{Engine, EngineError, EngineOptions};
use crate::exchange::{self, ExchangeError, ExchangeParams};
use crate::http::Http;
use crate::idp::{self, IdpError};
use crate::jwt::{self, UnverifiedJwt};
use crate::paths::Paths;
use crate::roles::{self, RoleError};
use crate::store::Store;

pub use problems::{KnownPolicy, Problem};
use problems::{TokenFacts, span};

/// A clock difference larger than this is reported (Databricks allows little leeway).
pub const SKEW_TOLERANCE_SECS: i64 = 60;

/// Which link of the chain a step checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepId {
    /// The config file and the workspace in it.
    Config,
    /// IdP discovery and JWKS.
    Idp,
    /// The signed-in session and its refresh (or, for M2M, the secret in the vault).
    Session,
    /// The decoded JWT and its expiry.
    Jwt,
    /// alg, kid and signature.
    Signature,
    /// Local clock vs the workspace's.
    Clock,
    /// The token against the expected federation policy (and role mapping).
    Policy,
    /// The token exchange (or client credentials) itself.
    Exchange,
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Fine.
    Ok,
    /// Works, but worth knowing.
    Warning,
    /// Broken: the chain stops here.
    Failed,
    /// Not checked (nothing to compare, or a link before it broke).
    Skipped,
}

/// One link of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Which link.
    pub id: StepId,
    /// Short title.
    pub title: String,
    /// The outcome.
    pub status: StepStatus,
    /// What was found, in words.
    pub detail: String,
    /// What to do, when something is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The recognised failure mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// The JWT's shareable claims.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Claims {
    /// `iss`.
    pub iss: Option<String>,
    /// `aud`, as a list.
    pub aud: Vec<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// The subject claim the policy uses (`sub` when unknown).
    pub subject_claim: String,
    /// Its value.
    pub subject: Option<String>,
    /// `exp`.
    pub exp: Option<UnixTime>,
    /// `iat`.
    pub iat: Option<UnixTime>,
    /// Header `alg`.
    pub alg: Option<String>,
    /// Header `kid`.
    pub kid: Option<String>,
}

/// The doctor's findings.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The workspace checked, when the config named one.
    pub workspace: Option<String>,
    /// Its host.
    pub host: Option<String>,
    /// True when every step passed (warnings allowed).
    pub ok: bool,
    /// The steps, in chain order; the last failed one is where it stopped.
    pub steps: Vec<Step>,
    /// The JWT's claims, once decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Claims>,
}

impl Report {
    /// The broken link, if any.
    pub fn failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.status == StepStatus::Failed)
    }

    /// The recognised problem of the broken link.
    pub fn problem(&self) -> Option<&Problem> {
        self.failure().and_then(|s| s.problem.as_ref())
    }
}

/// What the doctor is given besides the config.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// Diagnose this IdP JWT instead of the signed-in session's (e.g. from another tool).
    pub subject_token: Option<Secret>,
    /// Federation policies fetched with admin rights; when empty, `[workspace.x.policy]`.
    pub policies: Vec<KnownPolicy>,
}

struct Run {
    ws_name: String,
    idp: String,
    report: Report,
}

impl Run {
    fn step(&mut self, id: StepId, title: &str, status: StepStatus, detail: impl Into<String>) {
        self.report.steps.push(Step {
            id,
            title: title.into(),
            status,
            detail: detail.into(),
            fix: None,
            problem: None,
        });
    }

    /// Records a failed step; the caller returns the report.
    fn fail(&mut self, id: StepId, title: &str, problem: Problem) -> Report {
        let (detail, fix) = problem.explain(&self.ws_name, &self.idp);
        self.report.steps.push(Step {
            id,
            title: title.into(),
            status: StepStatus::Failed,
            detail,
            fix: Some(fix),
            problem: Some(problem),
        });
        self.report.ok = false;
        self.report.clone()
    }
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
            let mut run = Run {
                ws_name: workspace.unwrap_or("?").into(),
                idp: "?".into(),
                report: Report {
                    workspace: workspace.map(String::from),
                    host: None,
                    ok: false,
                    steps: vec![],
                    claims: None,
                },
            };
            return run.fail(StepId::Config, "Config", Problem::ConfigInvalid { message: e.to_string() });
        }
    };
    let engine = match Engine::new(config, paths.clone(), store, http, clock, EngineOptions::default()) {
        Ok(e) => e,
        Err(e) => {
            let mut run = Run {
                ws_name: ws.name.clone(),
                idp: ws.idp.clone(),
                report: Report {
                    workspace: Some(ws.name.clone()),
                    host: None,
                    ok: false,
                    steps: vec![],
                    claims: None,
                },
            };
            return run.fail(StepId::Config, "Config", Problem::ConfigInvalid { message: e.to_string() });
        }
    };
    diagnose(&engine, &ws, opts).await
}

/// Runs the chain after the config for one workspace of a built engine.
pub async fn diagnose(engine: &Engine, ws: &Workspace, opts: &DoctorOptions) -> Report {
    let mut run = Run {
        ws_name: ws.name.clone(),
        idp: ws.idp.clone(),
        report: Report {
            workspace: Some(ws.name.clone()),
            host: Some(ws.host.to_string()),
            ok: true,
            steps: vec![],
            claims: None,
        },
    };
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
    if roles::is_m2m(ws) {
        return m2m(engine, ws, run).await;
    }
    federation(engine, ws, opts, run).await
}

async fn m2m(engine: &Engine, ws: &Workspace, mut run: Run) -> Report {
    let client_id = ws.client_id.clone().unwrap_or_default();
    let secret = match roles::m2m_secret(engine.store(), ws).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return run.fail(
                StepId::Session,
                "Client secret",
                Problem::SecretMissing { workspace: ws.name.clone() },
            );
        }
        Err(e) => {
            return run.fail(
                StepId::Session,
                "Client secret",
                Problem::RefreshFailed { idp: "vault".into(), needs_login: false, message: e.to_string() },
            );
        }
    };
    run.step(
        StepId::Session,
        "Client secret",
        StepStatus::Ok,
        format!("the secret of `{client_id}` is in the vault ({})", engine.store().vault().kind()),
    );
    if let Some(r) = clock(engine, ws, &mut run).await {
        return r;
    }
    let req =
        exchange::client_credentials_request(ws.host.join("/oidc/v1/token"), &client_id, &secret, &ws.scopes);
    match exchange::client_credentials(engine.http(), &ws.host, &ws.name, &req, engine.clock().now()).await {
        Ok(t) => {
            run.step(
                StepId::Exchange,
                "Client credentials",
                StepStatus::Ok,
                format!(
                    "the workspace issued a token for `{client_id}`, valid {}",
                    span(t.expires_at - t.issued_at)
                ),
            );
            run.report
        }
        Err(ExchangeError::Rejected { error, .. }) => run.fail(
            StepId::Exchange,
            "Client credentials",
            Problem::ClientCredentialsRejected { client_id, description: error.to_string() },
        ),
        Err(e) => run.fail(
            StepId::Exchange,
            "Client credentials",
            Problem::WorkspaceUnreachable { message: e.to_string() },
        ),
    }
}

async fn federation(engine: &Engine, ws: &Workspace, opts: &DoctorOptions, mut run: Run) -> Report {
    let config = engine.config();
    let idp_cfg = match config.idp(&ws.idp) {
        Ok(i) => i.clone(),
        Err(e) => {
            return run.fail(StepId::Config, "Config", Problem::ConfigInvalid { message: e.to_string() });
        }
    };
    let now = || engine.clock().now();

    // IdP discovery and JWKS.
    let d = match idp::discover(engine.http(), &idp_cfg.issuer).await {
        Ok(d) => d,
        Err(IdpError::IssuerMismatch { configured, found, .. }) => {
            let trailing_slash = configured.trim_end_matches('/') == found.trim_end_matches('/');
            return run.fail(
                StepId::Idp,
                "Identity provider",
                Problem::DiscoveryIssuerMismatch { configured, found, trailing_slash },
            );
        }
        Err(e) => {
            return run.fail(
                StepId::Idp,
                "Identity provider",
                Problem::IdpUnreachable { message: e.to_string() },
            );
        }
    };
    let jwks: JwkSet = match idp::fetch_jwks(engine.http(), &d).await {
        Ok(k) => k,
        Err(e) => {
            let message = e.to_string();
            return run.fail(
                StepId::Idp,
                "Identity provider",
                Problem::JwksUnreachable { url: d.jwks_uri.clone(), message },
            );
        }
    };
    let kids: Vec<String> = jwks.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
    run.step(
        StepId::Idp,
        "Identity provider",
        StepStatus::Ok,
        format!(
            "discovery at {} answers with the configured issuer; JWKS has {} key(s): {}",
            idp_cfg.issuer,
            kids.len(),
            kids.join(", ")
        ),
    );

    // The session (or a given JWT).
    let (subject, refreshable) = match &opts.subject_token {
        Some(t) => {
            run.step(
                StepId::Session,
                "Session",
                StepStatus::Skipped,
                "diagnosing the JWT given on stdin instead of the signed-in session",
            );
            (t.clone(), true)
        }
        None => match session(engine, ws, &mut run).await {
            Ok(x) => x,
            Err(report) => return report,
        },
    };

    // The JWT.
    let token_kind_access = ws.token == SubjectTokenKind::AccessToken;
    let jwt = match jwt::decode_unverified(subject.secret()) {
        Ok(j) => j,
        Err(e) => {
            return run.fail(
                StepId::Jwt,
                "JWT",
                Problem::NotAJwt { reason: e.to_string(), access_token: token_kind_access },
            );
        }
    };
    let policies: Vec<KnownPolicy> = if opts.policies.is_empty() {
        ws.policy
            .iter()
            .map(|p| KnownPolicy { policy: p.clone(), source: "config".into(), service_principal: None })
            .collect()
    } else {
        opts.policies.clone()
    };
    let subject_claim =
        policies.first().map(|p| p.policy.subject_claim.clone()).unwrap_or_else(|| "sub".into());
    let claims = claims_of(&jwt, &subject_claim);
    run.report.claims = Some(claims.clone());
    let exp_text = match claims.exp {
        Some(exp) if exp >= now() => format!("in {}", span(exp - now())),
        Some(exp) => format!("{} ago", span(now() - exp)),
        None => "missing".into(),
    };
    let detail = format!(
        "iss={} aud={} sub={} {}={} exp={} ({exp_text}) iat={} alg={} kid={}",
        claims.iss.as_deref().unwrap_or("-"),
        claims.aud.join(","),
        claims.sub.as_deref().unwrap_or("-"),
        claims.subject_claim,
        claims.subject.as_deref().unwrap_or("(missing)"),
        claims.exp.map(|e| e.to_string()).unwrap_or("-".into()),
        claims.iat.map(|e| e.to_string()).unwrap_or("-".into()),
        claims.alg.as_deref().unwrap_or("-"),
        claims.kid.as_deref().unwrap_or("-"),
    );
    match claims.exp {
        Some(exp) if exp + jwt::LEEWAY_SECS < now() => {
            let r = run.fail(StepId::Jwt, "JWT", Problem::Expired { seconds_ago: now() - exp, refreshable });
            return with_detail_prefix(r, &detail);
        }
        None => {
            return run.fail(
                StepId::Jwt,
                "JWT",
                Problem::NotAJwt { reason: "it has no `exp` claim".into(), access_token: token_kind_access },
            );
        }
        _ => run.step(StepId::Jwt, "JWT", StepStatus::Ok, detail),
    }

    // alg, kid, signature.
    if let Some(p) = signature(&jwt, subject.secret(), &jwks, &kids) {
        return run.fail(StepId::Signature, "Signature", p);
    }
    run.step(
        StepId::Signature,
        "Signature",
        StepStatus::Ok,
        format!(
            "{} with key {} from the issuer's JWKS; the signature verifies",
            claims.alg.as_deref().unwrap_or("-"),
            claims.kid.as_deref().unwrap_or("(only key)")
        ),
    );

    // Clock.
    if let Some(r) = clock(engine, ws, &mut run).await {
        return r;
    }

    // Role mapping and the expected policy.
    let client_id = match roles::pick_client_id(ws, subject.secret()) {
        Ok(c) => c,
        Err(RoleError::NoMappedRole { claim, found, mapped, .. }) => {
            return run.fail(
                StepId::Policy,
                "Federation policy",
                Problem::NoMappedRole { claim, found, mapped },
            );
        }
        Err(e) => {
            return run.fail(
                StepId::Policy,
                "Federation policy",
                Problem::NotAJwt { reason: e.to_string(), access_token: token_kind_access },
            );
        }
    };
    let facts = TokenFacts {
        claims: &jwt.claims,
        audiences: jwt.audiences(),
        client_id: &idp_cfg.client_id,
        account_id: ws.account_id.as_deref(),
    };
    let as_sp = client_id.as_deref().map(|c| format!(" as service principal `{c}`")).unwrap_or_default();
    let relevant: Vec<&KnownPolicy> = policies
        .iter()
        .filter(|p| p.service_principal.is_none() || p.service_principal.as_deref() == client_id.as_deref())
        .collect();
    if relevant.is_empty() {
        run.step(
            StepId::Policy,
            "Federation policy",
            StepStatus::Skipped,
            format!(
                "no expected policy known{as_sp}; add [workspace.{}.policy] to the config (or run with --admin-workspace) to compare claim by claim",
                ws.name
            ),
        );
    } else {
        let results: Vec<(&KnownPolicy, Option<Problem>)> =
            relevant.iter().map(|p| (*p, problems::compare(&facts, &p.policy))).collect();
        let best = results.iter().max_by_key(|(_, r)| problems::closeness(r)).expect("non-empty");
        match &best.1 {
            None => run.step(
                StepId::Policy,
                "Federation policy",
                StepStatus::Ok,
                format!("the claims match the {} policy{as_sp}", best.0.source),
            ),
            Some(p) => {
                let mut r = run.fail(StepId::Policy, "Federation policy", p.clone());
                if let Some(s) = r.steps.last_mut() {
                    s.detail = format!("{} (policy from {})", s.detail, best.0.source);
                }
                return r;
            }
        }
    }

    // The exchange.
    let params = ExchangeParams {
        host: &ws.host,
        workspace: &ws.name,
        scopes: &ws.scopes,
        client_id: client_id.as_deref(),
    };
    match exchange::exchange(engine.http(), &params, &subject, now()).await {
        Ok(t) => {
            run.step(
                StepId::Exchange,
                "Token exchange",
                StepStatus::Ok,
                format!(
                    "{} issued a token{as_sp} (scope {}), valid {}",
                    ws.host,
                    t.scope.as_deref().unwrap_or("-"),
                    span(t.expires_at - t.issued_at)
                ),
            );
            run.report
        }
        Err(ExchangeError::Rejected { status, error, .. }) => {
            let p = problems::from_server(
                status,
                &error.error,
                error.error_description.as_deref().unwrap_or(""),
                &facts,
                client_id.as_deref(),
                true,
            );
            let mut r = run.fail(StepId::Exchange, "Token exchange", p);
            if let Some(s) = r.steps.last_mut() {
                s.detail = format!("{}; the workspace said: {error}", s.detail);
            }
            r
        }
        Err(e) => run.fail(
            StepId::Exchange,
            "Token exchange",
            Problem::WorkspaceUnreachable { message: e.to_string() },
        ),
    }
}

fn with_detail_prefix(mut r: Report, claims: &str) -> Report {
    if let Some(s) = r.steps.last_mut() {
        s.detail = format!("{} ({claims})", s.detail);
    }
    r
}

/// The session step: present, fresh or refreshed. Returns the subject token and whether the
/// session can be renewed.
async fn session(engine: &Engine, ws: &Workspace, run: &mut Run) -> Result<(Secret, bool), Report> {
    const TITLE: &str = "Session";
    let stored = match engine.store().idp_session(&ws.idp).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(run.fail(StepId::Session, TITLE, Problem::NotSignedIn { idp: ws.idp.clone() }));
        }
        Err(e) => {
            return Err(run.fail(
                StepId::Session,
                TITLE,
                Problem::RefreshFailed { idp: ws.idp.clone(), needs_login: false, message: e.to_string() },
            ));
        }
    };
    let who = stored.username.clone().unwrap_or_else(|| stored.subject.clone());
    let refreshable = stored.refresh_token.is_some();
    let pick = |s: &crate::idp::IdpSession| match ws.token {
        SubjectTokenKind::IdToken => Some(s.id_token.clone()),
        SubjectTokenKind::AccessToken => s.access_token.clone(),
    };
    let (session, detail, status) = match engine.idp_session(&ws.idp).await {
        Ok(s) if s.refreshed_at > stored.refreshed_at => {
            (s, format!("signed in as {who}; the session was stale and a refresh worked"), StepStatus::Ok)
        }
        Ok(s) => {
            let left = s.id_token_exp - engine.clock().now();
            let (note, status) = if refreshable {
                ("a refresh token is kept, so it renews itself", StepStatus::Ok)
            } else {
                (
                    "no refresh token: add `offline_access` to the IdP scopes, or you must sign in hourly",
                    StepStatus::Warning,
                )
            };
            (s, format!("signed in as {who}; id_token valid for {}; {note}", span(left)), status)
        }
        Err(EngineError::NeedsLogin { reason: Some(r), .. })
            if !refreshable && r.contains("no refresh token") =>
        {
            // Keep going with the stale token: the JWT step names the expiry exactly.
            (
                stored.clone(),
                format!("signed in as {who}, but the session is stale and the IdP gave no refresh token"),
                StepStatus::Warning,
            )
        }
        Err(EngineError::NeedsLogin { reason, .. }) => {
            let message = reason.unwrap_or_else(|| "the session is gone".into());
            return Err(run.fail(
                StepId::Session,
                TITLE,
                Problem::RefreshFailed { idp: ws.idp.clone(), needs_login: true, message },
            ));
        }
        Err(e) => {
            return Err(run.fail(
                StepId::Session,
                TITLE,
                Problem::RefreshFailed { idp: ws.idp.clone(), needs_login: false, message: e.to_string() },
            ));
        }
    };
    let Some(subject) = pick(&session) else {
        return Err(run.fail(StepId::Session, TITLE, Problem::NoAccessToken { idp: ws.idp.clone() }));
    };
    run.step(StepId::Session, TITLE, status, detail);
    Ok((subject, refreshable))
}

fn claims_of(jwt: &UnverifiedJwt, subject_claim: &str) -> Claims {
    Claims {
        iss: jwt.str_claim("iss").map(String::from),
        aud: jwt.audiences(),
        sub: jwt.str_claim("sub").map(String::from),
        subject_claim: subject_claim.into(),
        subject: jwt.str_claim(subject_claim).map(String::from),
        exp: jwt.exp(),
        iat: jwt.iat(),
        alg: jwt.alg().map(String::from),
        kid: jwt.kid().map(String::from),
    }
}

/// alg, kid and signature; `None` when all is well.
fn signature(jwt: &UnverifiedJwt, token: &str, jwks: &JwkSet, kids: &[String]) -> Option<Problem> {
    let alg = match jwt.alg() {
        Some("RS256") => jsonwebtoken::Algorithm::RS256,
        Some("ES256") => jsonwebtoken::Algorithm::ES256,
        other => return Some(Problem::AlgorithmNotAllowed { alg: other.unwrap_or("(missing)").into() }),
    };
    let jwk = match jwt.kid() {
        Some(kid) => match jwks.find(kid) {
            Some(k) => k,
            None => return Some(Problem::UnknownKid { kid: kid.into(), known: kids.to_vec() }),
        },
        None if jwks.keys.len() == 1 => &jwks.keys[0],
        None => {
            return Some(Problem::UnknownKid {
                kid: "(none in the token header)".into(),
                known: kids.to_vec(),
            });
        }
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(jwk) else {
        return Some(Problem::BadSignature);
    };
    let mut v = jsonwebtoken::Validation::new(alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    match jsonwebtoken::decode::<serde_json::Value>(token.trim(), &key, &v) {
        Ok(_) => None,
        Err(_) => Some(Problem::BadSignature),
    }
}

/// The clock step: this machine's clock against the workspace's `Date`. `Some` ends the chain.
async fn clock(engine: &Engine, ws: &Workspace, run: &mut Run) -> Option<Report> {
    const TITLE: &str = "Clock";
    let url = ws.host.join("/oidc/.well-known/oauth-authorization-server");
    let before = engine.clock().now();
    let resp = match tokio::time::timeout(Duration::from_secs(20), engine.http().get(&url, None)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return Some(run.fail(
                StepId::Clock,
                TITLE,
                Problem::WorkspaceUnreachable { message: e.to_string() },
            ));
        }
        Err(_) => {
            return Some(run.fail(
                StepId::Clock,
                TITLE,
                Problem::WorkspaceUnreachable { message: format!("{url} did not answer in 20 s") },
            ));
        }
    };
    let after = engine.clock().now();
    let Some(server) = resp.date else {
        run.step(
            StepId::Clock,
            TITLE,
            StepStatus::Warning,
            "the workspace sent no Date header; the clock could not be compared",
        );
        return None;
    };
    let local = before + (after - before) / 2;
    let skew = server - local;
    if skew.abs() > SKEW_TOLERANCE_SECS {
        return Some(run.fail(StepId::Clock, TITLE, Problem::ClockSkew { seconds: skew }));
    }
    run.step(
        StepId::Clock,
        TITLE,
        StepStatus::Ok,
        format!("this machine's clock is within {}s of the workspace's", skew.abs().max(1)),
    );
    None
}
