//! `lakepass doctor` against a devstack configured wrong in each way the issue lists: each
//! failure is named by the right step and problem kind, with a fix.

use crate::admin::{AdminSetup, admin_setup};
use crate::support::{Fixture, devstack, home};
use lakepass_admin::{self as admin, AdminClient, PolicySpec};
use lakepass_devstack::{FaultKind, FaultRule, FederationPolicy, Target};
use lakepass_doctor::{self as doctor, DoctorOptions, KnownPolicy, Problem, Report, StepId, StepStatus};
use lakepass_engine::{BoundSession, SessionOwner};
use lakepass_wire::Secret;
use lakepass_wire::idp::IdpSession;
use serde_json::json;

async fn run(h: &Fixture, ws: &str, opts: &DoctorOptions) -> Report {
    let e = h.engine().await;
    let ws = e.config().workspace(Some(ws)).unwrap();
    doctor::diagnose(&e, &ws, opts).await
}

#[track_caller]
fn failed_at(r: &Report, step: StepId) -> Problem {
    let f = r.failure().unwrap_or_else(|| panic!("expected a failure at {step:?}: {r:#?}"));
    assert_eq!(f.id, step, "{r:#?}");
    assert!(f.fix.as_deref().is_some_and(|x| !x.is_empty()), "{r:#?}");
    // Later steps were not run: the chain stops at the first broken link.
    assert_eq!(r.steps.last().unwrap().id, step, "{r:#?}");
    f.problem.clone().expect("a recognised problem")
}

fn policy_toml(issuer: &str, audiences: &[&str], subject_claim: &str, subject: Option<&str>) -> String {
    let subject = subject.map(|s| format!("subject = \"{s}\"\n")).unwrap_or_default();
    format!(
        "\n[workspace.dev.policy]\nissuer = \"{issuer}\"\naudiences = {audiences:?}\nsubject_claim = \"{subject_claim}\"\n{subject}"
    )
}

fn devstack_policy(
    issuer: &str,
    audiences: Vec<String>,
    subject_claim: &str,
    subject: Option<&str>,
) -> FederationPolicy {
    FederationPolicy {
        subject_claim: subject_claim.into(),
        subject: subject.map(String::from),
        ..FederationPolicy::new(issuer, audiences)
    }
}

#[tokio::test]
async fn a_healthy_setup_passes_every_step_and_never_shows_the_jwt() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let h = home(&ds, &policy_toml(&info.issuer, &[&info.client_id], "email", None));
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    assert!(r.ok, "{r:#?}");
    let ids: Vec<StepId> = r.steps.iter().map(|s| s.id).collect();
    use StepId::*;
    assert_eq!(ids, vec![Config, Idp, Session, Jwt, Signature, Clock, Policy, Exchange]);
    assert!(r.steps.iter().all(|s| s.status == StepStatus::Ok), "{r:#?}");
    let claims = r.claims.clone().unwrap();
    assert_eq!(claims.iss.as_deref(), Some(info.issuer.as_str()));
    assert_eq!(claims.subject.as_deref(), Some("ada@example.com"));
    assert_eq!(claims.alg.as_deref(), Some("RS256"));
    let json = serde_json::to_string(&r).unwrap();
    let session = e.stored_session("devstack").await.unwrap().unwrap();
    assert!(!json.contains(session.id_token.secret()), "the report never holds the JWT");
    assert!(!json.contains("eyJ"), "{json}");
}

#[tokio::test]
async fn issuer_differing_by_a_trailing_slash_is_named() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let slashed = format!("{}/", info.issuer);
    let h = home(&ds, &policy_toml(&slashed, &[&info.client_id], "email", None));
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    ds.set_federation_policies(
        "dev",
        vec![devstack_policy(&slashed, vec![info.client_id.clone()], "email", None)],
    );
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    let p = failed_at(&r, StepId::Policy);
    assert_eq!(p, Problem::IssuerTrailingSlash { token: info.issuer.clone(), policy: slashed.clone() });
    let step = r.failure().unwrap();
    assert!(step.detail.contains("only by a trailing slash"), "{}", step.detail);
    assert!(step.fix.as_deref().unwrap().contains(&format!("exactly `{}`", info.issuer)));

    // Without an expected policy the exchange itself is where it breaks: the workspace's own
    // words are shown, and nothing is guessed from them.
    let h2 = home(&ds, "");
    let e2 = h2.engine().await;
    let _ = h2.login_as(&e2, None).await; // the first exchange fails: the devstack is misconfigured
    let r = run(&h2, "dev", &DoctorOptions::default()).await;
    let p = failed_at(&r, StepId::Exchange);
    match p {
        Problem::ExchangeRejected { status: 401, error, description } => {
            assert_eq!(error, "invalid_request");
            let step = r.failure().unwrap();
            assert!(step.detail.contains(&description) && !description.is_empty(), "{step:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.steps.iter().find(|s| s.id == StepId::Policy).unwrap().status, StepStatus::Skipped);
}

#[tokio::test]
async fn audience_is_the_client_id_but_the_policy_expects_the_account_id() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    // A policy without audiences means "the account id" at Databricks.
    let h = home(&ds, &policy_toml(&info.issuer, &[], "email", None));
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    ds.set_federation_policies(
        "dev",
        vec![devstack_policy(&info.issuer, vec![info.account_id.clone()], "email", None)],
    );
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    let p = failed_at(&r, StepId::Policy);
    assert_eq!(
        p,
        Problem::AudienceMismatch {
            token: vec![info.client_id.clone()],
            policy: vec![info.account_id.clone()],
            client_id: info.client_id.clone(),
            expects_account_id: true,
        }
    );
    let detail = &r.failure().unwrap().detail;
    assert!(detail.contains("IdP client id") && detail.contains("account id"), "{detail}");
}

#[tokio::test]
async fn subject_claim_missing_and_subject_mismatch_are_told_apart() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let h = home(&ds, &policy_toml(&info.issuer, &[&info.client_id], "upn", None));
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    match failed_at(&r, StepId::Policy) {
        Problem::SubjectClaimMissing { claim, available } => {
            assert_eq!(claim, "upn");
            assert!(
                available.contains(&"email".to_string()) && available.contains(&"sub".to_string()),
                "{available:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let h = home(&ds, &policy_toml(&info.issuer, &[&info.client_id], "email", Some("bob@example.com")));
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    assert_eq!(
        failed_at(&r, StepId::Policy),
        Problem::SubjectMismatch {
            claim: "email".into(),
            token: "ada@example.com".into(),
            policy: "bob@example.com".into()
        }
    );
}

#[tokio::test]
async fn an_expired_jwt_without_refresh_token_is_named_with_the_offline_access_fix() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let h = home(&ds, "");
    let now = h.now();
    let jwt = ds.sign_claims(&json!({
        "iss": info.issuer, "aud": info.client_id, "sub": "user-1", "email": "ada@example.com",
        "iat": now - 4000, "exp": now - 400,
    }));
    let session = IdpSession {
        id_token: Secret::new(jwt),
        id_token_exp: now - 400,
        access_token: None,
        access_token_exp: None,
        refresh_token: None,
        subject: "user-1".into(),
        username: Some("ada@example.com".into()),
        refreshed_at: now - 4000,
        kept_id_token_received_at: None,
    };
    let owner = SessionOwner {
        name: "devstack".into(),
        issuer: info.issuer.clone(),
        client_id: info.client_id.clone(),
    };
    let bound = BoundSession { binding: owner.bind(&info.issuer), session };
    h.store().await.save_idp_session(&bound).await.unwrap();
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    assert_eq!(
        r.steps.iter().find(|s| s.id == StepId::Session).unwrap().status,
        StepStatus::Warning,
        "{r:#?}"
    );
    match failed_at(&r, StepId::Jwt) {
        Problem::Expired { seconds_ago, refreshable } => {
            assert!((390..=460).contains(&seconds_ago), "{seconds_ago}");
            assert!(!refreshable);
        }
        other => panic!("{other:?}"),
    }
    assert!(r.failure().unwrap().fix.as_deref().unwrap().contains("offline_access"));
}

#[tokio::test]
async fn clock_skew_against_the_workspace_is_measured() {
    let ds = devstack(Some("ada@example.com")).await;
    let h = home(&ds, "");
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    ds.faults().add(FaultRule::new(Target::Any, FaultKind::ClockSkew(7200)).on_workspace("dev"));
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    match failed_at(&r, StepId::Clock) {
        Problem::ClockSkew { seconds } => assert!((7190..=7210).contains(&seconds), "{seconds}"),
        other => panic!("{other:?}"),
    }
    assert!(r.failure().unwrap().detail.contains("behind"), "{r:#?}");
}

#[tokio::test]
async fn hs256_and_none_tokens_are_refused_before_any_key_lookup() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let h = home(&ds, "");
    let now = h.now();
    let claims = json!({"iss": info.issuer, "aud": info.client_id, "sub": "s", "email": "ada@example.com", "iat": now, "exp": now + 600});
    for alg in ["HS256", "none"] {
        let token = format!(
            "{}.{}.{}",
            b64(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#)),
            b64(&claims.to_string()),
            b64("sig")
        );
        let opts = DoctorOptions { subject_token: Some(Secret::new(token)), ..Default::default() };
        let r = run(&h, "dev", &opts).await;
        assert_eq!(failed_at(&r, StepId::Signature), Problem::AlgorithmNotAllowed { alg: alg.into() });
        assert!(r.failure().unwrap().fix.as_deref().unwrap().contains("RS256"));
    }
}

#[tokio::test]
async fn an_unreachable_jwks_is_named() {
    let ds = devstack(Some("ada@example.com")).await;
    let h = home(&ds, "");
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    ds.faults().add(FaultRule::new(Target::IdpKeys, FaultKind::Status { code: 503, retry_after_secs: None }));
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    match failed_at(&r, StepId::Idp) {
        Problem::JwksUnreachable { url, .. } => assert!(url.ends_with("/jwks"), "{url}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_token_signed_by_a_rotated_key_has_an_unknown_kid() {
    let ds = devstack(Some("ada@example.com")).await;
    let h = home(&ds, "");
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    let new_kid = ds.rotate_signing_key().await;
    let r = run(&h, "dev", &DoctorOptions::default()).await;
    match failed_at(&r, StepId::Signature) {
        Problem::UnknownKid { kid, known } => {
            assert_eq!(kid, "rs256-1");
            assert!(known.contains(&new_kid), "{known:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn policies_fetched_from_the_account_api_are_compared_claim_by_claim() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let AdminSetup { home: h, engine: e, account, token, .. } = admin_setup(&ds, "").await;
    h.login_as(&e, None).await.unwrap();
    // The admin replaces the workspace's policy by an account policy with a trailing slash.
    let client = AdminClient::new();
    let spec = PolicySpec {
        issuer: format!("{}/", info.issuer),
        audiences: vec![info.client_id.clone()],
        subject_claim: "email".into(),
        ..Default::default()
    };
    client
        .send(&admin::create_policy(&account, None, &spec, Some("corp"), None).unwrap(), &token)
        .await
        .unwrap();
    ds.set_federation_policies("dev", vec![]);
    let dev = e.config().workspace(Some("dev")).unwrap();
    let fetched = admin::policies_for(&client, &account, &dev, &token).await;
    assert!(fetched.account_listed && fetched.failures.is_empty(), "{fetched:?}");
    assert_eq!(fetched.policies.len(), 1, "{fetched:?}");
    let opts = DoctorOptions { policies: fetched.policies, policies_fetched: true, ..Default::default() };
    let r = run(&h, "dev", &opts).await;
    assert!(matches!(failed_at(&r, StepId::Policy), Problem::IssuerTrailingSlash { .. }));
    assert!(r.failure().unwrap().detail.contains("account policy corp"), "{r:#?}");
}

/// A service principal the account does not know (its application id finds nothing in SCIM) is
/// reported as a warning, and the doctor goes on with the account's policies.
#[tokio::test]
async fn a_failed_service_principal_lookup_is_reported_and_the_checks_go_on() {
    let ds = devstack(Some("ada@example.com")).await;
    let AdminSetup { home: h, engine: e, account, token, .. } = admin_setup(
        &ds,
        "\n[workspace.robot]\nidp = \"devstack\"\nhost = \"HOST\"\nclient_id = \"0e0e0e0e-unknown-sp\"\n"
            .replace("HOST", &ds.info().workspaces[0].host)
            .as_str(),
    )
    .await;
    let _ = h.login_as(&e, None).await; // robot's exchange fails: its SP has no policy
    let robot = e.config().workspace(Some("robot")).unwrap();
    let fetched = admin::policies_for(&AdminClient::new(), &account, &robot, &token).await;
    assert!(fetched.account_listed, "{fetched:?}");
    assert_eq!(fetched.failures.len(), 1, "{fetched:?}");
    assert!(fetched.failures[0].contains("0e0e0e0e-unknown-sp"), "{fetched:?}");
    let opts = DoctorOptions {
        policies: fetched.policies,
        policies_fetched: true,
        policy_lookup_failures: fetched.failures,
        ..Default::default()
    };
    let r = run(&h, "robot", &opts).await;
    let warned =
        r.steps.iter().find(|s| s.status == StepStatus::Warning && s.detail.contains("0e0e0e0e-unknown-sp"));
    assert!(warned.is_some(), "{r:#?}");
    // The chain went on past the policy step to the exchange.
    assert!(r.steps.iter().any(|s| s.id == StepId::Exchange), "{r:#?}");
}

/// The doctor warns about a punycode workspace host (the review's info item): the chain goes on,
/// and the warning names the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_punycode_workspace_host_gets_a_warning() {
    let ds = devstack(None).await;
    let h = home(
        &ds,
        "\n[workspace.lookalike]\nidp = \"devstack\"\nhost = \"https://adb-1.xn--dtabricks-0yh.net\"\n",
    );
    let r = run(&h, "lookalike", &DoctorOptions::default()).await;
    let warned = r.steps.iter().find(|s| s.status == StepStatus::Warning && s.detail.contains("punycode"));
    assert!(warned.is_some_and(|s| s.detail.contains("adb-1.xn--dtabricks-0yh.net")), "{r:#?}");
}

/// Keys only this network can reach: this machine verifies the token, Databricks (a workspace in
/// the cloud) cannot fetch them — named as such, not as "unreachable".
#[tokio::test]
async fn keys_only_this_network_reaches_are_named_for_a_cloud_workspace() {
    let ds = devstack(None).await;
    let h = home(
        &ds,
        "\n[workspace.cloud]\nidp = \"devstack\"\nhost = \"https://adb-1.2.azuredatabricks.net\"\n",
    );
    let r = run(&h, "cloud", &DoctorOptions::default()).await;
    match failed_at(&r, StepId::Idp) {
        Problem::JwksNotPublic { url } => assert!(url.starts_with(&ds.info().issuer), "{url}"),
        other => panic!("{other:?}"),
    }
    assert!(r.failure().unwrap().fix.as_deref().unwrap().contains("--jwks-json"), "{r:#?}");
}

/// A policy that carries its keys (`jwks_json`) is what Databricks verifies with, so this
/// machine failing to fetch the JWKS is no longer the broken link.
#[tokio::test]
async fn a_policy_with_jwks_json_stands_in_when_this_machine_cannot_fetch_the_keys() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let jwks = reqwest::get(format!("{}/jwks", info.issuer)).await.unwrap().text().await.unwrap();
    let h = home(&ds, "");
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    ds.faults().add(FaultRule::new(Target::IdpKeys, FaultKind::Status { code: 503, retry_after_secs: None }));
    let policy = |jwks_json: Option<String>| KnownPolicy {
        policy: lakepass_config::ExpectedPolicy {
            issuer: info.issuer.clone(),
            audiences: vec![info.client_id.clone()],
            subject_claim: "email".into(),
            subject: None,
        },
        source: "account policy corp".into(),
        service_principal: None,
        jwks_uri: None,
        jwks_json,
    };
    let without = run(&h, "dev", &DoctorOptions { policies: vec![policy(None)], ..Default::default() }).await;
    assert!(matches!(failed_at(&without, StepId::Idp), Problem::JwksUnreachable { .. }));
    let opts =
        DoctorOptions { policies: vec![policy(Some(jwks))], policies_fetched: true, ..Default::default() };
    let r = run(&h, "dev", &opts).await;
    let step = |id| r.steps.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("{r:#?}"));
    assert_eq!(step(StepId::Idp).status, StepStatus::Ok, "{r:#?}");
    assert!(step(StepId::Idp).detail.contains("jwks_json"), "{r:#?}");
    assert_eq!(step(StepId::Signature).status, StepStatus::Ok, "{r:#?}");
    assert_eq!(step(StepId::Policy).status, StepStatus::Ok, "{r:#?}");
}

/// Issue 24 point 5: the IdP signs in a subject the account has no user for. The exchange is
/// refused as Databricks refuses it, and the doctor names the subject it looked for and where
/// the user is added; once added, the exchange works.
#[tokio::test]
async fn a_subject_with_no_account_user_is_named_with_where_to_add_it() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let h = home(&ds, &policy_toml(&info.issuer, &[&info.client_id], "sub", None));
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    assert!(ds.remove_account_user("ada@example.com"), "signing in provisioned the user");

    let err = e.refresh_workspace(&e.config().workspace(Some("dev")).unwrap(), true).await.unwrap_err();
    assert!(err.to_string().contains("does not match any user"), "{err}");

    let r = run(&h, "dev", &DoctorOptions::default()).await;
    let problem = failed_at(&r, StepId::Exchange);
    assert!(matches!(problem, Problem::ExchangeRejected { status: 401, .. }), "{problem:?}");
    let detail = &r.failure().unwrap().detail;
    assert!(detail.contains("`sub` (`ada@example.com`)"), "names the subject looked for: {detail}");
    assert!(
        detail.contains("account console → User management → Users") && detail.contains("scim/v2/Users"),
        "{detail}"
    );

    ds.add_account_user("ada@example.com");
    assert!(run(&h, "dev", &DoctorOptions::default()).await.ok);
}
