//! The policy step: the token's claims against the federation policy the workspace should have
//! — fetched with admin rights when the caller has them, else `[workspace.x.policy]` — after
//! the role mapping picked the service principal the token is exchanged for.
//!
//! Comparing here, claim by claim, names the one claim the workspace would refuse, which its own
//! 400 does not.

use super::DoctorOptions;
use super::problems::{self, KnownPolicy, Problem, TokenFacts};
use super::report::{Run, StepId, StepStatus, Stopped};
use lakepass_config::{SubjectTokenKind, Workspace};
use lakepass_engine::roles::{self, RoleError};
use lakepass_wire::Secret;

const TITLE: &str = "Federation policy";

/// The policies to compare with: the admin-fetched ones, else the config's.
pub(super) fn expected(ws: &Workspace, opts: &DoctorOptions) -> Vec<KnownPolicy> {
    if opts.policies.is_empty() {
        ws.policy
            .iter()
            .map(|p| KnownPolicy {
                policy: p.clone(),
                source: "policy in the config".into(),
                service_principal: None,
                jwks_uri: None,
                jwks_json: None,
            })
            .collect()
    } else {
        opts.policies.clone()
    }
}

/// The subject claim the policies use: the first one's, else `sub`.
pub(super) fn subject_claim(policies: &[KnownPolicy]) -> String {
    policies.first().map(|p| p.policy.subject_claim.clone()).unwrap_or_else(|| "sub".into())
}

/// The role mapping: which service principal the token is exchanged for (`None`: the
/// workspace picks by policy). A failure is the policy step's.
pub(super) fn role(ws: &Workspace, subject: &Secret, run: &mut Run) -> Result<Option<String>, Stopped> {
    match roles::pick_client_id(ws, subject.secret()) {
        Ok(c) => Ok(c),
        Err(RoleError::NoMappedRole { claim, found, mapped, .. }) => {
            Err(run.fail(StepId::Policy, TITLE, Problem::NoMappedRole { claim, found, mapped }))
        }
        Err(e) => Err(run.fail(
            StepId::Policy,
            TITLE,
            Problem::NotAJwt {
                reason: e.to_string(),
                access_token: ws.token == SubjectTokenKind::AccessToken,
            },
        )),
    }
}

/// ` as service principal `x``, or nothing when the workspace picks.
pub(super) fn as_sp(client_id: Option<&str>) -> String {
    client_id.map(|c| format!(" as service principal `{c}`")).unwrap_or_default()
}

/// The policy step: the policies that apply to `client_id` against the token; the closest one
/// is reported, and its first mismatch ends the chain.
pub(super) fn policy(
    ws: &Workspace,
    facts: &TokenFacts<'_>,
    policies: &[KnownPolicy],
    fetched: bool,
    failures: &[String],
    client_id: Option<&str>,
    run: &mut Run,
) -> Result<(), Stopped> {
    let as_sp = as_sp(client_id);
    for failure in failures {
        run.step(
            StepId::Policy,
            "Federation policy lookup",
            StepStatus::Warning,
            format!("could not fetch {failure}; comparing with what was found"),
        );
    }
    let relevant: Vec<&KnownPolicy> = policies
        .iter()
        .filter(|p| p.service_principal.is_none() || p.service_principal.as_deref() == client_id)
        .collect();
    if relevant.is_empty() {
        run.step(
            StepId::Policy,
            TITLE,
            StepStatus::Skipped,
            if fetched {
                format!(
                    "the account has no federation policy for this workspace{as_sp}; create one (`lakepass admin policy create --from-idp {}`), or add [workspace.{}.policy] to the config to compare claim by claim",
                    ws.idp, ws.name
                )
            } else {
                format!(
                    "no expected policy known{as_sp}; add [workspace.{}.policy] to the config (or run with --admin-workspace) to compare claim by claim",
                    ws.name
                )
            },
        );
        return Ok(());
    }
    let results: Vec<(&KnownPolicy, Option<Problem>)> =
        relevant.iter().map(|p| (*p, problems::compare(facts, &p.policy))).collect();
    let best = results.iter().max_by_key(|(_, r)| problems::closeness(r)).expect("non-empty");
    match &best.1 {
        None => {
            run.step(
                StepId::Policy,
                TITLE,
                StepStatus::Ok,
                format!("the claims match the {}{as_sp}", best.0.source),
            );
            Ok(())
        }
        Some(p) => {
            let stop = run.fail(StepId::Policy, TITLE, p.clone());
            run.amend_last(|d| format!("{d} (compared with the {})", best.0.source));
            Err(stop)
        }
    }
}
