//! `lakepass admin …` (federation policies, serving endpoints, AI Gateway) and `lakepass whoami`.
//!
//! Thin: arguments become a core [`admin::AdminRequest`]; `--dry-run` prints it, otherwise it is
//! sent with an M2M workspace's token or a token read from stdin.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use lakepass_admin::{
    self as admin, Account, AdminRequest, EndpointSpec, GatewaySpec, Pii, PolicySpec, ServicePrincipalId,
};
use lakepass_config::{Config, Workspace};
use lakepass_store::Paths;
use lakepass_wire::Secret;

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
    /// The required subject value (service-principal policies only; an account policy refuses it).
    #[arg(long)]
    subject: Option<String>,
    /// Where Databricks fetches the signing keys, if not from the issuer's discovery document.
    #[arg(long, value_name = "URL", conflicts_with = "jwks_json")]
    jwks_uri: Option<String>,
    /// The signing keys themselves (a JWKS as JSON), for an IdP Databricks cannot reach.
    #[arg(long, value_name = "JSON")]
    jwks_json: Option<String>,
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

/// Which service principal: by application id (looked up) or by numeric id.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
struct SpArg {
    /// The service principal's application id (a UUID, the `client_id` of an exchange); its
    /// numeric id is looked up in the account's SCIM API.
    #[arg(long, value_name = "APPLICATION_ID")]
    service_principal: Option<String>,
    /// The service principal's numeric id, as the federation-policy API paths take it.
    #[arg(long, value_name = "ID")]
    service_principal_id: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum SpPolicyCmd {
    /// Create a federation policy for a service principal.
    Create {
        #[command(flatten)]
        sp: SpArg,
        #[command(flatten)]
        fields: PolicyFields,
    },
    /// List a service principal's federation policies.
    List {
        #[command(flatten)]
        sp: SpArg,
    },
    /// Delete a service principal's federation policy.
    Delete {
        #[command(flatten)]
        sp: SpArg,
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
            subject_claim: "sub".into(),
            ..Default::default()
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
    spec.jwks_uri = f.jwks_uri;
    spec.jwks_json = f.jwks_json;
    Ok((spec, f.policy_id, f.description))
}

/// An account API call whose service principal may still need its numeric id looked up.
enum AccountCall {
    Create(PolicySpec, Option<String>, Option<String>),
    List,
    Delete(String),
}

/// Runs an admin command.
pub async fn admin(paths: &Paths, a: AdminArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let ws = config.workspace(a.workspace.as_deref())?;
    let common = a.common();
    let (call, sp) = match a.cmd {
        AdminCmd::Policy(PolicyCmd::Create(f)) => {
            let (spec, id, desc) = policy_spec(&config, f)?;
            (AccountCall::Create(spec, id, desc), None)
        }
        AdminCmd::Policy(PolicyCmd::List) => (AccountCall::List, None),
        AdminCmd::Policy(PolicyCmd::Delete { policy_id }) => (AccountCall::Delete(policy_id), None),
        AdminCmd::SpPolicy(SpPolicyCmd::Create { sp, fields }) => {
            let (spec, id, desc) = policy_spec(&config, fields)?;
            (AccountCall::Create(spec, id, desc), Some(sp))
        }
        AdminCmd::SpPolicy(SpPolicyCmd::List { sp }) => (AccountCall::List, Some(sp)),
        AdminCmd::SpPolicy(SpPolicyCmd::Delete { sp, policy_id }) => {
            (AccountCall::Delete(policy_id), Some(sp))
        }
        AdminCmd::Endpoint(cmd) => {
            return workspace_call(paths, &common, &config, &ws, endpoint(&ws, cmd)?).await;
        }
        AdminCmd::Gateway(cmd) => {
            return workspace_call(paths, &common, &config, &ws, gateway(&ws, cmd)?).await;
        }
    };
    let account = Account::of(&ws, a.account_id.as_deref())?;
    if let AccountCall::Create(spec, ..) = &call {
        spec.check(sp.is_some())?;
    }
    let known_id = sp.as_ref().and_then(|s| s.service_principal_id).map(ServicePrincipalId);
    let app_id = sp.as_ref().and_then(|s| s.service_principal.clone());
    let build = |id: Option<ServicePrincipalId>| -> anyhow::Result<AdminRequest> {
        Ok(match &call {
            AccountCall::Create(spec, pid, desc) => {
                admin::create_policy(&account, id, spec, pid.as_deref(), desc.as_deref())?
            }
            AccountCall::List => admin::list_policies(&account, id),
            AccountCall::Delete(pid) => admin::delete_policy(&account, id, pid),
        })
    };
    if a.dry_run {
        match &app_id {
            Some(app) => {
                print!("{}", admin::find_service_principal(&account, app).render());
                println!(
                    "\n# then the federation-policy request, with the numeric id the lookup answers (pass --service-principal-id to see it)"
                );
            }
            None => print!("{}", build(known_id)?.render()),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let token = token(paths, a.token_stdin, &ws, Some(&account)).await?;
    let client = admin::AdminClient::with_trust(&config.trust());
    let id = match (&app_id, known_id) {
        (Some(app), _) => Some(admin::resolve_service_principal(&client, &account, app, &token).await?),
        (None, id) => id,
    };
    let answer = match call {
        AccountCall::List => {
            serde_json::json!({ "policies": admin::send_all_pages(&client, &account, id, &token).await? })
        }
        _ => client.send(&build(id)?, &token).await?,
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(ExitCode::SUCCESS)
}

/// What a workspace API call needs of the global options.
struct Common {
    token_stdin: bool,
    dry_run: bool,
}

impl AdminArgs {
    fn common(&self) -> Common {
        Common { token_stdin: self.token_stdin, dry_run: self.dry_run }
    }
}

fn endpoint(ws: &Workspace, cmd: EndpointCmd) -> anyhow::Result<AdminRequest> {
    Ok(match cmd {
        EndpointCmd::Create { name, model, secret_ref } => {
            if secret_ref.split('/').count() != 2 || secret_ref.starts_with('/') || secret_ref.ends_with('/')
            {
                return Err(output::usage(
                    "--secret-ref must be `scope/key` naming a Databricks secret (never the API key itself)",
                ));
            }
            admin::create_endpoint(&ws.host, &EndpointSpec { name, model, secret_ref })
        }
        EndpointCmd::Get { name } => admin::get_endpoint(&ws.host, &name),
        EndpointCmd::Delete { name } => admin::delete_endpoint(&ws.host, &name),
    })
}

fn gateway(ws: &Workspace, cmd: GatewayCmd) -> anyhow::Result<AdminRequest> {
    let GatewayCmd::Set { name, user_rate, endpoint_rate, usage_tracking, safety, pii } = cmd;
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
    Ok(admin::set_gateway(&ws.host, &name, &spec))
}

/// The bearer token: from stdin, or the M2M workspace's (at the account host for account APIs).
async fn token(
    paths: &Paths,
    stdin: bool,
    ws: &Workspace,
    account: Option<&Account>,
) -> anyhow::Result<Secret> {
    if stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        if s.trim().is_empty() {
            return Err(output::usage("--token-stdin: stdin was empty"));
        }
        return Ok(Secret::new(s.trim()));
    }
    let engine = app::engine(paths).await?;
    Ok(admin::m2m_token(&engine, ws, account).await?)
}

/// Sends (or with --dry-run prints) a workspace API request.
async fn workspace_call(
    paths: &Paths,
    c: &Common,
    config: &Config,
    ws: &Workspace,
    req: AdminRequest,
) -> anyhow::Result<ExitCode> {
    if c.dry_run {
        print!("{}", req.render());
        return Ok(ExitCode::SUCCESS);
    }
    let token = token(paths, c.token_stdin, ws, None).await?;
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
