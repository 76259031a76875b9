//! Admin set-up against the devstack's account and serving APIs: policies are created, listed
//! and deleted, really take effect in the workspace's exchange, and gateway options are set.

use crate::support::{devstack, home};
use lakepass_core::Secret;
use lakepass_core::admin::{
    self, Account, AdminClient, AdminError, EndpointSpec, GatewaySpec, Pii, PolicySpec,
};
use lakepass_core::roles;

#[tokio::test]
async fn policies_created_through_the_account_api_take_effect_and_can_be_deleted() {
    let ds = devstack(Some("ada@example.com")).await;
    let info = ds.info().clone();
    let extra = format!(
        "\n[workspace.admin]\nauth = \"m2m\"\nhost = \"{}\"\nclient_id = \"{}\"\naccount_id = \"{}\"\nprofile = \"admin\"\n",
        info.workspaces[0].host, info.service_principal.client_id, info.account_id
    );
    let h = home(&ds, &extra);
    let e = h.engine().await;
    let admin_ws = e.config().workspace(Some("admin")).unwrap();
    roles::set_m2m_secret(e.store(), &admin_ws, &Secret::new(info.service_principal.client_secret.clone()))
        .await
        .unwrap();
    ds.set_federation_policies("dev", vec![]);
    let err = h.login_as(&e, None).await.unwrap_err();
    assert!(err.contains("not trusted"), "no policy yet: {err}");

    let account = Account::of(&admin_ws, None).unwrap();
    let token = admin::m2m_token(&e, &admin_ws, Some(&account)).await.unwrap();
    let client = AdminClient::new();
    let spec = PolicySpec {
        subject_claim: "email".into(),
        ..PolicySpec::from_idp(e.config().idp("devstack").unwrap())
    };
    let created = client
        .send(&admin::create_policy(&account, None, &spec, Some("devstack-users"), Some("devstack")), &token)
        .await
        .unwrap();
    assert_eq!(created["policy_id"], "devstack-users");
    assert_eq!(created["oidc_policy"]["issuer"], info.issuer.as_str());
    let listed = client.send(&admin::list_policies(&account, None), &token).await.unwrap();
    assert_eq!(listed["policies"].as_array().unwrap().len(), 1);

    // The nicest proof: the exchange now works.
    let dev = e.config().workspace(Some("dev")).unwrap();
    e.refresh_workspace(&dev, true).await.expect("the new account policy is trusted");

    // A service-principal policy, then deletions.
    let sp_spec = PolicySpec { subject: Some("ada@example.com".into()), ..spec.clone() };
    client
        .send(&admin::create_policy(&account, Some("sp-1"), &sp_spec, Some("p2"), None), &token)
        .await
        .unwrap();
    let sp_list = client.send(&admin::list_policies(&account, Some("sp-1")), &token).await.unwrap();
    assert_eq!(sp_list["policies"][0]["service_principal_id"], "sp-1");
    client.send(&admin::delete_policy(&account, Some("sp-1"), "p2"), &token).await.unwrap();
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

    // A user's token has no admin rights.
    let prod = e.config().workspace(Some("prod")).unwrap();
    let user = e.token(&prod).await.unwrap();
    let prod_account = Account::of(&prod, Some(&info.account_id)).unwrap();
    let denied =
        client.send(&admin::list_policies(&prod_account, None), &user.access_token).await.unwrap_err();
    assert!(matches!(denied, AdminError::Api { status: 403, .. }), "{denied}");
    assert!(denied.to_string().contains("admin rights"), "{denied}");
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
