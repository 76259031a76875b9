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
        subject: None,
    };
    let r = create_policy(&a, None, &spec, Some("p1"), Some("corp"));
    assert_eq!(
        r.url,
        "https://accounts.cloud.databricks.com/api/2.0/accounts/acc-1/federationPolicies?policy_id=p1"
    );
    assert_eq!(
        r.body.unwrap(),
        json!({"description": "corp", "oidc_policy": {"issuer": "https://i/", "audiences": ["c"], "subject_claim": "email"}})
    );
    let d = delete_policy(&a, Some("123"), "p1");
    assert_eq!(
        d.url,
        "https://accounts.cloud.databricks.com/api/2.0/accounts/acc-1/servicePrincipals/123/federationPolicies/p1"
    );
    let host = WorkspaceHost::parse("https://adb-1.2.azuredatabricks.net").unwrap();
    assert_eq!(derive_account_host(&host).as_str(), "https://accounts.azuredatabricks.net");
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

impl AdminRequest {
    fn render_contains_no_token(&self) -> bool {
        self.render().contains("Authorization: Bearer <withheld>")
    }
}
