//! `lakepass admin …` (federation policies, serving endpoints, AI Gateway) and `lakepass whoami`.
//!
//! Thin: arguments become a core [`admin::AdminRequest`]; `--dry-run` prints it, otherwise it is
//! sent with an M2M workspace's token or a token read from stdin.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use lakepass_core::admin::{self, Account, AdminRequest, EndpointSpec, GatewaySpec, Pii, PolicySpec};
use lakepass_core::config::Config;
use lakepass_core::{Paths, Secret};

use crate::app;
use crate::output::{self, Exit};

/// `lakepass admin` and its options.
#[derive(Args, Debug)]
pub struct AdminArgs {
    /// The workspace whose host (and account) to manage; unless --token-stdin, it must be an
    /// M2M workspace whose service principal has admin rights [default: the active workspace]
    #[arg(long, short = 'w', global = true)]
    workspace: Option<String>,
    /// Read the bearer token from stdin instead of using the workspace's M2M credentials.
    #[arg(long, global = true)]
    token_stdin: bool,
    /// Print the exact request (method, URL, headers without the token, JSON body); send nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// The Databricks account id [default: `account_id` of the workspace in the config]
    #[arg(long, global = true)]
    account_id: Option<String>,
    #[command(subcommand)]
    cmd: AdminCmd,
}

/// The admin commands.
#[derive(Subcommand, Debug)]
enum AdminCmd {
    /// Account federation policies (which IdP tokens the account accepts for users).
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Service-principal federation policies (workload identity, role mapping).
    #[command(subcommand)]
    SpPolicy(SpPolicyCmd),
    /// Anthropic gateway serving endpoints.
    #[command(subcommand)]
    Endpoint(EndpointCmd),
    /// AI Gateway options of a serving endpoint.
    #[command(subcommand)]
    Gateway(GatewayCmd),
}

#[derive(Args, Debug)]
struct PolicyFields {
    /// Take issuer, audience (the client id) and subject claim from a configured IdP.
    #[arg(long, value_name = "IDP")]
    from_idp: Option<String>,
    /// The trusted issuer, exactly as in the tokens' `iss`.
    #[arg(long)]
    issuer: Option<String>,
    /// An accepted audience (repeat for more) [default with --from-idp: its client id]
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// The claim naming the user [default: suggested for the IdP, else `sub`]
    #[arg(long)]
    subject_claim: Option<String>,
    /// The required subject value (needed for service-principal policies).
    #[arg(long)]
    subject: Option<String>,
    /// A policy id to create it under [default: chosen by Databricks]
    #[arg(long)]
    policy_id: Option<String>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
}

#[derive(Subcommand, Debug)]
enum PolicyCmd {
    /// Create an account federation policy.
    Create(PolicyFields),
    /// List account federation policies.
    List,
    /// Delete an account federation policy.
    Delete {
        /// The policy id.
        policy_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum SpPolicyCmd {
    /// Create a federation policy for a service principal.
    Create {
        /// The service principal's id.
        #[arg(long)]
        service_principal: String,
        #[command(flatten)]
        fields: PolicyFields,
    },
    /// List a service principal's federation policies.
    List {
        /// The service principal's id.
        #[arg(long)]
        service_principal: String,
    },
    /// Delete a service principal's federation policy.
    Delete {
        /// The service principal's id.
        #[arg(long)]
        service_principal: String,
        /// The policy id.
        policy_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum EndpointCmd {
    /// Create an Anthropic external-model endpoint (the API key stays a Databricks secret).
    Create {
        /// Endpoint name.
        name: String,
        /// Anthropic model name.
        #[arg(long, default_value = "claude-sonnet-4-5")]
        model: String,
        /// The Databricks secret holding the Anthropic API key, as `scope/key`.
        #[arg(long, value_name = "SCOPE/KEY")]
        secret_ref: String,
    },
    /// Show an endpoint.
    Get {
        /// Endpoint name.
        name: String,
    },
    /// Delete an endpoint.
    Delete {
        /// Endpoint name.
        name: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PiiArg {
    None,
    Block,
    Mask,
}

#[derive(Subcommand, Debug)]
enum GatewayCmd {
    /// Set rate limits, usage tracking and guardrails (only the options given are sent).
    Set {
        /// Endpoint name.
        name: String,
        /// Calls per user per minute.
        #[arg(long, value_name = "CALLS")]
        user_rate: Option<u64>,
        /// Calls per endpoint per minute.
        #[arg(long, value_name = "CALLS")]
        endpoint_rate: Option<u64>,
        /// Usage tracking (system tables).
        #[arg(long, value_name = "BOOL")]
        usage_tracking: Option<bool>,
        /// Safety guardrail on input and output.
        #[arg(long, value_name = "BOOL")]
        safety: Option<bool>,
        /// PII guardrail on input and output.
        #[arg(long, value_enum)]
        pii: Option<PiiArg>,
    },
}

fn policy_spec(
    config: &Config,
    f: PolicyFields,
) -> anyhow::Result<(PolicySpec, Option<String>, Option<String>)> {
    let mut spec = match &f.from_idp {
        Some(name) => PolicySpec::from_idp(config.idp(name)?),
        None => PolicySpec {
            issuer: f.issuer.clone().ok_or_else(|| {
                output::usage("give --issuer, or --from-idp NAME to take it from a configured IdP")
            })?,
            audiences: Vec::new(),
            subject_claim: "sub".into(),
            subject: None,
        },
    };
    if let Some(i) = f.issuer {
        spec.issuer = i;
    }
    if !f.audiences.is_empty() {
        spec.audiences = f.audiences;
    }
    if let Some(c) = f.subject_claim {
        spec.subject_claim = c;
    }
    spec.subject = f.subject.or(spec.subject);
    Ok((spec, f.policy_id, f.description))
}

/// Runs an admin command.
pub async fn admin(paths: &Paths, a: AdminArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let ws = config.workspace(a.workspace.as_deref())?;
    let account = || Account::of(&ws, a.account_id.as_deref());
    let (req, for_account): (AdminRequest, bool) = match a.cmd {
        AdminCmd::Policy(PolicyCmd::Create(f)) => {
            let (spec, id, desc) = policy_spec(&config, f)?;
            (admin::create_policy(&account()?, None, &spec, id.as_deref(), desc.as_deref()), true)
        }
        AdminCmd::Policy(PolicyCmd::List) => (admin::list_policies(&account()?, None), true),
        AdminCmd::Policy(PolicyCmd::Delete { policy_id }) => {
            (admin::delete_policy(&account()?, None, &policy_id), true)
        }
        AdminCmd::SpPolicy(SpPolicyCmd::Create { service_principal, fields }) => {
            let (spec, id, desc) = policy_spec(&config, fields)?;
            if spec.subject.is_none() {
                return Err(output::usage(
                    "a service-principal federation policy needs --subject (the value of the subject claim it accepts)",
                ));
            }
            (
                admin::create_policy(
                    &account()?,
                    Some(&service_principal),
                    &spec,
                    id.as_deref(),
                    desc.as_deref(),
                ),
                true,
            )
        }
        AdminCmd::SpPolicy(SpPolicyCmd::List { service_principal }) => {
            (admin::list_policies(&account()?, Some(&service_principal)), true)
        }
        AdminCmd::SpPolicy(SpPolicyCmd::Delete { service_principal, policy_id }) => {
            (admin::delete_policy(&account()?, Some(&service_principal), &policy_id), true)
        }
        AdminCmd::Endpoint(EndpointCmd::Create { name, model, secret_ref }) => {
            if secret_ref.split('/').count() != 2 || secret_ref.starts_with('/') || secret_ref.ends_with('/')
            {
                return Err(output::usage(
                    "--secret-ref must be `scope/key` naming a Databricks secret (never the API key itself)",
                ));
            }
            (admin::create_endpoint(&ws.host, &EndpointSpec { name, model, secret_ref }), false)
        }
        AdminCmd::Endpoint(EndpointCmd::Get { name }) => (admin::get_endpoint(&ws.host, &name), false),
        AdminCmd::Endpoint(EndpointCmd::Delete { name }) => (admin::delete_endpoint(&ws.host, &name), false),
        AdminCmd::Gateway(GatewayCmd::Set {
            name,
            user_rate,
            endpoint_rate,
            usage_tracking,
            safety,
            pii,
        }) => {
            let spec = GatewaySpec {
                per_user_per_minute: user_rate,
                per_endpoint_per_minute: endpoint_rate,
                usage_tracking,
                safety,
                pii: pii.map(|p| match p {
                    PiiArg::None => Pii::None,
                    PiiArg::Block => Pii::Block,
                    PiiArg::Mask => Pii::Mask,
                }),
            };
            if spec == GatewaySpec::default() {
                return Err(output::usage(
                    "give at least one option to set (see `lakepass admin gateway set --help`)",
                ));
            }
            (admin::set_gateway(&ws.host, &name, &spec), false)
        }
    };
    if a.dry_run {
        print!("{}", req.render());
        return Ok(ExitCode::SUCCESS);
    }
    let token = if a.token_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        if s.trim().is_empty() {
            return Err(output::usage("--token-stdin: stdin was empty"));
        }
        Secret::new(s.trim())
    } else {
        let engine = app::engine(paths).await?;
        let acc = if for_account { Some(account()?) } else { None };
        admin::m2m_token(&engine, &ws, acc.as_ref()).await?
    };
    let answer = admin::AdminClient::with_trust(&config.trust()).send(&req, &token).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(ExitCode::SUCCESS)
}

/// `--workspace` and `--json` of `whoami`.
#[derive(Args, Debug)]
pub struct WhoamiArgs {
    /// Workspace name from the config [default: every workspace]
    #[arg(long, short = 'w')]
    pub workspace: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Asks each workspace (or the one named) who it thinks you are.
pub async fn whoami(paths: &Paths, a: WhoamiArgs) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let targets = match &a.workspace {
        Some(n) => vec![engine.config().workspace(Some(n))?],
        None => engine.workspaces().to_vec(),
    };
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for ws in &targets {
        match admin::whoami(&engine, ws).await {
            Ok(id) => {
                if !a.json {
                    let kind = match id.kind {
                        admin::PrincipalKind::User => "user".to_string(),
                        admin::PrincipalKind::ServicePrincipal => {
                            format!(
                                "service principal, application id {}",
                                id.application_id.as_deref().unwrap_or("?")
                            )
                        }
                    };
                    println!("{} ({})", ws.name, ws.host);
                    println!("  identity: {} ({kind})", id.user_name);
                    if let Some(d) = &id.display_name {
                        println!("  name:     {d}");
                    }
                    println!(
                        "  groups:   {}",
                        if id.groups.is_empty() { "-".into() } else { id.groups.join(", ") }
                    );
                }
                rows.push(serde_json::to_value(&id)?);
            }
            Err(e) => {
                failed.push(e.kind().exit_code());
                if !a.json {
                    println!("{} ({})", ws.name, ws.host);
                }
                eprintln!("  ✗ {}: {e}", ws.name);
                rows.push(serde_json::json!({"workspace": ws.name, "host": ws.host.as_str(), "error": e.to_string()}));
            }
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "identities": rows }))?);
    }
    // Every workspace failed: the exit code of their common kind (3 when none is signed in).
    if !failed.is_empty() && failed.len() == targets.len() {
        let code = if failed.iter().all(|c| *c == failed[0]) { failed[0] } else { 1 };
        return Err(Exit(code).into());
    }
    Ok(ExitCode::SUCCESS)
}
