//! Fault injection, through the in-process handle and over the HTTP control endpoints.

use std::time::{Duration, Instant};

use lakepass_devstack::{FaultKind, FaultRule, Target};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_429_with_retry_after_set_over_http_hits_once() {
    let stack = auto_approving().await;
    let id_token = str_of(&sign_in(&stack).await, "id_token").to_owned();
    let rule = json!({"target": "workspace_token", "workspace": "dev", "times": 1,
        "kind": {"status": {"code": 429, "retry_after_secs": 7}}});
    let resp =
        client().post(format!("{}/_devstack/faults", stack.info().issuer)).json(&rule).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let listing: Value = resp.json().await.unwrap();
    assert_eq!(listing, json!({"rules": [rule], "idp_down": false}));

    // prod is not targeted.
    let (status, _) = exchange(&stack, "prod", &id_token, &[]).await;
    assert_eq!(status, StatusCode::OK);

    let resp = client()
        .post(format!("{}/oidc/v1/token", host(&stack, "dev")))
        .form(&[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token_type", JWT_TYPE),
            ("subject_token", &id_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "REQUEST_LIMIT_EXCEEDED");

    // `times: 1` is spent: the retry succeeds.
    let (status, body) = exchange(&stack, "dev", &id_token, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(stack.faults().rules().is_empty());
}

#[tokio::test]
async fn dropped_connections_latency_and_5xx() {
    let stack = auto_approving().await;
    let token_url = format!("{}/token", stack.info().issuer);
    stack.faults().add(FaultRule::new(Target::IdpToken, FaultKind::Drop).times(1));
    let err = client()
        .post(&token_url)
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .expect_err("the connection is closed without a response");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");

    stack.faults().add(FaultRule::new(Target::WorkspaceApi, FaultKind::Latency(300)).times(1));
    let started = Instant::now();
    let (status, _) = scim_me(&stack, "dev", "unknown").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(started.elapsed() >= Duration::from_millis(300));

    stack.faults().add(
        FaultRule::new(Target::WorkspaceApi, FaultKind::Status { code: 503, retry_after_secs: None })
            .on_workspace("prod"),
    );
    let (status, body) = scim_me(&stack, "prod", "unknown").await;
    assert_eq!(
        (status, str_of(&body, "error_code")),
        (StatusCode::SERVICE_UNAVAILABLE, "TEMPORARILY_UNAVAILABLE")
    );
    let (status, _) = scim_me(&stack, "prod", "unknown").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "times 0 lasts until cleared");
    stack.faults().clear();
    let (status, _) = scim_me(&stack, "prod", "unknown").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn idp_down_answers_503_everywhere_but_control() {
    let stack = auto_approving().await;
    let iss = stack.info().issuer.clone();
    stack.faults().idp_down(true);
    for path in ["/.well-known/openid-configuration", "/jwks", "/authorize"] {
        let resp = client().get(format!("{iss}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
    }
    let (status, body) = refresh(&stack, "x").await;
    assert_eq!(
        (status, str_of(&body, "error")),
        (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
    );
    let resp = client().get(format!("{iss}/_devstack/stats")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = client()
        .post(format!("{iss}/_devstack/idp-down"))
        .json(&json!({"down": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = client().get(format!("{iss}/jwks")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn clock_skew_moves_iat_exp_and_the_date_header() {
    let stack = auto_approving().await;
    stack.faults().add(FaultRule::new(Target::IdpToken, FaultKind::ClockSkew(-7200)).times(1));
    let pkce = pkce();
    let code = authorize(&stack, &pkce, "openid").await;
    let resp = client()
        .post(format!("{}/token", stack.info().issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "lakepass-dev"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", pkce.verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let date = resp.headers()["date"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let id_token = str_of(&body, "id_token");
    let claims = jwt_part(id_token, 1);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let iat = claims["iat"].as_i64().unwrap();
    assert!((now - 7200 - iat).abs() <= 5, "iat {iat} is two hours back");
    let served = time::OffsetDateTime::parse(&date, &time::format_description::well_known::Rfc2822).unwrap();
    assert!((now - 7200 - served.unix_timestamp()).abs() <= 5, "Date: {date}");

    // The token was born expired: the workspace (on the true clock) refuses it...
    let (status, body) = exchange(&stack, "dev", id_token, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "Token is expired");
    // ...unless the workspace's clock is just as far behind.
    stack.faults().add(FaultRule::new(Target::WorkspaceToken, FaultKind::ClockSkew(-7200)));
    let (status, body) = exchange(&stack, "dev", id_token, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
