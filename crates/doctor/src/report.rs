//! The doctor's report: what the CLI prints, `--json` serializes and the dashboard renders.
//!
//! These types are the report's JSON shape, so they live apart from the steps that fill them:
//! a step can change how it checks without touching what a reader of the report sees. [`Run`]
//! is the report being written, with the two ways a step ends: a line, or the broken link.

use serde::Serialize;

use super::problems::Problem;
use lakepass_wire::clock::UnixTime;

/// Which link of the chain a step checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    #[cfg_attr(feature = "ts", ts(optional))]
    pub fix: Option<String>,
    /// The recognised failure mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub problem: Option<Problem>,
}

/// The JWT's shareable claims.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    #[cfg_attr(feature = "ts", ts(optional))]
    pub claims: Option<Claims>,
    /// The Claude Code `lakepass launch claude` would start, when it is installed (filled by the
    /// caller, which knows where programs are).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub claude_code: Option<ClaudeCodeFacts>,
}

/// The installed Claude Code, as a launch will use it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaudeCodeFacts {
    /// Where it is.
    pub program: String,
    /// What `claude --version` said (`None`: it could not be read).
    pub version: Option<String>,
    /// What of the launch it cannot carry out (each with the version that would).
    pub shortfalls: Vec<String>,
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

/// A step broke the chain: the failed step is the last one of the [`Run`]'s report.
#[must_use = "a broken link ends the chain"]
#[derive(Debug)]
pub(super) struct Stopped;

/// The report being written, and the names its problems are explained with.
#[derive(Debug)]
pub(super) struct Run {
    ws_name: String,
    idp: String,
    pub(super) report: Report,
}

impl Run {
    /// An empty report for a workspace (named by `ws_name` in fixes) signing in at `idp`.
    pub(super) fn new(ws_name: String, idp: String, workspace: Option<String>, host: Option<String>) -> Self {
        Run {
            ws_name,
            idp,
            report: Report { workspace, host, ok: true, steps: vec![], claims: None, claude_code: None },
        }
    }

    /// Records a step that did not break the chain.
    pub(super) fn step(&mut self, id: StepId, title: &str, status: StepStatus, detail: impl Into<String>) {
        self.report.steps.push(Step {
            id,
            title: title.into(),
            status,
            detail: detail.into(),
            fix: None,
            problem: None,
        });
    }

    /// Records a failed step; the caller stops the chain.
    pub(super) fn fail(&mut self, id: StepId, title: &str, problem: Problem) -> Stopped {
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
        Stopped
    }

    /// Adds to the last step's detail what only the caller knows (the claims, the policy's
    /// source, the workspace's words).
    pub(super) fn amend_last(&mut self, amend: impl FnOnce(&str) -> String) {
        if let Some(s) = self.report.steps.last_mut() {
            s.detail = amend(&s.detail);
        }
    }
}
