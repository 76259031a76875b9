//! The Lakepass client config (`config.toml`) for a running devstack: its IdP and workspaces.
//!
//! Why here: the test fixtures, the e2e tests and the benchmarks each wrote this TOML by hand,
//! and every new config field meant finding all of them. The devstack knows where it listens,
//! so it is the one place that says how a client reaches it. It writes text, not Lakepass's
//! config types, because the devstack shares no code with the client it tests.

use crate::DevstackInfo;

/// The name the generated config gives the devstack's IdP (`[idp.devstack]`).
pub const IDP_NAME: &str = "devstack";

/// What a generated client config holds besides the IdP and the workspaces. Build it with
/// `..Default::default()` so new fields do not break you.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientConfigOptions {
    /// The workspaces to configure, by name, in this order; empty means all of the devstack's.
    pub workspaces: Vec<String>,
    /// The `active` workspace; `None` means the first one configured.
    pub active: Option<String>,
    /// When set, each workspace's `~/.databrickscfg` profile is this prefix plus its name (e.g.
    /// `devstack-dev`); otherwise no `profile` key is written and Lakepass's default applies.
    pub profile_prefix: Option<String>,
    /// The scopes to request at the IdP; empty writes no `scopes` key (Lakepass's default).
    pub scopes: Vec<String>,
    /// The workspaces whose table names the devstack's account id and account console host
    /// (for the account APIs).
    pub account_id_on: Vec<String>,
    /// The workspaces that exchange the IdP's access token (`token = "access_token"`) rather
    /// than its id_token; their federation policy must then accept the access token's audience,
    /// `api://<client id>`.
    pub access_token_on: Vec<String>,
    /// A top-level `ca_file` (the PEM of [`DevstackInfo::ca_pem`] saved somewhere), when set.
    pub ca_file: Option<String>,
    /// The live service's `[serve] port`, when set.
    pub serve_port: Option<u16>,
    /// A comment for the first line (without the leading `# `).
    pub comment: Option<String>,
    /// TOML appended as it is after everything else, e.g. more `[workspace.…]` tables.
    pub extra: String,
}

impl ClientConfigOptions {
    /// What `lakepass devstack --write-config` writes: profiles named `devstack-<workspace>` and
    /// the sign-in scopes spelled out (`openid email profile offline_access`).
    pub fn like_the_cli() -> Self {
        Self {
            profile_prefix: Some("devstack-".to_owned()),
            scopes: ["openid", "email", "profile", "offline_access"].map(String::from).to_vec(),
            ..Self::default()
        }
    }
}

impl DevstackInfo {
    /// A Lakepass `config.toml` that signs in at this devstack's IdP (named [`IDP_NAME`]) and
    /// configures its workspaces, shaped by `opts`. A workspace name the devstack does not have
    /// is skipped.
    pub fn client_config(&self, opts: &ClientConfigOptions) -> String {
        let workspaces: Vec<_> = if opts.workspaces.is_empty() {
            self.workspaces.iter().collect()
        } else {
            opts.workspaces.iter().filter_map(|n| self.workspaces.iter().find(|w| &w.name == n)).collect()
        };
        let mut s = String::new();
        if let Some(comment) = &opts.comment {
            s.push_str(&format!("# {comment}\n"));
        }
        if let Some(active) = opts.active.as_deref().or(workspaces.first().map(|w| w.name.as_str())) {
            s.push_str(&format!("active = {}\n", quoted(active)));
        }
        if let Some(ca_file) = &opts.ca_file {
            s.push_str(&format!("ca_file = {}\n", quoted(ca_file)));
        }
        if let Some(port) = opts.serve_port {
            s.push_str(&format!("\n[serve]\nport = {port}\n"));
        }
        s.push_str(&format!(
            "\n[idp.{IDP_NAME}]\nissuer = {}\nclient_id = {}\n",
            quoted(&self.issuer),
            quoted(&self.client_id)
        ));
        if !opts.scopes.is_empty() {
            let scopes: Vec<String> = opts.scopes.iter().map(|x| quoted(x)).collect();
            s.push_str(&format!("scopes = [{}]\n", scopes.join(", ")));
        }
        for ws in workspaces {
            s.push_str(&format!(
                "\n[workspace.{}]\nidp = {}\nhost = {}\n",
                ws.name,
                quoted(IDP_NAME),
                quoted(&ws.host)
            ));
            if let Some(prefix) = &opts.profile_prefix {
                s.push_str(&format!("profile = {}\n", quoted(&format!("{prefix}{}", ws.name))));
            }
            if opts.account_id_on.contains(&ws.name) {
                s.push_str(&format!("account_id = {}\n", quoted(&self.account_id)));
                if !self.account_host.is_empty() {
                    s.push_str(&format!("account_host = {}\n", quoted(&self.account_host)));
                }
            }
            if opts.access_token_on.contains(&ws.name) {
                s.push_str("token = \"access_token\"\n");
            }
        }
        s.push_str(&opts.extra);
        s
    }
}

/// A TOML basic string (a JSON string is one: same quotes, same escapes).
fn quoted(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ServicePrincipalInfo, WorkspaceInfo};

    fn info() -> DevstackInfo {
        let ws = |name: &str, port: u16| WorkspaceInfo {
            name: name.into(),
            host: format!("http://127.0.0.1:{port}"),
            workspace_id: 1,
        };
        DevstackInfo {
            issuer: "http://127.0.0.1:8400".into(),
            client_id: "lakepass-dev".into(),
            workspaces: vec![ws("dev", 8401), ws("prod", 8402), ws("ws001", 8403)],
            service_principal: ServicePrincipalInfo { client_id: "sp".into(), client_secret: "s".into() },
            account_id: "acc-1".into(),
            account_host: "http://127.0.0.1:8403".into(),
            ca_pem: None,
        }
    }

    #[test]
    fn the_default_names_the_idp_and_every_workspace_and_nothing_else() {
        assert_eq!(
            info().client_config(&ClientConfigOptions::default()),
            "active = \"dev\"\n\n[idp.devstack]\nissuer = \"http://127.0.0.1:8400\"\n\
             client_id = \"lakepass-dev\"\n\n[workspace.dev]\nidp = \"devstack\"\n\
             host = \"http://127.0.0.1:8401\"\n\n[workspace.prod]\nidp = \"devstack\"\n\
             host = \"http://127.0.0.1:8402\"\n\n[workspace.ws001]\nidp = \"devstack\"\n\
             host = \"http://127.0.0.1:8403\"\n"
        );
    }

    #[test]
    fn options_pick_workspaces_profiles_scopes_account_id_port_and_extra() {
        let text = info().client_config(&ClientConfigOptions {
            workspaces: vec!["prod".into(), "nope".into()],
            account_id_on: vec!["prod".into()],
            access_token_on: vec!["prod".into()],
            serve_port: Some(9000),
            comment: Some("by a test".into()),
            extra: "\n[workspace.robot]\nauth = \"m2m\"\n".into(),
            ..ClientConfigOptions::like_the_cli()
        });
        assert_eq!(
            text,
            "# by a test\nactive = \"prod\"\n\n[serve]\nport = 9000\n\n[idp.devstack]\n\
             issuer = \"http://127.0.0.1:8400\"\nclient_id = \"lakepass-dev\"\n\
             scopes = [\"openid\", \"email\", \"profile\", \"offline_access\"]\n\n\
             [workspace.prod]\nidp = \"devstack\"\nhost = \"http://127.0.0.1:8402\"\n\
             profile = \"devstack-prod\"\naccount_id = \"acc-1\"\naccount_host = \"http://127.0.0.1:8403\"\ntoken = \"access_token\"\n\n[workspace.robot]\nauth = \"m2m\"\n"
        );
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
    }
}
