//! `lakepass auth token` and `lakepass version`: the interface the Databricks SDKs' own
//! `databricks-cli` credential provider calls, so SDK processes refresh through Lakepass even
//! when no Lakepass daemon or tray app runs.
//!
//! With `auth_type = databricks-cli` and `databricks_cli_path = <abs path of lakepass>` in a
//! profile (the `cli-helper` profile flavour writes exactly that), the SDKs do this, as read in
//! their sources (Python databricks-sdk 0.156 `DatabricksCliTokenSource`, Go
//! `config/cli_token_source.go`):
//! 1. a version probe: Python runs `<path> version --output json` and reads
//!    `{"Major","Minor","Patch"}`; Go runs `<path> version` and expects `Databricks CLI vX.Y.Z`.
//!    The version only gates flags: `--profile` from 0.207.1, `--force-refresh` from 0.296.0.
//! 2. `<path> auth token --host <host>` (or `--profile <name>` when the probe said ≥ 0.207.1,
//!    plus `--account-id` for account hosts, `--force-refresh` when ≥ 0.296.0), expecting
//!    `{"access_token","token_type","expiry"}` on stdout, exit 0.
//!
//! Lakepass does not pretend to be the Databricks CLI: its version answer names Lakepass and
//! carries no Databricks CLI version, so both SDKs log a warning that they could not confirm
//! `--profile` support and use `--host`, which works. Every flag they may send is accepted.
//!
//! `expiry` is written as RFC 3339 in the LOCAL time zone with microseconds
//! (`2025-01-01T13:00:00.000000+01:00`), as the Databricks CLI writes it: Python's parser drops
//! everything from the `.` on and reads the rest as local time, and Go reads the offset. A UTC
//! `Z` time would be read by Python as local time, off by the zone's offset.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use lakepass_config::{Config, Workspace};
use lakepass_engine::ErrorKind;
use lakepass_engine::sink::{helper_profile_name, live_profile_name};
use lakepass_store::Paths;
use lakepass_wire::Clock as _;
use lakepass_wire::{SystemClock, WorkspaceHost};
use serde::Serialize;

use crate::tokens;
use crate::{app, output};

/// `lakepass auth …`.
#[derive(Subcommand, Debug)]
pub enum AuthCmd {
    /// Print a fresh token as JSON for the Databricks SDKs (`auth_type = databricks-cli`).
    Token(AuthTokenArgs),
}

/// Arguments of `auth token`, as the Databricks SDKs pass them.
#[derive(Args, Debug)]
pub struct AuthTokenArgs {
    /// Workspace URL; matched against the configured workspaces' hosts.
    #[arg(long, value_name = "URL")]
    host: Option<String>,
    /// A ~/.databrickscfg profile Lakepass writes (`dev`, `dev-live`) or a workspace name.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Databricks account id: account-level tokens are not supported, so this is refused.
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// Accepted for compatibility: the token is always one that is not due for refresh.
    #[arg(long)]
    force_refresh: bool,
    /// Accepted for compatibility and ignored.
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
}

/// Arguments of `version`.
#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: Format,
}

/// `text` or `json`.
#[derive(ValueEnum, Clone, Copy, Debug)]
enum Format {
    Text,
    Json,
}

/// Prints Lakepass's own name and version (never a Databricks CLI version).
pub fn version(a: VersionArgs) -> anyhow::Result<ExitCode> {
    let v = env!("CARGO_PKG_VERSION");
    match a.output {
        Format::Text => println!("lakepass {v}"),
        Format::Json => println!("{}", serde_json::json!({ "name": "lakepass", "version": v })),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `auth …`.
pub async fn auth(paths: &Paths, cmd: AuthCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AuthCmd::Token(a) => auth_token(paths, a).await,
    }
}

#[derive(Serialize)]
struct CliToken<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expiry: String,
}

async fn auth_token(paths: &Paths, a: AuthTokenArgs) -> anyhow::Result<ExitCode> {
    if a.account_id.is_some() {
        return Err(output::usage(
            "Lakepass issues workspace tokens only, not account-level ones; point the SDK at a \
             workspace host",
        ));
    }
    let _ = (a.force_refresh, a.timeout);
    let config = app::load_config(paths)?;
    let ws = pick_workspace(&config, a.host.as_deref(), a.profile.as_deref())?;
    let t = tokens::fresh_token(paths, &ws).await?;
    let out = CliToken {
        access_token: t.token.secret(),
        token_type: "Bearer",
        expiry: local_rfc3339(t.expires_at),
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// The workspace an SDK means: by profile (ours, its `-live` twin, or a workspace name), else
/// by host, else the active one.
fn pick_workspace(config: &Config, host: Option<&str>, profile: Option<&str>) -> anyhow::Result<Workspace> {
    let all = config.workspaces()?;
    if let Some(p) = profile {
        return all
            .into_iter()
            .find(|w| {
                w.profile == p || helper_profile_name(w) == p || live_profile_name(w) == p || w.name == p
            })
            .ok_or_else(|| {
                output::problem(
                    ErrorKind::UnknownWorkspace,
                    format!("no Lakepass workspace writes the profile `{p}`; see `lakepass workspace list`"),
                )
            });
    }
    let Some(host) = host else {
        return Ok(config.workspace(None)?);
    };
    let wanted = WorkspaceHost::parse(host)
        .map_err(|e| output::usage(format!("the --host the SDK passed is not a workspace URL: {e}")))?;
    let mut matching: Vec<Workspace> = all.into_iter().filter(|w| w.host == wanted).collect();
    if matching.len() > 1 {
        // Several workspaces on one host (different service principals): the active one if it
        // is among them, else the user's own (no service principal) if there is exactly one.
        if let Some(i) = matching.iter().position(|w| config.active.as_deref() == Some(&w.name)) {
            return Ok(matching.swap_remove(i));
        }
        matching.retain(|w| w.client_id.is_none());
    }
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 => Err(output::problem(
            ErrorKind::UnknownWorkspace,
            format!("no Lakepass workspace has the host {wanted}; add it with `lakepass workspace add`"),
        )),
        _ => Err(output::usage(format!(
            "several Lakepass workspaces have the host {wanted}; set `active` in the Lakepass \
             config to the one SDKs should use"
        ))),
    }
}

/// RFC 3339 in the local time zone with microseconds, as the Databricks CLI writes `expiry`.
pub fn local_rfc3339(unix: i64) -> String {
    use chrono::{DateTime, Local, SecondsFormat};
    DateTime::from_timestamp(unix, 0)
        .map(|t| t.with_timezone(&Local).to_rfc3339_opts(SecondsFormat::Micros, false))
        .unwrap_or_else(|| {
            let now = SystemClock.now();
            DateTime::from_timestamp(now, 0).unwrap_or_default().to_rfc3339()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "active = \"b\"\n[idp.i]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n\
                    [workspace.a]\nidp = \"i\"\nhost = \"https://one.example\"\nprofile = \"pa\"\n\
                    [workspace.b]\nidp = \"i\"\nhost = \"https://two.example\"\n";
        Config::parse(text, std::path::Path::new("t.toml")).unwrap()
    }

    #[test]
    fn picks_by_profile_live_profile_host_or_active() {
        let c = config();
        let name = |h: Option<&str>, p: Option<&str>| pick_workspace(&c, h, p).map(|w| w.name);
        assert_eq!(name(None, Some("pa")).unwrap(), "a");
        assert_eq!(name(None, Some("pa-live")).unwrap(), "a");
        assert_eq!(name(None, Some("b")).unwrap(), "b");
        assert_eq!(name(Some("https://ONE.example/"), None).unwrap(), "a");
        assert_eq!(name(None, None).unwrap(), "b");
        assert!(name(Some("https://three.example"), None).is_err());
        assert!(name(None, Some("nope")).is_err());
    }

    #[test]
    fn expiry_keeps_the_instant_and_has_a_fraction_before_the_offset() {
        let s = local_rfc3339(1_700_000_000);
        let parsed = chrono::DateTime::parse_from_rfc3339(&s).unwrap();
        assert_eq!(parsed.timestamp(), 1_700_000_000);
        // Python keeps what comes before the first `.`: the local wall-clock time.
        let (wall, rest) = s.split_once('.').expect("a fraction");
        assert_eq!(rest.len(), "000000+00:00".len(), "{s}");
        assert_eq!(wall, parsed.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string());
    }
}
