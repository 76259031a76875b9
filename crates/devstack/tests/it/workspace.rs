//! The workspaces: exchange (and its refusals), isolation, client credentials, SCIM Me, the
//! Anthropic endpoints, and trusting another issuer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lakepass_devstack::{Devstack, FederationPolicy, Stats, fingerprint};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims the default policy accepts, for `sign_claims`.
fn good_claims(stack: &Devstack) -> Value {
    json!({
        "iss": stack.info().issuer, "aud": "lakepass-dev", "sub": "user-x",
        "email": "dana@example.com", "iat": now(), "exp": now() + 600,
    })
}

#[tokio::test]
async fn exchange_is_accepted_by_dev_and_its_token_refused_by_prod() {
    let stack = auto_approving().await;
    let id_token = str_of(&sign_in(&stack).await, "id_token").to_owned();

    let (status, body) = exchange(&stack, "dev", &id_token, &[("scope", "all-apis offline_access")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // The token lives 3600 s, capped at what the subject JWT (also 3600 s) has left: a second
    // may have ticked between sign-in and exchange.
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{body}");
    assert_eq!(body["scope"], "all-apis offline_access");
    let token = str_of(&body, "access_token");
    assert!(token.starts_with("dvs") && token.len() == 43, "{token}");
    assert!(token[3..].bytes().all(|b| b.is_ascii_hexdigit()));

    let (status, me) = scim_me(&stack, "dev", token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["userName"], "alice@example.com");
    assert_eq!(me["displayName"], "Alice");
    assert_eq!(me["emails"][0], json!({"value": "alice@example.com", "type": "work", "primary": true}));
    assert_eq!(me["groups"][0]["display"], "users");

    let (status, err) = scim_me(&stack, "prod", token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a dev token must not open prod");
    assert_eq!(err["error_code"], "UNAUTHENTICATED");

    let stats = stack.stats();
    let dev = &stats.workspaces["dev"];
    assert_eq!((dev.exchanges_ok, dev.exchanges_failed, dev.api_calls_ok), (1, 0, 1));
    assert_eq!(dev.seen_token_fingerprints, [fingerprint(&id_token), fingerprint(token)]);
    let prod = &stats.workspaces["prod"];
    assert_eq!((prod.api_calls_ok, prod.api_calls_unauthorized), (0, 1));
    assert_eq!(prod.seen_token_fingerprints, [fingerprint(token)]);

    // The same snapshot is served over HTTP and round-trips through serde.
    let over_http: Stats = client()
        .get(format!("{}/_devstack/stats", stack.info().issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, stats);
}

/// A missing `scope` is `all-apis`, as the Databricks SDKs default it (no primary source shows
/// Databricks refusing it; see `parse_scopes`). An empty one is the same.
#[tokio::test]
async fn an_exchange_without_a_scope_gets_all_apis() {
    let stack = auto_approving().await;
    let jwt = stack.sign_claims(&good_claims(&stack));
    let mut form =
        vec![("grant_type", TOKEN_EXCHANGE), ("subject_token_type", JWT_TYPE), ("subject_token", &jwt)];
    for scope in [None, Some("")] {
        form.retain(|(k, _)| *k != "scope");
        form.extend(scope.map(|s| ("scope", s)));
        let resp =
            client().post(format!("{}/oidc/v1/token", host(&stack, "dev"))).form(&form).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{scope:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["scope"], "all-apis", "{scope:?}: {body}");
    }
}

/// Databricks derives the exchanged token's lifetime from the subject JWT's: a JWT with little
/// left buys a token with as little, never the full workspace lifetime.
#[tokio::test]
async fn an_exchanged_token_never_outlives_its_subject_jwt() {
    let stack = auto_approving().await;
    let with_left = |left: i64| {
        let mut claims = good_claims(&stack);
        claims["iat"] = (now() - 300).into();
        claims["exp"] = (now() + left).into();
        stack.sign_claims(&claims)
    };
    let (status, body) = exchange(&stack, "dev", &with_left(120), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((115..=120).contains(&expires_in), "capped at the JWT's two minutes: {body}");

    // At or past its expiry (even inside the 30 s leeway a verifier gives `nbf`) a subject
    // token would buy a token of 0 s or less: refused, never a 200 with `expires_in: 0`.
    for left in [-10, 0] {
        let (status, body) = exchange(&stack, "dev", &with_left(left), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{left}: {body}");
        assert_eq!(body, json!({"error": "invalid_request", "error_description": "Token is expired"}));
    }
    let (status, body) = exchange(&stack, "dev", &with_left(1), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["expires_in"].as_i64().unwrap() >= 1, "never 0 s: {body}");

    // A JWT that outlives the workspace lifetime: the workspace lifetime.
    let (status, body) = exchange(&stack, "dev", &with_left(5 * 3600), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 3600);
}

#[tokio::test]
async fn bad_subject_tokens_are_refused_with_the_documented_error() {
    let stack = auto_approving().await;
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!("{}.{}.", b64(json!({"alg": "none"})), b64(good_claims(&stack)));
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good_claims(&stack),
        &jsonwebtoken::EncodingKey::from_secret(b"shared-secret"),
    )
    .unwrap();
    let with = |patch: Value| {
        let mut claims = good_claims(&stack);
        claims.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        stack.sign_claims(&claims)
    };
    let good = stack.sign_claims(&good_claims(&stack));
    let (head, sig) = {
        let p: Vec<&str> = good.split('.').collect();
        (p[0].to_owned(), p[2].to_owned())
    };
    let mut forged_claims = good_claims(&stack);
    forged_claims["email"] = "mallory@example.com".into();
    let forged = format!("{head}.{}.{sig}", b64(forged_claims));
    let idp_access_token = str_of(&sign_in(&stack).await, "access_token").to_owned();

    let cases = [
        (unsigned, "Token algorithm is not allowed"),
        (hs256, "Token algorithm is not allowed"),
        ("not-a-jwt".to_owned(), "Token is malformed"),
        (with(json!({"exp": now() - 120})), "Token is expired"),
        (with(json!({"aud": "someone-else"})), "Token audience is not allowed"),
        (idp_access_token, "Token audience is not allowed"),
        (with(json!({"iss": format!("{}/", stack.info().issuer)})), "Token issuer is not trusted"),
        (with(json!({"iss": "https://evil.example"})), "Token issuer is not trusted"),
        (forged, "Invalid signature"),
        // The default policy names the user by `sub`, as Databricks' default does.
        (with(json!({"sub": null})), "Token subject claim is missing"),
        // The JWKS holds two keys, so a token must say which one signed it.
        (
            stack.sign_claims_without_kid(&good_claims(&stack)),
            "Token has no kid, and the issuer's JWKS has several keys",
        ),
    ];
    for (token, reason) in &cases {
        let (status, body) = exchange(&stack, "dev", token, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{reason}: {body}");
        assert_eq!(body, json!({"error": "invalid_request", "error_description": reason}));
    }
    // `sub`, not `email`, is the Databricks user.
    let (status, body) = exchange(&stack, "dev", &good, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = scim_me(&stack, "dev", str_of(&body, "access_token")).await;
    assert_eq!((&me["userName"], &me["emails"][0]["value"]), (&json!("user-x"), &json!("dana@example.com")));
    // Within what used to be a 30 s leeway an expired token is refused too.
    let (status, _) = exchange(&stack, "dev", &with(json!({"exp": now() - 10})), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = exchange(&stack, "dev", &good, &[("scope", "all-apis root")]).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_scope"));

    let dev = &stack.stats().workspaces["dev"];
    assert_eq!((dev.exchanges_ok, dev.exchanges_failed), (1, cases.len() as u64 + 2));
    assert!(dev.seen_token_fingerprints.contains(&fingerprint("not-a-jwt")));
}

#[tokio::test]
async fn client_credentials_for_the_service_principal() {
    let stack = auto_approving().await;
    let sp = stack.info().service_principal.clone();
    let url = format!("{}/oidc/v1/token", host(&stack, "prod"));
    let resp = client()
        .post(&url)
        .basic_auth(&sp.client_id, Some(&sp.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let (status, me) = scim_me(&stack, "prod", str_of(&body, "access_token")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["userName"], sp.client_id.as_str());

    let resp = client()
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sp.client_id.as_str()),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(stack.stats().workspaces["prod"].client_credentials_ok, 1);
}

#[tokio::test]
async fn another_issuer_can_be_trusted_including_for_a_service_principal() {
    let stack = auto_approving().await;
    let other = auto_approving().await;
    let foreign = str_of(&sign_in(&other).await, "id_token").to_owned();
    let (status, body) = exchange(&stack, "dev", &foreign, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "Token issuer is not trusted");

    stack.add_federation_policy(
        "dev",
        FederationPolicy::new(other.info().issuer.clone(), vec!["lakepass-dev".into()]),
    );
    // Trusted, but the subject names no user of this account (the other IdP provisioned its own).
    let (status, body) = exchange(&stack, "dev", &foreign, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    stack.add_account_user("alice@example.com");
    let (status, body) = exchange(&stack, "dev", &foreign, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = scim_me(&stack, "dev", str_of(&body, "access_token")).await;
    assert_eq!(me["userName"], jwt_part(&foreign, 1)["sub"], "subject_claim sub");
    assert_eq!(me["emails"][0]["value"], "alice@example.com");
    // Policies are per workspace.
    let (status, _) = exchange(&stack, "prod", &foreign, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Service-principal federation, added over HTTP.
    let sp_id = "11111111-2222-4333-8444-555555555555";
    let (status, body) = exchange(&stack, "prod", &foreign, &[("client_id", sp_id)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "No federation policy for this service principal");
    let policy = FederationPolicy {
        service_principal_client_id: Some(sp_id.into()),
        subject: Some("nobody".into()),
        ..FederationPolicy::new(other.info().issuer.clone(), vec!["lakepass-dev".into()])
    };
    let resp = client()
        .post(format!("{}/_devstack/federation-policies", stack.info().issuer))
        .json(&json!({"workspace": "prod", "policy": policy}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, body) = exchange(&stack, "prod", &foreign, &[("client_id", sp_id)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "Token subject is not allowed");
    let sub = str_of(&jwt_part(&foreign, 1), "sub").to_owned();
    stack.add_federation_policy("prod", FederationPolicy { subject: Some(sub), ..policy });
    let (status, body) = exchange(&stack, "prod", &foreign, &[("client_id", sp_id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = scim_me(&stack, "prod", str_of(&body, "access_token")).await;
    assert_eq!(me["userName"], sp_id);
}

#[tokio::test]
async fn host_metadata_the_sdks_probe() {
    let stack = auto_approving().await;
    let dev = &stack.info().workspaces[0];
    let prod = &stack.info().workspaces[1];
    assert_eq!((dev.name.as_str(), prod.name.as_str()), ("dev", "prod"));
    assert_ne!(dev.workspace_id, prod.workspace_id);
    let conf: Value = client()
        .get(format!("{}/.well-known/databricks-config", dev.host))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        conf,
        json!({"oidc_endpoint": format!("{}/oidc", dev.host), "workspace_id": dev.workspace_id})
    );
    let meta: Value = client()
        .get(format!("{}/oidc/.well-known/oauth-authorization-server", dev.host))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["token_endpoint"], format!("{}/oidc/v1/token", dev.host));
    let head = client().head(&dev.host).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
}

pub async fn workspace_token(stack: &Devstack, name: &str, scope: &str) -> String {
    let sp = &stack.info().service_principal;
    let body: Value = client()
        .post(format!("{}/oidc/v1/token", host(stack, name)))
        .basic_auth(&sp.client_id, Some(&sp.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    str_of(&body, "access_token").to_owned()
}

#[tokio::test]
async fn anthropic_messages_json_and_sse() {
    let stack = auto_approving().await;
    let token = workspace_token(&stack, "dev", "model-serving").await;
    let base = host(&stack, "dev");
    let request = json!({"model": "databricks-claude-sonnet-4-5", "max_tokens": 16,
        "messages": [{"role": "user", "content": "say pong"}]});

    let resp = client()
        .post(format!("{base}/serving-endpoints/anthropic/v1/messages"))
        .bearer_auth(&token)
        .header("x-api-key", "unused")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let msg: Value = resp.json().await.unwrap();
    assert_eq!((&msg["type"], &msg["role"]), (&"message".into(), &"assistant".into()));
    assert_eq!(msg["content"], json!([{"type": "text", "text": "pong"}]));
    assert_eq!(msg["model"], "databricks-claude-sonnet-4-5");
    assert_eq!(msg["stop_reason"], "end_turn");

    let mut streaming = request.clone();
    streaming["stream"] = true.into();
    let resp = client()
        .post(format!("{base}/ai-gateway/anthropic/v1/messages?beta=true"))
        .bearer_auth(&token)
        .json(&streaming)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let events: Vec<(String, Value)> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (event, data) = e.split_once('\n').unwrap();
            let event = event.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], event.as_str(), "event name matches data.type");
            (event, data)
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[0].1["message"]["content"], json!([]));
    assert_eq!(events[2].1["delta"], json!({"type": "text_delta", "text": "pong"}));
    assert_eq!(events[4].1["delta"]["stop_reason"], "end_turn");

    // Wrong scope, no token, another workspace's token, and the right token in `x-api-key`
    // only (not a credential on Databricks) are refused.
    let sql = workspace_token(&stack, "dev", "sql").await;
    let resp = client()
        .post(format!("{base}/ai-gateway/anthropic/v1/messages"))
        .bearer_auth(&sql)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let prod_token = workspace_token(&stack, "prod", "all-apis").await;
    let api_key_only = workspace_token(&stack, "dev", "model-serving").await;
    for (bearer, api_key) in [(None, None), (Some(prod_token.as_str()), None), (None, Some(&api_key_only))] {
        let mut req = client().post(format!("{base}/ai-gateway/anthropic/v1/messages")).json(&request);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(k) = api_key {
            req = req.header("x-api-key", k);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error_code"], "UNAUTHENTICATED");
    }
    let dev = &stack.stats().workspaces["dev"];
    assert_eq!((dev.api_calls_ok, dev.api_calls_unauthorized), (2, 4));
    assert!(dev.seen_token_fingerprints.contains(&fingerprint(&prod_token)));
    assert!(!dev.seen_token_fingerprints.contains(&fingerprint(&api_key_only)), "x-api-key is not read");
}
