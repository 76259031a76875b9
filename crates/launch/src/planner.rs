//! Plans a launch once, in whichever process was asked: the CLI (`lakepass launch …`) or the tray
//! host, which has the engine in process and so needs no subprocess for the token that model
//! discovery uses.
//!
//! The IO a plan needs is gathered first ([`Surroundings`]: the process's PATH, folders and
//! variables) or done here in one place (the token and model discovery, reading the files a
//! plan edits or warns about); the decisions stay the pure functions of `claude.rs`,
//! `environment.rs`, `mcp.rs` and `terminal.rs`. Nothing is written and nothing is started:
//! that is the executor's (`execute.rs`).
//!
//! One planning function per [`Agent`] ([`plan_claude`], [`plan_codex`], [`plan_gemini`],
//! [`plan_opencode`], [`plan_copilot`], [`plan_pi`], [`plan_terminal`]); [`plan`] picks. Each
//! coding agent's starts from the same [`start`] (workspace, program, token) and ends in
//! [`LaunchPlan::of_agent`]; a new agent adds its function and a line in [`plan`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::claude::{
    ClaudeGateway, claude_plan, claude_settings_path, effective_ttl_ms, existing_mode, helper_argv,
    helper_command, merge_settings, settings_conflicts,
};
use super::claude_version::{ClaudeCode, ClaudeFeature, installed_claude};
use super::codex::{
    CODEX_BASE_PATH, CODEX_REFRESH_INTERVAL_MS, CODEX_SERVING_BASE_PATH, codex_config_path, codex_plan,
    codex_provider_id, merge_codex_config,
};
use super::copilot::{COPILOT_BASE_PATH, COPILOT_SERVING_BASE_PATH, copilot_plan};
use super::environment::{
    CA_VARS, EnvChanges, ca_files_to_write, pass_on_ca, workspace_ca_files, workspace_env,
};
use super::mcp::{headers_helper_command, mcp_config, mcp_proxy_argv, merge_mcp_json};
use super::models::{DiscoveredModels, Family, cached_or_discover};
use super::opencode::{
    OPENCODE_BASE_PATH, OPENCODE_BASE_URL_VAR, OPENCODE_SERVING_BASE_PATH, opencode_plan,
    opencode_provider_id,
};
use super::pi::{PiGateway, merge_pi_json, pi_plan, pi_provider_id, pi_user_dir};
use super::plan::{Agent, LaunchPlan, LaunchRequest, PlannedFile, TerminalChoice};
use super::platform::CURRENT_PLATFORM;
use super::terminal::{TerminalContext, terminal_candidates};
use super::{LaunchError, expand_home, find_program, utf8};
use lakepass_config::{Config, Workspace};
use lakepass_engine::engine::Engine;
use lakepass_engine::sink::live_profile_name;
use lakepass_store::paths::{Paths, sanitize};

/// What a plan reads from the process it is made in, gathered once by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surroundings {
    /// The `lakepass` program: named in the helpers, and run inside a new terminal.
    pub lakepass: PathBuf,
    /// The config file to name in those commands, when not the one they find anyway.
    pub config_arg: Option<PathBuf>,
    /// `PATH`.
    pub path: Option<OsString>,
    /// The current folder.
    pub cwd: PathBuf,
    /// The user's home folder.
    pub home: Option<PathBuf>,
    /// `CLAUDE_CONFIG_DIR`.
    pub claude_config_dir: Option<PathBuf>,
    /// `CODEX_HOME` (where Codex keeps the user's config).
    pub codex_home: Option<PathBuf>,
    /// `PI_CODING_AGENT_DIR` (the user's own Pi folder, when not `~/.pi/agent`).
    pub pi_agent_dir: Option<PathBuf>,
    /// `PI_CODING_AGENT_SESSION_DIR`, when the user set it.
    pub pi_session_dir: Option<PathBuf>,
    /// `TERMINAL`.
    pub terminal: Option<String>,
    /// `TERM_PROGRAM`.
    pub term_program: Option<String>,
    /// `SHELL`.
    pub shell: Option<String>,
    /// The CA variables the user set already (a CA they chose stays theirs).
    pub user_ca_vars: Vec<String>,
    /// Now, UNIX seconds (for the model cache).
    pub now: i64,
}

impl Surroundings {
    /// This process's surroundings; `lakepass` is the CLI to name, `paths` where it runs.
    pub fn of_this_process(lakepass: PathBuf, paths: &Paths, now: i64) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Surroundings {
            lakepass,
            config_arg: explicit_config(paths),
            path: std::env::var_os("PATH"),
            cwd: std::env::current_dir().unwrap_or_default(),
            home: super::user_home(),
            claude_config_dir: path_var("CLAUDE_CONFIG_DIR"),
            codex_home: path_var("CODEX_HOME"),
            pi_agent_dir: path_var(super::pi::PI_AGENT_DIR_VAR),
            pi_session_dir: path_var(super::pi::PI_SESSION_DIR_VAR),
            terminal: var("TERMINAL"),
            term_program: var("TERM_PROGRAM"),
            shell: var("SHELL"),
            user_ca_vars: CA_VARS.iter().filter(|k| var(k).is_some()).map(|k| k.to_string()).collect(),
            now,
        }
    }
}

/// A variable naming a folder, when set and not empty.
fn path_var(key: &str) -> Option<PathBuf> {
    std::env::var_os(key).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The config file to name in commands we hand to other programs, when it is not the one they
/// would find anyway (`--config`, or `LAKEPASS_CONFIG`, which a settings file does not carry).
pub fn explicit_config(paths: &Paths) -> Option<PathBuf> {
    let from_env = std::env::var_os("LAKEPASS_CONFIG").is_some_and(|v| !v.is_empty());
    let explicit = from_env || paths.config != Paths::from_env(None).config;
    explicit.then(|| std::path::absolute(&paths.config).unwrap_or_else(|_| paths.config.clone()))
}

/// Plans `agent` for `req` with the running `engine`.
pub async fn plan(
    engine: &Engine,
    paths: &Paths,
    agent: Agent,
    req: &LaunchRequest,
    env: &Surroundings,
) -> Result<LaunchPlan, LaunchError> {
    match agent {
        Agent::Claude => plan_claude(engine, paths, req, env).await,
        Agent::Codex => plan_codex(engine, paths, req, env).await,
        Agent::Gemini => plan_gemini(engine, paths, req, env).await,
        Agent::OpenCode => plan_opencode(engine, paths, req, env).await,
        Agent::Copilot => plan_copilot(engine, paths, req, env).await,
        Agent::Pi => plan_pi(engine, paths, req, env).await,
        Agent::Terminal => plan_terminal(engine.config(), paths, req, env),
    }
}

/// A terminal window with the workspace's environment (no token: the live profile).
pub fn plan_terminal(
    config: &Config,
    paths: &Paths,
    req: &LaunchRequest,
    env: &Surroundings,
) -> Result<LaunchPlan, LaunchError> {
    let ws = config.workspace(req.workspace.as_deref())?;
    let mut messages = live_profile_note(paths, &ws).into_iter().collect();
    let mut files = Vec::new();
    let mut term_env = workspace_env(&ws, None);
    pass_ca_on(paths, config, &ws, env, &mut term_env, &mut files, &mut messages);
    let terminal = choose_terminal(config, paths, env, term_env.clone())?;
    Ok(LaunchPlan {
        workspace: ws.name.clone(),
        agent: Agent::Terminal,
        program: None,
        args: Vec::new(),
        env: term_env,
        files,
        dir: Some(terminal.dir.clone()),
        messages,
        terminal: Some(terminal),
        lakepass: env.lakepass.clone(),
        proxy: None,
    })
}

/// Claude Code through the workspace's AI Gateway, its `apiKeyHelper` and managed MCP servers.
/// A sign-in problem stops the plan here, plainly, not as Claude Code retrying 401s for minutes.
pub async fn plan_claude(
    engine: &Engine,
    paths: &Paths,
    req: &LaunchRequest,
    env: &Surroundings,
) -> Result<LaunchPlan, LaunchError> {
    let config = engine.config();
    let ws = config.workspace(req.workspace.as_deref())?;
    let program = find_claude(config, env)?;
    // `claude --version` (on a cache miss) is a process: off the async threads, which the tray
    // host shares with its engine.
    let claude_code = {
        let (asked, data_dir) = (program.clone(), paths.data_dir.clone());
        tokio::task::spawn_blocking(move || installed_claude(&asked, &data_dir))
            .await
            .unwrap_or_else(|_| ClaudeCode { program: program.clone(), version: None })
    };
    let token = engine.token(&ws).await.map_err(|error| LaunchError::SignIn {
        agent: Agent::Claude,
        workspace: ws.name.clone(),
        error: Box::new(error),
    })?;
    let lifetime = token.expires_at - token.issued_at;
    let mut messages = claude_code_notes(&claude_code);
    let gateway = claude_gateway(engine, paths, &ws, &token.access_token, env.now, &mut messages)
        .await
        .for_claude_code(config, &ws.name, &claude_code);
    drop(token);

    let helper = helper_command(&env.lakepass, env.config_arg.as_deref(), &ws.name)?;
    let ttl = effective_ttl_ms(gateway.helper_ttl_ms, lifetime);
    let mut claude = claude_plan(&ws, &gateway, &helper, ttl, &req.args);
    let mut files = Vec::new();
    pass_ca_on(paths, config, &ws, env, &mut claude.env, &mut files, &mut messages);
    // Claude Code below the version with a re-run headersHelper gets no MCP servers (and no
    // probing of their URLs).
    let mcp = if claude_code.has(ClaudeFeature::McpHeadersHelper) {
        let servers = engine.mcp_servers(&ws).await;
        launch_mcp_config(config, &ws, &servers, &env.lakepass, env.config_arg.as_deref())?
    } else {
        None
    };
    if let Some(mcp) = &mcp {
        super::add_mcp_config(&mut claude, mcp);
        let names: Vec<&str> =
            mcp["mcpServers"].as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
        messages.push(format!(
            "Claude Code gets the managed MCP servers of `{}`: {} (each with its own scoped token).",
            ws.name,
            names.join(", ")
        ));
    }

    let user_settings =
        claude_settings_path(&env.home.clone().unwrap_or_default(), env.claude_config_dir.as_deref());
    if req.write_settings {
        files.push(settings_file(&user_settings, &claude.settings, &ws)?);
        if let Some(mcp) = &mcp {
            files.push(mcp_json_file(&env.cwd.join(".mcp.json"), mcp, &ws)?);
        }
    }
    let terminal = if req.new_terminal {
        let mut term_env = workspace_env(&ws, None);
        for var in super::CA_VARS {
            if let Some(v) = claude.env.get(var) {
                term_env.set(var, v);
            }
        }
        Some(choose_terminal(config, paths, env, term_env)?)
    } else {
        None
    };
    // The settings Claude Code will read: the user's, and the project's where it will run.
    let project = terminal.as_ref().map_or(env.cwd.as_path(), |t| t.dir.as_path());
    let mut read = vec![
        user_settings,
        project.join(".claude/settings.json"),
        project.join(".claude/settings.local.json"),
    ];
    read.dedup();
    for file in read {
        let text = match files.iter().find(|f| f.path == file) {
            Some(planned) => planned.contents.clone(),
            None => std::fs::read_to_string(&file).unwrap_or_default(),
        };
        for var in settings_conflicts(&text) {
            messages.push(format!(
                "warning: {} sets env.{var}; Claude Code will use that fixed credential instead of \
                 Lakepass's refreshing helper, and fail within the hour: remove it (or run with --write-settings)",
                file.display()
            ));
        }
    }
    Ok(LaunchPlan {
        args: claude.args,
        env: claude.env,
        files,
        messages,
        terminal,
        ..LaunchPlan::of_agent(Agent::Claude, &ws, program, &env.lakepass)
    })
}

/// Codex through the workspace's AI Gateway (Responses API), its provider's token command and
/// the managed MCP servers through `lakepass mcp-proxy`, layered as `-c` overrides (`codex.rs`).
pub async fn plan_codex(
    engine: &Engine,
    paths: &Paths,
    req: &LaunchRequest,
    env: &Surroundings,
) -> Result<LaunchPlan, LaunchError> {
    let config = engine.config();
    let Start { ws, program, token } = start(engine, req, env, Agent::Codex).await?;
    let lifetime = token.expires_at - token.issued_at;
    let mut messages = Vec::new();
    let found = discovered(engine, paths, &ws, &token.access_token, env.now, &mut messages).await;
    drop(token);
    let model = match config.agent_model("codex", &ws.name) {
        Some(m) => Some(m.to_string()),
        None => found.as_ref().and_then(|d| d.models.gpt.clone()),
    };
    if model.is_none() {
        messages.push(format!(
            "warning: workspace `{}` lists no GPT model, so Codex asks for its own default, which the \
             gateway may not serve: set `model` under [agent.codex] in {}",
            ws.name,
            paths.config.display()
        ));
    }
    let base_path = match found.as_ref().map(|d| d.base_path.as_str()) {
        Some(b) if b.starts_with("/serving-endpoints") => CODEX_SERVING_BASE_PATH,
        _ => CODEX_BASE_PATH,
    };
    let helper = helper_argv(&env.lakepass, env.config_arg.as_deref(), &ws.name)?;
    let refresh = effective_ttl_ms(CODEX_REFRESH_INTERVAL_MS, lifetime);
    let mcp = mcp_proxy_servers(engine, &ws, env, Agent::Codex, &mut messages).await?;
    let mut codex = codex_plan(&ws, base_path, model.as_deref(), &helper, refresh, &mcp, &req.args);
    let mut files = Vec::new();
    pass_ca_on(paths, config, &ws, env, &mut codex.env, &mut files, &mut messages);
    if req.write_settings {
        let path = codex_config_path(&env.home.clone().unwrap_or_default(), env.codex_home.as_deref());
        let (existing, mode) = read_existing(&path)?;
        let contents = merge_codex_config(&existing, &codex.overrides)
            .map_err(|reason| LaunchError::BadSettings { path: path.clone(), reason })?;
        let told = vec![format!(
            "Wrote the `{}` model provider, its token command and `model_provider` for `{}` into {} (other settings kept).",
            codex_provider_id(&ws.name),
            ws.name,
            path.display()
        )];
        files.push(PlannedFile { path, contents, mode: mode.unwrap_or(0o600), told });
    }
    let terminal = agent_terminal(req, config, paths, env, &ws, &codex.env)?;
    Ok(LaunchPlan {
        args: codex.args,
        env: codex.env,
        files,
        messages,
        terminal,
        ..LaunchPlan::of_agent(Agent::Codex, &ws, program, &env.lakepass)
    })
}

/// OpenCode through the workspace's AI Gateway (Anthropic Messages) by way of a grant on the
/// engine's authenticating proxy, with the managed MCP servers through `lakepass mcp-proxy`, in a
/// config overlay under the data folder (`opencode.rs`).
pub async fn plan_opencode(
    engine: &Engine,
    paths: &Paths,
    req: &LaunchRequest,
    env: &Surroundings,
) -> Result<LaunchPlan, LaunchError> {
    let config = engine.config();
    let Start { ws, program, token } = start(engine, req, env, Agent::OpenCode).await?;
    let mut messages = Vec::new();
    let found = discovered(engine, paths, &ws, &token.access_token, env.now, &mut messages).await;
    drop(token);
    let models = claude_models_for(
        Agent::OpenCode,
        config,
        &ws,
        found.as_ref(),
        &[Family::Opus, Family::Sonnet, Family::Haiku],
    );
    let base_path = match found.as_ref().map(|d| d.base_path.as_str()) {
        Some(b) if b.starts_with("/serving-endpoints") => OPENCODE_SERVING_BASE_PATH,
        _ => OPENCODE_BASE_PATH,
    };
    let mcp = mcp_proxy_servers(engine, &ws, env, Agent::OpenCode, &mut messages).await?;
    let dir = paths.data_dir.join("launch").join("opencode").join(sanitize(&ws.name));
    let file = dir.join("opencode.json");
    // The grant on the engine's proxy, the only way OpenCode reaches the workspace, is opened when
    // OpenCode starts (`proxy.rs`) and handed over in a variable the config names (OpenCode puts
    // `{env:NAME}` in any config string), so neither the plan nor the overlay holds its key.
    let base_url = format!("{{env:{OPENCODE_BASE_URL_VAR}}}");
    let oc = opencode_plan(&ws, &base_url, &models, &mcp, &file, &req.args);
    let mut contents = serde_json::to_string_pretty(&oc.config)
        .map_err(|e| LaunchError::BadSettings { path: file.clone(), reason: e.to_string() })?;
    contents.push('\n');
    let mut files = vec![PlannedFile { path: file, contents, mode: 0o600, told: Vec::new() }];
    messages.push(format!(
        "OpenCode reaches `{}` through Lakepass's local proxy (provider `{}`), which adds a fresh token to every request.",
        ws.name,
        opencode_provider_id(&ws.name)
    ));
    if req.write_settings {
        messages.push(
            "note: --write-settings writes nothing for OpenCode: its provider goes through this launch's \
             proxy key, which must not outlive the Lakepass engine in a file you keep."
                .into(),
        );
    }
    let mut oc_env = oc.env;
    pass_ca_on(paths, config, &ws, env, &mut oc_env, &mut files, &mut messages);
    let terminal = agent_terminal(req, config, paths, env, &ws, &oc_env)?;
    Ok(LaunchPlan {
        args: oc.args,
        env: oc_env,
        files,
        messages,
        terminal,
        proxy: Some(super::proxy::ProxyEnv { var: OPENCODE_BASE_URL_VAR.into(), path: base_path.into() }),
        ..LaunchPlan::of_agent(Agent::OpenCode, &ws, program, &env.lakepass)
    })
}

/// GitHub Copilot CLI in BYOK mode on AI Gateway's Chat Completions API, its key a command that
/// asks Lakepass before every request, the managed MCP servers through `lakepass mcp-proxy`
/// (`copilot.rs`).
pub async fn plan_copilot(
    engine: &Engine,
    paths: &Paths,
    req: &LaunchRequest,
    env: &Surroundings,
) -> Result<LaunchPlan, LaunchError> {
    let config = engine.config();
    let Start { ws, program, token } = start(engine, req, env, Agent::Copilot).await?;
    let mut messages = Vec::new();
    let found = discovered(engine, paths, &ws, &token.access_token, env.now, &mut messages).await;
    drop(token);
    // Sonnet, then Opus, then Haiku, then GPT (ucode `agents/copilot.py`, `default_model`).
    let mut models = claude_models_for(
        Agent::Copilot,
        config,
        &ws,
        found.as_ref(),
        &[Family::Sonnet, Family::Opus, Family::Haiku],
    );
    if let Some(gpt) = found.as_ref().and_then(|d| d.models.gpt.clone()) {
        models.push(gpt);
    }
    let base_path = match found.as_ref().map(|d| d.base_path.as_str()) {
        Some(b) if b.starts_with("/serving-endpoints") => COPILOT_SERVING_BASE_PATH,
        _ => COPILOT_BASE_PATH,
    };
    let key_command = helper_command(&env.lakepass, env.config_arg.as_deref(), &ws.name)?;
    let mcp = mcp_proxy_servers(engine, &ws, env, Agent::Copilot, &mut messages).await?;
    let mcp_file =
        paths.data_dir.join("launch").join("copilot").join(sanitize(&ws.name)).join("mcp-config.json");
    let cp = copilot_plan(
        &ws,
        base_path,
        models.first().map(String::as_str),
        &key_command,
        &mcp,
        &mcp_file,
        &req.args,
    );
    let mut files = Vec::new();
    if let Some(mcp_config) = &cp.mcp_config {
        let mut contents = serde_json::to_string_pretty(mcp_config)
            .map_err(|e| LaunchError::BadSettings { path: mcp_file.clone(), reason: e.to_string() })?;
        contents.push('\n');
        files.push(PlannedFile { path: mcp_file, contents, mode: 0o600, told: Vec::new() });
    }
    if req.write_settings {
        messages.push(
            "note: --write-settings writes nothing for Copilot CLI: its provider settings are environment \
             variables only (`copilot help providers`), set for this run."
                .into(),
        );
    }
    let mut cp_env = cp.env;
    pass_ca_on(paths, config, &ws, env, &mut cp_env, &mut files, &mut messages);
    let terminal = agent_terminal(req, config, paths, env, &ws, &cp_env)?;
    Ok(LaunchPlan {
        args: cp.args,
        env: cp_env,
        files,
        messages,
        terminal,
        ..LaunchPlan::of_agent(Agent::Copilot, &ws, program, &env.lakepass)
    })
}

/// The Claude models to offer `agent`: `[agent.<name>] model` first, then the workspace's
/// newest of each family in `order`; a workspace that lists none is said, and the fallback
/// names used (as for Claude Code).
fn claude_models_for(
    agent: Agent,
    config: &Config,
    ws: &Workspace,
    found: Option<&DiscoveredModels>,
    order: &[Family],
) -> Vec<String> {
    let mut models: Vec<String> =
        config.agent_model(agent.as_str(), &ws.name).map(String::from).into_iter().collect();
    let (gateway, _) = ClaudeGateway::resolve(config, &ws.name, found);
    let fallback = |f: &Family| match f {
        Family::Opus => gateway.opus_model.clone(),
        Family::Sonnet => gateway.sonnet_model.clone(),
        Family::Haiku => gateway.haiku_model.clone(),
    };
    let served = found.map(|d| &d.models).filter(|m| !m.is_empty());
    for f in order {
        let m = match served {
            Some(s) => s.get(*f).map(String::from),
            None => Some(fallback(f)),
        };
        if let Some(m) = m.filter(|m| !models.contains(m)) {
            models.push(m);
        }
    }
    models
}

/// Gemini CLI through the workspace's AI Gateway, by way of the engine's proxy (`gemini.rs`):
/// the model the workspace serves (or `[agent.gemini] model`), a settings overlay under the data
/// folder with the workspace's MCP servers through `lakepass mcp-proxy`, and the proxy grant
/// opened when the agent starts (`proxy.rs`), so no plan file holds its key. A sign-in problem
/// stops the plan here.
pub async fn plan_gemini(
    engine: &Engine,
    paths: &Paths,
    req: &LaunchRequest,
    env: &Surroundings,
) -> Result<LaunchPlan, LaunchError> {
    let config = engine.config();
    let Start { ws, program, token } = start(engine, req, env, Agent::Gemini).await?;
    let mut messages = Vec::new();
    let fallback = super::gemini::FALLBACK_GEMINI_MODEL;
    let model = match config.agent_model("gemini", &ws.name) {
        Some(m) => m.to_string(),
        None => match super::models::cached_listing(
            engine.http(),
            &paths.data_dir,
            &ws.name,
            &ws.host,
            &token.access_token,
            env.now,
        )
        .await
        {
            Ok(listed) => super::gemini::gemini_model(&listed.ids).unwrap_or_else(|| {
                messages.push(format!(
                    "warning: workspace `{}` lists no Gemini model; asking for {fallback} anyway, which it may \
                     not serve: set `model` under [agent.gemini] in {}",
                    ws.name,
                    paths.config.display()
                ));
                fallback.to_string()
            }),
            Err(why) => {
                messages.push(format!(
                    "warning: could not ask workspace `{}` which Gemini models it serves ({why}); asking for {fallback}",
                    ws.name
                ));
                fallback.to_string()
            }
        },
    };
    drop(token);
    let servers = mcp_proxy_servers(engine, &ws, env, Agent::Gemini, &mut messages).await?;
    let mcp: Vec<(String, Vec<String>)> = servers.into_iter().map(|(s, argv)| (s.name, argv)).collect();
    let overlay_home = paths.data_dir.join("launch").join("gemini").join(sanitize(&ws.name));
    let settings_path = super::gemini::settings_file(&overlay_home);
    let gemini = super::gemini::gemini_plan(&model, &overlay_home, &mcp, &req.args)?;
    let mut run_env = gemini.env;
    let mut contents = serde_json::to_string_pretty(&gemini.settings)
        .map_err(|e| LaunchError::BadSettings { path: settings_path.clone(), reason: e.to_string() })?;
    contents.push('\n');
    let mut files = vec![PlannedFile { path: settings_path, contents, mode: 0o600, told: vec![] }];
    pass_ca_on(paths, config, &ws, env, &mut run_env, &mut files, &mut messages);
    let terminal = agent_terminal(req, config, paths, env, &ws, &run_env)?;
    Ok(LaunchPlan {
        args: gemini.args,
        env: run_env,
        files,
        messages,
        terminal,
        proxy: Some(super::proxy::ProxyEnv {
            var: "GOOGLE_GEMINI_BASE_URL".into(),
            path: super::gemini::GEMINI_GATEWAY_PATH.into(),
        }),
        ..LaunchPlan::of_agent(Agent::Gemini, &ws, program, &env.lakepass)
    })
}

/// The workspace's managed MCP servers, each with its `lakepass mcp-proxy` argv, told.
async fn mcp_proxy_servers(
    engine: &Engine,
    ws: &Workspace,
    env: &Surroundings,
    agent: Agent,
    messages: &mut Vec<String>,
) -> Result<Vec<(lakepass_engine::mcp::McpServer, Vec<String>)>, LaunchError> {
    let mut mcp = Vec::new();
    for server in engine.mcp_servers(ws).await {
        let argv = mcp_proxy_argv(&env.lakepass, env.config_arg.as_deref(), &ws.name, &server)?;
        mcp.push((server, argv));
    }
    if !mcp.is_empty() {
        let names: Vec<&str> = mcp.iter().map(|(s, _)| s.name.as_str()).collect();
        messages.push(format!(
            "{} gets the managed MCP servers of `{}`: {} (each through `lakepass mcp-proxy`, with its own scoped token).",
            agent.title(),
            ws.name,
            names.join(", ")
        ));
    }
    Ok(mcp)
}

/// Pi through the workspace's Anthropic gateway, its key a command that asks Lakepass on every
/// request (`pi.rs`), in an overlay folder under the data folder (or, with `--write-settings`,
/// merged into the user's own Pi folder).
pub async fn plan_pi(
    engine: &Engine,
    paths: &Paths,
    req: &LaunchRequest,
    env: &Surroundings,
) -> Result<LaunchPlan, LaunchError> {
    let config = engine.config();
    let Start { ws, program, token } = start(engine, req, env, Agent::Pi).await?;
    let mut messages = Vec::new();
    let found = discovered(engine, paths, &ws, &token.access_token, env.now, &mut messages).await;
    drop(token);
    // The models Pi offers: the configured one first, then the workspace's newest Claude of each
    // family, Opus first (ucode's `default_model` order); the fallback names only when nothing
    // is known, as for Claude Code.
    let (gateway, _) = ClaudeGateway::resolve(config, &ws.name, found.as_ref());
    let served = found.as_ref().map(|d| &d.models);
    let mut models: Vec<String> = config.agent_model("pi", &ws.name).map(String::from).into_iter().collect();
    let known = [Family::Opus, Family::Sonnet, Family::Haiku]
        .map(|f| served.and_then(|s| s.get(f)).map(String::from));
    let fallback =
        [&gateway.opus_model, &gateway.sonnet_model, &gateway.haiku_model].map(|m| Some(m.clone()));
    let pick = if known.iter().any(Option::is_some) { known } else { fallback };
    for m in pick.into_iter().flatten() {
        if !models.contains(&m) {
            models.push(m);
        }
    }
    let helper = helper_command(&env.lakepass, env.config_arg.as_deref(), &ws.name)?;
    let user_dir = pi_user_dir(&env.home.clone().unwrap_or_default(), env.pi_agent_dir.as_deref());
    let overlay = paths.data_dir.join("launch").join("pi").join(sanitize(&ws.name)).join("agent");
    let (agent_dir, session_dir) = if req.write_settings {
        (user_dir.clone(), None)
    } else {
        let sessions = env.pi_session_dir.is_none().then(|| user_dir.join("sessions"));
        (overlay, sessions)
    };
    let gw = PiGateway {
        base_path: &gateway.base_path,
        models: &models,
        helper: &helper,
        agent_dir: &agent_dir,
        session_dir: session_dir.as_deref(),
    };
    let mut pi = pi_plan(&ws, &gw, &req.args);
    let mut files = Vec::new();
    for (name, ours) in [("models.json", &pi.models), ("settings.json", &pi.settings)] {
        let path = agent_dir.join(name);
        let (contents, mode, told) = if req.write_settings {
            let (existing, mode) = read_existing(&path)?;
            let text = merge_pi_json(&existing, ours)
                .map_err(|reason| LaunchError::BadSettings { path: path.clone(), reason })?;
            let told = format!(
                "Wrote the `{}` provider for `{}` into {} (other settings kept).",
                pi_provider_id(&ws.name),
                ws.name,
                path.display()
            );
            (text, mode.unwrap_or(0o600), vec![told])
        } else {
            let text = merge_pi_json("", ours)
                .map_err(|reason| LaunchError::BadSettings { path: path.clone(), reason })?;
            (text, 0o600, Vec::new())
        };
        files.push(PlannedFile { path, contents, mode, told });
    }
    if !req.write_settings {
        messages.push(format!(
            "note: Pi runs with Lakepass's settings for `{}` ({}), not your own {} (your sessions are kept); \
             use --write-settings to add the workspace to your own Pi settings instead.",
            ws.name,
            agent_dir.display(),
            user_dir.display()
        ));
    }
    pass_ca_on(paths, config, &ws, env, &mut pi.env, &mut files, &mut messages);
    let terminal = agent_terminal(req, config, paths, env, &ws, &pi.env)?;
    Ok(LaunchPlan {
        args: pi.args,
        env: pi.env,
        files,
        messages,
        terminal,
        ..LaunchPlan::of_agent(Agent::Pi, &ws, program, &env.lakepass)
    })
}

/// What every coding agent's plan starts from, but Claude Code's (whose program is asked its
/// version first).
struct Start {
    ws: Workspace,
    program: PathBuf,
    /// The workspace's current token, for discovery: dropped before the plan goes on.
    token: lakepass_wire::exchange::WorkspaceToken,
}

/// The workspace asked for, `agent`'s program and the workspace's token: a missing agent or a
/// sign-in problem stops the plan here, plainly, not as the agent retrying 401s for minutes.
async fn start(
    engine: &Engine,
    req: &LaunchRequest,
    env: &Surroundings,
    agent: Agent,
) -> Result<Start, LaunchError> {
    let config = engine.config();
    let ws = config.workspace(req.workspace.as_deref())?;
    let program = find_agent(agent, config, env)?;
    let token = engine.token(&ws).await.map_err(|e| sign_in(agent, &ws, e))?;
    Ok(Start { ws, program, token })
}

/// The agent's program, found on PATH (or where `[agent.<name>] path` says).
fn find_agent(agent: Agent, config: &Config, env: &Surroundings) -> Result<PathBuf, LaunchError> {
    let (wanted, configured) = agent.program(config).unwrap_or_default();
    find_program(&wanted, env.path.as_deref()).ok_or(LaunchError::AgentNotFound { agent, configured })
}

fn sign_in(agent: Agent, ws: &Workspace, error: lakepass_engine::engine::EngineError) -> LaunchError {
    LaunchError::SignIn { agent, workspace: ws.name.clone(), error: Box::new(error) }
}

/// What the workspace said it serves (cached a day, asked as Claude Code's launch asks it); a
/// failure is a warning, and `None`.
async fn discovered(
    engine: &Engine,
    paths: &Paths,
    ws: &Workspace,
    token: &lakepass_wire::Secret,
    now: i64,
    messages: &mut Vec<String>,
) -> Option<DiscoveredModels> {
    let configured_base = engine.config().claude.get(&ws.name).and_then(|c| c.base_path.as_deref());
    match cached_or_discover(engine.http(), &paths.data_dir, &ws.name, &ws.host, token, configured_base, now)
        .await
    {
        Ok(d) => Some(d),
        Err(e) => {
            messages
                .push(format!("warning: could not ask workspace `{}` which models it serves ({e})", ws.name));
            None
        }
    }
}

/// The new terminal a launch opens, when asked (`--new-terminal`): the workspace's variables
/// and the agent's CA variables in its environment.
fn agent_terminal(
    req: &LaunchRequest,
    config: &Config,
    paths: &Paths,
    env: &Surroundings,
    ws: &Workspace,
    agent_env: &EnvChanges,
) -> Result<Option<TerminalChoice>, LaunchError> {
    if !req.new_terminal {
        return Ok(None);
    }
    let mut term_env = workspace_env(ws, None);
    for var in super::CA_VARS {
        if let Some(v) = agent_env.get(var) {
            term_env.set(var, v);
        }
    }
    choose_terminal(config, paths, env, term_env).map(Some)
}

/// What to tell about the installed Claude Code: each thing of the launch it cannot carry out,
/// or that its version could not be read.
fn claude_code_notes(claude: &ClaudeCode) -> Vec<String> {
    if claude.version.is_none() {
        return vec![format!(
            "note: could not read Claude Code's version (`{} --version`); launching as if it were current",
            claude.program.display()
        )];
    }
    claude
        .shortfalls()
        .into_iter()
        .map(|s| format!("warning: {s}; update it with `claude update`."))
        .collect()
}

/// The Claude Code a launch would start (`claude_path`, else `claude` on `path`) and its
/// version, for `lakepass doctor`; `None` when it is not installed.
pub fn claude_code_of(
    config: &Config,
    path: Option<&std::ffi::OsStr>,
    data_dir: &Path,
) -> Option<ClaudeCode> {
    let (wanted, _) = Agent::Claude.program(config)?;
    find_program(&wanted, path).map(|p| installed_claude(&p, data_dir))
}

/// Claude Code's program, found on PATH (or where `claude_path` says).
fn find_claude(config: &Config, env: &Surroundings) -> Result<PathBuf, LaunchError> {
    let (wanted, configured) = Agent::Claude.program(config).unwrap_or_default();
    find_program(&wanted, env.path.as_deref()).ok_or(LaunchError::ClaudeNotFound { configured })
}

/// The gateway settings for `ws`: `[claude.<ws>]` first, then the models the workspace lists
/// (cached a day), and only when it cannot be asked the last-resort names, said in a warning.
async fn claude_gateway(
    engine: &Engine,
    paths: &Paths,
    ws: &Workspace,
    token: &lakepass_wire::Secret,
    now: i64,
    messages: &mut Vec<String>,
) -> ClaudeGateway {
    let config = engine.config();
    if ClaudeGateway::models_all_configured(config, &ws.name) {
        return ClaudeGateway::for_workspace(config, &ws.name);
    }
    let configured_base = config.claude.get(&ws.name).and_then(|c| c.base_path.as_deref());
    let found =
        cached_or_discover(engine.http(), &paths.data_dir, &ws.name, &ws.host, token, configured_base, now)
            .await;
    let (gateway, notes) = match &found {
        Ok(d) => ClaudeGateway::resolve(config, &ws.name, Some(d)),
        Err(e) => {
            let (gw, notes) = ClaudeGateway::resolve(config, &ws.name, None);
            messages.push(format!(
                "warning: could not ask workspace `{}` which Claude models it serves ({e}); pinned the \
                 fallback models {}, {} and {}, which it may not serve: if Claude Code answers \
                 \"does not exist\", set opus_model, sonnet_model and haiku_model under [claude.{}] in {}",
                ws.name,
                gw.opus_model,
                gw.sonnet_model,
                gw.haiku_model,
                ws.name,
                paths.config.display()
            ));
            (gw, notes)
        }
    };
    messages.extend(notes.into_iter().map(|n| format!("note: {n}.")));
    gateway
}

/// The MCP config for `ws`'s managed MCP `servers` (at the URLs the workspace serves,
/// [`lakepass_engine::engine::Engine::mcp_servers`]), each with its scope's helper; `None` when
/// the workspace has none.
pub fn launch_mcp_config(
    config: &Config,
    ws: &Workspace,
    servers: &[lakepass_engine::mcp::McpServer],
    lakepass: &Path,
    config_file: Option<&Path>,
) -> Result<Option<Value>, LaunchError> {
    if servers.is_empty() {
        return Ok(None);
    }
    let mut helpers = std::collections::BTreeMap::new();
    for scope in lakepass_engine::mcp::scopes(config, ws) {
        helpers.insert(scope, headers_helper_command(lakepass, config_file, &ws.name, scope)?);
    }
    Ok(Some(mcp_config(servers, |s| helpers[&s].clone())))
}

/// `~/.claude/settings.json` with ours merged in, keeping its mode (0600 when new).
fn settings_file(path: &Path, ours: &Value, ws: &Workspace) -> Result<PlannedFile, LaunchError> {
    let (existing, mode) = read_existing(path)?;
    let mode = mode.unwrap_or(0o600);
    let (contents, removed) = merge_settings(&existing, ours)
        .map_err(|reason| LaunchError::BadSettings { path: path.into(), reason })?;
    let mut told = vec![format!(
        "Wrote apiKeyHelper and the gateway settings for `{}` into {} (other settings kept).",
        ws.name,
        path.display()
    )];
    told.extend(
        removed
            .iter()
            .map(|var| format!("Removed env.{var} from it: it would win over the refreshing apiKeyHelper.")),
    );
    Ok(PlannedFile { path: path.into(), contents, mode, told })
}

/// The project's `.mcp.json` with our servers merged in. It holds no secret (only helper
/// commands), so a new one is 0644 like the project's other files.
fn mcp_json_file(path: &Path, ours: &Value, ws: &Workspace) -> Result<PlannedFile, LaunchError> {
    let (existing, _) = read_existing(path)?;
    let contents = merge_mcp_json(&existing, ours)
        .map_err(|reason| LaunchError::BadSettings { path: path.into(), reason })?;
    let told = vec![format!(
        "Wrote the managed MCP servers of `{}` into {} (other servers kept).",
        ws.name,
        path.display()
    )];
    Ok(PlannedFile { path: path.into(), contents, mode: 0o644, told })
}

/// A file's text and mode; an empty text when it does not exist.
fn read_existing(path: &Path) -> Result<(String, Option<u32>), LaunchError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, existing_mode(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((String::new(), None)),
        Err(source) => Err(LaunchError::Io { action: "read", path: path.into(), source }),
    }
}

/// Passes the workspace's configured CA on to a launched tool (see [`pass_on_ca`]); its files
/// join the plan. A CA file that cannot be read is told, and the launch goes on without it.
fn pass_ca_on(
    paths: &Paths,
    config: &Config,
    ws: &Workspace,
    env: &Surroundings,
    changes: &mut EnvChanges,
    files: &mut Vec<PlannedFile>,
    messages: &mut Vec<String>,
) {
    let cas = workspace_ca_files(config, &ws.name, env.home.as_deref());
    if cas.is_empty() {
        return;
    }
    match ca_files_to_write(&paths.data_dir, &ws.name, &cas) {
        Ok((ca, writes)) => {
            pass_on_ca(changes, &ca, |k| env.user_ca_vars.iter().any(|v| v == k));
            files.extend(writes.into_iter().map(|(path, contents)| PlannedFile {
                path,
                contents,
                mode: 0o600,
                told: vec![],
            }));
        }
        Err(e) => messages.push(format!(
            "warning: cannot pass the CA in `ca_file` on to the launched program ({e}); it may not \
             trust the workspace's certificate"
        )),
    }
}

/// The terminal to open, in the launch folder, with `term_env`.
fn choose_terminal(
    config: &Config,
    paths: &Paths,
    env: &Surroundings,
    term_env: EnvChanges,
) -> Result<TerminalChoice, LaunchError> {
    let dir = match &config.launch_dir {
        Some(d) => expand_home(d, env.home.as_deref()),
        None => env.cwd.clone(),
    };
    if !dir.is_dir() {
        return Err(LaunchError::NoLaunchDir { dir, config: paths.config.clone() });
    }
    let ctx = TerminalContext {
        configured: config.terminal.as_ref(),
        env_terminal: env.terminal.as_deref(),
        term_program: env.term_program.as_deref(),
        shell: env.shell.as_deref(),
    };
    let candidates = terminal_candidates(CURRENT_PLATFORM, &ctx);
    let (candidate, found) = candidates
        .iter()
        .find_map(|c| find_program(Path::new(&c.program), env.path.as_deref()).map(|p| (c, p)))
        .ok_or_else(|| LaunchError::NoTerminal {
            tried: candidates.iter().map(|c| c.program.clone()).collect(),
        })?;
    Ok(TerminalChoice {
        candidate: candidate.clone(),
        program: utf8(&found)?.to_string(),
        dir,
        env: term_env,
        shell: env.shell.clone(),
    })
}

/// A note when the live profile the environment names is not in the credentials file yet.
fn live_profile_note(paths: &Paths, ws: &Workspace) -> Option<String> {
    let name = live_profile_name(ws);
    let text = std::fs::read_to_string(&paths.databrickscfg).unwrap_or_default();
    (!matches!(lakepass_store::databrickscfg::read_profile(&text, &name), Ok(Some(_)))).then(|| {
        format!(
            "note: profile `{name}` is not in {} yet; Lakepass writes it while `lakepass daemon` or the \
             Lakepass app runs, and the Databricks tools need it",
            paths.databrickscfg.display()
        )
    })
}
