//! The IdP: discovery, JWKS, PKCE sign-in (auto-approved and through the login form), codes,
//! refresh rotation, reuse detection and revocation.

use lakepass_devstack::{DevstackOptions, SigningAlg};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn discovery_and_jwks_publish_both_keys() {
    let stack = auto_approving().await;
    let iss = &stack.info().issuer;
    assert!(iss.starts_with("http://127.0.0.1:") && !iss.ends_with('/'));
    let conf: Value = client()
        .get(format!("{iss}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conf["issuer"], iss.as_str());
    assert_eq!(conf["token_endpoint"], format!("{iss}/token"));
    assert_eq!(conf["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert!(conf["scopes_supported"].to_string().contains("offline_access"));
    let jwks: Value = client().get(str_of(&conf, "jwks_uri")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<(&str, &str)> =
        jwks["keys"].as_array().unwrap().iter().map(|k| (str_of(k, "kid"), str_of(k, "alg"))).collect();
    assert_eq!(kids, [("rs256-1", "RS256"), ("es256-1", "ES256")]);
    assert_eq!(jwks["keys"][0]["e"], "AQAB");
    assert_eq!(jwks["keys"][1]["crv"], "P-256");
}

#[tokio::test]
async fn auto_approved_pkce_flow_issues_the_promised_tokens() {
    let stack = auto_approving().await;
    let pkce = pkce();
    let resp = client()
        .get(authorize_url(&stack.info().issuer, &pkce, "openid email offline_access"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location_param(&resp, "state"), "state-123");
    assert_eq!(location_param(&resp, "iss"), stack.info().issuer);
    let code = location_param(&resp, "code");

    let (status, body) = redeem(&stack, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid email offline_access");
    assert!(str_of(&body, "refresh_token").len() >= 40);

    let id_token = str_of(&body, "id_token");
    assert_eq!(jwt_part(id_token, 0)["kid"], "rs256-1");
    assert_eq!(jwt_part(id_token, 0)["alg"], "RS256");
    let claims = jwt_part(id_token, 1);
    assert_eq!(claims["iss"], stack.info().issuer.as_str());
    assert_eq!(claims["aud"], "lakepass-dev");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["name"], "Alice");
    assert_eq!(claims["nonce"], "nonce-456");
    assert_eq!(str_of(&claims, "sub"), "alice@example.com", "the user name, as the default policy maps it");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    let access = jwt_part(str_of(&body, "access_token"), 1);
    assert_eq!(access["aud"], "api://lakepass-dev");
    assert_eq!(access["sub"], claims["sub"]);
    assert_eq!(stack.stats().idp.authorization_code_grants, 1);
}

#[tokio::test]
async fn login_form_can_be_submitted_with_plain_http() {
    let stack = lakepass_devstack::start(DevstackOptions::default()).await.unwrap();
    let pkce = pkce();
    let page = client().get(authorize_url(&stack.info().issuer, &pkce, "openid email")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/authorize/login\""), "{html}");
    let request_id = html
        .split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("hidden request_id field");

    let resp = client()
        .post(format!("{}/authorize/login", stack.info().issuer))
        .form(&[("request_id", request_id), ("email", "bob.builder@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(location_param(&resp, "state"), "state-123");
    let (status, body) = redeem(&stack, &location_param(&resp, "code"), &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = jwt_part(str_of(&body, "id_token"), 1);
    assert_eq!(claims["email"], "bob.builder@example.com");
    assert_eq!(claims["name"], "Bob Builder");
    assert!(body.get("refresh_token").is_none(), "no offline_access, no refresh token");

    // The request id is single-use.
    let again = client()
        .post(format!("{}/authorize/login", stack.info().issuer))
        .form(&[("request_id", request_id), ("email", "bob@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authorize_refuses_plain_pkce_and_foreign_redirects_with_a_page() {
    let stack = auto_approving().await;
    let pkce = pkce();
    let good = authorize_url(&stack.info().issuer, &pkce, "openid");
    for (bad, expect) in [
        (good.replace("code_challenge_method=S256", "code_challenge_method=plain"), "S256"),
        (good.replace("&code_challenge_method=S256", ""), "code_challenge_method is missing"),
        (
            good.replace("http%3A%2F%2F127.0.0.1%3A9", "https%3A%2F%2Fevil.example"),
            "registered redirect_uris",
        ),
        // RFC 8252 §7.3 frees the port of a loopback IP literal, nothing else.
        (
            good.replace("http%3A%2F%2F127.0.0.1%3A9", "http%3A%2F%2Flocalhost%3A9"),
            "registered redirect_uris",
        ),
        (good.replace("%2Fcallback", "%2Fother"), "registered redirect_uris"),
        (good.replace("%2Fcallback", "%2Fcallback%2F"), "registered redirect_uris"),
    ] {
        let resp = client().get(&bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(resp.headers().get("location").is_none());
        let html = resp.text().await.unwrap();
        assert!(html.contains(expect), "{bad}: {html}");
    }
}

#[tokio::test]
async fn wrong_verifier_and_replayed_code_are_refused() {
    let stack = auto_approving().await;
    let pkce = pkce();
    let code = authorize(&stack, &pkce, "openid offline_access").await;

    let (status, body) = redeem(&stack, &code, &crate::helpers::pkce().verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(str_of(&body, "error_description").contains("PKCE"));

    let (status, first) = redeem(&stack, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{first}");

    let (status, body) = redeem(&stack, &code, &pkce.verifier).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &"invalid_grant".into()));
    assert!(str_of(&body, "error_description").contains("already used"));
    // The replay revoked what the code had issued.
    let (status, body) = refresh(&stack, str_of(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "Refresh token has been revoked");
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc_6749() {
    let stack = auto_approving().await;
    let (status, body) = idp_token(&stack, &[("grant_type", "refresh_token")]).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let (status, body) =
        idp_token(&stack, &[("grant_type", "authorization_code"), ("client_id", "lakepass-dev")]).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_request"));
    let (status, body) = refresh(&stack, "not-a-refresh-token").await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert_eq!(body["error_description"], "Refresh token is unknown");
}

/// RFC 6749 §4.1.3 and §6: the token request is a form. Anything else is refused as
/// `invalid_request`, on the IdP and on a workspace alike, before a code or token is spent.
#[tokio::test]
async fn token_endpoints_take_only_form_bodies() {
    let stack = auto_approving().await;
    let first = sign_in(&stack).await;
    let rt = str_of(&first, "refresh_token");
    let dev = &stack.info().workspaces[0].host;
    let json_body = serde_json::json!({"grant_type": "refresh_token", "client_id": "lakepass-dev",
        "refresh_token": rt});
    for url in [format!("{}/token", stack.info().issuer), format!("{dev}/oidc/v1/token")] {
        let resp = client().post(&url).json(&json_body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{url}: {body}");
        assert!(str_of(&body, "error_description").contains("application/x-www-form-urlencoded"), "{body}");
        // The same parameters as a form, but labelled as text: refused too.
        let form = format!("grant_type=refresh_token&client_id=lakepass-dev&refresh_token={rt}");
        let resp = client().post(&url).header("content-type", "text/plain").body(form).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
    }
    // Nothing was spent: the refresh token still works, as a form.
    let (status, body) = refresh(&stack, rt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stack.stats().idp.refresh_failures, 0);
}

/// OIDC Core §12.2: a refresh answer "might not contain an id_token". A devstack set up so
/// answers with access and refresh tokens only; the sign-in itself still carries one.
#[tokio::test]
async fn a_client_set_to_omit_it_refreshes_without_an_id_token() {
    let stack = lakepass_devstack::start(lakepass_devstack::DevstackOptions {
        auto_approve: Some("alice@example.com".into()),
        id_token_on_refresh: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let first = sign_in(&stack).await;
    assert!(first["id_token"].is_string(), "{first}");
    let (status, body) = refresh(&stack, str_of(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string(), "{body}");
    // The default IdP renews it.
    let stack = auto_approving().await;
    let (_, body) = refresh(&stack, str_of(&sign_in(&stack).await, "refresh_token")).await;
    assert!(body["id_token"].is_string(), "{body}");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let stack = auto_approving().await;
    let first = sign_in(&stack).await;
    let rt1 = str_of(&first, "refresh_token");

    let (status, second) = refresh(&stack, rt1).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = str_of(&second, "refresh_token");
    assert_ne!(rt1, rt2, "rotation issues a new refresh token");
    let claims = jwt_part(str_of(&second, "id_token"), 1);
    assert_eq!(claims["email"], "alice@example.com");
    assert!(claims.get("nonce").is_none(), "no nonce on refresh");

    // Presenting the rotated token again is reuse: refused, and the family dies.
    let (status, body) = refresh(&stack, rt1).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert!(str_of(&body, "error_description").contains("reuse"));
    let (status, body) = refresh(&stack, rt2).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "Refresh token has been revoked");

    let idp = stack.stats().idp;
    assert_eq!((idp.refresh_grants, idp.refresh_failures), (1, 2));
}

/// RFC 6749 §6: `scope` on a refresh is optional; the same or a narrower scope is granted (as
/// MSAL always sends it), a wider one is refused with `invalid_scope` and spends nothing.
#[tokio::test]
async fn refresh_accepts_the_original_or_a_narrower_scope_and_refuses_a_wider_one() {
    let stack = auto_approving().await;
    let first = sign_in(&stack).await;
    let with_scope = |rt: &str, scope: &str| {
        let (rt, scope) = (rt.to_owned(), scope.to_owned());
        let stack = &stack;
        async move {
            idp_token(
                stack,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", "lakepass-dev"),
                    ("refresh_token", &rt),
                    ("scope", &scope),
                ],
            )
            .await
        }
    };
    let rt1 = str_of(&first, "refresh_token").to_owned();
    let (status, body) = with_scope(&rt1, "openid email offline_access profile").await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_scope"), "{body}");

    // The refused request spent nothing: the same refresh token still works, with the scope
    // the sign-in asked for.
    let (status, second) = with_scope(&rt1, "openid email offline_access").await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["scope"], "openid email offline_access");
    assert_eq!(jwt_part(str_of(&second, "id_token"), 1)["email"], "alice@example.com");

    // A narrower scope is granted as asked; the rotated refresh token keeps the original grant.
    let rt2 = str_of(&second, "refresh_token").to_owned();
    let (status, third) = with_scope(&rt2, "openid offline_access").await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(third["scope"], "openid offline_access");
    let (status, fourth) = with_scope(str_of(&third, "refresh_token"), "openid email offline_access").await;
    assert_eq!(status, StatusCode::OK, "{fourth}");

    let idp = stack.stats().idp;
    assert_eq!((idp.refresh_grants, idp.refresh_failures), (3, 1));
}

#[tokio::test]
async fn revocation_in_process_and_over_http() {
    let stack = auto_approving().await;
    let a = sign_in(&stack).await;
    stack.revoke_refresh_tokens();
    let (status, body) = refresh(&stack, str_of(&a, "refresh_token")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "Refresh token has been revoked");

    // A later sign-in works again, until the control endpoint revokes it too.
    let b = sign_in(&stack).await;
    let (status, _) = refresh(&stack, str_of(&b, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    let resp = client().post(format!("{}/_devstack/revoke", stack.info().issuer)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (status, body) = refresh(&stack, str_of(&b, "refresh_token")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn non_rotating_idp_returns_the_same_refresh_token() {
    let stack = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some("carol@example.com".into()),
        rotate_refresh_tokens: false,
        idp_token_ttl: std::time::Duration::from_secs(90),
        ..Default::default()
    })
    .await
    .unwrap();
    let first = sign_in(&stack).await;
    assert_eq!(first["expires_in"], 90);
    let rt = str_of(&first, "refresh_token");
    for _ in 0..2 {
        let (status, body) = refresh(&stack, rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["refresh_token"], rt);
    }
}

#[tokio::test]
async fn es256_signing_and_key_rotation() {
    let stack = auto_approving().await;
    stack.set_signing_alg(SigningAlg::ES256);
    let es = sign_in(&stack).await;
    let header = jwt_part(str_of(&es, "id_token"), 0);
    assert_eq!((&header["alg"], &header["kid"]), (&"ES256".into(), &"es256-1".into()));
    let (status, body) = exchange(&stack, "dev", str_of(&es, "id_token"), &[]).await;
    assert_eq!(status, StatusCode::OK, "ES256 tokens verify: {body}");

    stack.set_signing_alg(SigningAlg::RS256);
    let old = sign_in(&stack).await;
    let (status, _) = exchange(&stack, "dev", str_of(&old, "id_token"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stack.rotate_signing_key().await, "rs256-2");
    let new = sign_in(&stack).await;
    assert_eq!(jwt_part(str_of(&new, "id_token"), 0)["kid"], "rs256-2");
    // The workspace has cached the old JWKS: the unknown kid makes it refetch.
    let (status, body) = exchange(&stack, "dev", str_of(&new, "id_token"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // And the old kid is gone.
    let (status, body) = exchange(&stack, "dev", str_of(&old, "id_token"), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "Token signing key is unknown");
}

#[tokio::test]
async fn a_fixed_port_puts_the_workspaces_on_the_next_two() {
    // Bases below the kernel's ephemeral range (32768 and up on Linux), where the parallel tests'
    // own listeners and client connections take their ports; another process may still hold one
    // of the four, so try several bases.
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    for attempt in 0..50u32 {
        let port = 20_000 + ((seed / 7 + attempt * 211) % 12_000) as u16;
        let opts =
            DevstackOptions { addr: format!("127.0.0.1:{port}").parse().unwrap(), ..Default::default() };
        let Ok(stack) = lakepass_devstack::start(opts).await else {
            continue;
        };
        let info = stack.info();
        assert_eq!(info.issuer, format!("http://127.0.0.1:{port}"));
        assert_eq!(info.workspaces[0].host, format!("http://127.0.0.1:{}", port + 1));
        assert_eq!(info.workspaces[1].host, format!("http://127.0.0.1:{}", port + 2));
        assert_eq!(info.account_host, format!("http://127.0.0.1:{}", port + 3));
        stack.shutdown().await;
        // Shut down means the ports are free again.
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("port released");
        return;
    }
    panic!("no free port range found");
}

#[tokio::test]
async fn refuses_to_listen_beyond_loopback() {
    let opts = DevstackOptions { addr: "0.0.0.0:0".parse().unwrap(), ..Default::default() };
    let err = lakepass_devstack::start(opts).await.err().expect("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
}
