//! IdP presets: what each identity provider needs, so `lakepass idp add --preset …` gets the
//! issuer string, the scopes (including the one that yields refresh tokens) and the redirect
//! rules right the first time.
//!
//! Each preset knows three things people get wrong:
//! - **The exact issuer.** Databricks compares `iss` as a string: Entra's v2 issuer is
//!   `https://login.microsoftonline.com/<tenant>/v2.0`, Auth0's ends with a slash, Okta's org
//!   server has none, Keycloak's includes `/realms/<realm>`.
//! - **Refresh tokens.** Entra, Okta and Auth0 issue one only for `offline_access`; Keycloak's
//!   `offline_access` gives an offline token that outlives the SSO session.
//! - **Redirects.** Entra ignores the port of a loopback redirect URI, so any free port works;
//!   Okta, Auth0 and Keycloak match the registered URI exactly, so the preset pins port 8400
//!   and the app registration must list `http://127.0.0.1:8400/callback`.
//!
//! [`suggested_subject_claim`] also says which claim names the user in each IdP's id_token,
//! for federation policies created with `lakepass admin policy create --from-idp`.
//!
//! An Entra tenant given as a domain (`contoso.onmicrosoft.com`) is not what tokens carry: their
//! `iss` names the tenant's GUID. [`resolve_entra_tenant`] asks the tenant's OIDC discovery
//! document (`<authority>/<domain>/v2.0/.well-known/openid-configuration`) for its `issuer` and
//! keeps the GUID, so the stored issuer is the one Databricks will compare with.

use lakepass_config::IdpConfig;

/// The fixed loopback port for IdPs that match redirect URIs exactly.
pub(crate) const FIXED_REDIRECT_PORT: u16 = 8400;

/// A known identity provider and what identifies the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preset {
    /// Microsoft Entra ID (Azure AD), v2 endpoints.
    Entra {
        /// Tenant id (GUID) or domain.
        tenant: String,
    },
    /// Okta: the org authorization server, or a custom one.
    Okta {
        /// e.g. `example.okta.com`.
        domain: String,
        /// Custom authorization server id (`default`, …); `None` = the org server.
        auth_server: Option<String>,
    },
    /// Auth0.
    Auth0 {
        /// e.g. `example.eu.auth0.com` or a custom domain.
        domain: String,
    },
    /// Keycloak (17+ URLs, no `/auth` prefix unless given in `url`).
    Keycloak {
        /// Base URL, e.g. `https://sso.example.com`.
        url: String,
        /// The realm.
        realm: String,
    },
    /// Any OIDC provider.
    Generic {
        /// The issuer, exactly.
        issuer: String,
    },
}

/// A preset that cannot be built from what was given: a flag missing, or one that belongs to
/// another preset (ignoring it would write an issuer the user did not ask for).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("preset `{preset}` {problem}")]
pub struct PresetError {
    /// The preset name.
    pub preset: String,
    /// What is wrong, in flag terms (`needs --tenant <tenant id>`, `does not take --tenant …`).
    pub problem: String,
}

impl PresetError {
    /// Always a usage error.
    pub fn kind(&self) -> lakepass_engine::error::ErrorKind {
        lakepass_engine::error::ErrorKind::Invalid
    }
}

/// The preset names `idp add --preset` accepts.
pub(crate) const NAMES: &[&str] = &["entra", "okta", "auth0", "keycloak", "generic"];

/// One value a preset needs from the user, for forms (the dashboard) that build a preset: the
/// same values `idp add --preset` takes as flags (`key` is the flag without `--`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetField {
    /// `tenant`, `domain`, `auth_server`, `url`, `realm` or `issuer`.
    pub key: &'static str,
    /// What to call it in a form.
    pub label: &'static str,
    /// An example value.
    pub placeholder: &'static str,
    /// False when the preset cannot be built without it.
    pub required: bool,
}

/// A preset as a form shows it: its name, its label and the values it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetInfo {
    /// The name `idp add --preset` takes.
    pub name: &'static str,
    /// The IdP's product name.
    pub label: &'static str,
    /// The values it needs, beyond the client id.
    pub fields: &'static [PresetField],
}

const fn field(
    key: &'static str,
    label: &'static str,
    placeholder: &'static str,
    required: bool,
) -> PresetField {
    PresetField { key, label, placeholder, required }
}

/// Every preset, in the order [`NAMES`] lists them, with the values each needs.
pub const PRESETS: &[PresetInfo] = &[
    PresetInfo {
        name: "entra",
        label: "Microsoft Entra ID",
        fields: &[field("tenant", "Tenant ID or domain", "contoso.onmicrosoft.com", true)],
    },
    PresetInfo {
        name: "okta",
        label: "Okta",
        fields: &[
            field("domain", "Okta domain", "example.okta.com", true),
            field("auth_server", "Authorization server (optional)", "default", false),
        ],
    },
    PresetInfo {
        name: "auth0",
        label: "Auth0",
        fields: &[field("domain", "Auth0 domain", "example.eu.auth0.com", true)],
    },
    PresetInfo {
        name: "keycloak",
        label: "Keycloak",
        fields: &[
            field("url", "Keycloak URL", "https://sso.example.com", true),
            field("realm", "Realm", "corp", true),
        ],
    },
    PresetInfo {
        name: "generic",
        label: "Another OIDC provider",
        fields: &[field("issuer", "Issuer URL (exactly as in its tokens)", "https://idp.example.com", true)],
    },
];

fn host_of(domain: &str) -> String {
    domain
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

impl Preset {
    /// Builds a preset from `idp add` flags.
    pub fn from_flags(
        name: &str,
        tenant: Option<&str>,
        domain: Option<&str>,
        url: Option<&str>,
        realm: Option<&str>,
        issuer: Option<&str>,
        auth_server: Option<&str>,
    ) -> Result<Preset, PresetError> {
        let need = |needs: &str| PresetError { preset: name.into(), problem: format!("needs {needs}") };
        let some = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        // `--issuer` is accepted by every preset (it overrides the preset's issuer).
        let takes: &[&str] = match name {
            "entra" | "azure" => &["--tenant"],
            "okta" => &["--domain", "--auth-server"],
            "auth0" => &["--domain"],
            "keycloak" => &["--url", "--realm"],
            _ => &[],
        };
        let given = [
            ("--tenant", tenant),
            ("--domain", domain),
            ("--url", url),
            ("--realm", realm),
            ("--auth-server", auth_server),
        ];
        if (NAMES.contains(&name) || name == "azure")
            && let Some((flag, _)) = given.iter().find(|(f, v)| v.is_some() && !takes.contains(f))
        {
            let problem = match takes {
                [] => format!("does not take {flag} (it takes --issuer)"),
                t => format!("does not take {flag} (it takes {})", t.join(" and ")),
            };
            return Err(PresetError { preset: name.into(), problem });
        }
        Ok(match name {
            "entra" | "azure" => {
                Preset::Entra { tenant: some(tenant).ok_or_else(|| need("--tenant <tenant id>"))? }
            }
            "okta" => Preset::Okta {
                domain: host_of(&some(domain).ok_or_else(|| need("--domain <org>.okta.com"))?),
                auth_server: some(auth_server),
            },
            "auth0" => Preset::Auth0 {
                domain: host_of(&some(domain).ok_or_else(|| need("--domain <tenant>.auth0.com"))?),
            },
            "keycloak" => Preset::Keycloak {
                url: some(url)
                    .ok_or_else(|| need("--url <https://keycloak.example.com> and --realm"))?
                    .trim_end_matches('/')
                    .into(),
                realm: some(realm).ok_or_else(|| need("--realm <realm>"))?,
            },
            "generic" => {
                Preset::Generic { issuer: some(issuer).ok_or_else(|| need("--issuer <exact issuer URL>"))? }
            }
            other => {
                return Err(PresetError {
                    preset: other.into(),
                    problem: format!("is not known: use one of {}", NAMES.join(", ")),
                });
            }
        })
    }

    /// Builds a preset from a form's values, keyed as [`PresetField::key`]; blank values count
    /// as not given.
    pub fn from_values(name: &str, value: impl Fn(&str) -> Option<String>) -> Result<Preset, PresetError> {
        let v = |k: &str| value(k).filter(|s| !s.trim().is_empty());
        let (tenant, domain, url, realm, issuer, server) =
            (v("tenant"), v("domain"), v("url"), v("realm"), v("issuer"), v("auth_server"));
        Preset::from_flags(
            name,
            tenant.as_deref(),
            domain.as_deref(),
            url.as_deref(),
            realm.as_deref(),
            issuer.as_deref(),
            server.as_deref(),
        )
    }

    /// The issuer, exactly as the IdP writes `iss`.
    pub fn issuer(&self) -> String {
        match self {
            Preset::Entra { tenant } => format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            Preset::Okta { domain, auth_server: None } => format!("https://{domain}"),
            Preset::Okta { domain, auth_server: Some(id) } => format!("https://{domain}/oauth2/{id}"),
            Preset::Auth0 { domain } => format!("https://{domain}/"),
            Preset::Keycloak { url, realm } => format!("{url}/realms/{realm}"),
            Preset::Generic { issuer } => issuer.clone(),
        }
    }

    /// The loopback redirect port: 0 (any) where the IdP ignores loopback ports, else fixed.
    pub fn redirect_port(&self) -> u16 {
        match self {
            Preset::Entra { .. } | Preset::Generic { .. } => 0,
            _ => FIXED_REDIRECT_PORT,
        }
    }

    /// The redirect URI to register at the IdP for the preset's own port.
    pub fn redirect_uri_to_register(&self) -> String {
        redirect_uri_to_register(self.redirect_port())
    }

    /// The whole `[idp.x]` entry for `client_id`.
    pub fn idp_config(&self, client_id: &str) -> IdpConfig {
        IdpConfig { redirect_port: self.redirect_port(), ..IdpConfig::new(self.issuer(), client_id) }
    }
}

/// The redirect URI to register at the IdP for a configured `redirect_port` (0: any port).
pub fn redirect_uri_to_register(port: u16) -> String {
    match port {
        0 => "http://127.0.0.1/callback (the IdP must accept any loopback port)".into(),
        p => format!("http://127.0.0.1:{p}/callback"),
    }
}

/// Entra's authority: where tenants' discovery documents are.
pub(crate) const ENTRA_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Entra's multi-tenant pseudo-tenants: their issuer is a template (`{tenantid}`), which no
/// federation policy can name.
const ENTRA_MULTI_TENANT: &[&str] = &["common", "organizations", "consumers"];

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Preset {
    /// The discovery document to ask when this is an Entra tenant given as a domain (a name with
    /// a dot); `None` when the tenant is already what `iss` carries. Refuses the multi-tenant
    /// pseudo-tenants.
    pub(crate) fn entra_discovery_url(&self, authority: &str) -> Result<Option<String>, PresetError> {
        let Preset::Entra { tenant } = self else { return Ok(None) };
        if ENTRA_MULTI_TENANT.contains(&tenant.to_ascii_lowercase().as_str()) {
            return Err(PresetError {
                preset: "entra".into(),
                problem: format!(
                    "needs your own tenant, not `{tenant}`: a multi-tenant issuer cannot be trusted by a federation policy (give the tenant id or its domain)"
                ),
            });
        }
        if is_guid(tenant) || !tenant.contains('.') {
            return Ok(None);
        }
        Ok(Some(format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            authority.trim_end_matches('/'),
            tenant
        )))
    }
}

/// The tenant GUID in an Entra discovery document's `issuer`, which must be exactly
/// `<authority>/<guid>/v2.0`.
pub(crate) fn entra_tenant_from_issuer(issuer: &str, authority: &str) -> Option<String> {
    let rest = issuer.strip_prefix(authority.trim_end_matches('/'))?.strip_prefix('/')?;
    let guid = rest.strip_suffix("/v2.0")?;
    is_guid(guid).then(|| guid.to_ascii_lowercase())
}

/// The authority to ask for Entra discovery: [`ENTRA_AUTHORITY`], or `override_` when it is a
/// loopback URL (tests put a discovery document there; nothing else may replace Microsoft's).
pub fn entra_authority(override_: Option<&str>) -> Result<String, PresetError> {
    match override_.map(str::trim).filter(|o| !o.is_empty()) {
        None => Ok(ENTRA_AUTHORITY.into()),
        Some(o) => match lakepass_wire::host::WorkspaceHost::parse(o) {
            Ok(h) if h.is_loopback() => Ok(h.as_str().into()),
            _ => Err(PresetError {
                preset: "entra".into(),
                problem: format!(
                    "cannot use `{o}` as the Entra authority: only a loopback URL may replace {ENTRA_AUTHORITY}"
                ),
            }),
        },
    }
}

/// `preset` with an Entra tenant domain replaced by the tenant's GUID, read from its discovery
/// document at `authority`; any other preset as it is.
pub async fn resolve_entra_tenant(
    http: &lakepass_wire::http::Http,
    authority: &str,
    preset: Preset,
) -> Result<Preset, PresetError> {
    let Some(url) = preset.entra_discovery_url(authority)? else { return Ok(preset) };
    let Preset::Entra { tenant } = &preset else { return Ok(preset) };
    let problem = |p: String| PresetError { preset: "entra".into(), problem: p };
    let doc: serde_json::Value = http
        .get_json(&url)
        .await
        .map_err(|e| problem(format!("could not look up tenant `{tenant}` at {url}: {e}")))?;
    let issuer = doc.get("issuer").and_then(|i| i.as_str()).unwrap_or_default();
    let guid = entra_tenant_from_issuer(issuer, authority).ok_or_else(|| {
        problem(format!(
            "found no tenant id for `{tenant}`: its discovery document names issuer `{issuer}`, not {authority}/<tenant id>/v2.0"
        ))
    })?;
    Ok(Preset::Entra { tenant: guid })
}

/// The claim that names the user in an IdP's id_token, guessed from its issuer: what a
/// federation policy's `subject_claim` should usually be.
pub(crate) fn suggested_subject_claim(issuer: &str) -> &'static str {
    if issuer.starts_with("https://login.microsoftonline.com/") {
        "preferred_username"
    } else if issuer.contains(".okta.com") || issuer.contains(".auth0.com") || issuer.contains("/realms/") {
        "email"
    } else {
        "sub"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_exact_per_idp() {
        let p = |n, t: Option<&str>, d: Option<&str>, u: Option<&str>, r: Option<&str>, i: Option<&str>| {
            Preset::from_flags(n, t, d, u, r, i, None).unwrap()
        };
        assert_eq!(
            p("entra", Some("t1"), None, None, None, None).issuer(),
            "https://login.microsoftonline.com/t1/v2.0"
        );
        assert_eq!(
            p("okta", None, Some("https://x.okta.com/"), None, None, None).issuer(),
            "https://x.okta.com"
        );
        assert_eq!(p("auth0", None, Some("x.auth0.com"), None, None, None).issuer(), "https://x.auth0.com/");
        assert_eq!(
            p("keycloak", None, None, Some("https://kc.example/"), Some("corp"), None).issuer(),
            "https://kc.example/realms/corp"
        );
        let okta =
            Preset::from_flags("okta", None, Some("x.okta.com"), None, None, None, Some("default")).unwrap();
        assert_eq!(okta.issuer(), "https://x.okta.com/oauth2/default");
        let cfg = p("auth0", None, Some("x.auth0.com"), None, None, None).idp_config("cid");
        assert!(cfg.scopes.contains(&"offline_access".to_string()));
        assert_eq!(cfg.redirect_port, 8400);
        assert_eq!(p("entra", Some("t"), None, None, None, None).redirect_port(), 0);
        let err =
            Preset::from_flags("keycloak", None, None, Some("https://kc"), None, None, None).unwrap_err();
        assert!(err.to_string().contains("--realm"), "{err}");
        assert!(Preset::from_flags("ping", None, None, None, None, None, None).is_err());
        let wrong =
            Preset::from_flags("okta", Some("t"), Some("x.okta.com"), None, None, None, None).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "preset `okta` does not take --tenant (it takes --domain and --auth-server)"
        );
        let wrong =
            Preset::from_flags("generic", None, Some("d"), None, None, Some("https://i"), None).unwrap_err();
        assert!(wrong.to_string().contains("does not take --domain"), "{wrong}");
        assert_eq!(suggested_subject_claim("https://login.microsoftonline.com/t/v2.0"), "preferred_username");
    }

    #[test]
    fn an_entra_domain_needs_discovery_and_a_guid_issuer_comes_back() {
        let entra = |t: &str| Preset::Entra { tenant: t.into() };
        let guid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(
            entra("contoso.onmicrosoft.com").entra_discovery_url(ENTRA_AUTHORITY).unwrap().as_deref(),
            Some(
                "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
            )
        );
        assert_eq!(entra(guid).entra_discovery_url(ENTRA_AUTHORITY).unwrap(), None);
        assert!(entra("common").entra_discovery_url(ENTRA_AUTHORITY).is_err());
        let issuer = format!("https://login.microsoftonline.com/{guid}/v2.0");
        assert_eq!(entra_tenant_from_issuer(&issuer, ENTRA_AUTHORITY).as_deref(), Some(guid));
        for bad in [
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://evil.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        ] {
            assert_eq!(entra_tenant_from_issuer(bad, ENTRA_AUTHORITY), None, "{bad}");
        }
        assert_eq!(entra_authority(None).unwrap(), ENTRA_AUTHORITY);
        assert_eq!(entra_authority(Some("http://127.0.0.1:9")).unwrap(), "http://127.0.0.1:9");
        assert!(entra_authority(Some("https://login.evil.example")).is_err());
    }

    #[test]
    fn the_form_table_matches_what_each_preset_needs() {
        assert_eq!(PRESETS.iter().map(|p| p.name).collect::<Vec<_>>(), NAMES);
        for p in PRESETS {
            let filled = |k: &str| p.fields.iter().find(|f| f.key == k).map(|f| f.placeholder.to_string());
            let preset = Preset::from_values(p.name, filled).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert!(preset.issuer().starts_with("https://"), "{}", p.name);
            for f in p.fields.iter().filter(|f| f.required) {
                let missing = |k: &str| if k == f.key { None } else { filled(k) };
                assert!(Preset::from_values(p.name, missing).is_err(), "{} without {}", p.name, f.key);
            }
            for f in p.fields.iter().filter(|f| !f.required) {
                let without = |k: &str| if k == f.key { Some(" ".into()) } else { filled(k) };
                assert!(Preset::from_values(p.name, without).is_ok(), "{} without {}", p.name, f.key);
            }
        }
        let entra = Preset::from_values("entra", |k| (k == "tenant").then(|| "t1".to_string())).unwrap();
        assert_eq!(entra.issuer(), "https://login.microsoftonline.com/t1/v2.0");
    }
}
