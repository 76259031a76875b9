//! `lakepass workspace …` and `lakepass idp …`: config edits that keep the user's comments.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lakepass_core::Paths;
use lakepass_core::config::{Config, ConfigDoc, IdpConfig, SubjectTokenKind, WorkspaceConfig};

/// `lakepass workspace …`
#[derive(Subcommand, Debug)]
pub enum WorkspaceCmd {
    /// Add (or with --replace, change) a workspace.
    Add(WorkspaceAdd),
    /// Remove a workspace from the config (its ~/.databrickscfg profile stays until `logout`).
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
}

/// Arguments of `workspace add`.
#[derive(Args, Debug)]
pub struct WorkspaceAdd {
    /// A short name, e.g. `dev` (letters, digits, `-`, `_`).
    name: String,
    /// The workspace URL, e.g. https://adb-123.4.azuredatabricks.net
    #[arg(long)]
    host: String,
    /// The identity provider whose JWT is exchanged [default: the only one configured]
    #[arg(long)]
    idp: Option<String>,
    /// OAuth scopes to ask for (repeat, or space-separated), e.g. `sql serving`.
    #[arg(long, default_value = "all-apis", value_delimiter = ' ')]
    scopes: Vec<String>,
    /// Which IdP token to exchange.
    #[arg(long, value_parser = ["id_token", "access_token"], default_value = "id_token")]
    token: String,
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
    Add(IdpAdd),
    /// Remove an identity provider (refused while a workspace uses it).
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
    /// The issuer, exactly as in the id_token's `iss` (a trailing slash matters).
    #[arg(long)]
    issuer: String,
    /// The OAuth client id of Lakepass's app registration at the IdP (a public client).
    #[arg(long)]
    client_id: String,
    /// Scopes to request; include what the IdP needs for refresh tokens (`offline_access`).
    #[arg(long, default_value = "openid profile email offline_access", value_delimiter = ' ')]
    scopes: Vec<String>,
    /// Loopback port for the sign-in redirect, if the IdP registers an exact redirect URI (0 = any).
    #[arg(long, default_value_t = 0)]
    redirect_port: u16,
    /// Overwrite an existing IdP of that name.
    #[arg(long)]
    replace: bool,
}

fn load_doc(paths: &Paths) -> anyhow::Result<ConfigDoc> {
    Ok(ConfigDoc::load(&paths.config)?)
}

/// Runs a workspace command.
pub fn workspace(paths: &Paths, cmd: WorkspaceCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WorkspaceCmd::Add(a) => {
            let mut doc = load_doc(paths)?;
            let idp = match a.idp {
                Some(i) => i,
                None => {
                    let cfg = doc.to_config(&paths.config)?;
                    match cfg.idp.keys().collect::<Vec<_>>().as_slice() {
                        [one] => (*one).clone(),
                        [] => anyhow::bail!("add an identity provider first: `lakepass idp add`"),
                        _ => anyhow::bail!("several identity providers are configured; choose one with --idp"),
                    }
                }
            };
            let ws = WorkspaceConfig {
                idp,
                host: a.host,
                scopes: a.scopes.into_iter().filter(|s| !s.is_empty()).collect(),
                token: if a.token == "access_token" { SubjectTokenKind::AccessToken } else { SubjectTokenKind::IdToken },
                client_id: a.client_id,
                profile: a.profile,
            };
            doc.add_workspace(&a.name, &ws, a.replace)?;
            doc.save(&paths.config)?;
            eprintln!("Added workspace `{}` to {}. Sign in with `lakepass login`.", a.name, paths.config.display());
        }
        WorkspaceCmd::Remove { name } => {
            let mut doc = load_doc(paths)?;
            doc.remove_workspace(&name)?;
            doc.save(&paths.config)?;
            eprintln!("Removed workspace `{name}`.");
        }
        WorkspaceCmd::Use { name } => {
            let mut doc = load_doc(paths)?;
            doc.set_active(&name)?;
            doc.save(&paths.config)?;
            eprintln!("`{name}` is now the active workspace.");
        }
        WorkspaceCmd::List => {
            let cfg = Config::load(&paths.config)?;
            for ws in cfg.workspaces()? {
                let mark = if cfg.active.as_deref() == Some(&ws.name) { "*" } else { " " };
                println!("{mark} {:<14} {:<40} idp={} profile={} scopes={}", ws.name, ws.host, ws.idp, ws.profile, ws.scopes.join(","));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs an IdP command.
pub fn idp(paths: &Paths, cmd: IdpCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        IdpCmd::Add(a) => {
            let mut doc = load_doc(paths)?;
            let cfg = IdpConfig {
                issuer: a.issuer,
                client_id: a.client_id,
                scopes: a.scopes.into_iter().filter(|s| !s.is_empty()).collect(),
                redirect_port: a.redirect_port,
                auth_params: Default::default(),
            };
            doc.add_idp(&a.name, &cfg, a.replace)?;
            doc.save(&paths.config)?;
            eprintln!("Added identity provider `{}` to {}.", a.name, paths.config.display());
        }
        IdpCmd::Remove { name } => {
            let mut doc = load_doc(paths)?;
            doc.remove_idp(&name)?;
            doc.save(&paths.config)?;
            eprintln!("Removed identity provider `{name}`.");
        }
        IdpCmd::List => {
            let cfg = Config::load(&paths.config)?;
            for (name, i) in &cfg.idp {
                println!("{name:<14} {:<50} client_id={} scopes={}", i.issuer, i.client_id, i.scopes.join(","));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
