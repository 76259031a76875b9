//! A workspace's state and the check every workspace API makes: the token store (who a token
//! stands for, with which scopes, until when), the handler state [`WsState`], and
//! [`authenticate`], which turns an `Authorization` header into a [`Principal`] or a [`Refusal`].
//!
//! It sits below the workspace's handler modules (`workspace`, `serving`, `serving_admin`, `mcp`)
//! and `exchange`, and imports none of them: they all need these types, while only `workspace`
//! (the router) needs the handler modules. Keeping this layer apart keeps the imports between
//! files free of loops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::errors::{basic_auth, bearer, databricks_error};
use crate::faults::Skew;
use crate::keys::random_hex;
use crate::{CLIENT_ID, FederationPolicy, Shared, WorkspaceInfo, fingerprint};

/// Who a workspace token stands for.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) user_name: String,
    pub(crate) display_name: String,
    pub(crate) email: Option<String>,
}

struct IssuedToken {
    principal: Principal,
    scopes: Vec<String>,
    expires_at: i64,
}

/// A workspace's policies and minted tokens (keyed by fingerprint).
pub(crate) struct Workspace {
    pub(crate) info: WorkspaceInfo,
    pub(crate) policies: Mutex<Vec<FederationPolicy>>,
    tokens: Mutex<HashMap<String, IssuedToken>>,
}

impl Workspace {
    pub(crate) fn new(info: WorkspaceInfo, issuer: &str) -> Self {
        let default_policy = FederationPolicy::new(issuer, vec![CLIENT_ID.to_owned()]);
        Self { info, policies: Mutex::new(vec![default_policy]), tokens: Mutex::default() }
    }

    pub(crate) fn mint(&self, principal: Principal, scopes: Vec<String>, expires_at: i64) -> String {
        let token = format!("dvs{}", random_hex(20));
        let mut tokens = self.tokens.lock().expect("tokens poisoned");
        tokens.retain(|_, t| t.expires_at > expires_at - 86_400);
        tokens.insert(fingerprint(&token), IssuedToken { principal, scopes, expires_at });
        token
    }

    pub(crate) fn lookup(&self, token: &str, now: i64) -> Option<(Principal, Vec<String>)> {
        let tokens = self.tokens.lock().expect("tokens poisoned");
        let t = tokens.get(&fingerprint(token))?;
        (t.expires_at > now).then(|| (t.principal.clone(), t.scopes.clone()))
    }
}

/// Handler state: the devstack and which workspace this listener is.
#[derive(Clone)]
pub(crate) struct WsState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) name: String,
}

impl WsState {
    pub(crate) fn ws(&self) -> &Workspace {
        self.shared.workspace(&self.name).expect("router built for an existing workspace")
    }
}

/// Why an API call was refused; answers as a Databricks REST error.
pub(crate) struct Refusal {
    status: StatusCode,
    error_code: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        databricks_error(self.status, self.error_code, &self.message)
    }
}

/// The token an API call carries in `Authorization` (Bearer, or Basic with user `token`).
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<String> {
    let basic = basic_auth(headers).filter(|(user, _)| user == "token").map(|(_, t)| t);
    bearer(headers).map(str::to_owned).or(basic)
}

/// Authenticates an API call by its `Authorization` header, recording the token and the
/// outcome. `any_of_scopes` empty means any scope will do.
///
/// Databricks takes a workspace token as `Authorization: Bearer <token>` (and, for REST calls,
/// HTTP Basic with user `token`, as its curl examples do: `-u token:$DATABRICKS_TOKEN`). An
/// `x-api-key` header is not a credential: Databricks' own Anthropic SDK example sets
/// `api_key="unused"`, which the SDK sends as `x-api-key`, and puts the token in
/// `Authorization: Bearer` ("Query with the Anthropic Messages API", docs.databricks.com).
/// So a request carrying the token only in `x-api-key` is refused here, as it would be there.
pub(crate) fn authenticate(
    st: &WsState,
    headers: &HeaderMap,
    skew: Skew,
    any_of_scopes: &[&str],
) -> Result<Principal, Refusal> {
    let stats = &st.shared.stats;
    let presented = presented_token(headers);
    if let Some(token) = &presented {
        stats.seen(&st.name, token);
    }
    let refuse = |status, error_code, message: &str| {
        stats.workspace(&st.name, |w| w.api_calls_unauthorized += 1);
        Err(Refusal { status, error_code, message: message.to_owned() })
    };
    let Some(token) = presented else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Credential was not sent or was of an unsupported type for this API.",
        );
    };
    let Some((principal, scopes)) = st.ws().lookup(&token, skew.now()) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Invalid access token: unknown to this workspace or expired.",
        );
    };
    let allowed = any_of_scopes.is_empty()
        || scopes.iter().any(|s| s == "all-apis" || any_of_scopes.contains(&s.as_str()));
    if !allowed {
        return refuse(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!(
                "Token scope does not allow this API; needs all-apis or {}.",
                any_of_scopes.join(" or ")
            ),
        );
    }
    stats.workspace(&st.name, |w| w.api_calls_ok += 1);
    Ok(principal)
}
