//! `lakepass setup FILE`: a team's shared file (IdPs, workspaces, Claude gateway settings) into
//! the user's config, then sign-in. The core checks, plans and merges (`config::TeamFile`); this
//! only shows the plan, asks, and prints.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use lakepass_config::{ConfigDoc, TeamChange, TeamEntry, TeamFile, TeamHost, TeamHostRole, TeamPlan};
use lakepass_store::Paths;

use crate::auth::{self, LoginArgs};
use crate::output::usage;

/// Arguments of `setup`.
#[derive(Args, Debug)]
pub struct SetupArgs {
    /// The team file (TOML: [idp.*], [workspace.*], [claude.*]; no secrets).
    file: PathBuf,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Replace your entries that have the same name as the team's but other values.
    #[arg(long)]
    replace: bool,
    /// Only change the config; sign in later with `lakepass login`.
    #[arg(long)]
    no_login: bool,
    /// Do not open a browser to sign in: print the sign-in URL on its own line on stderr.
    #[arg(long)]
    no_browser: bool,
    /// Give up waiting for each browser sign-in after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    timeout: u64,
    /// Trust this workspace host, which is not a Databricks workspace domain, with your sign-in
    /// token (repeat for each; e.g. `--trust-host https://127.0.0.1:8443`). `--yes` does not.
    #[arg(long = "trust-host", value_name = "HOST")]
    trust_host: Vec<String>,
}

/// Runs `setup`.
pub async fn setup(paths: &Paths, a: SetupArgs) -> anyhow::Result<ExitCode> {
    let team = TeamFile::load(&a.file)?;
    let mut doc = ConfigDoc::load(&paths.config)?;
    let plan = team.plan(&doc.to_config(&paths.config)?);
    print!("{}", render(&plan, &a.file, paths));
    let changes = plan.changes_anything(a.replace);
    let blocked = plan.conflicts().next().is_some() && !a.replace;
    if !changes && !blocked {
        println!("Nothing to add: your config already has all of it.");
    }
    let mut trusted = a.trust_host.clone();
    if !blocked && !a.yes && std::io::stdin().is_terminal() {
        for h in plan.unconfirmed_hosts(&a.trust_host) {
            confirm_host(h)?;
            trusted.push(h.host.clone());
        }
    }
    if changes && !blocked && !a.yes {
        confirm(&format!("Add this to {}?", paths.config.display()))?;
    }
    let before = doc.to_config(&paths.config)?;
    // Refuses on conflicts without --replace and on hosts nobody confirmed, before anything is
    // written.
    doc.apply_team(&team, &plan, a.replace, &trusted)?;
    if changes {
        doc.save(&paths.config)?;
        println!("Saved {}.", paths.config.display());
        crate::edit::forget_replaced_sessions(paths, &before, &doc.to_config(&paths.config)?).await?;
    }
    if a.no_login || plan.sign_in.is_empty() {
        if !plan.sign_in.is_empty() {
            println!("Sign in when you are ready: lakepass login --idp {}", plan.sign_in.join(" / "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    for idp in &plan.sign_in {
        let login = LoginArgs { idp: Some(idp.clone()), no_browser: a.no_browser, timeout: a.timeout };
        auth::login(paths, login).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; no terminal (a script, a pipe) is a refusal unless `--yes` was given.
fn confirm(question: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "no terminal to confirm the changes above on; nothing was changed. Review them, then \
             run again with --yes",
        ));
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(usage("nothing was changed"))
    }
}

/// Asks the user to confirm, by name, one host that is not a Databricks workspace domain.
fn confirm_host(h: &TeamHost) -> anyhow::Result<()> {
    print!(
        "{} ({}) is NOT a Databricks workspace domain. Send it your sign-in token? Type its address \
         to trust it, anything else to stop: ",
        h.host,
        h.named_by.join(", ")
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let typed = answer.trim().trim_end_matches('/');
    let bare = h.host.split_once("://").map_or(h.host.as_str(), |(_, rest)| rest);
    if typed.eq_ignore_ascii_case(&h.host) || typed.eq_ignore_ascii_case(bare) {
        Ok(())
    } else {
        Err(usage(format!("{} not trusted; nothing was changed", h.host)))
    }
}

/// The plan as a diff-like summary: `+` added, `=` already there, `!` in conflict; then every
/// host that will receive a token.
fn render(plan: &TeamPlan, file: &std::path::Path, paths: &Paths) -> String {
    let mut out = format!("Team file {} → {}\n", file.display(), paths.config.display());
    for e in &plan.entries {
        out.push_str(&entry_lines(e));
    }
    out.push_str(&host_lines(&plan.hosts));
    out
}

/// Every host that will be sent a token, foreign workspace hosts marked loudly.
fn host_lines(hosts: &[TeamHost]) -> String {
    if hosts.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nThese hosts will receive your tokens:\n");
    for h in hosts {
        let (mark, what) = match (h.role, h.needs_confirmation) {
            (TeamHostRole::Idp, _) => ("  ", "identity provider: your sign-in and refresh token"),
            (TeamHostRole::Workspace, false) => ("  ", "Databricks workspace: your IdP token"),
            (TeamHostRole::Workspace, true) => {
                ("!!", "NOT a Databricks workspace domain: your IdP token, which it could use as you")
            }
        };
        out.push_str(&format!("{mark} {}  ({what}; {})\n", h.host, h.named_by.join(", ")));
    }
    if hosts.iter().any(|h| h.needs_confirmation) {
        out.push_str(
            "!! Hosts marked !! are imported only if you confirm each by name (or --trust-host <host>).\n",
        );
    }
    out
}

fn entry_lines(e: &TeamEntry) -> String {
    let header = format!("[{}.{}]", e.section.as_str(), e.name);
    let mut out = String::new();
    match e.change {
        TeamChange::Add => {
            out.push_str(&format!("+ {header}\n"));
            for f in &e.fields {
                out.push_str(&format!("+   {} = {}\n", f.key, f.team.as_deref().unwrap_or("")));
            }
        }
        TeamChange::Unchanged => out.push_str(&format!("= {header} already in your config\n")),
        TeamChange::Conflict => {
            out.push_str(&format!("! {header} differs from yours:\n"));
            for f in &e.fields {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not set)".into());
                out.push_str(&format!("!   {}: yours {}, team's {}\n", f.key, show(&f.yours), show(&f.team)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use lakepass_config::{TeamField, TeamSection};

    use super::*;

    #[test]
    fn each_change_has_its_own_mark() {
        let field = |k: &str, t: Option<&str>, y: Option<&str>| TeamField {
            key: k.into(),
            team: t.map(String::from),
            yours: y.map(String::from),
        };
        let add = TeamEntry {
            section: TeamSection::Idp,
            name: "acme".into(),
            change: TeamChange::Add,
            fields: vec![field("issuer", Some("\"https://i\""), None)],
        };
        assert_eq!(entry_lines(&add), "+ [idp.acme]\n+   issuer = \"https://i\"\n");
        let conflict = TeamEntry {
            change: TeamChange::Conflict,
            fields: vec![field("client_id", Some("\"b\""), Some("\"a\"")), field("x", None, Some("1"))],
            ..add.clone()
        };
        assert_eq!(
            entry_lines(&conflict),
            "! [idp.acme] differs from yours:\n!   client_id: yours \"a\", team's \"b\"\n!   x: yours 1, team's (not set)\n"
        );
        let same = TeamEntry { change: TeamChange::Unchanged, fields: vec![], ..add };
        assert_eq!(entry_lines(&same), "= [idp.acme] already in your config\n");
    }
}
