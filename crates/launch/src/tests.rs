//! The launchers' pure decisions, every platform's table on every platform.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::models::{DiscoveredModels, FamilyModels};
use super::*;
use lakepass_config::{Config, ConfigError, TerminalSetting};
use lakepass_engine::sink::sh_quote;
use lakepass_wire::secret::Secret;

const CONFIG: &str = r#"
[idp.corp]
issuer = "https://login.example.com"
client_id = "c"

[workspace.dev]
idp = "corp"
host = "https://adb-1.azuredatabricks.net"

[workspace.old]
idp = "corp"
host = "https://adb-2.azuredatabricks.net"
profile = "legacy"

[claude.old]
base_path = "/serving-endpoints/anthropic"
sonnet_model = "databricks-claude-sonnet-4"
headers = ["x-a: 1", "x-b: two words"]
helper_ttl_ms = 600000
"#;

fn config() -> Config {
    Config::parse(CONFIG, Path::new("config.toml")).unwrap()
}

fn plan(ws: &str, args: &[&str]) -> ClaudePlan {
    let c = config();
    let w = c.workspace(Some(ws)).unwrap();
    let gw = ClaudeGateway::for_workspace(&c, ws);
    let helper = helper_command(Path::new("/opt/lake pass/lakepass"), None, ws).unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    claude_plan(&w, &gw, &helper, 900_000, &args)
}

#[test]
fn claude_env_points_at_the_gateway_and_never_carries_a_credential() {
    let p = plan("dev", &["-p", "say pong"]);
    let env = &p.env;
    assert_eq!(env.get("ANTHROPIC_BASE_URL"), Some("https://adb-1.azuredatabricks.net/ai-gateway/anthropic"));
    assert_eq!(env.get("ANTHROPIC_DEFAULT_OPUS_MODEL"), Some("system.ai.claude-opus-4-5"));
    assert_eq!(env.get("ANTHROPIC_DEFAULT_SONNET_MODEL"), Some("system.ai.claude-sonnet-4-5"));
    assert_eq!(env.get("ANTHROPIC_DEFAULT_HAIKU_MODEL"), Some("system.ai.claude-haiku-4-5"));
    assert_eq!(env.get("ANTHROPIC_CUSTOM_HEADERS"), Some("x-databricks-use-coding-agent-mode: true"));
    assert_eq!(env.get("CLAUDE_CODE_API_KEY_HELPER_TTL_MS"), Some("900000"));
    assert_eq!(env.get("DATABRICKS_HOST"), Some("https://adb-1.azuredatabricks.net"));
    assert_eq!(env.get("DATABRICKS_CONFIG_PROFILE"), Some("dev-live"));
    for var in ["ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "DATABRICKS_TOKEN"] {
        assert!(env.get(var).is_none(), "{var} must not be set");
        assert!(env.remove.iter().any(|k| k == var), "{var} must be removed from the inherited env");
    }
    assert!(env.secrets.is_empty());
    assert!(!env.set.iter().any(|(k, _)| k == "ANTHROPIC_MODEL"), "raw Databricks ids are rejected there");
    // The settings ride in argv (no secret in them), then the user's arguments, untouched.
    assert_eq!(p.args[0], "--settings");
    assert_eq!(serde_json::from_str::<Value>(&p.args[1]).unwrap(), p.settings);
    assert_eq!(&p.args[2..], ["-p", "say pong"]);
}

#[test]
fn settings_json_names_the_helper_and_repeats_the_gateway_env() {
    let p = plan("dev", &[]);
    assert_eq!(p.settings["apiKeyHelper"], "'/opt/lake pass/lakepass' token --raw --workspace 'dev'");
    let env = p.settings["env"].as_object().unwrap();
    assert_eq!(env["ANTHROPIC_BASE_URL"], "https://adb-1.azuredatabricks.net/ai-gateway/anthropic");
    assert_eq!(env["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"], "900000");
    assert!(!env.contains_key("ANTHROPIC_AUTH_TOKEN") && !env.contains_key("DATABRICKS_HOST"));
    // The gateway rejects Claude Code's WebSearch server tool: a bare deny rule removes it.
    assert_eq!(p.settings["permissions"], json!({"deny": ["WebSearch"]}));
    assert_eq!(p.settings.as_object().unwrap().len(), 3);
}

#[test]
fn claude_code_settings_follow_its_version_as_ucode_sets_them() {
    use super::claude::with_1m_suffix;
    assert_eq!(with_1m_suffix("system.ai.claude-opus-4-6"), "system.ai.claude-opus-4-6[1m]");
    assert_eq!(with_1m_suffix("databricks-claude-sonnet-4-10"), "databricks-claude-sonnet-4-10[1m]");
    assert_eq!(with_1m_suffix("system.ai.claude-sonnet-4-5"), "system.ai.claude-sonnet-4-5");
    assert_eq!(with_1m_suffix("system.ai.claude-haiku-4-6"), "system.ai.claude-haiku-4-6", "Haiku: no");
    assert_eq!(with_1m_suffix("system.ai.claude-opus-5"), "system.ai.claude-opus-5", "1M by default");
    assert_eq!(with_1m_suffix("x-opus[1m]"), "x-opus[1m]");

    let c = Config::parse(
        &format!("{CONFIG}\n[claude.dev]\nopus_model = \"my-claude-opus-4-7\"\n"),
        Path::new("config.toml"),
    )
    .unwrap();
    let d = discovered(
        "/ai-gateway/anthropic",
        Some("system.ai.claude-opus-4-6"),
        Some("system.ai.claude-sonnet-4-6"),
        Some("system.ai.claude-haiku-4-5"),
    );
    let at = |v: Option<ClaudeVersion>| ClaudeCode { program: "claude".into(), version: v };
    let (gw, _) = ClaudeGateway::resolve(&c, "dev", Some(&d));
    let current = gw.clone().for_claude_code(&c, "dev", &at(Some(ClaudeVersion(2, 1, 330))));
    assert_eq!(current.opus_model, "my-claude-opus-4-7", "a configured model is used as written");
    assert_eq!(current.sonnet_model, "system.ai.claude-sonnet-4-6[1m]");
    assert_eq!(current.haiku_model, "system.ai.claude-haiku-4-5");
    let w = c.workspace(Some("dev")).unwrap();
    let env: std::collections::BTreeMap<String, String> = current.env(&w, 1000).into_iter().collect();
    assert_eq!(env.get("ENABLE_TOOL_SEARCH").map(String::as_str), Some("1"));
    assert_eq!(env.get("ENABLE_PROMPT_CACHING_1H").map(String::as_str), Some("1"));
    assert!(!env.contains_key("CLAUDE_CODE_USE_GATEWAY"), "it would want ANTHROPIC_AUTH_TOKEN");
    // An older Claude Code gets only what it understands.
    let old = gw.clone().for_claude_code(&c, "dev", &at(Some(ClaudeVersion(2, 1, 100))));
    assert_eq!(old.sonnet_model, "system.ai.claude-sonnet-4-6");
    assert_eq!(old.client_env, [("ENABLE_TOOL_SEARCH".to_string(), "1".to_string())]);
    // Serving endpoints: no suffix (ucode adds it on AI Gateway only).
    let d = discovered("/serving-endpoints/anthropic", None, Some("databricks-claude-sonnet-4-6"), None);
    let (gw, _) = ClaudeGateway::resolve(&config(), "dev", Some(&d));
    let gw = gw.for_claude_code(&config(), "dev", &at(None));
    assert_eq!(gw.sonnet_model, "databricks-claude-sonnet-4-6");
}

fn discovered(
    base_path: &str,
    opus: Option<&str>,
    sonnet: Option<&str>,
    haiku: Option<&str>,
) -> DiscoveredModels {
    DiscoveredModels {
        host: "https://adb-1.azuredatabricks.net".into(),
        asked_base_path: None,
        base_path: base_path.into(),
        models: FamilyModels {
            opus: opus.map(String::from),
            sonnet: sonnet.map(String::from),
            haiku: haiku.map(String::from),
            gpt: None,
        },
        asked_at: 0,
    }
}

#[test]
fn discovered_models_are_pinned_and_configured_ones_win() {
    let c = config();
    let d = discovered(
        "/ai-gateway/anthropic",
        Some("databricks-claude-opus-4-6"),
        Some("databricks-claude-sonnet-4-6"),
        Some("databricks-claude-haiku-4-5"),
    );
    let (gw, notes) = ClaudeGateway::resolve(&c, "dev", Some(&d));
    assert_eq!(
        (gw.opus_model.as_str(), gw.sonnet_model.as_str(), gw.haiku_model.as_str()),
        ("databricks-claude-opus-4-6", "databricks-claude-sonnet-4-6", "databricks-claude-haiku-4-5")
    );
    assert_eq!(gw.base_path, "/ai-gateway/anthropic");
    assert!(notes.is_empty());
    // `old` configures its base path and its Sonnet: both win over what the workspace lists.
    let d = discovered("/ai-gateway/anthropic", Some("databricks-claude-opus-4-6"), Some("x-sonnet"), None);
    let (gw, notes) = ClaudeGateway::resolve(&c, "old", Some(&d));
    assert_eq!(gw.base_path, "/serving-endpoints/anthropic");
    assert_eq!(gw.sonnet_model, "databricks-claude-sonnet-4");
    assert_eq!(gw.opus_model, "databricks-claude-opus-4-6");
    // No Haiku served: Haiku's work goes to the nearest family that is, and the user is told.
    assert_eq!(gw.haiku_model, "x-sonnet");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("no haiku model") && notes[0].contains("x-sonnet"), "{notes:?}");
    // A workspace without AI Gateway: its serving-endpoints path is taken.
    let d = discovered("/serving-endpoints/anthropic", None, Some("databricks-claude-sonnet-4-5"), None);
    let (gw, _) = ClaudeGateway::resolve(&c, "dev", Some(&d));
    assert_eq!(gw.base_path, "/serving-endpoints/anthropic");
    assert_eq!(gw.opus_model, "databricks-claude-sonnet-4-5");
    assert!(
        !ClaudeGateway::models_all_configured(&c, "old") && !ClaudeGateway::models_all_configured(&c, "dev")
    );
}

#[test]
fn per_workspace_gateway_settings_and_defaults_that_follow_the_base_path() {
    let p = plan("old", &[]);
    assert_eq!(
        p.env.get("ANTHROPIC_BASE_URL"),
        Some("https://adb-2.azuredatabricks.net/serving-endpoints/anthropic")
    );
    assert_eq!(p.env.get("ANTHROPIC_DEFAULT_OPUS_MODEL"), Some("databricks-claude-opus-4-5"));
    assert_eq!(p.env.get("ANTHROPIC_DEFAULT_SONNET_MODEL"), Some("databricks-claude-sonnet-4"));
    assert_eq!(p.env.get("ANTHROPIC_DEFAULT_HAIKU_MODEL"), Some("databricks-claude-haiku-4-5"));
    // Newline-separated `name: value` lines, as Claude Code parses them.
    assert_eq!(p.env.get("ANTHROPIC_CUSTOM_HEADERS"), Some("x-a: 1\nx-b: two words"));
    assert_eq!(p.env.get("DATABRICKS_CONFIG_PROFILE"), Some("legacy-live"));
    let gw = ClaudeGateway::for_workspace(&config(), "old");
    assert_eq!(gw.helper_ttl_ms, 600_000);
}

#[test]
fn helper_ttl_stays_well_inside_the_token_lifetime() {
    assert_eq!(effective_ttl_ms(900_000, 3600), 900_000);
    assert_eq!(effective_ttl_ms(900_000, 1200), 600_000, "half of a 20-minute token");
    assert_eq!(effective_ttl_ms(900_000, 5), 2_500);
    assert_eq!(effective_ttl_ms(900_000, 0), 1_000, "never zero: Claude Code would run it constantly");
}

#[test]
fn helper_command_survives_spaces_quotes_and_dollars_in_paths() {
    let cmd = helper_command(
        Path::new("/Users/o'brien/my apps/$HOME/lakepass"),
        Some(Path::new("/tmp/it's a \"config\".toml")),
        "dev",
    )
    .unwrap();
    assert_eq!(
        cmd,
        r#"'/Users/o'\''brien/my apps/$HOME/lakepass' --config '/tmp/it'\''s a "config".toml' token --raw --workspace 'dev'"#
    );
    assert_eq!(sh_quote(""), "''");
    assert_eq!(sh_quote("a'b"), r"'a'\''b'");
}

#[cfg(unix)]
#[test]
fn helper_command_is_read_back_by_a_real_shell_word_for_word() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("o'brien $x `y` \"z\"");
    std::fs::create_dir(&odd).unwrap();
    let prog = odd.join("lake pass");
    std::fs::write(&prog, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = odd.join("c'fg.toml");
    let cmd = helper_command(&prog, Some(&cfg), "my-ws").unwrap();
    let out = std::process::Command::new("/bin/sh").arg("-c").arg(&cmd).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let words: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
    assert_eq!(words, ["--config", cfg.to_str().unwrap(), "token", "--raw", "--workspace", "my-ws"]);
}

#[test]
fn merging_settings_keeps_everything_else_and_drops_winning_credentials() {
    let ours = plan("dev", &[]).settings;
    let existing = r#"{
  "model": "opus",
  "permissions": {"allow": ["Bash(ls:*)"]},
  "apiKeyHelper": "old-helper",
  "env": {"FOO": "bar", "ANTHROPIC_AUTH_TOKEN": "static", "ANTHROPIC_BASE_URL": "https://old"}
}"#;
    let (text, removed) = merge_settings(existing, &ours).unwrap();
    assert_eq!(removed, ["ANTHROPIC_AUTH_TOKEN"]);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["model"], "opus");
    assert_eq!(v["permissions"], json!({"allow": ["Bash(ls:*)"], "deny": ["WebSearch"]}));
    assert_eq!(v["apiKeyHelper"], ours["apiKeyHelper"]);
    assert_eq!(v["env"]["FOO"], "bar");
    assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], ours["env"]["ANTHROPIC_BASE_URL"]);
    assert!(v["env"].get("ANTHROPIC_AUTH_TOKEN").is_none());
    assert!(text.ends_with("}\n"));
    // Idempotent; an empty or missing file is an empty object.
    assert_eq!(merge_settings(&text, &ours).unwrap(), (text.clone(), vec![]));
    let (fresh, _) = merge_settings("  ", &ours).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&fresh).unwrap(), ours);
    // Never overwrite what cannot be merged losslessly.
    assert!(merge_settings("[1]", &ours).unwrap_err().contains("not an object"));
    assert!(merge_settings("{\"env\": 3}", &ours).unwrap_err().contains("`env`"));
    assert!(merge_settings("{\"permissions\": []}", &ours).unwrap_err().contains("`permissions`"));
    assert!(
        merge_settings("{\"permissions\": {\"deny\": 1}}", &ours).unwrap_err().contains("`permissions.deny`")
    );
    // The user's own deny rules stay, ours is added once.
    let (text2, _) =
        merge_settings("{\"permissions\": {\"deny\": [\"Bash(rm:*)\", \"WebSearch\"]}}", &ours).unwrap();
    let v2: Value = serde_json::from_str(&text2).unwrap();
    assert_eq!(v2["permissions"]["deny"], json!(["Bash(rm:*)", "WebSearch"]));
    assert!(merge_settings("{oops", &ours).unwrap_err().contains("not valid JSON"));
    assert_eq!(settings_conflicts(existing), ["ANTHROPIC_AUTH_TOKEN"]);
    assert!(settings_conflicts(&text).is_empty() && settings_conflicts("not json").is_empty());
}

#[test]
fn writing_settings_is_atomic_and_keeps_the_file_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = claude_settings_path(dir.path(), None);
    assert_eq!(path, dir.path().join(".claude/settings.json"));
    assert_eq!(claude_settings_path(dir.path(), Some(Path::new("/x"))), Path::new("/x/settings.json"));
    let ours = plan("dev", &[]).settings;
    assert!(write_claude_settings(&path, &ours).unwrap().is_empty());
    std::fs::write(&path, "{\"theme\": \"dark\", \"env\": {\"ANTHROPIC_API_KEY\": \"k\"}}").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    assert_eq!(write_claude_settings(&path, &ours).unwrap(), ["ANTHROPIC_API_KEY"]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["theme"], "dark");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
    }
    std::fs::write(&path, "[]").unwrap();
    let err = write_claude_settings(&path, &ours).unwrap_err();
    assert!(matches!(err, LaunchError::BadSettings { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[]", "left as it was");
}

#[test]
fn workspace_env_and_export_lines() {
    let c = config();
    let ws = c.workspace(Some("dev")).unwrap();
    let env = workspace_env(&ws, None);
    assert_eq!(
        export_lines(&env),
        "unset DATABRICKS_TOKEN\nexport DATABRICKS_HOST='https://adb-1.azuredatabricks.net'\n\
         export DATABRICKS_CONFIG_PROFILE='dev-live'\n"
    );
    let token = Secret::new("dapi-s3cret'x");
    let with = workspace_env(&ws, Some(&token));
    assert_eq!(
        export_lines(&with),
        "unset DATABRICKS_CONFIG_PROFILE\nexport DATABRICKS_HOST='https://adb-1.azuredatabricks.net'\n\
         export DATABRICKS_TOKEN='dapi-s3cret'\\''x'\n"
    );
    assert!(!format!("{with:?}").contains("s3cret"), "Debug never shows the token");
    assert_eq!(with.removed_present(|k| k == "DATABRICKS_CONFIG_PROFILE"), ["DATABRICKS_CONFIG_PROFILE"]);
    assert!(env.removed_present(|_| false).is_empty());
}

#[cfg(unix)]
#[test]
fn env_changes_apply_to_a_command() {
    let c = config();
    let env = workspace_env(&c.workspace(Some("dev")).unwrap(), None);
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "echo \"${DATABRICKS_TOKEN-unset}|$DATABRICKS_CONFIG_PROFILE\""])
        .env("DATABRICKS_TOKEN", "stale");
    env.apply(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "unset|dev-live\n");
}

fn ctx<'a>(configured: Option<&'a TerminalSetting>, env_terminal: Option<&'a str>) -> TerminalContext<'a> {
    TerminalContext { configured, env_terminal, term_program: None, shell: Some("/bin/zsh") }
}

fn programs(c: &[TerminalCandidate]) -> Vec<&str> {
    c.iter().map(|c| c.program.as_str()).collect()
}

#[test]
fn terminal_candidates_per_platform() {
    let none = ctx(None, None);
    assert_eq!(
        programs(&terminal_candidates(Platform::Linux, &none)),
        ["x-terminal-emulator", "gnome-terminal", "konsole", "alacritty", "kitty", "wezterm", "xterm"]
    );
    let with_env = ctx(None, Some("/usr/bin/kitty"));
    let linux = terminal_candidates(Platform::Linux, &with_env);
    assert_eq!(linux[0], TerminalCandidate { program: "/usr/bin/kitty".into(), kind: TerminalKind::Kitty });
    assert_eq!(linux.len(), 8);
    let mac = terminal_candidates(Platform::MacOs, &none);
    assert_eq!(mac, [TerminalCandidate { program: "open".into(), kind: TerminalKind::MacTerminal }]);
    let in_iterm = TerminalContext { term_program: Some("iTerm.app"), ..none };
    let kinds: Vec<_> = terminal_candidates(Platform::MacOs, &in_iterm).into_iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [TerminalKind::ITerm, TerminalKind::MacTerminal]);
    let win = terminal_candidates(Platform::Windows, &none);
    assert_eq!(programs(&win), ["wt", "cmd"]);
    assert_eq!(win[0].kind, TerminalKind::WindowsTerminal);
    assert_eq!(win[1].kind, TerminalKind::NewConsole);
    // A configured terminal is the only candidate: missing is an error, not a surprise.
    let konsole = TerminalSetting::Program("konsole".into());
    assert_eq!(
        terminal_candidates(Platform::Linux, &ctx(Some(&konsole), Some("xterm"))),
        [TerminalCandidate { program: "konsole".into(), kind: TerminalKind::Konsole }]
    );
    let iterm = TerminalSetting::Program("iTerm".into());
    assert_eq!(terminal_candidates(Platform::MacOs, &ctx(Some(&iterm), None))[0].kind, TerminalKind::ITerm);
    let exact = TerminalSetting::Command(vec!["foot".into(), "--hold".into()]);
    assert_eq!(
        terminal_candidates(Platform::Linux, &ctx(Some(&exact), None)),
        [TerminalCandidate { program: "foot".into(), kind: TerminalKind::Exact(vec!["--hold".into()]) }]
    );
    let wt_exe = TerminalSetting::Program(r"C:\Users\me\AppData\Local\Microsoft\WindowsApps\wt.exe".into());
    assert_eq!(
        terminal_candidates(Platform::Windows, &ctx(Some(&wt_exe), None))[0].kind,
        TerminalKind::WindowsTerminal
    );
}

fn argv(kind: TerminalKind, command: Option<&[&str]>) -> Vec<String> {
    let c = ctx(None, None);
    let cand = TerminalCandidate { program: "t".into(), kind };
    let cmd: Option<Vec<String>> = command.map(|c| c.iter().map(|s| s.to_string()).collect());
    let inv = terminal_invocation(
        &cand,
        "/bin/t",
        &c,
        Path::new("/home/ada/my src"),
        cmd.as_deref(),
        &EnvChanges::default(),
        Path::new("/d/x.command"),
    );
    assert_eq!(inv.program, "/bin/t");
    inv.args
}

#[test]
fn terminal_argv_for_every_kind() {
    let run: &[&str] = &["/opt/lakepass", "launch", "claude", "--workspace", "dev", "--", "-p", "a;b"];
    let tail = |flag: &[&str]| -> Vec<String> { flag.iter().chain(run).map(|s| s.to_string()).collect() };
    let cases: Vec<(TerminalKind, Vec<&str>, Vec<String>)> = vec![
        (TerminalKind::DashE, vec![], tail(&["-e"])),
        (
            TerminalKind::GnomeTerminal,
            vec!["--working-directory=/home/ada/my src"],
            tail(&["--working-directory=/home/ada/my src", "--"]),
        ),
        (
            TerminalKind::Konsole,
            vec!["--workdir", "/home/ada/my src"],
            tail(&["--workdir", "/home/ada/my src", "-e"]),
        ),
        (
            TerminalKind::Alacritty,
            vec!["--working-directory", "/home/ada/my src"],
            tail(&["--working-directory", "/home/ada/my src", "-e"]),
        ),
        (
            TerminalKind::Kitty,
            vec!["--directory", "/home/ada/my src"],
            tail(&["--directory", "/home/ada/my src"]),
        ),
        (
            TerminalKind::Wezterm,
            vec!["start", "--cwd", "/home/ada/my src"],
            tail(&["start", "--cwd", "/home/ada/my src", "--"]),
        ),
        (TerminalKind::Exact(vec!["--hold".into()]), vec!["--hold", "/bin/zsh"], tail(&["--hold"])),
    ];
    for (kind, bare, with_cmd) in cases {
        assert_eq!(argv(kind.clone(), None), bare, "{kind:?} with no command");
        assert_eq!(argv(kind.clone(), Some(run)), with_cmd, "{kind:?} with a command");
    }
    // Windows' fallback runs the command itself in a new console: no cmd.exe parses a folder
    // named `x&calc` or an argument with `&` (the review's finding 9).
    let c = ctx(None, None);
    let cand = TerminalCandidate { program: "cmd".into(), kind: TerminalKind::NewConsole };
    let hostile: Vec<String> = ["claude", "--settings", "a&calc", "|", "%PATH%"].map(String::from).to_vec();
    let inv = terminal_invocation(
        &cand,
        "cmd",
        &c,
        Path::new(r"C:\x&calc"),
        Some(&hostile),
        &EnvChanges::default(),
        Path::new("/d/x.command"),
    );
    assert_eq!((inv.program.as_str(), inv.new_console), ("claude", true));
    assert_eq!(inv.args, &hostile[1..], "the words are the program's own argv, untouched");
    assert!(
        !inv.args.iter().any(|a| a.contains("calc") && a.contains(r"C:\")),
        "the folder is not an argument"
    );
    let bare = terminal_invocation(
        &cand,
        "cmd",
        &c,
        Path::new("C:\\"),
        None,
        &EnvChanges::default(),
        Path::new("/x"),
    );
    assert_eq!((bare.program.as_str(), bare.args.len()), ("cmd.exe", 0));
    // Windows Terminal splits at `;` unless escaped.
    let wt = argv(TerminalKind::WindowsTerminal, Some(run));
    assert_eq!(wt[..2], ["-d", "/home/ada/my src"]);
    assert_eq!(wt.last().unwrap(), "a\\;b");
    assert_eq!(argv(TerminalKind::WindowsTerminal, None), ["-d", "/home/ada/my src"]);
}

#[test]
fn macos_terminals_get_a_self_deleting_script_without_secrets() {
    let c = config();
    let mut env = workspace_env(&c.workspace(Some("dev")).unwrap(), None);
    env.secrets.push(("DATABRICKS_TOKEN".into(), Secret::new("dapi-never-in-a-file")));
    let cand = TerminalCandidate { program: "open".into(), kind: TerminalKind::ITerm };
    let cmd = vec!["/Apps/lake pass".to_string(), "launch".into()];
    let script_path = PathBuf::from("/data/launch/t 1.command");
    let inv = terminal_invocation(
        &cand,
        "/usr/bin/open",
        &ctx(None, None),
        Path::new("/w"),
        Some(&cmd),
        &env,
        &script_path,
    );
    assert_eq!(inv.args, ["-a", "iTerm", "/data/launch/t 1.command"]);
    let script = inv.script.unwrap();
    assert_eq!(
        script,
        "#!/bin/sh\n# Written by Lakepass for one terminal launch; it holds no secrets.\n\
         rm -f -- '/data/launch/t 1.command'\ncd -- '/w' || exit 1\nunset DATABRICKS_TOKEN\n\
         export DATABRICKS_HOST='https://adb-1.azuredatabricks.net'\nexport DATABRICKS_CONFIG_PROFILE='dev-live'\n\
         exec '/Apps/lake pass' 'launch'\n"
    );
    let mac = TerminalCandidate { program: "open".into(), kind: TerminalKind::MacTerminal };
    let bare = terminal_invocation(
        &mac,
        "/usr/bin/open",
        &ctx(None, None),
        Path::new("/w"),
        None,
        &env,
        &script_path,
    );
    assert_eq!(bare.args[1], "Terminal");
    assert!(bare.script.unwrap().ends_with("exec \"${SHELL:-/bin/zsh}\" -l\n"));
}

#[test]
fn finding_programs_and_folders() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let exe = bin.join(if CURRENT_PLATFORM == Platform::Windows { "claude.exe" } else { "claude" });
    std::fs::write(&exe, "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let plain = bin.join("not-executable");
        std::fs::write(&plain, "").unwrap();
        assert_eq!(find_program(Path::new("not-executable"), Some(bin.as_os_str())), None);
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = std::env::join_paths([dir.path().join("nope"), bin.clone()]).unwrap();
    assert_eq!(find_program(Path::new("claude"), Some(&path)), Some(exe.clone()));
    assert_eq!(find_program(Path::new("claude"), None), None);
    assert_eq!(find_program(&exe, None), Some(exe.clone()), "a path is checked as is");
    assert_eq!(find_program(&bin.join("missing"), Some(&path)), None);
    assert_eq!(expand_home("~/src", Some(Path::new("/home/ada"))), Path::new("/home/ada/src"));
    assert_eq!(expand_home("~", Some(Path::new("/home/ada"))), Path::new("/home/ada"));
    assert_eq!(expand_home("~bob/x", Some(Path::new("/home/ada"))), Path::new("~bob/x"));
    assert_eq!(expand_home("/abs", None), Path::new("/abs"));
}

#[test]
fn launch_errors_say_what_to_do() {
    let missing = LaunchError::ClaudeNotFound { configured: None }.to_string();
    assert!(missing.contains("npm install -g @anthropic-ai/claude-code"), "{missing}");
    let wrong = LaunchError::ClaudeNotFound { configured: Some("/opt/claude".into()) }.to_string();
    assert!(wrong.contains("/opt/claude") && wrong.contains("claude_path"), "{wrong}");
    let none = LaunchError::NoTerminal { tried: vec!["kitty".into(), "xterm".into()] }.to_string();
    assert!(none.contains("kitty, xterm") && none.contains("terminal ="), "{none}");
}

fn invalid(extra: &str) -> (Option<usize>, String, String) {
    match Config::parse(&format!("{CONFIG}{extra}"), Path::new("config.toml")) {
        Err(e @ ConfigError::Invalid { .. }) => {
            let msg = e.to_string();
            let ConfigError::Invalid { line, field, .. } = e else { unreachable!() };
            (line, field, msg)
        }
        other => panic!("expected Invalid for {extra:?}, got {other:?}"),
    }
}

#[test]
fn launcher_config_is_validated_with_line_and_field() {
    let base_lines = CONFIG.lines().count();
    let checks = [
        ("[claude.nope]\n", "claude.nope", "not defined"),
        ("[claude.dev]\nbase_path = \"ai-gateway/anthropic\"\n", "claude.dev.base_path", "leading `/`"),
        ("[claude.dev]\nbase_path = \"/ai-gateway/anthropic/\"\n", "claude.dev.base_path", "no trailing"),
        ("[claude.dev]\nheaders = [\"no colon\"]\n", "claude.dev.headers", "name: value"),
        ("[claude.dev]\nheaders = [\"x-a: 1\\nx-b: 2\"]\n", "claude.dev.headers", "name: value"),
        ("[claude.dev]\nhelper_ttl_ms = 3600000\n", "claude.dev.helper_ttl_ms", "well inside"),
        ("[claude.dev]\nopus_model = \"\"\n", "claude.dev.opus_model", "empty"),
        ("[claude.dev]\nmodel = \"x\"\n", "claude.dev.model", "unknown field"),
    ];
    for (extra, field, needle) in checks {
        let (line, got_field, msg) = invalid(extra);
        assert_eq!(got_field, field, "{msg}");
        assert!(line.is_some_and(|l| l > base_lines), "{msg}");
        assert!(msg.contains(needle), "{msg}");
    }
    let top = |text: &str| {
        let full = format!("{text}\n{CONFIG}");
        match Config::parse(&full, Path::new("config.toml")) {
            Err(ConfigError::Invalid { line, field, .. }) => (line, field),
            other => panic!("{text}: {other:?}"),
        }
    };
    assert_eq!(top("terminal = \"\""), (Some(1), "terminal".into()));
    assert_eq!(top("terminal = []"), (Some(1), "terminal".into()));
    assert_eq!(top("launch_dir = \" \""), (Some(1), "launch_dir".into()));
    assert_eq!(top("claude_path = \"\""), (Some(1), "claude_path".into()));
    let ok = format!(
        "claude_path = \"/opt/claude\"\nterminal = [\"wezterm\", \"start\", \"--\"]\nlaunch_dir = \"~/src\"\n{CONFIG}"
    );
    let c = Config::parse(&ok, Path::new("config.toml")).unwrap();
    assert_eq!(
        c.terminal,
        Some(TerminalSetting::Command(vec!["wezterm".into(), "start".into(), "--".into()]))
    );
    assert_eq!(c.claude_path.as_deref(), Some(Path::new("/opt/claude")));
}

#[test]
fn a_configured_ca_is_passed_on_where_the_user_has_not_chosen_one() {
    let home = Path::new("/home/u");
    let c = Config::parse(
        &format!(
            "ca_file = \"/etc/corp.pem\"\n{}",
            CONFIG.replacen("profile = \"legacy\"", "profile = \"legacy\"\nca_file = \"~/ws.pem\"", 1)
        ),
        Path::new("config.toml"),
    )
    .unwrap();
    assert_eq!(
        workspace_ca_files(&c, "old", Some(home)),
        [PathBuf::from("/etc/corp.pem"), home.join("ws.pem")]
    );
    assert_eq!(workspace_ca_files(&c, "dev", Some(home)), [PathBuf::from("/etc/corp.pem")]);
    assert!(workspace_ca_files(&config(), "dev", Some(home)).is_empty());

    let files = CaFiles { extra: "/x/extra.pem".into(), bundle: "/x/bundle.pem".into() };
    let mut env = EnvChanges::default();
    pass_on_ca(&mut env, &files, |k| k == "SSL_CERT_FILE");
    assert_eq!(env.get("NODE_EXTRA_CA_CERTS"), Some("/x/extra.pem"), "Node adds these to its own roots");
    assert_eq!(
        env.get("REQUESTS_CA_BUNDLE"),
        Some("/x/bundle.pem"),
        "requests replaces certifi: a full bundle"
    );
    assert_eq!(env.get("SSL_CERT_FILE"), None, "the user's own choice stays");
    assert!(env.remove.is_empty());
    assert_eq!(ca_bundle(Some("SYS\n\n"), &["A".into(), "B\n".into()]), "SYS\nA\nB\n");
}

#[test]
fn ca_files_for_a_launch_are_written_privately_and_bundle_the_system_roots() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.pem"), dir.path().join("b.pem"));
    std::fs::write(&a, "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n").unwrap();
    std::fs::write(&b, "-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n").unwrap();
    let data = dir.path().join("data");
    let one = write_ca_files(&data, "dev", std::slice::from_ref(&a)).unwrap();
    assert_eq!(one.extra, a, "one CA file is named as it is");
    let bundle = std::fs::read_to_string(&one.bundle).unwrap();
    assert!(bundle.ends_with("AAA\n-----END CERTIFICATE-----\n"), "{bundle}");
    let two = write_ca_files(&data, "dev", &[a.clone(), b.clone()]).unwrap();
    let extra = std::fs::read_to_string(&two.extra).unwrap();
    assert!(extra.contains("AAA") && extra.contains("BBB") && two.extra.starts_with(&data));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&two.bundle).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(write_ca_files(&data, "dev", &[dir.path().join("missing.pem")]).is_err());
}

fn fake_program(dir: &Path, name: &str, script: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    p
}

/// A config whose terminal is `term`, launching in `dir`, and surroundings naming `lakepass`.
fn terminal_setup(root: &Path, term: &Path) -> (Config, lakepass_store::Paths, Surroundings) {
    let text =
        format!("terminal = '''{}'''\nlaunch_dir = '''{}'''\n{CONFIG}", term.display(), root.display());
    let config = Config::parse(&text, Path::new("config.toml")).unwrap();
    let paths = lakepass_store::Paths::under(root);
    let env = Surroundings {
        lakepass: PathBuf::from("/opt/lake pass/lakepass"),
        cwd: root.to_path_buf(),
        shell: Some("/bin/sh".into()),
        ..Default::default()
    };
    (config, paths, env)
}

#[test]
fn a_terminal_plan_is_made_once_with_its_window_folder_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let term = fake_program(dir.path(), "xterm", "exit 0");
    let (config, paths, env) = terminal_setup(dir.path(), &term);
    let req = LaunchRequest { workspace: Some("old".into()), new_terminal: true, ..Default::default() };
    let p = plan_terminal(&config, &paths, &req, &env).unwrap();
    assert_eq!((p.agent, p.workspace.as_str(), p.program.as_ref()), (Agent::Terminal, "old", None));
    assert_eq!(p.env.get("DATABRICKS_CONFIG_PROFILE"), Some("legacy-live"));
    assert!(p.env.secrets.is_empty() && p.files.is_empty());
    let t = p.terminal.as_ref().unwrap();
    assert_eq!((t.program.as_str(), t.dir.as_path()), (term.to_str().unwrap(), dir.path()));
    assert_eq!(t.env, p.env, "the terminal itself carries the workspace's environment");
    assert!(p.messages[0].starts_with("note: profile `legacy-live` is not in"), "{:?}", p.messages);
    // The terminal agent runs the user's shell: no plan file, no `lakepass` inside.
    assert_eq!(p.terminal_command(Path::new("/x")), None);

    let gone = format!("launch_dir = '/nowhere/at/all'\n{CONFIG}");
    let config = Config::parse(&gone, Path::new("config.toml")).unwrap();
    let e = plan_terminal(&config, &paths, &req, &env).unwrap_err();
    assert!(
        matches!(e, LaunchError::NoLaunchDir { .. }) && e.kind() == lakepass_engine::ErrorKind::Config,
        "{e}"
    );
    let unknown = LaunchRequest { workspace: Some("nope".into()), ..req };
    assert_eq!(
        plan_terminal(&config, &paths, &unknown, &env).unwrap_err().kind(),
        lakepass_engine::ErrorKind::Config
    );
}

fn claude_launch_plan(root: &Path, term: Option<&Path>) -> LaunchPlan {
    let (config, paths, env) = terminal_setup(root, term.unwrap_or(Path::new("xterm")));
    let p = plan("dev", &["-p", "say 'pong'"]);
    let terminal = term.map(|t| {
        let tp = plan_terminal(
            &config,
            &paths,
            &LaunchRequest { workspace: Some("dev".into()), ..Default::default() },
            &env,
        )
        .unwrap();
        assert_eq!(tp.terminal.as_ref().unwrap().program, t.to_str().unwrap());
        tp.terminal.unwrap()
    });
    LaunchPlan {
        workspace: "dev".into(),
        agent: Agent::Claude,
        program: Some(PathBuf::from("/usr/bin/claude")),
        args: p.args,
        env: p.env,
        files: vec![PlannedFile {
            path: root.join("written").join("settings.json"),
            contents: "{}\n".into(),
            mode: 0o600,
            told: vec!["Wrote it.".into()],
        }],
        dir: None,
        messages: vec!["note: a note.".into()],
        terminal,
        lakepass: env.lakepass,
        proxy: None,
    }
}

#[cfg(unix)]
#[test]
fn a_plan_file_is_private_read_once_and_refused_when_others_could_write_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let inside = claude_launch_plan(dir.path(), None).for_inside_terminal();
    assert!(
        inside.files.is_empty() && inside.terminal.is_none(),
        "written already; the terminal is where it runs"
    );
    let launch = dir.path().join("data").join("launch");
    let file = save_plan_file(&launch, &inside).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&launch).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(take_plan_file(&file).unwrap(), inside, "the same plan, not a new one");
    assert!(!file.exists(), "read once, then deleted");
    assert!(take_plan_file(&file).is_err(), "a second reading finds nothing");

    let file = save_plan_file(&launch, &inside).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o620)).unwrap();
    let e = take_plan_file(&file).unwrap_err();
    assert!(e.to_string().contains("0600") && e.kind() == lakepass_engine::ErrorKind::Launch, "{e}");

    // A private file in a folder others can enter could have been put there by them.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let placed = open.join("plan.json");
    std::fs::write(&placed, serde_json::to_vec(&inside).unwrap()).unwrap();
    std::fs::set_permissions(&placed, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = take_plan_file(&placed).unwrap_err();
    assert!(e.to_string().contains("folder is open to others"), "{e}");
    assert!(placed.exists(), "a refused plan is left where it was");

    // Another user's plan, in a private folder of theirs (root, as CI is, can make one here).
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    let foreign = theirs.join("plan.json");
    std::fs::write(&foreign, serde_json::to_vec(&inside).unwrap()).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o600)).unwrap();
    if std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).is_ok() {
        let e = take_plan_file(&foreign).unwrap_err();
        assert!(e.to_string().contains("another user"), "{e}");
    }

    let mut secret = inside.clone();
    secret.env.secrets.push(("DATABRICKS_TOKEN".into(), Secret::new("dapi-never-in-a-file-0123456789")));
    assert!(save_plan_file(&launch, &secret).is_err());
    for entry in std::fs::read_dir(&launch).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("dapi-never"), "no secret was written");
    }
}

#[cfg(unix)]
#[test]
fn the_executor_writes_the_files_then_opens_the_terminal_on_the_plan_file() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("argv");
    let term = fake_program(dir.path(), "xterm", &format!("printf '%s\\n' \"$@\" > '{}'", seen.display()));
    let p = claude_launch_plan(dir.path(), Some(&term));
    let paths = lakepass_store::Paths::under(dir.path());
    let mut told = Vec::new();
    let carried =
        carry_out(&p, &paths, std::time::Instant::now(), &mut |l| told.push(l.to_string())).unwrap();
    assert!(matches!(&carried, Carried::Opened(t) if t == term.to_str().unwrap()), "{carried:?}");
    assert_eq!(told, ["note: a note.", "Wrote it."]);
    assert_eq!(std::fs::read_to_string(&p.files[0].path).unwrap(), "{}\n");
    for _ in 0..200 {
        if seen.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let argv: Vec<String> = std::fs::read_to_string(&seen).unwrap().lines().map(String::from).collect();
    assert_eq!(argv[..4], ["-e", "/opt/lake pass/lakepass", "launch", "--plan"], "{argv:?}");
    let file = PathBuf::from(&argv[4]);
    assert!(file.starts_with(paths.data_dir.join("launch")), "{argv:?}");
    assert_eq!(take_plan_file(&file).unwrap(), p.for_inside_terminal());
    let audit = std::fs::read_to_string(paths.data_dir.join("audit.jsonl")).unwrap();
    assert!(audit.contains("claude in a new terminal"), "{audit}");
}

#[test]
fn the_user_is_told_which_inherited_variables_the_agent_will_not_see() {
    let dir = tempfile::tempdir().unwrap();
    let p = claude_launch_plan(dir.path(), None);
    let notes = removed_notes(&p, |k| k == "ANTHROPIC_API_KEY" || k == "DATABRICKS_TOKEN");
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("ANTHROPIC_API_KEY") && n.contains("apiKeyHelper")), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("DATABRICKS_TOKEN") && n.contains("`dev-live` profile")),
        "{notes:?}"
    );
    assert!(removed_notes(&p, |_| false).is_empty());
}
