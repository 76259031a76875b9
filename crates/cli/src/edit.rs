//! `lakepass workspace …` and `lakepass idp …`: config edits that keep the user's comments.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lakepass_config::{Config, ConfigDoc, SubjectTokenKind, Workspace, WorkspaceAuth, WorkspaceConfig};
use lakepass_engine::Store;
use lakepass_engine::sink::{helper_profile_name, live_profile_name};
use lakepass_store::{Paths, databrickscfg};
use lakepass_wire::{HostError, WorkspaceHost, WorkspaceUrl};

use crate::output::usage;
use lakepass_admin::presets::{self, Preset};

/// `lakepass workspace …`
#[derive(Subcommand, Debug)]
pub enum WorkspaceCmd {
    /// Add (or with --replace, change) a workspace.
    Add(WorkspaceAdd),
    /// Remove a workspace and what Lakepass made for it: its config entry, the ~/.databrickscfg
    /// profiles Lakepass wrote for it (`<profile>`, `<profile>-live`; a profile you wrote yourself
    /// stays) and its secrets in the vault (token, client secret, live-service path secret).
    Remove {
        /// Workspace name.
        name: String,
    },
    /// List workspaces.
    List,
    /// Make a workspace the default for commands.
    Use {
        /// Workspace name.
        name: String,
    },
    /// Store an M2M workspace's client secret in the vault, read from stdin (or a prompt
    /// without echo on a terminal); never pass it as an argument.
    SetSecret {
        /// Workspace name.
        name: String,
    },
}

/// Arguments of `workspace add`.
#[derive(Args, Debug)]
pub struct WorkspaceAdd {
    /// A short name, e.g. `dev` (letters, digits, `-`, `_`).
    name: String,
    /// The workspace URL, e.g. https://adb-123.4.azuredatabricks.net, or pasted from the
    /// browser's address bar (path and fragment dropped; `?o=` kept as the workspace id).
    #[arg(long)]
    host: String,
    /// How to get tokens: `federation` (exchange the IdP token) or `m2m` (a service principal's
    /// client credentials: needs --client-id, then `lakepass workspace set-secret`).
    #[arg(long, value_enum, default_value_t)]
    auth: WorkspaceAuth,
    /// The Databricks account id (for `lakepass admin` and `doctor --admin-workspace`).
    #[arg(long)]
    account_id: Option<String>,
    /// The identity provider whose JWT is exchanged [default: the only one configured]
    #[arg(long)]
    idp: Option<String>,
    /// OAuth scopes to ask for (repeat, or space-separated), e.g. `sql model-serving`; only scopes Databricks defines.
    #[arg(long, default_value = "all-apis", value_delimiter = ' ')]
    scopes: Vec<String>,
    /// Which IdP token to exchange: `access_token` when the IdP's id_token is not renewed on
    /// refresh (or is not meant for Databricks); pair it with --resource.
    #[arg(long, value_enum, default_value_t)]
    token: SubjectTokenKind,
    /// With `--token access_token`: the RFC 8707 `resource` the IdP's sign-in asks for, so the
    /// access token's `aud` is one the federation policy accepts (set on the workspace's IdP, as
    /// `auth_params.resource`).
    #[arg(long, value_name = "URI")]
    resource: Option<String>,
    /// The Databricks account console host for the account APIs [default: derived from --host]
    #[arg(long, value_name = "URL")]
    account_host: Option<String>,
    /// Service-principal application id, for workload-identity federation.
    #[arg(long)]
    client_id: Option<String>,
    /// The ~/.databrickscfg profile Lakepass owns for it [default: the workspace name]
    #[arg(long)]
    profile: Option<String>,
    /// Overwrite an existing workspace of that name.
    #[arg(long)]
    replace: bool,
}

/// `lakepass idp …`
#[derive(Subcommand, Debug)]
pub enum IdpCmd {
    /// Add (or with --replace, change) an identity provider.
    Add(Box<IdpAdd>),
    /// Remove an identity provider and its stored sign-in session (refused while a workspace
    /// uses it).
    Remove {
        /// IdP name.
        name: String,
    },
    /// List identity providers.
    List,
}

/// Arguments of `idp add`.
#[derive(Args, Debug)]
pub struct IdpAdd {
    /// A short name, e.g. `corp`.
    name: String,
    /// Fill issuer, scopes and redirect port for a known IdP: entra (--tenant), okta (--domain),
    /// auth0 (--domain), keycloak (--url, --realm) or generic (--issuer).
    #[arg(long, value_parser = ["entra", "okta", "auth0", "keycloak", "generic"])]
    preset: Option<String>,
    /// Entra tenant id, or its domain (looked up: the issuer names the tenant id), for
    /// `--preset entra`.
    #[arg(long)]
    tenant: Option<String>,
    /// The IdP's domain, for `--preset okta` / `auth0` (e.g. example.okta.com).
    #[arg(long)]
    domain: Option<String>,
    /// Okta custom authorization server id (e.g. `default`) [default: the org server]
    #[arg(long)]
    auth_server: Option<String>,
    /// Keycloak base URL, for `--preset keycloak`.
    #[arg(long)]
    url: Option<String>,
    /// Keycloak realm, for `--preset keycloak`.
    #[arg(long)]
    realm: Option<String>,
    /// The issuer, exactly as in the id_token's `iss` (a trailing slash matters).
    #[arg(long, required_unless_present = "preset")]
    issuer: Option<String>,
    /// The OAuth client id of Lakepass's app registration at the IdP (a public client).
    #[arg(long)]
    client_id: String,
    /// Scopes to request; include what the IdP needs for refresh tokens (`offline_access`)
    /// [default: openid profile email offline_access]
    #[arg(long, value_delimiter = ' ')]
    scopes: Option<Vec<String>>,
    /// Loopback port for the sign-in redirect, if the IdP registers an exact redirect URI
    /// (0 = any) [default: 0, or what the preset needs]
    #[arg(long)]
    redirect_port: Option<u16>,
    /// The RFC 8707 `resource` to ask for at sign-in: the audience of the IdP's access token,
    /// for workspaces that exchange it (`token = "access_token"`), e.g. the federation
    /// policy's audience.
    #[arg(long, value_name = "URI")]
    resource: Option<String>,
    /// Overwrite an existing IdP of that name.
    #[arg(long)]
    replace: bool,
}

fn load_doc(paths: &Paths) -> anyhow::Result<ConfigDoc> {
    Ok(ConfigDoc::load(&paths.config)?)
}

/// Runs a workspace command.
pub async fn workspace(paths: &Paths, cmd: WorkspaceCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WorkspaceCmd::Add(a) => {
            // Checked here, before the file: a config line that was never written is no help. A
            // URL pasted from the browser gives its host, and its `?o=` the workspace id.
            let url = WorkspaceUrl::parse(&a.host).map_err(|e| match WorkspaceHost::cleaned(&a.host) {
                Some(h) if !matches!(e, HostError::WorkspaceId { .. }) => {
                    usage(format!("--host {e}; did you mean --host {h}?"))
                }
                _ => usage(format!("--host {e}")),
            })?;
            let host = url.host.clone();
            let mut doc = load_doc(paths)?;
            let m2m = a.auth == WorkspaceAuth::M2m;
            let idp = match a.idp {
                Some(i) => i,
                None if m2m => String::new(),
                None => {
                    let cfg = doc.to_config(&paths.config)?;
                    match cfg.idp.keys().collect::<Vec<_>>().as_slice() {
                        [one] => (*one).clone(),
                        [] => return Err(usage("add an identity provider first: `lakepass idp add`")),
                        _ => {
                            return Err(usage(
                                "several identity providers are configured; choose one with --idp",
                            ));
                        }
                    }
                }
            };
            let ws = WorkspaceConfig {
                idp,
                scopes: a.scopes.into_iter().filter(|s| !s.is_empty()).collect(),
                token: a.token,
                client_id: a.client_id,
                profile: a.profile,
                auth: a.auth,
                account_id: a.account_id,
                account_host: a.account_host,
                workspace_id: url.workspace_id,
                ..WorkspaceConfig::new("", host.as_str())
            };
            if a.resource.is_some() && ws.token != SubjectTokenKind::AccessToken {
                return Err(usage(
                    "--resource is for `--token access_token` (the IdP access token's audience)",
                ));
            }
            doc.add_workspace(&a.name, &ws, a.replace)?;
            let resource_note = match &a.resource {
                Some(r) => {
                    check_resource(r)?;
                    match doc.set_idp_auth_param(&ws.idp, "resource", r)? {
                        Some(old) if old != *r => Some(format!(
                            "Identity provider `{}` now asks for resource {r} (was {old}); every workspace \
                             exchanging its access token gets that audience. Sign in again: `lakepass login`.",
                            ws.idp
                        )),
                        _ => None,
                    }
                }
                None => None,
            };
            let idp_resource = doc
                .to_config(&paths.config)
                .ok()
                .and_then(|c| c.idp.get(&ws.idp).and_then(|i| i.auth_params.get("resource").cloned()));
            let sharing: Vec<String> = doc
                .to_config(&paths.config)
                .ok()
                .and_then(|c| c.workspaces().ok())
                .unwrap_or_default()
                .into_iter()
                .filter(|w| w.name != a.name && w.host == host)
                .map(|w| format!("`{}`", w.name))
                .collect();
            doc.save(&paths.config)?;
            if let Some(note) = resource_note {
                eprintln!("{note}");
            }
            if ws.token == SubjectTokenKind::AccessToken && !m2m && idp_resource.is_none() {
                eprintln!(
                    "Note: workspace `{}` exchanges the IdP's access token, whose audience the IdP \
                     chooses; if the federation policy expects another, name it with --resource \
                     (RFC 8707), e.g. `lakepass workspace add {} --host {host} --token access_token \
                     --resource <audience> --replace`.",
                    a.name, a.name
                );
            }
            if !sharing.is_empty() {
                eprintln!(
                    "Warning: workspace {} has the same host ({host}). That is right only for \
                     different service principals (--client-id); otherwise remove one, or the \
                     SDKs' `auth token --host` cannot tell them apart.",
                    sharing.join(", ")
                );
            }
            if m2m {
                eprintln!(
                    "Added M2M workspace `{}` to {}. Store its client secret with `lakepass workspace set-secret {}`.",
                    a.name,
                    paths.config.display(),
                    a.name
                );
            } else {
                eprintln!(
                    "Added workspace `{}` to {}. Sign in with `lakepass login`.",
                    a.name,
                    paths.config.display()
                );
            }
        }
        WorkspaceCmd::Remove { name } => {
            let mut doc = load_doc(paths)?;
            let before = doc.to_config(&paths.config).ok().and_then(|c| c.workspaces().ok());
            doc.remove_workspace(&name)?;
            let made = match before.as_deref().and_then(|all| all.iter().find(|w| w.name == name)) {
                Some(ws) => forget_workspace(paths, ws, before.as_deref().unwrap_or_default()).await?,
                None => Vec::new(),
            };
            doc.save(&paths.config)?;
            eprintln!("Removed workspace `{name}` from {}.", paths.config.display());
            eprintln!("{}", said(&made));
        }
        WorkspaceCmd::Use { name } => {
            let mut doc = load_doc(paths)?;
            doc.set_active(&name)?;
            doc.save(&paths.config)?;
            eprintln!("`{name}` is now the active workspace.");
        }
        WorkspaceCmd::SetSecret { name } => return set_secret(paths, &name),
        WorkspaceCmd::List => {
            let cfg = Config::load(&paths.config)?;
            for ws in cfg.workspaces()? {
                let mark = if cfg.active.as_deref() == Some(&ws.name) { "*" } else { " " };
                println!(
                    "{mark} {:<14} {:<40} idp={} profile={} scopes={}",
                    ws.name,
                    ws.host,
                    ws.idp,
                    ws.profile,
                    ws.scopes.join(",")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs an IdP command.
pub async fn idp(paths: &Paths, cmd: IdpCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        IdpCmd::Add(a) => {
            let mut doc = load_doc(paths)?;
            let preset = match &a.preset {
                Some(p) => Some(Preset::from_flags(
                    p,
                    a.tenant.as_deref(),
                    a.domain.as_deref(),
                    a.url.as_deref(),
                    a.realm.as_deref(),
                    a.issuer.as_deref(),
                    a.auth_server.as_deref(),
                )?),
                None => None,
            };
            // An Entra tenant domain becomes its GUID, as tokens' `iss` names it.
            // LAKEPASS_ENTRA_AUTHORITY (loopback only) lets tests serve the discovery document.
            let preset = match preset {
                Some(p) => {
                    let authority =
                        presets::entra_authority(std::env::var("LAKEPASS_ENTRA_AUTHORITY").ok().as_deref())?;
                    let trust = doc.to_config(&paths.config).map(|c| c.trust()).unwrap_or_default();
                    let http = lakepass_wire::http::Http::with_trust(&trust);
                    Some(presets::resolve_entra_tenant(&http, &authority, p).await?)
                }
                None => None,
            };
            let mut cfg = match &preset {
                Some(p) => p.idp_config(&a.client_id),
                None => lakepass_config::IdpConfig::new(a.issuer.clone().unwrap_or_default(), &a.client_id),
            };
            if let (Some(_), Some(issuer)) = (&a.preset, &a.issuer)
                && a.preset.as_deref() != Some("generic")
            {
                cfg.issuer = issuer.clone();
            }
            if let Some(scopes) = a.scopes {
                cfg.scopes = scopes.into_iter().filter(|s| !s.is_empty()).collect();
            }
            if let Some(port) = a.redirect_port {
                cfg.redirect_port = port;
            }
            if let Some(r) = &a.resource {
                check_resource(r)?;
                cfg.auth_params.insert("resource".into(), r.clone());
            }
            let before = doc.to_config(&paths.config)?;
            doc.add_idp(&a.name, &cfg, a.replace)?;
            doc.save(&paths.config)?;
            eprintln!(
                "Added identity provider `{}` to {} (issuer {}).",
                a.name,
                paths.config.display(),
                cfg.issuer
            );
            // A session signed in with the replaced issuer or client must not outlive it.
            forget_replaced_sessions(paths, &before, &doc.to_config(&paths.config)?).await?;
            // The port configured (a --redirect-port wins over the preset's), not the preset's.
            eprintln!(
                "Register this redirect URI in the IdP's app (a public client, no secret): {}",
                presets::redirect_uri_to_register(cfg.redirect_port)
            );
        }
        IdpCmd::Remove { name } => {
            let mut doc = load_doc(paths)?;
            let before = doc.to_config(&paths.config)?;
            doc.remove_idp(&name)?;
            let after = doc.to_config(&paths.config)?;
            let store = Store::new(crate::app::open_vault(paths).await?);
            let made: Vec<String> = store
                .forget_replaced_idps(&before, &after)
                .await?
                .into_iter()
                .map(|_| "its sign-in session (from the vault)".to_string())
                .collect();
            doc.save(&paths.config)?;
            eprintln!("Removed identity provider `{name}` from {}.", paths.config.display());
            eprintln!("{}", said(&made));
        }
        IdpCmd::List => {
            let cfg = Config::load(&paths.config)?;
            for (name, i) in &cfg.idp {
                println!(
                    "{name:<14} {:<50} client_id={} scopes={}",
                    i.issuer,
                    i.client_id,
                    i.scopes.join(",")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// RFC 8707 §2: a `resource` is an absolute URI without a fragment.
fn check_resource(r: &str) -> anyhow::Result<()> {
    match url::Url::parse(r) {
        Ok(u) if u.fragment().is_none() => Ok(()),
        _ => Err(usage(format!(
            "--resource {r:?} is not an absolute URI without a fragment (RFC 8707), e.g. api://databricks or https://accounts.cloud.databricks.com"
        ))),
    }
}

/// Removes what Lakepass made for `ws`: its own profiles in ~/.databrickscfg and its vault
/// entries (those no other workspace in `all` shares). Returns each removed thing in words.
async fn forget_workspace(paths: &Paths, ws: &Workspace, all: &[Workspace]) -> anyhow::Result<Vec<String>> {
    let remaining: Vec<Workspace> = all.iter().filter(|w| w.name != ws.name).cloned().collect();
    let store = Store::new(crate::app::open_vault(paths).await?);
    let keys = store.forget_workspace(ws, &remaining).await?;
    let mut made: Vec<String> = keys
        .iter()
        .map(|k| {
            let what = if k.starts_with("live:") {
                "its live-service path secret"
            } else if k.starts_with("m2m:") {
                "its client secret"
            } else {
                "its token"
            };
            format!("{what} (from the vault)")
        })
        .collect();
    let candidates = [ws.profile.clone(), helper_profile_name(ws), live_profile_name(ws)];
    let candidates: Vec<String> =
        candidates.into_iter().filter(|p| !remaining.iter().any(|w| w.profile == *p)).collect();
    let profiles = databrickscfg::remove_owned_profiles(&paths.databrickscfg, &candidates)?;
    made.extend(profiles.iter().map(|p| format!("profile `{p}` (from {})", paths.databrickscfg.display())));
    Ok(made)
}

/// "Also removed: …", or that nothing else was there.
/// Forgets the sessions of the IdPs `before` had that `after` removed or gave another issuer or
/// client (`idp add --replace`, `setup --replace`), and says so.
pub(crate) async fn forget_replaced_sessions(
    paths: &Paths,
    before: &Config,
    after: &Config,
) -> anyhow::Result<()> {
    let store = Store::new(crate::app::open_vault(paths).await?);
    for name in store.forget_replaced_idps(before, after).await? {
        eprintln!(
            "Removed the sign-in session of identity provider `{name}`: its issuer or client changed, \
             so it is not sent to the new one. Sign in again: lakepass login --idp {name}"
        );
    }
    Ok(())
}

fn said(made: &[String]) -> String {
    if made.is_empty() {
        "Nothing else of it was stored (no profiles, no secrets).".into()
    } else {
        format!("Also removed: {}.", made.join(", "))
    }
}

/// Reads an M2M client secret from stdin (a prompt without echo on a terminal) into the vault.
fn set_secret(paths: &Paths, name: &str) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(&paths.config)?;
    let ws = cfg.workspace(Some(name))?;
    if !lakepass_engine::roles::is_m2m(&ws) {
        return Err(usage(format!(
            "workspace `{name}` is not an M2M workspace; set `auth = \"m2m\"` and `client_id` first"
        )));
    }
    let secret = read_secret(&format!(
        "Client secret of service principal {}: ",
        ws.client_id.as_deref().unwrap_or("?")
    ))?;
    if secret.is_empty() {
        return Err(usage("no secret was entered (stdin was empty)"));
    }
    let rt = tokio::runtime::Handle::current();
    let paths2 = paths.clone();
    std::thread::scope(|s| {
        s.spawn(|| {
            rt.block_on(async {
                let vault = crate::app::open_vault(&paths2).await?;
                let store = lakepass_engine::store::Store::new(vault);
                lakepass_engine::roles::set_m2m_secret(&store, &ws, &secret).await?;
                anyhow::Ok(store.vault().location())
            })
        })
        .join()
        .expect("vault thread")
    })
    .map(|location| {
        eprintln!("Stored the client secret of `{name}` in {location}.");
        ExitCode::SUCCESS
    })
}

fn read_secret(prompt: &str) -> anyhow::Result<lakepass_wire::Secret> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if tty {
        echo(true);
        eprintln!();
    }
    read?;
    Ok(lakepass_wire::Secret::new(line.trim_end_matches(['\n', '\r'])))
}

/// Turns terminal echo off or on (`stty`); where that is unavailable the prompt still works,
/// only visibly.
fn echo(on: bool) {
    #[cfg(unix)]
    {
        let _ = std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(std::process::Stdio::inherit())
            .status();
    }
    #[cfg(not(unix))]
    let _ = on;
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: WorkspaceCmd,
    }

    fn add(extra: &[&str]) -> Result<WorkspaceAdd, clap::Error> {
        let args = ["lakepass", "add", "dev", "--host", "https://dev.example.com"];
        match Cli::try_parse_from(args.iter().chain(extra))?.cmd {
            WorkspaceCmd::Add(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn token_and_auth_flags_take_the_config_spellings() {
        let a = add(&[]).unwrap();
        assert_eq!((a.token, a.auth), (SubjectTokenKind::IdToken, WorkspaceAuth::Federation));
        let a = add(&["--token", "access_token", "--auth", "m2m"]).unwrap();
        assert_eq!((a.token, a.auth), (SubjectTokenKind::AccessToken, WorkspaceAuth::M2m));
        let err = add(&["--token", "jwt"]).unwrap_err().to_string();
        assert!(err.contains("id_token") && err.contains("access_token"), "{err}");
        assert!(add(&["--token", "id-token"]).is_err(), "only the file's spelling");
    }
}
