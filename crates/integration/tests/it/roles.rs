//! Service principals: role mapping picks the SP per user; a user with no mapped role gets a
//! clear error; an M2M workspace works and its secret stays in the vault; the audit log holds
//! no secret.

use crate::support::{devstack, home};
use lakepass_admin::{self as admin, PrincipalKind};
use lakepass_devstack::FederationPolicy;
use lakepass_engine::audit::{AuditLog, EventKind, Outcome};
use lakepass_engine::engine::EngineError;
use lakepass_engine::{ErrorKind, roles};
use lakepass_wire::Secret;

fn sp_policy(issuer: &str, aud: &str, sp: &str, role_user: &str) -> FederationPolicy {
    FederationPolicy {
        subject_claim: "email".into(),
        subject: Some(role_user.into()),
        service_principal_client_id: Some(sp.into()),
        ..FederationPolicy::new(issuer, vec![aud.into()])
    }
}

#[tokio::test]
async fn two_users_get_tokens_for_different_service_principals_and_an_unmapped_one_a_clear_error() {
    let ds = devstack(None).await;
    let info = ds.info().clone();
    ds.add_federation_policy(
        "dev",
        sp_policy(&info.issuer, &info.client_id, "sp-analyst", "alice+analyst@example.com"),
    );
    ds.add_federation_policy(
        "dev",
        sp_policy(&info.issuer, &info.client_id, "sp-engineer", "bob+engineer@example.com"),
    );
    let roles_toml = "\n[workspace.dev.roles]\nclaim = \"roles\"\nmap = { analyst = \"sp-analyst\", engineer = \"sp-engineer\" }\n";
    for (email, sp) in
        [("alice+analyst@example.com", "sp-analyst"), ("bob+engineer@example.com", "sp-engineer")]
    {
        let h = home(&ds, roles_toml);
        let e = h.engine().await;
        h.login_as(&e, Some(email)).await.unwrap();
        let dev = e.config().workspace(Some("dev")).unwrap();
        let id = admin::whoami(&e, &dev).await.unwrap();
        assert_eq!(id.kind, PrincipalKind::ServicePrincipal);
        assert_eq!(id.application_id.as_deref(), Some(sp), "{email}");
        // prod has no role mapping: the user is themself there.
        let prod = e.config().workspace(Some("prod")).unwrap();
        assert_eq!(admin::whoami(&e, &prod).await.unwrap().user_name, email);
    }
    let h = home(&ds, roles_toml);
    let e = h.engine().await;
    let err = h.login_as(&e, Some("carol@example.com")).await.unwrap_err();
    assert!(
        err.contains("`roles`") && err.contains("`analyst`, `engineer`") && err.contains("empty or missing"),
        "{err}"
    );
    let dev = e.config().workspace(Some("dev")).unwrap();
    let direct = e.refresh_workspace(&dev, true).await.unwrap_err();
    assert!(matches!(direct, EngineError::NoMappedRole(_)), "{direct:?}");
    assert_eq!(direct.kind(), ErrorKind::NoMappedRole);
}

#[tokio::test]
async fn an_m2m_workspace_works_and_its_secret_never_leaves_the_vault() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let extra = format!(
        "\n[workspace.robot]\nauth = \"m2m\"\nhost = \"{}\"\nclient_id = \"{}\"\n",
        info.workspaces[1].host, info.service_principal.client_id
    );
    let h = home(&ds, &extra);
    let e = h.engine().await;
    let robot = e.config().workspace(Some("robot")).unwrap();
    let missing = e.token(&robot).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NeedsSecret);
    assert!(missing.to_string().contains("lakepass workspace set-secret robot"), "{missing}");
    let secret = info.service_principal.client_secret.clone();
    roles::set_m2m_secret(e.store(), &robot, &Secret::new(secret.clone())).await.unwrap();
    let t = e.token(&robot).await.unwrap();
    assert_eq!(ds.stats().workspaces["prod"].client_credentials_ok, 1);
    let id = admin::whoami(&e, &robot).await.unwrap();
    assert_eq!(
        (id.kind, id.user_name.as_str()),
        (PrincipalKind::ServicePrincipal, info.service_principal.client_id.as_str())
    );
    // Wrong secret: a clear refusal.
    roles::set_m2m_secret(e.store(), &robot, &Secret::new("wrong")).await.unwrap();
    let err = e.refresh_workspace(&robot, true).await.unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
    // The secret is in the vault file and nowhere else Lakepass writes.
    for f in walk(h.dir.path()) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        if f.file_name().unwrap() == "vault.json" {
            continue;
        }
        assert!(!text.contains(&secret), "{} holds the client secret", f.display());
        assert!(!text.contains(t.access_token.secret()) || f.ends_with(".databrickscfg"), "{}", f.display());
    }
    let log = AuditLog::new(&h.paths.data_dir).read();
    assert!(log.events.iter().any(|ev| ev.event == EventKind::Exchange
        && ev.workspace.as_deref() == Some("robot")
        && ev.outcome == Outcome::Ok));
    let failed = log
        .events
        .iter()
        .find(|ev| ev.outcome == Outcome::Failure && ev.error_code.as_deref() == Some("invalid_client"));
    assert!(failed.is_some(), "{log:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
