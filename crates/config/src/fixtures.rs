//! Config texts and helpers shared by the config modules' tests, kept in one place so they
//! cannot drift apart.

use std::path::Path;

use super::{Config, ConfigError};

pub(super) const EXAMPLE: &str = r#"# Lakepass configuration
active = "dev"              # default workspace for commands

[idp.corp]
issuer = "https://login.microsoftonline.com/<tenant>/v2.0"   # exact string, as in the id_token `iss`
client_id = "00000000-0000-0000-0000-000000000000"
scopes = ["openid", "profile", "email", "offline_access"]     # default
redirect_port = 8400        # loopback port for the sign-in redirect; 0 = any free port (default 0)
auth_params = { prompt = "consent" }   # extra authorize-URL parameters, optional

# the team's development workspace
[workspace.dev]
idp = "corp"
host = "https://adb-123.4.azuredatabricks.net"
scopes = ["all-apis"]       # default
token = "id_token"          # which IdP token to exchange: "id_token" (default) or "access_token"
client_id = "sp-app-id"     # optional: service-principal (workload identity) federation
profile = "dev"             # ~/.databrickscfg profile Lakepass owns; default = the workspace name
"#;

pub(super) const MINIMAL: &str = r#"[idp.okta]
issuer = "http://127.0.0.1:8080/oidc"
client_id = "lakepass"

[workspace.a]
idp = "okta"
host = "adb-1.azuredatabricks.net"

[workspace.b]
idp = "okta"
host = "http://localhost:9000"
token = "access_token"
"#;

pub(super) fn path() -> &'static Path {
    Path::new("config.toml")
}

pub(super) fn invalid(text: &str) -> (String, Option<usize>, String) {
    match Config::parse(text, path()) {
        Err(e @ ConfigError::Invalid { .. }) => {
            let ConfigError::Invalid { line, ref field, .. } = e else { unreachable!() };
            (e.to_string(), line, field.clone())
        }
        other => panic!("expected Invalid for {text:?}, got {other:?}"),
    }
}
