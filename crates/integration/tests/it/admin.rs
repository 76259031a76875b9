//! Admin set-up against the devstack's account and serving APIs: policies are created, listed
//! and deleted, really take effect in the workspace's exchange, and gateway options are set.

use crate::support::{Fixture, devstack, home};
use lakepass_admin::{
    self as admin, Account, AdminClient, AdminError, AdminRequest, EndpointSpec, GatewaySpec, Method, Pii,
    PolicySpec, ServicePrincipalId,
};
use lakepass_devstack::Devstack;
use lakepass_engine::engine::Engine;
use lakepass_engine::roles;
use lakepass_wire::Secret;
use serde_json::json;

/// An M2M workspace `admin` for the devstack's service principal (the account admin), with the
/// account console where `lakepass devstack --write-config` puts it, and an account token got
/// the way real admins get one: client credentials at the account host.
pub(crate) struct AdminSetup {
    pub(crate) home: Fixture,
    pub(crate) engine: Engine,
    pub(crate) account: Account,
    pub(crate) token: Secret,
}

pub(crate) async fn admin_setup(ds: &std::sync::Arc<Devstack>, extra: &str) -> AdminSetup {
    let info = ds.info().clone();
    let toml = format!(
        "\n[workspace.admin]\nauth = \"m2m\"\nhost = \"{}\"\nclient_id = \"{}\"\naccount_id = \"{}\"\naccount_host = \"{}\"\nprofile = \"admin\"\n{extra}",
        info.workspaces[0].host, info.service_principal.client_id, info.account_id, info.account_host
    );
    let home = home(ds, &toml);
    let engine = home.engine().await;
    let admin_ws = engine.config().workspace(Some("admin")).unwrap();
    roles::set_m2m_secret(
        engine.store(),
        &admin_ws,
        &Secret::new(info.service_principal.client_secret.clone()),
    )
    .await
    .unwrap();
    let account = Account::of(&admin_ws, None).unwrap();
    assert_eq!(account.host.as_str(), info.account_host, "the account console is its own listener");
    let token = admin::m2m_token(&engine, &admin_ws, Some(&account)).await.unwrap();
    AdminSetup { home, engine, account, token }
}

#[tokio::test]
async fn policies_created_through_the_account_api_take_effect_and_can_be_deleted() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let AdminSetup { home: h, engine: e, account, token, .. } = admin_setup(&ds, "").await;
    ds.set_federation_policies("dev", vec![]);
    let err = h.login_as(&e, None).await.unwrap_err();
    assert!(err.contains("not trusted"), "no policy yet: {err}");

    let client = AdminClient::new();
    let spec = PolicySpec {
        subject_claim: "email".into(),
        ..PolicySpec::from_idp(e.config().idp("devstack").unwrap())
    };
    let created = client
        .send(
            &admin::create_policy(&account, None, &spec, Some("devstack-users"), Some("devstack")).unwrap(),
            &token,
        )
        .await
        .unwrap();
    assert_eq!(created["policy_id"], "devstack-users");
    assert_eq!(created["oidc_policy"]["issuer"], info.issuer.as_str());
    let listed = client.send(&admin::list_policies(&account, None), &token).await.unwrap();
    assert_eq!(listed["policies"].as_array().unwrap().len(), 1);

    // The nicest proof: the exchange now works.
    let dev = e.config().workspace(Some("dev")).unwrap();
    e.refresh_workspace(&dev, true).await.expect("the new account policy is trusted");

    // A service principal's policy, found by application id through the account's SCIM API.
    let sp_app = "6f1c0a52-3a57-4b8e-9d1e-2f0c3b4a5d6e";
    let sp_num = ds.add_service_principal(sp_app);
    let id = admin::resolve_service_principal(&client, &account, sp_app, &token).await.unwrap();
    assert_eq!(id, ServicePrincipalId(sp_num));
    let unknown =
        admin::resolve_service_principal(&client, &account, "no-such-app", &token).await.unwrap_err();
    assert!(matches!(unknown, AdminError::UnknownServicePrincipal { .. }), "{unknown}");
    let sp_spec = PolicySpec { subject: Some("ada@example.com".into()), ..spec.clone() };
    client
        .send(&admin::create_policy(&account, Some(id), &sp_spec, Some("p2"), None).unwrap(), &token)
        .await
        .unwrap();
    let sp_list = client.send(&admin::list_policies(&account, Some(id)), &token).await.unwrap();
    assert_eq!(sp_list["policies"][0]["service_principal_id"], json!(sp_num));
    client.send(&admin::delete_policy(&account, Some(id), "p2"), &token).await.unwrap();
    client.send(&admin::delete_policy(&account, None, "devstack-users"), &token).await.unwrap();
    assert!(
        client.send(&admin::list_policies(&account, None), &token).await.unwrap()["policies"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let gone =
        client.send(&admin::delete_policy(&account, None, "devstack-users"), &token).await.unwrap_err();
    assert!(matches!(gone, AdminError::Api { status: 404, .. }), "{gone}");
    assert!(e.refresh_workspace(&dev, true).await.is_err(), "deleted policy no longer trusted");

    // A workspace token is no account token, even the admin's own.
    let prod = e.config().workspace(Some("prod")).unwrap();
    let user = e.token(&prod).await.unwrap();
    let denied = client.send(&admin::list_policies(&account, None), &user.access_token).await.unwrap_err();
    assert!(matches!(denied, AdminError::Api { status: 401, .. }), "{denied}");
}

/// The service principal in a federation-policy path is its numeric id (sdk-py oauth2.py:
/// `service_principal_id: int`); an application id there is refused as the API refuses a
/// malformed parameter.
#[tokio::test]
async fn a_service_principal_path_takes_the_numeric_id_not_the_application_id() {
    let ds = devstack(None).await;
    let AdminSetup { account, token, .. } = admin_setup(&ds, "").await;
    let app = ds.info().service_principal.client_id.clone();
    let url = format!(
        "{}/api/2.0/accounts/{}/servicePrincipals/{app}/federationPolicies",
        account.host.as_str(),
        account.id
    );
    let err = AdminClient::new()
        .send(&AdminRequest { method: Method::Get, url, body: None }, &token)
        .await
        .unwrap_err();
    match err {
        AdminError::Api { status: 400, error_code, .. } => assert_eq!(error_code, "INVALID_PARAMETER_VALUE"),
        other => panic!("{other}"),
    }
    // A policy id outside 0-9, a-z and '-' is refused in Databricks' words (terraform#5290).
    let spec = PolicySpec {
        issuer: "https://i.example.com".into(),
        subject_claim: "sub".into(),
        ..Default::default()
    };
    let req = admin::create_policy(&account, None, &spec, Some("Corp_Users"), None).unwrap();
    match AdminClient::new().send(&req, &token).await.unwrap_err() {
        AdminError::Api { status: 400, message, .. } => {
            assert_eq!(
                message,
                "Invalid federation policy id: 'Corp_Users'. Must contain only 0-9, a-z, and hyphen."
            )
        }
        other => panic!("{other}"),
    }
}

/// Account policies never carry a subject (sdk-py OidcFederationPolicy.subject: "Must not be
/// specified for account federation policies"): the core refuses before sending, and the
/// devstack refuses it too when sent anyway.
#[tokio::test]
async fn a_subject_on_an_account_policy_is_refused_by_both_sides() {
    let ds = devstack(None).await;
    let AdminSetup { account, token, .. } = admin_setup(&ds, "").await;
    let spec = PolicySpec {
        issuer: "https://idp.example.com".into(),
        subject_claim: "sub".into(),
        subject: Some("ada".into()),
        ..Default::default()
    };
    assert!(matches!(admin::create_policy(&account, None, &spec, None, None), Err(AdminError::Usage(_))));
    let url = format!("{}/api/2.0/accounts/{}/federationPolicies", account.host.as_str(), account.id);
    let body = json!({"oidc_policy": {"issuer": "https://idp.example.com", "subject": "ada"}});
    let err = AdminClient::new()
        .send(&AdminRequest { method: Method::Post, url, body: Some(body) }, &token)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Api { status: 400, .. }), "{err}");
    assert!(ds.account_policies().is_empty());
}

/// Lists are paged (`next_page_token`, sdk-py oauth2.py ListFederationPoliciesResponse): the
/// devstack answers two at a time, and the core follows the pages to the end.
#[tokio::test]
async fn policy_lists_follow_next_page_token_to_the_end() {
    let ds = devstack(None).await;
    let AdminSetup { account, token, .. } = admin_setup(&ds, "").await;
    let client = AdminClient::new();
    for i in 0..5 {
        let spec = PolicySpec {
            issuer: format!("https://idp{i}.example.com"),
            subject_claim: "sub".into(),
            ..Default::default()
        };
        client
            .send(&admin::create_policy(&account, None, &spec, Some(&format!("p{i}")), None).unwrap(), &token)
            .await
            .unwrap();
    }
    let first = client.send(&admin::list_policies(&account, None), &token).await.unwrap();
    assert_eq!(first["policies"].as_array().unwrap().len(), 2);
    assert!(first["next_page_token"].is_string(), "{first}");
    let all = admin::send_all_pages(&client, &account, None, &token).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|p| p["policy_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["p0", "p1", "p2", "p3", "p4"]);
    ds.set_page_size(10);
    let one = client.send(&admin::list_policies(&account, None), &token).await.unwrap();
    assert_eq!(one["policies"].as_array().unwrap().len(), 5);
    assert!(one.get("next_page_token").is_none(), "{one}");
}

/// `jwks_json` on a policy is what Databricks verifies with when it cannot reach the IdP: an
/// issuer that does not resolve still federates when its keys are in the policy.
#[tokio::test]
async fn a_policy_with_jwks_json_verifies_tokens_of_an_unreachable_issuer() {
    let ds = devstack(None).await;
    let info = ds.info().clone();
    let AdminSetup { engine: e, account, token, .. } = admin_setup(&ds, "").await;
    let jwks = reqwest::get(format!("{}/jwks", info.issuer)).await.unwrap().text().await.unwrap();
    let issuer = "https://idp.invalid";
    let spec = PolicySpec {
        issuer: issuer.into(),
        audiences: vec!["corp-app".into()],
        subject_claim: "email".into(),
        jwks_json: Some(jwks),
        ..Default::default()
    };
    AdminClient::new()
        .send(&admin::create_policy(&account, None, &spec, None, None).unwrap(), &token)
        .await
        .unwrap();
    let now = e.clock().now();
    let jwt = ds.sign_claims(&json!({
        "iss": issuer, "aud": "corp-app", "sub": "u1", "email": "ada@example.com", "iat": now, "exp": now + 600,
    }));
    let dev = e.config().workspace(Some("dev")).unwrap();
    let params = lakepass_wire::exchange::ExchangeParams {
        host: &dev.host,
        workspace: "dev",
        scopes: &dev.scopes,
        client_id: None,
    };
    lakepass_wire::exchange::exchange(e.http(), &params, &Secret::new(jwt), now)
        .await
        .expect("the policy's jwks_json verifies the token");
}

#[tokio::test]
async fn an_anthropic_endpoint_is_created_and_its_gateway_options_set() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let extra = format!(
        "\n[workspace.admin]\nauth = \"m2m\"\nhost = \"{}\"\nclient_id = \"{}\"\nprofile = \"admin\"\n",
        info.workspaces[0].host, info.service_principal.client_id
    );
    let h = home(&ds, &extra);
    let e = h.engine().await;
    let admin_ws = e.config().workspace(Some("admin")).unwrap();
    roles::set_m2m_secret(e.store(), &admin_ws, &Secret::new(info.service_principal.client_secret.clone()))
        .await
        .unwrap();
    let token = admin::m2m_token(&e, &admin_ws, None).await.unwrap();
    let client = AdminClient::new();
    let spec = EndpointSpec {
        name: "anthropic".into(),
        model: "claude-sonnet-4-5".into(),
        secret_ref: "llm/anthropic".into(),
    };
    let created = client.send(&admin::create_endpoint(&admin_ws.host, &spec), &token).await.unwrap();
    assert_eq!(created["name"], "anthropic");
    let again = client.send(&admin::create_endpoint(&admin_ws.host, &spec), &token).await.unwrap_err();
    assert!(matches!(again, AdminError::Api { status: 409, .. }), "{again}");
    let gw = GatewaySpec {
        per_user_per_minute: Some(20),
        per_endpoint_per_minute: Some(500),
        usage_tracking: Some(true),
        safety: Some(true),
        pii: Some(Pii::Mask),
    };
    client.send(&admin::set_gateway(&admin_ws.host, "anthropic", &gw), &token).await.unwrap();
    let got = client.send(&admin::get_endpoint(&admin_ws.host, "anthropic"), &token).await.unwrap();
    assert_eq!(
        got["ai_gateway"]["rate_limits"][0],
        serde_json::json!({"calls": 20, "key": "user", "renewal_period": "minute"})
    );
    assert_eq!(got["ai_gateway"]["usage_tracking_config"]["enabled"], true);
    assert_eq!(got["ai_gateway"]["guardrails"]["output"]["pii"]["behavior"], "MASK");
    let missing = client.send(&admin::set_gateway(&admin_ws.host, "nope", &gw), &token).await.unwrap_err();
    assert!(matches!(missing, AdminError::Api { status: 404, .. }));
    client.send(&admin::delete_endpoint(&admin_ws.host, "anthropic"), &token).await.unwrap();
}

/// The account console has its own address, as on Databricks: no workspace host serves the
/// account APIs or the account token endpoint, and the console names its token endpoint.
#[tokio::test]
async fn account_apis_and_the_account_token_endpoint_live_only_on_the_accounts_listener() {
    let ds = devstack(None).await;
    let info = ds.info().clone();
    assert_ne!(info.account_host, info.workspaces[0].host);
    let http = reqwest::Client::new();
    for ws in &info.workspaces {
        let api = http
            .get(format!("{}/api/2.0/accounts/{}/federationPolicies", ws.host, info.account_id))
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), 404, "{}", ws.name);
        let token = http
            .post(format!("{}/oidc/accounts/{}/v1/token", ws.host, info.account_id))
            .basic_auth(&info.service_principal.client_id, Some(&info.service_principal.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 404, "{}", ws.name);
    }
    let meta: serde_json::Value = http
        .get(format!(
            "{}/oidc/accounts/{}/.well-known/oauth-authorization-server",
            info.account_host, info.account_id
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["token_endpoint"],
        format!("{}/oidc/accounts/{}/v1/token", info.account_host, info.account_id)
    );
    // A wrong secret gets the OAuth refusal (RFC 6749 §5.2), not a token.
    let refused = http
        .post(format!("{}/oidc/accounts/{}/v1/token", info.account_host, info.account_id))
        .basic_auth(&info.service_principal.client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
}
