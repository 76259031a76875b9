//! Lakepass against a real, OpenID Certified identity provider (npm `oidc-provider`): the
//! browser sign-in (login and consent forms submitted by the test, with cookies, as a browser
//! would), PKCE, nonce and RFC 9207 `iss` checks, the id_token's RS256 signature from a JWKS
//! Lakepass did not write, an exchange at a devstack workspace that trusts that issuer, and a
//! refresh-token grant that rotates the refresh token.

use std::time::Duration;

use lakepass_devstack::FederationPolicy;
use lakepass_tests::*;
use url::Url;

/// id_token lifetime at the real IdP: short, so a refresh is due within the test.
const IDP_TTL: u64 = 8;

/// The first `<form>` of an HTML page: its action and its inputs (name → value).
fn first_form(page: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = page.find("<form")?;
    let end = start + page[start..].find("</form>")?;
    let form = &page[start..end];
    let action = attr(&form[..form.find('>')?], "action")?;
    let inputs = form
        .split("<input")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect();
    Some((action.replace("&amp;", "&"), inputs))
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

/// Plays the browser: follows the sign-in URL, submits the login form as `user` and the
/// consent form, until the IdP redirects to Lakepass's callback. Returns the final page.
async fn sign_in(url: Url, user: &str, redirect_port: u16) -> String {
    let browser = reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("browser client");
    let mut resp = browser.get(url).send().await.expect("GET the sign-in URL");
    for step in 0..4 {
        let at = resp.url().clone();
        let status = resp.status();
        let page = resp.text().await.expect("page body");
        if at.port() == Some(redirect_port) && at.path() == "/callback" {
            return page;
        }
        let (action, mut fields) = first_form(&page)
            .unwrap_or_else(|| panic!("step {step}: no form at {at} (HTTP {status}): {}", redact(&page)));
        for (name, value) in &mut fields {
            match name.as_str() {
                "login" => *value = user.to_string(),
                "password" => *value = "any password".to_string(),
                _ => {}
            }
        }
        let target = at.join(&action).expect("form action URL");
        resp = browser.post(target).form(&fields).send().await.expect("submit the form");
    }
    panic!("sign-in did not reach the Lakepass callback in 4 form submissions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_against_a_certified_oidc_provider_and_exchange_at_the_devstack() {
    let Some(peers) = peer_node() else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    let redirect_port = free_port();

    let mut node = home.command("node");
    node.arg(peers.join("oidc-provider.mjs")).args(["0", &redirect_port.to_string(), &IDP_TTL.to_string()]);
    let (_idp, issuer) =
        Proc::spawn_until("node oidc-provider.mjs", node, Stream::Stdout, Duration::from_secs(30), |line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["issuer"].as_str().map(String::from))
        })
        .await;

    // The dev workspace trusts the real IdP's id_tokens (aud = our client id, subject = `sub`).
    ds.add_federation_policy("dev", FederationPolicy::new(issuer.clone(), vec!["lakepass-dev".into()]));
    // Databricks maps the subject to an account user: the real IdP's user `ada` is one (as SCIM
    // provisioning from that IdP would make it).
    ds.add_account_user("ada");
    let dev = ws_host(&ds, "dev");
    home.write_config(&format!(
        "active = \"dev\"\n\n[idp.real]\nissuer = \"{issuer}\"\nclient_id = \"lakepass-dev\"\n\
         scopes = [\"openid\", \"email\", \"offline_access\"]\nredirect_port = {redirect_port}\n\
         auth_params = {{ prompt = \"consent\" }}\n\n\
         [workspace.dev]\nidp = \"real\"\nhost = \"{dev}\"\nprofile = \"real-dev\"\n"
    ));

    let pending = home.start_login(&["--idp", "real"]).await;
    assert_eq!(pending.param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(pending.param("prompt").as_deref(), Some("consent"), "auth_params are sent");
    assert_eq!(
        pending.redirect_uri().as_str(),
        format!("http://127.0.0.1:{redirect_port}/callback"),
        "the exact redirect URI registered at the IdP"
    );
    let page = sign_in(pending.idp_url.clone(), "ada", redirect_port).await;
    assert!(page.contains("Signed in"), "callback page: {}", redact(&page));
    let login = pending.finish().await.success();
    assert!(login.stderr.contains("Signed in to `real` as ada@example.com"), "{login:?}");

    // The session is filed under the IdP's name and a digest of its issuer and client, and
    // bound to them (issue 23, H1).
    let key = home.vault_keys().into_iter().find(|k| k.starts_with("idp:real@")).expect("IdP session key");
    let session = home.vault_entry(&key).expect("IdP session in the vault");
    assert_eq!(session["binding"]["idp"], "real", "{:?}", session["binding"]);
    let first_refresh = session["session"]["refresh_token"]
        .as_str()
        .expect("offline_access gave a refresh token")
        .to_string();
    let status = home.run(&["status", "--json"]).await.success().json();
    assert_eq!(status["workspaces"][0]["state"], "fresh", "{status:#}");
    let stats = ds.stats();
    assert_eq!(stats.workspaces["dev"].exchanges_ok, 1, "{stats:?}");
    assert_eq!(stats.workspaces["dev"].exchanges_failed, 0, "{stats:?}");
    let token = home.profile_value("real-dev", "token").expect("profile written");
    let (code, me) = scim_me(&dev, &token).await;
    assert_eq!((code, me["userName"].as_str()), (200, Some("ada")), "the workspace user is the IdP's `sub`");

    // Past half the id_token's life: a forced refresh must use the refresh token at the real
    // IdP (which rotates it), then exchange the new id_token.
    tokio::time::sleep(Duration::from_secs(IDP_TTL / 2 + 1)).await;
    home.run(&["refresh", "-w", "dev"]).await.success();
    let session = home.vault_entry(&key).expect("IdP session in the vault");
    let second_refresh =
        session["session"]["refresh_token"].as_str().expect("refresh token kept").to_string();
    assert_ne!(
        fingerprint(&first_refresh),
        fingerprint(&second_refresh),
        "oidc-provider rotated the refresh token and Lakepass stored the new one"
    );
    assert_eq!(ds.stats().workspaces["dev"].exchanges_ok, 2);
    let who = home.run(&["whoami", "-w", "dev"]).await.success();
    assert!(who.stdout.split_whitespace().any(|w| w == "ada"), "the workspace user is `ada`: {who:?}");
    assert!(who.stdout.contains(&dev), "{who:?}");
}
