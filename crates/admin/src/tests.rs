//! The admin requests as values: paths, bodies and the client's error mapping.

use super::*;

#[test]
fn requests_are_exact() {
    let a = Account {
        host: WorkspaceHost::parse("https://accounts.cloud.databricks.com").unwrap(),
        id: "acc-1".into(),
    };
    let spec = PolicySpec {
        issuer: "https://i/".into(),
        audiences: vec!["c".into()],
        subject_claim: "email".into(),
        ..Default::default()
    };
    let r = create_policy(&a, None, &spec, Some("p1"), Some("corp")).unwrap();
    assert_eq!(
        r.url,
        "https://accounts.cloud.databricks.com/api/2.0/accounts/acc-1/federationPolicies?policy_id=p1"
    );
    assert_eq!(
        r.body.unwrap(),
        json!({"description": "corp", "oidc_policy": {"issuer": "https://i/", "audiences": ["c"], "subject_claim": "email"}})
    );
    let d = delete_policy(&a, Some(ServicePrincipalId(123)), "p1");
    assert_eq!(
        d.url,
        "https://accounts.cloud.databricks.com/api/2.0/accounts/acc-1/servicePrincipals/123/federationPolicies/p1"
    );
    let host = WorkspaceHost::parse("https://adb-1.2.azuredatabricks.net").unwrap();
    assert_eq!(derive_account_host(&host).unwrap().as_str(), "https://accounts.azuredatabricks.net");
    let local = WorkspaceHost::parse("http://127.0.0.1:8401").unwrap();
    assert_eq!(
        derive_account_host(&local),
        None,
        "the devstack's account console is configured, not guessed"
    );
    let g = set_gateway(
        &host,
        "anthropic",
        &GatewaySpec { per_user_per_minute: Some(5), usage_tracking: Some(true), ..Default::default() },
    );
    assert_eq!(
        g.body.unwrap(),
        json!({"rate_limits": [{"calls": 5, "key": "user", "renewal_period": "minute"}], "usage_tracking_config": {"enabled": true}})
    );
    let e = create_endpoint(
        &host,
        &EndpointSpec {
            name: "anthropic".into(),
            model: "claude-sonnet-4-5".into(),
            secret_ref: "s/k".into(),
        },
    );
    assert_eq!(
        e.body
            .as_ref()
            .unwrap()
            .pointer("/config/served_entities/0/external_model/anthropic_config/anthropic_api_key")
            .unwrap(),
        "{{secrets/s/k}}"
    );
    assert!(e.render_contains_no_token());
}

#[test]
fn account_and_service_principal_policies_take_what_databricks_takes() {
    let a = Account {
        host: WorkspaceHost::parse("https://accounts.cloud.databricks.com").unwrap(),
        id: "acc-1".into(),
    };
    let base = PolicySpec { issuer: "https://i".into(), subject_claim: "sub".into(), ..Default::default() };
    let with_subject = PolicySpec { subject: Some("repo:x".into()), ..base.clone() };
    let refused = create_policy(&a, None, &with_subject, None, None).unwrap_err();
    assert!(matches!(refused, AdminError::Usage(_)), "{refused}");
    assert!(create_policy(&a, Some(ServicePrincipalId(7)), &base, None, None).is_err());
    let sp = create_policy(&a, Some(ServicePrincipalId(7)), &with_subject, None, None).unwrap();
    assert_eq!(
        sp.url,
        "https://accounts.cloud.databricks.com/api/2.0/accounts/acc-1/servicePrincipals/7/federationPolicies"
    );
    let jwks = r#"{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]}"#;
    let pinned = PolicySpec { jwks_json: Some(jwks.into()), ..base.clone() };
    let body = create_policy(&a, None, &pinned, None, None).unwrap().body.unwrap();
    assert_eq!(body["oidc_policy"]["jwks_json"], jwks);
    for bad in [
        PolicySpec { jwks_json: Some("{}".into()), ..base.clone() },
        PolicySpec { jwks_uri: Some("http://idp.example.com/jwks".into()), ..base.clone() },
        PolicySpec { jwks_uri: Some("https://i/k".into()), jwks_json: Some(jwks.into()), ..base.clone() },
    ] {
        assert!(create_policy(&a, None, &bad, None, None).is_err(), "{bad:?}");
    }
    let local = PolicySpec { jwks_uri: Some("http://127.0.0.1:9/jwks".into()), ..base.clone() };
    assert!(create_policy(&a, None, &local, None, None).is_ok());
    assert_eq!(
        list_policies_page(&a, None, Some("p/2 x")).url,
        "https://accounts.cloud.databricks.com/api/2.0/accounts/acc-1/federationPolicies?page_token=p%2F2+x"
    );
    assert_eq!(
        find_service_principal(&a, "0b6e-1").url,
        "https://accounts.cloud.databricks.com/api/2.0/accounts/acc-1/scim/v2/ServicePrincipals?filter=applicationId+eq+%220b6e-1%22"
    );
}

impl AdminRequest {
    fn render_contains_no_token(&self) -> bool {
        self.render().contains("Authorization: Bearer <withheld>")
    }
}
