//! The workspace steps: this machine's clock against the workspace's, and the exchange itself
//! (RFC 8693 token exchange for a federated user, client credentials for a service principal).
//!
//! They are last because they are the only steps that ask the workspace; when one fails after
//! every local check passed, the workspace's own words are kept in the report.

use std::time::Duration;

use super::SKEW_TOLERANCE_SECS;
use super::policy::as_sp;
use super::problems::{self, Problem, span};
use super::report::{Run, StepId, StepStatus, Stopped};
use lakepass_config::Workspace;
use lakepass_engine::engine::Engine;
use lakepass_wire::Secret;
use lakepass_wire::exchange::{self, ExchangeError, ExchangeParams};

/// The clock step: this machine's clock against the workspace's `Date`.
pub(super) async fn clock(engine: &Engine, ws: &Workspace, run: &mut Run) -> Result<(), Stopped> {
    const TITLE: &str = "Clock";
    let url = ws.host.join("/oidc/.well-known/oauth-authorization-server");
    let before = engine.clock().now();
    let resp = match tokio::time::timeout(Duration::from_secs(20), engine.http().get(&url, None)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return Err(run.fail(
                StepId::Clock,
                TITLE,
                Problem::or_untrusted(&e, Problem::WorkspaceUnreachable { message: e.to_string() }),
            ));
        }
        Err(_) => {
            return Err(run.fail(
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
        return Ok(());
    };
    let local = before + (after - before) / 2;
    let skew = server - local;
    if skew.abs() > SKEW_TOLERANCE_SECS {
        return Err(run.fail(StepId::Clock, TITLE, Problem::ClockSkew { seconds: skew }));
    }
    run.step(
        StepId::Clock,
        TITLE,
        StepStatus::Ok,
        format!("this machine's clock is within {}s of the workspace's", skew.abs().max(1)),
    );
    Ok(())
}

/// The exchange step: the workspace trades the subject token for its own. A refusal keeps the
/// workspace's own words; it is named more precisely only from structured data (see
/// [`problems::from_server`]).
pub(super) async fn token_exchange(
    engine: &Engine,
    ws: &Workspace,
    subject: &Secret,
    client_id: Option<&str>,
    sp_without_policy: Option<&str>,
    run: &mut Run,
) -> Result<(), Stopped> {
    const TITLE: &str = "Token exchange";
    let params = ExchangeParams { host: &ws.host, workspace: &ws.name, scopes: &ws.scopes, client_id };
    match exchange::exchange(engine.http(), &params, subject, engine.clock().now()).await {
        Ok(t) => {
            run.step(
                StepId::Exchange,
                TITLE,
                StepStatus::Ok,
                format!(
                    "{} issued a token{} (scope {}), valid {}",
                    ws.host,
                    as_sp(client_id),
                    t.scope.as_deref().unwrap_or("-"),
                    span(t.expires_at - t.issued_at)
                ),
            );
            Ok(())
        }
        Err(ExchangeError::Rejected { status, error, .. }) => {
            let p = problems::from_server(
                status,
                error.error.as_str(),
                error.error_description.as_deref().unwrap_or(""),
                sp_without_policy,
            );
            // A user's token is mapped to an existing account user by its subject claim; a
            // subject with no user is refused in the workspace's own words. Name the subject
            // looked for and where a user is added, whatever those words are.
            let user = match (client_id, run.report.claims.as_ref()) {
                (None, Some(c))
                    if (400..500).contains(&status) && error.error.as_str() != "invalid_scope" =>
                {
                    c.subject.clone().or_else(|| c.sub.clone()).map(|v| (c.subject_claim.clone(), v))
                }
                _ => None,
            };
            let stop = run.fail(StepId::Exchange, TITLE, p);
            run.amend_last(|d| format!("{d}; the workspace said: {error}"));
            if let Some((claim, value)) = user {
                let account = ws.account_id.as_deref().unwrap_or("<account-id>");
                run.amend_last(|d| {
                    format!(
                        "{d}. Databricks maps the token's `{claim}` (`{value}`) to an account user with that \
                         user name; if there is none, add the user: account console → User management → \
                         Users → Add user, or SCIM `POST /api/2.0/accounts/{account}/scim/v2/Users` with \
                         userName `{value}` (or provision it from the IdP)"
                    )
                });
            }
            Err(stop)
        }
        Err(e) => {
            let unreachable = Problem::WorkspaceUnreachable { message: e.to_string() };
            let p = Problem::or_untrusted(&e, Problem::or_unavailable(&e, unreachable));
            Err(run.fail(StepId::Exchange, TITLE, p))
        }
    }
}

/// The M2M exchange step: the workspace issues a token for the service principal's secret.
pub(super) async fn client_credentials(
    engine: &Engine,
    ws: &Workspace,
    client_id: &str,
    secret: &Secret,
    run: &mut Run,
) -> Result<(), Stopped> {
    const TITLE: &str = "Client credentials";
    let req =
        exchange::client_credentials_request(ws.host.join("/oidc/v1/token"), client_id, secret, &ws.scopes);
    match exchange::client_credentials(engine.http(), &ws.host, &ws.name, &req, engine.clock().now()).await {
        Ok(t) => {
            run.step(
                StepId::Exchange,
                TITLE,
                StepStatus::Ok,
                format!(
                    "the workspace issued a token for `{client_id}`, valid {}",
                    span(t.expires_at - t.issued_at)
                ),
            );
            Ok(())
        }
        Err(ExchangeError::Rejected { error, .. }) => Err(run.fail(
            StepId::Exchange,
            TITLE,
            Problem::ClientCredentialsRejected {
                client_id: client_id.into(),
                description: error.to_string(),
            },
        )),
        Err(e) => {
            let unreachable = Problem::WorkspaceUnreachable { message: e.to_string() };
            let p = Problem::or_untrusted(&e, Problem::or_unavailable(&e, unreachable));
            Err(run.fail(StepId::Exchange, TITLE, p))
        }
    }
}
