//! What can be wrong with a federated sign-in, each with the words that explain it and the fix.
//!
//! A [`Problem`] is data (serialized with a stable `kind`, so the dashboard can act on it); its
//! [`Problem::explain`] gives the sentence a person reads and the next step. The claim-by-claim
//! comparison of a JWT with a federation policy ([`compare`]) follows the order Databricks checks
//! in — issuer, audience, subject claim, subject — so the first mismatch named is the one the
//! workspace refused.

use serde::Serialize;

use lakepass_config::ExpectedPolicy;

/// One failure mode the doctor recognises.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The config file is missing or invalid.
    ConfigInvalid {
        /// The loader's message (file, line, field).
        message: String,
    },
    /// The workspace asked about is not in the config.
    UnknownWorkspace {
        /// Which names the config has.
        message: String,
    },
    /// The IdP's discovery document could not be fetched.
    IdpUnreachable {
        /// What failed.
        message: String,
    },
    /// A server's certificate comes from a CA this computer does not trust (a TLS-inspecting
    /// proxy, most often): no network problem, a `ca_file` fixes it.
    UntrustedCertificate {
        /// Where.
        url: String,
        /// The untrusted CA's name.
        issuer: String,
    },
    /// Discovery names another issuer than the config.
    DiscoveryIssuerMismatch {
        /// From config.
        configured: String,
        /// From discovery.
        found: String,
        /// They differ only by a trailing slash.
        trailing_slash: bool,
    },
    /// The issuer's JWKS could not be fetched.
    JwksUnreachable {
        /// The `jwks_uri`.
        url: String,
        /// What failed.
        message: String,
    },
    /// The signing keys are at an address only this machine or its network reaches, while the
    /// workspace is in the cloud: this machine verifies fine, Databricks cannot.
    JwksNotPublic {
        /// Where the keys are.
        url: String,
    },
    /// No IdP session in the vault.
    NotSignedIn {
        /// The IdP.
        idp: String,
    },
    /// Refreshing the IdP session failed.
    RefreshFailed {
        /// The IdP.
        idp: String,
        /// Only a new sign-in helps (revoked or expired refresh token).
        needs_login: bool,
        /// What the IdP said.
        message: String,
    },
    /// The IdP refreshed the session without a new id_token (OIDC Core §12.2 allows it), and
    /// the workspace exchanges the id_token: a sign-in is needed every id_token lifetime.
    IdTokenNotRenewed {
        /// The IdP.
        idp: String,
        /// The policy audience to name as the access token's `resource`, when one is known.
        audience: Option<String>,
    },
    /// The workspace exchanges the access token, but the IdP issued none.
    NoAccessToken {
        /// The IdP.
        idp: String,
    },
    /// The subject token is not a JWT.
    NotAJwt {
        /// Why.
        reason: String,
        /// The workspace exchanges the access token (often opaque at some IdPs).
        access_token: bool,
    },
    /// The JWT has expired (by this machine's clock).
    Expired {
        /// Seconds since `exp`.
        seconds_ago: i64,
        /// Whether a refresh token exists.
        refreshable: bool,
    },
    /// `alg` is not RS256/ES256 (HS256, `none`, …).
    AlgorithmNotAllowed {
        /// The header's alg.
        alg: String,
    },
    /// The header's `kid` is not in the issuer's JWKS.
    UnknownKid {
        /// The token's kid.
        kid: String,
        /// The kids the JWKS has.
        known: Vec<String>,
    },
    /// The signature does not verify.
    BadSignature,
    /// This machine's clock and the workspace's differ.
    ClockSkew {
        /// Workspace clock minus local clock, in seconds.
        seconds: i64,
    },
    /// The workspace answered, but only with 429/5xx until the retries ran out: it is busy or
    /// down, not unreachable and not refusing.
    WorkspaceUnavailable {
        /// The last status.
        status: u16,
        /// What happened.
        message: String,
    },
    /// The workspace could not be reached.
    WorkspaceUnreachable {
        /// What failed.
        message: String,
    },
    /// The token's `iss` differs from the policy's only by a trailing slash.
    IssuerTrailingSlash {
        /// `iss` in the token.
        token: String,
        /// The policy's issuer.
        policy: String,
    },
    /// The token's `iss` is not the policy's issuer.
    IssuerMismatch {
        /// `iss` in the token.
        token: String,
        /// The policy's issuer.
        policy: String,
    },
    /// No `aud` value is among the policy's audiences.
    AudienceMismatch {
        /// `aud` in the token.
        token: Vec<String>,
        /// The policy's audiences.
        policy: Vec<String>,
        /// The IdP client id (what an id_token's `aud` is).
        client_id: String,
        /// The policy expects the Databricks account id.
        expects_account_id: bool,
    },
    /// The policy's subject claim is not in the token.
    SubjectClaimMissing {
        /// The claim the policy names.
        claim: String,
        /// Identity claims the token does have.
        available: Vec<String>,
    },
    /// The subject claim's value is not the policy's subject.
    SubjectMismatch {
        /// The claim.
        claim: String,
        /// Its value in the token.
        token: String,
        /// The policy's subject.
        policy: String,
    },
    /// Role mapping found no service principal for the user's roles.
    NoMappedRole {
        /// The claim.
        claim: String,
        /// Its values.
        found: Vec<String>,
        /// Mapped roles.
        mapped: Vec<String>,
    },
    /// The exchange names a service principal that has no federation policy.
    ServicePrincipalPolicyMissing {
        /// The SP application id.
        client_id: String,
    },
    /// The workspace refused the exchange, for a reason the local checks did not find.
    ExchangeRejected {
        /// HTTP status.
        status: u16,
        /// RFC 6749 error code.
        error: String,
        /// The server's description.
        description: String,
    },
    /// An M2M workspace whose client secret is not in the vault.
    SecretMissing {
        /// The workspace.
        workspace: String,
    },
    /// The workspace refused the service principal's client credentials.
    ClientCredentialsRejected {
        /// The SP application id.
        client_id: String,
        /// The server's description.
        description: String,
    },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
    }
}

/// Minutes and seconds in words: "2h 00m", "5m 03s", "42s".
pub(crate) fn span(secs: i64) -> String {
    let s = secs.abs();
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

impl Problem {
    /// [`Problem::UntrustedCertificate`] when `e` (or its cause) is a certificate from an
    /// untrusted CA, else `otherwise`: the doctor never calls a trust problem "unreachable".
    pub(crate) fn or_untrusted(e: &(dyn std::error::Error + 'static), otherwise: Problem) -> Problem {
        let mut cur = Some(e);
        while let Some(err) = cur {
            if let Some(lakepass_wire::http::HttpError::UntrustedCertificate { url, issuer }) =
                err.downcast_ref()
            {
                return Problem::UntrustedCertificate { url: url.clone(), issuer: issuer.clone() };
            }
            cur = err.source();
        }
        otherwise
    }

    /// [`Problem::WorkspaceUnavailable`] when `e` (or its cause) is a server that kept answering
    /// 429/5xx, else `otherwise`.
    pub(crate) fn or_unavailable(e: &(dyn std::error::Error + 'static), otherwise: Problem) -> Problem {
        let mut cur = Some(e);
        while let Some(err) = cur {
            if let Some(lakepass_wire::http::HttpError::GaveUp { status, .. }) = err.downcast_ref() {
                return Problem::WorkspaceUnavailable { status: *status, message: e.to_string() };
            }
            cur = err.source();
        }
        otherwise
    }

    /// What is wrong, in plain words, and what to do about it.
    pub(crate) fn explain(&self, workspace: &str, idp: &str) -> (String, String) {
        use Problem::*;
        match self {
            ConfigInvalid { message } => (message.clone(), "Fix the config file as the message says, then run `lakepass doctor` again.".into()),
            UnknownWorkspace { message } => (message.clone(), "Name a workspace the config has (`lakepass workspace list`), or add this one with `lakepass workspace add`.".into()),
            IdpUnreachable { message } => (
                format!("the identity provider's discovery document could not be fetched: {message}"),
                format!("Check the network, a proxy, and that `issuer` of [idp.{idp}] is right (its `/.well-known/openid-configuration` must load in a browser)."),
            ),
            UntrustedCertificate { url, issuer } => (
                format!("{url} presented a certificate from a CA this computer does not trust: {issuer}"),
                "If your company inspects TLS (Zscaler, Netskope, …), get its CA as a PEM file and set `ca_file = \"/path/to/ca.pem\"` at the top of the Lakepass config (or add the CA to the system's trust store); SSL_CERT_FILE is honoured too.".into(),
            ),
            DiscoveryIssuerMismatch { configured, found, trailing_slash } => (
                format!(
                    "the IdP's discovery document says issuer `{found}`, the config says `{configured}`{}",
                    if *trailing_slash { ": they differ only by a trailing slash, which matters — issuers are compared as exact strings" } else { "" }
                ),
                format!("Set `issuer = \"{found}\"` in [idp.{idp}] (copy it exactly, slash and all)."),
            ),
            JwksUnreachable { url, message } => (
                format!("this machine could not fetch the issuer's signing keys (JWKS) at {url}: {message}"),
                "Check that the IdP is up and that this machine reaches it (proxy, firewall, `ca_file`). Databricks fetches the same keys from its own network, so it may still succeed; a federation policy with `jwks_json` (`lakepass admin policy create … --jwks-json`) takes the question away.".into(),
            ),
            JwksNotPublic { url } => (
                format!("the signing keys are at {url}, an address only this machine or its network can reach; this machine can verify the token, Databricks cannot fetch them"),
                format!("Publish the IdP's keys where Databricks can reach them, or put them in the federation policy: `lakepass admin policy create --from-idp {idp} --jwks-json \"$(curl -s {url})\"`."),
            ),
            NotSignedIn { idp } => (format!("not signed in to identity provider `{idp}`"), format!("Run `lakepass login --idp {idp}`.")),
            RefreshFailed { idp, needs_login, message } => (
                format!("refreshing the `{idp}` session failed: {message}"),
                if *needs_login {
                    format!("The refresh token was revoked or expired: run `lakepass login --idp {idp}`.")
                } else {
                    "Check that the IdP is reachable and try again; if it persists, sign in again.".into()
                },
            ),
            IdTokenNotRenewed { idp, audience } => {
                let aud = audience.as_deref().unwrap_or("<an audience of the federation policy>");
                (
                    format!("identity provider `{idp}` refreshed the session without a new id_token, and workspace `{workspace}` exchanges the id_token: it needs a sign-in every time the id_token expires (about hourly)"),
                    format!("Exchange the IdP's access token instead, asked for with an audience the federation policy accepts (RFC 8707 `resource`): `lakepass workspace add {workspace} --host <its URL> --token access_token --resource {aud} --replace` (in the config: `token = \"access_token\"` in [workspace.{workspace}] and `auth_params = {{ resource = \"{aud}\" }}` in [idp.{idp}]), then `lakepass login --idp {idp}`. Until then, `lakepass login --idp {idp}` each time."),
                )
            }
            NoAccessToken { idp } => (
                format!("workspace `{workspace}` exchanges the IdP's access token, but `{idp}` issued none"),
                format!("Set `token = \"id_token\"` in [workspace.{workspace}], or request a scope that yields an access token."),
            ),
            NotAJwt { reason, access_token } => (
                format!("the token to exchange is not a JWT: {reason}"),
                if *access_token {
                    format!("This IdP's access token is opaque (not a JWT); exchange the id_token instead: `token = \"id_token\"` in [workspace.{workspace}].")
                } else {
                    "Only JWTs can be federated; check what the IdP issues.".into()
                },
            ),
            Expired { seconds_ago, refreshable } => (
                format!("the IdP token expired {} ago", span(*seconds_ago)),
                if *refreshable {
                    format!("Lakepass could not renew it: run `lakepass login --idp {idp}`.")
                } else {
                    format!("The IdP issued no refresh token, so Lakepass cannot renew it: add `offline_access` to the scopes of [idp.{idp}] (see the IdP presets), then `lakepass login --idp {idp}`.")
                },
            ),
            AlgorithmNotAllowed { alg } => (
                format!("the token is signed with `{alg}`; Databricks accepts only RS256 and ES256 (verified with the issuer's public keys)"),
                "Configure the IdP application to sign tokens with RS256 (or ES256). An HS256 (shared secret) or unsigned `none` token can never be federated.".into(),
            ),
            UnknownKid { kid, known } => (
                format!("the token's key id `{kid}` is not in the issuer's JWKS (it has {})", list(known)),
                "The IdP rotated its signing keys after this token was issued: run `lakepass refresh` (or `lakepass login`) for a token signed with a current key. If it persists, the token comes from another issuer than the configured one.".into(),
            ),
            BadSignature => (
                "the token's signature does not verify against the issuer's JWKS".into(),
                "The token was altered or comes from another issuer; sign in again with `lakepass login`.".into(),
            ),
            ClockSkew { seconds } => (
                format!(
                    "this machine's clock is {} {} the workspace's",
                    span(*seconds),
                    if *seconds > 0 { "behind" } else { "ahead of" }
                ),
                "Databricks checks `exp`/`iat` against its own clock, so a wrong clock makes valid tokens look expired (or not yet valid): turn on network time (`timedatectl set-ntp true`, macOS Date & Time → Set automatically, Windows `w32tm /resync`).".into(),
            ),
            WorkspaceUnavailable { status, message } => (
                format!("the workspace kept answering HTTP {status}: {message}"),
                "Databricks is busy or failing on its side, nothing is wrong with your setup: try again in a minute; if it persists, check https://status.databricks.com.".into(),
            ),
            WorkspaceUnreachable { message } => (
                format!("the workspace could not be reached: {message}"),
                format!("Check `host` of [workspace.{workspace}], the network and any proxy."),
            ),
            IssuerTrailingSlash { token, policy } => (
                format!("the token's issuer `{token}` differs from the federation policy's `{policy}` only by a trailing slash; Databricks compares issuers as exact strings"),
                format!("Change the policy's issuer to exactly `{token}` (e.g. `lakepass admin policy create --from-idp {idp}` writes it as the IdP issues it)."),
            ),
            IssuerMismatch { token, policy } => (
                format!("the token's issuer `{token}` is not the federation policy's `{policy}`"),
                format!("Make the policy trust `{token}` exactly, or sign in with the IdP the policy names."),
            ),
            AudienceMismatch { token, policy, client_id, expects_account_id } => {
                let what = if token.iter().any(|a| a == client_id) {
                    format!("the token's `aud` is the IdP client id `{client_id}`")
                } else {
                    format!("the token's `aud` is {}", list(token))
                };
                let expects = if *expects_account_id {
                    format!("the Databricks account id {} (the default when a policy lists no audiences)", list(policy))
                } else {
                    list(policy)
                };
                (
                    format!("{what}, but the federation policy expects {expects}"),
                    format!("Add `{}` to the policy's audiences (Databricks accepts the IdP's client id), or configure the IdP to issue tokens for one of the policy's audiences.", token.first().cloned().unwrap_or_default()),
                )
            }
            SubjectClaimMissing { claim, available } => (
                format!("the federation policy's subject claim `{claim}` is not in the token (identity claims present: {})", list(available)),
                format!("Set the policy's subject_claim to a claim the token has (usually `email` or `sub`), or add `{claim}` to the tokens in the IdP's claim settings."),
            ),
            SubjectMismatch { claim, token, policy } => (
                format!("the token's `{claim}` is `{token}`, but the federation policy only accepts `{policy}`"),
                "Sign in as the identity the policy names, or change the policy's subject.".into(),
            ),
            NoMappedRole { claim, found, mapped } => (
                format!("your token's `{claim}` claim is {}, and none of that is mapped to a service principal (mapped: {})", list(found), list(mapped)),
                format!("Ask the IdP administrator to assign you one of the mapped roles, or map yours under [workspace.{workspace}.roles.map]."),
            ),
            ServicePrincipalPolicyMissing { client_id } => (
                format!("the exchange names service principal `{client_id}`, which has no federation policy"),
                format!("Create one: `lakepass admin sp-policy create --service-principal {client_id} --from-idp {idp} --subject <value>`."),
            ),
            ExchangeRejected { status, error, description } => (
                format!("the workspace refused the exchange (HTTP {status}, {error}): {description}"),
                match (*status, error.as_str()) {
                    (500.., _) => "Databricks failed on its side: try again in a minute; if it persists, check https://status.databricks.com.".into(),
                    (_, "invalid_scope") => format!("Ask for scopes the workspace grants: `scopes` of [workspace.{workspace}] (e.g. `all-apis`)."),
                    _ => format!("The local checks found nothing wrong, so the workspace's words above say why: compare its federation policy with the claims above (run with --admin-workspace, or add [workspace.{workspace}.policy] to the config, so the doctor can compare claim by claim)."),
                },
            ),
            SecretMissing { workspace } => (
                format!("workspace `{workspace}` authenticates as a service principal, but its client secret is not in the vault"),
                format!("Enter it with `lakepass workspace set-secret {workspace}` (read from stdin or a prompt; never put it on the command line)."),
            ),
            ClientCredentialsRejected { client_id, description } => (
                format!("the workspace refused service principal `{client_id}`'s client credentials: {description}"),
                format!("The secret is wrong, expired or for another service principal: create a new OAuth secret for `{client_id}` and store it with `lakepass workspace set-secret {workspace}`."),
            ),
        }
    }

    /// Its kind, hence the CLI's exit code: config, sign in first, unreachable, or refused.
    pub fn kind(&self) -> lakepass_engine::error::ErrorKind {
        use Problem::*;
        use lakepass_engine::error::ErrorKind;
        match self {
            ConfigInvalid { .. } => ErrorKind::Config,
            UnknownWorkspace { .. } => ErrorKind::UnknownWorkspace,
            NotSignedIn { .. }
            | RefreshFailed { needs_login: true, .. }
            | SecretMissing { .. }
            | IdTokenNotRenewed { .. } => ErrorKind::NeedsLogin,
            IdpUnreachable { .. }
            | JwksUnreachable { .. }
            | WorkspaceUnreachable { .. }
            | WorkspaceUnavailable { .. } => ErrorKind::Network,
            UntrustedCertificate { .. } => ErrorKind::UntrustedCertificate,
            _ => ErrorKind::FederationRejected,
        }
    }
}

/// A federation policy the doctor compares against, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownPolicy {
    /// The policy.
    pub policy: ExpectedPolicy,
    /// `config` or `account policy <id>`.
    pub source: String,
    /// For a service-principal policy, the SP it belongs to (its application id).
    pub service_principal: Option<String>,
    /// The policy's `jwks_uri`: where Databricks fetches the signing keys instead of discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The policy's `jwks_json`: the signing keys Databricks uses without fetching any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_json: Option<String>,
}

/// What a comparison needs to know about the token.
pub(crate) struct TokenFacts<'a> {
    pub(crate) claims: &'a serde_json::Map<String, serde_json::Value>,
    pub(crate) audiences: Vec<String>,
    pub(crate) client_id: &'a str,
    pub(crate) account_id: Option<&'a str>,
}

const IDENTITY_CLAIMS: &[&str] = &["sub", "email", "preferred_username", "upn", "oid", "unique_name", "name"];

/// The first mismatch between the token and `policy`, in the order Databricks checks.
pub(crate) fn compare(t: &TokenFacts<'_>, policy: &ExpectedPolicy) -> Option<Problem> {
    let iss = t.claims.get("iss").and_then(|v| v.as_str()).unwrap_or_default();
    if iss != policy.issuer {
        return Some(if iss.trim_end_matches('/') == policy.issuer.trim_end_matches('/') {
            Problem::IssuerTrailingSlash { token: iss.into(), policy: policy.issuer.clone() }
        } else {
            Problem::IssuerMismatch { token: iss.into(), policy: policy.issuer.clone() }
        });
    }
    // Databricks: a policy without audiences accepts the account id.
    let wanted: Vec<String> = if policy.audiences.is_empty() {
        t.account_id.map(|a| vec![a.to_string()]).unwrap_or_default()
    } else {
        policy.audiences.clone()
    };
    if !wanted.is_empty() && !t.audiences.iter().any(|a| wanted.contains(a)) {
        return Some(Problem::AudienceMismatch {
            token: t.audiences.clone(),
            expects_account_id: t.account_id.is_some_and(|a| wanted.iter().any(|w| w == a)),
            policy: wanted,
            client_id: t.client_id.to_string(),
        });
    }
    let Some(value) = t.claims.get(&policy.subject_claim).and_then(|v| v.as_str()) else {
        return Some(Problem::SubjectClaimMissing {
            claim: policy.subject_claim.clone(),
            available: IDENTITY_CLAIMS
                .iter()
                .filter(|c| t.claims.contains_key(**c))
                .map(|c| c.to_string())
                .collect(),
        });
    };
    if let Some(want) = &policy.subject
        && want != value
    {
        return Some(Problem::SubjectMismatch {
            claim: policy.subject_claim.clone(),
            token: value.into(),
            policy: want.clone(),
        });
    }
    None
}

/// Rank of a mismatch: the later Databricks would have stopped, the closer the policy.
pub(crate) fn closeness(p: &Option<Problem>) -> u8 {
    match p {
        None => 5,
        Some(Problem::SubjectMismatch { .. }) => 4,
        Some(Problem::SubjectClaimMissing { .. }) => 3,
        Some(Problem::AudienceMismatch { .. }) => 2,
        Some(Problem::IssuerTrailingSlash { .. }) => 1,
        _ => 0,
    }
}

/// What a refused exchange means, decided on structured data only: the HTTP status, the RFC 6749
/// `error` code and what the doctor itself found (the admin-fetched policies). The server's
/// `error_description` is shown to the user word for word and never matched: its wording belongs
/// to Databricks and changes without notice.
pub(crate) fn from_server(
    status: u16,
    error: &str,
    description: &str,
    sp_without_policy: Option<&str>,
) -> Problem {
    match sp_without_policy {
        // The exchange named a service principal, and the account's policies (fetched with
        // admin rights) have none for it: that is the refusal, whatever the words.
        Some(client_id) if (400..500).contains(&status) => {
            Problem::ServicePrincipalPolicyMissing { client_id: client_id.into() }
        }
        _ => Problem::ExchangeRejected { status, error: error.into(), description: description.into() },
    }
}
