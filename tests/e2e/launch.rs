//! The launchers as a user runs them: `launch terminal`, `launch claude` (in place and in a new
//! terminal), `exec` and `env`, with fake terminal and Claude programs that record exactly what
//! they were started with. The point of each check: the right command line and environment, and
//! never a token in either (a token in argv is readable by every user of the machine; one in an
//! environment goes stale in an hour, while these sessions live for days).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lakepass_tests::*;

/// What a recording fake program was started with.
#[derive(Debug)]
pub struct Recorded {
    /// Its arguments (without argv\[0]).
    pub argv: Vec<String>,
    /// Its whole environment, as the kernel handed it over (`/proc/<pid>/environ`).
    pub env: BTreeMap<String, String>,
    /// Its working folder.
    pub cwd: PathBuf,
    /// Its process id.
    pub pid: u32,
}

/// Writes an executable `/bin/sh` script at `path` that records its argv, environment, folder
/// and pid under `<out>.*`, then runs the shell code `then`.
/// The version the fake programs report for `--version`: a current Claude Code.
pub const CURRENT_CLAUDE: &str = "2.1.330";

pub fn recorder(path: &Path, out: &Path, then: &str) {
    let out = out.to_str().expect("utf-8 temp path").replace('\'', r"'\''");
    // `lakepass launch claude` asks `claude --version` first (cached): answer as a current
    // Claude Code, without recording it as the launch.
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = --version ] && [ $# = 1 ] && echo '{CURRENT_CLAUDE} (Claude Code)' && exit 0\nout='{out}'\n: > \"$out.argv.tmp\"\nfor a in \"$@\"; do printf '%s\\0' \"$a\" >> \"$out.argv.tmp\"; done\n\
         cat /proc/$$/environ > \"$out.env.tmp\"\npwd -P > \"$out.cwd.tmp\"\necho $$ > \"$out.pid.tmp\"\n\
         for f in argv env cwd pid; do mv \"$out.$f.tmp\" \"$out.$f\"; done\n{then}\n"
    );
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
    std::fs::write(path, script).expect("write the fake program");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Waits for the recorder writing to `out` to have run, and reads what it saw.
pub async fn recorded(out: &Path, what: &str) -> Recorded {
    let pid_file = PathBuf::from(format!("{}.pid", out.display()));
    wait_for(what, Duration::from_secs(20), || pid_file.is_file().then_some(())).await;
    let read = |ext: &str| std::fs::read(format!("{}.{ext}", out.display())).expect("recorded file");
    let split = |bytes: Vec<u8>| -> Vec<String> {
        bytes
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    };
    let env = split(read("env"))
        .into_iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    Recorded {
        argv: split(read("argv")),
        env,
        cwd: PathBuf::from(String::from_utf8_lossy(&read("cwd")).trim()),
        pid: String::from_utf8_lossy(&read("pid")).trim().parse().expect("pid"),
    }
}

/// The environment a child of `home`'s commands inherits, as a map.
pub fn base_env(home: &TempHome) -> BTreeMap<String, String> {
    home.env().into_iter().map(|(k, v)| (k, v.to_string_lossy().into_owned())).collect()
}

/// Panics (without printing it) if `secret` occurs in any argument or environment value.
#[track_caller]
pub fn assert_no_secret(rec: &Recorded, secret: &str, what: &str) {
    assert!(secret.len() >= 16, "a real token to look for");
    let in_argv = rec.argv.iter().any(|a| a.contains(secret));
    let in_env: Vec<&String> = rec.env.iter().filter(|(_, v)| v.contains(secret)).map(|(k, _)| k).collect();
    assert!(!in_argv, "{what}: a token is in argv: {:?}", redact(&rec.argv.join(" ")));
    assert!(in_env.is_empty(), "{what}: a token is in the environment, in {in_env:?}");
}

/// The canonical path of the binary under test (what `current_exe()` reports).
pub fn bin() -> String {
    std::fs::canonicalize(lakepass_bin()).expect("canonical lakepass path").to_string_lossy().into_owned()
}

/// A signed-in home against a fresh devstack, `extra` top-level config lines first.
pub async fn signed_in(extra: &str) -> (Devstack, TempHome) {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_config(&format!("{extra}\n{}", devstack_config(&ds)));
    home.login(&[]).await;
    (ds, home)
}

async fn token(home: &TempHome, ws: &str) -> String {
    let out = home.run(&["token", "--raw", "-w", ws]).await.success();
    out.stdout.trim().to_string()
}

fn prepend_path(home: &mut TempHome, dir: &Path) {
    let path = std::env::var("PATH").unwrap_or_default();
    home.set_env("PATH", format!("{}:{path}", dir.display()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_terminal_starts_the_first_terminal_on_path_with_exactly_the_workspace_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("it's a work dir");
    std::fs::create_dir_all(&work).expect("mkdir");
    let (ds, mut home) = signed_in(&format!("launch_dir = '''{}'''", work.display())).await;
    let fakebin = home.root().join("fakebin");
    let out = home.root().join("term");
    // `x-terminal-emulator` is the first terminal Lakepass looks for on Linux.
    recorder(&fakebin.join("x-terminal-emulator"), &out, "exit 0");
    prepend_path(&mut home, &fakebin);

    let run = home.run(&["launch", "terminal", "-w", "dev"]).await.success();
    let rec = recorded(&out, "the fake terminal to run").await;

    assert_eq!(rec.argv, Vec::<String>::new(), "no command: the terminal opens the user's shell");
    let mut want = base_env(&home);
    want.insert("DATABRICKS_HOST".into(), ws_host(&ds, "dev"));
    want.insert("DATABRICKS_CONFIG_PROFILE".into(), "devstack-dev-live".into());
    assert_eq!(rec.env, want, "exactly the inherited env plus the workspace's two variables");
    assert_eq!(rec.cwd, std::fs::canonicalize(&work).expect("canonical"), "starts in launch_dir");
    assert!(run.stderr.contains("devstack-dev-live"), "{run:?}");
    let audit = std::fs::read_to_string(home.data_dir().join("audit.jsonl")).unwrap_or_default();
    let launch_line = audit.lines().find(|l| l.contains("\"event\":\"launch\"")).unwrap_or_default();
    assert!(
        launch_line.contains("\"workspace\":\"dev\"") && launch_line.contains("x-terminal-emulator"),
        "{audit}"
    );
    let t = token(&home, "dev").await;
    assert!(!audit.contains(&t), "no token in the audit log");
    assert_no_secret(&rec, &t, "launch terminal");
    for s in home.vault_secrets() {
        assert_no_secret(&rec, &s, "launch terminal (vault secret)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_new_terminal_runs_lakepass_inside_the_terminal_and_never_a_token() {
    let (ds, mut home) = signed_in("").await;
    let fakebin = home.root().join("fakebin");
    let term_out = home.root().join("term");
    let claude_out = home.root().join("claude");
    // $TERMINAL comes first; the fake runs its `-e` command like a real terminal would.
    recorder(&fakebin.join("fake-term"), &term_out, "[ \"$1\" = -e ] && shift && exec \"$@\"\nexit 9");
    recorder(&fakebin.join("claude"), &claude_out, "echo fake claude; exit 0");
    prepend_path(&mut home, &fakebin);
    home.set_env("TERMINAL", "fake-term");

    let run = home
        .run(&["launch", "claude", "-w", "dev", "--new-terminal", "--", "-p", "say 'pong'"])
        .await
        .success();
    assert!(run.stderr.contains("Opened Claude Code"), "{run:?}");
    let term = recorded(&term_out, "the fake terminal to run").await;
    let me = bin();
    // The plan was made once, here; the terminal runs only `lakepass launch --plan <file>`, a
    // private file under the data folder that the lakepass inside reads and deletes.
    assert_eq!(term.argv[..4], ["-e", &me, "launch", "--plan"], "{:?}", term.argv);
    assert_eq!(term.argv.len(), 5, "{:?}", term.argv);
    let plan_file = PathBuf::from(&term.argv[4]);
    assert!(plan_file.starts_with(home.data_dir().join("launch")), "{}", plan_file.display());
    let mut want = base_env(&home);
    want.insert("DATABRICKS_HOST".into(), ws_host(&ds, "dev"));
    want.insert("DATABRICKS_CONFIG_PROFILE".into(), "devstack-dev-live".into());
    assert_eq!(term.env, want);
    assert_eq!(term.cwd, std::fs::canonicalize(home.root()).expect("canonical"), "no launch_dir: here");

    // Inside the terminal, `lakepass launch --plan` replaced itself with Claude Code.
    let claude = recorded(&claude_out, "Claude Code to start inside the terminal").await;
    assert!(!plan_file.exists(), "the plan file is read once, then deleted");
    assert_eq!(claude.pid, term.pid, "one process: the terminal's command became lakepass, then Claude Code");
    assert_eq!(claude.argv[0], "--settings");
    assert_eq!(&claude.argv[2..], ["-p", "say 'pong'"]);
    let settings: serde_json::Value = serde_json::from_str(&claude.argv[1]).expect("settings JSON");
    assert_eq!(settings["apiKeyHelper"], format!("'{me}' token --raw --workspace 'dev'"));
    assert_eq!(claude.env["ANTHROPIC_BASE_URL"], format!("{}/ai-gateway/anthropic", ws_host(&ds, "dev")));
    let t = token(&home, "dev").await;
    for (rec, what) in [(&term, "terminal"), (&claude, "claude in the terminal")] {
        assert_no_secret(rec, &t, what);
        assert!(!rec.env.contains_key("ANTHROPIC_AUTH_TOKEN") && !rec.env.contains_key("ANTHROPIC_API_KEY"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_replaces_itself_with_claude_and_drops_static_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ds, mut home) = signed_in("").await;
    // A config in a folder whose name needs quoting: the helper must name it, quoted.
    let odd = dir.path().join("it's \"my\" $config");
    std::fs::create_dir_all(&odd).expect("mkdir");
    let config = odd.join("config.toml");
    let fake = home.root().join("fakebin").join("claude");
    let out = home.root().join("claude");
    recorder(&fake, &out, "echo fake claude ran; exit 7");
    let text = std::fs::read_to_string(home.config_path()).expect("config");
    std::fs::write(&config, format!("claude_path = '''{}'''\n{text}", fake.display())).expect("write config");
    home.set_env("LAKEPASS_CONFIG", &config);
    home.set_env("ANTHROPIC_AUTH_TOKEN", "sk-static-token-that-would-win");
    home.set_env("ANTHROPIC_API_KEY", "sk-static-key-that-would-win");
    std::fs::create_dir_all(home.home().join(".claude")).expect("mkdir");
    let settings_file = home.home().join(".claude/settings.json");
    std::fs::write(
        &settings_file,
        r#"{"theme": "dark", "env": {"ANTHROPIC_AUTH_TOKEN": "old", "FOO": "1"}}"#,
    )
    .expect("write settings");

    let p = home.spawn(&["launch", "claude", "-w", "dev", "--write-settings", "--", "-p", "hi"]);
    let pid = p.pid();
    let run = p.wait(COMMAND_TIMEOUT).await.code(7);
    assert!(run.stdout.contains("fake claude ran"), "{run:?}");
    let rec = recorded(&out, "the fake claude").await;
    assert_eq!(rec.pid, pid, "exec: Claude Code took over the lakepass process");
    for var in ["ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"] {
        assert!(!rec.env.contains_key(var), "{var} reached Claude Code");
        assert!(run.stderr.contains(&format!("not passing {var}")), "the user is told: {run:?}");
    }
    let host = ws_host(&ds, "dev");
    let want = [
        ("ANTHROPIC_BASE_URL", format!("{host}/ai-gateway/anthropic")),
        // The newest of each family Unity Catalog's `system.ai` listing names (the devstack's
        // default set), with ucode's `[1m]` on Opus and Sonnet from 4.6 on.
        ("ANTHROPIC_DEFAULT_OPUS_MODEL", "system.ai.claude-opus-4-6[1m]".into()),
        ("ANTHROPIC_DEFAULT_SONNET_MODEL", "system.ai.claude-sonnet-4-6[1m]".into()),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", "system.ai.claude-haiku-4-5".into()),
        ("ANTHROPIC_CUSTOM_HEADERS", "x-databricks-use-coding-agent-mode: true".into()),
        ("CLAUDE_CODE_API_KEY_HELPER_TTL_MS", "900000".into()),
        // What ucode sets and this Claude Code supports.
        ("ENABLE_TOOL_SEARCH", "1".into()),
        ("ENABLE_PROMPT_CACHING_1H", "1".into()),
        ("DATABRICKS_HOST", host.clone()),
        ("DATABRICKS_CONFIG_PROFILE", "devstack-dev-live".into()),
    ];
    for (k, v) in &want {
        assert_eq!(rec.env.get(*k), Some(v), "{k}");
    }
    let mut expected_env = base_env(&home);
    expected_env.remove("ANTHROPIC_AUTH_TOKEN");
    expected_env.remove("ANTHROPIC_API_KEY");
    expected_env.extend(want.iter().map(|(k, v)| (k.to_string(), v.clone())));
    assert_eq!(rec.env, expected_env, "nothing else changed");

    let settings: serde_json::Value = serde_json::from_str(&rec.argv[1]).expect("settings JSON");
    assert_eq!(settings["permissions"]["deny"], serde_json::json!(["WebSearch"]), "{settings}");
    let helper = settings["apiKeyHelper"].as_str().expect("apiKeyHelper").to_string();
    assert!(helper.contains("--config") && helper.contains(r"it'\''s"), "{helper}");
    // The helper, run the way Claude Code runs it, prints the workspace's current token.
    let mut sh = home.command("/bin/sh");
    sh.arg("-c").arg(&helper).env_remove("LAKEPASS_CONFIG");
    let mut hp = Proc::spawn("apiKeyHelper", sh);
    hp.close_stdin();
    let printed = hp.wait(COMMAND_TIMEOUT).await.success();
    let t = token(&home, "dev").await;
    assert!(printed.stdout.trim() == t, "the helper printed the current token");
    assert_no_secret(&rec, &t, "launch claude");

    // --write-settings merged our keys, kept the others, and removed the winning credential.
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&settings_file).expect("settings")).expect("JSON");
    assert_eq!(written["theme"], "dark");
    assert_eq!(written["env"]["FOO"], "1");
    assert_eq!(written["apiKeyHelper"], helper.as_str());
    assert_eq!(written["env"]["ANTHROPIC_BASE_URL"], format!("{host}/ai-gateway/anthropic"));
    assert!(written["env"].get("ANTHROPIC_AUTH_TOKEN").is_none(), "{written}");
    assert!(run.stderr.contains("Removed env.ANTHROPIC_AUTH_TOKEN"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_says_what_is_wrong_before_starting_anything() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let mut home = TempHome::new();
    let empty = home.root().join("empty-bin");
    std::fs::create_dir_all(&empty).expect("mkdir");
    home.set_env("PATH", &empty);
    home.write_devstack_config(&ds);
    let out = home.run(&["launch", "claude", "-w", "dev"]).await;
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("npm install -g @anthropic-ai/claude-code"), "{out:?}");

    // Installed but not signed in: the sign-in problem, with its exit code, and no Claude Code.
    let fake = home.root().join("fakebin").join("claude");
    let rec = home.root().join("claude");
    recorder(&fake, &rec, "exit 0");
    home.write_config(&format!("claude_path = '''{}'''\n{}", fake.display(), devstack_config(&ds)));
    let out = home.run(&["launch", "claude", "-w", "dev"]).await.code(3);
    assert!(
        out.stderr.contains("cannot launch Claude Code") && out.stderr.contains("lakepass login"),
        "{out:?}"
    );
    assert!(!PathBuf::from(format!("{}.pid", rec.display())).exists(), "Claude Code was not started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_the_command_with_the_workspace_env_and_passes_its_exit_code_on() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let mut home = TempHome::new();
    home.write_devstack_config(&ds);
    home.set_env("DATABRICKS_TOKEN", "stale-token-from-elsewhere-0123456789");
    let out = home
        .run(&[
            "exec",
            "-w",
            "prod",
            "--",
            "sh",
            "-c",
            "echo \"$DATABRICKS_HOST|$DATABRICKS_CONFIG_PROFILE|${DATABRICKS_TOKEN-unset}|$1\"; exit 3",
            "sh",
            "a b",
        ])
        .await
        .code(3);
    assert_eq!(out.stdout, format!("{}|devstack-prod-live|unset|a b\n", ws_host(&ds, "prod")));
    assert!(out.stderr.contains("not passing DATABRICKS_TOKEN"), "{out:?}");
    let missing = home.run(&["exec", "-w", "dev", "no-such-program-here"]).await.code(127);
    assert!(missing.stderr.contains("no-such-program-here"), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_prints_exports_and_a_token_only_when_asked() {
    let (ds, home) = signed_in("").await;
    let host = ws_host(&ds, "dev");
    let out = home.run(&["env", "-w", "dev"]).await.success();
    assert_eq!(
        out.stdout,
        format!(
            "unset DATABRICKS_TOKEN\nexport DATABRICKS_HOST='{host}'\nexport DATABRICKS_CONFIG_PROFILE='devstack-dev-live'\n"
        )
    );
    let t = token(&home, "dev").await;
    assert!(!out.stdout.contains(&t));
    let with = home.run(&["env", "-w", "dev", "--with-token"]).await.success();
    // Evaluated by a real shell, the exports give back the host and the current token.
    let script = format!(
        "{}\nprintf '%s|%s|%s' \"$DATABRICKS_HOST\" \"${{DATABRICKS_CONFIG_PROFILE-unset}}\" \"$DATABRICKS_TOKEN\"",
        with.stdout
    );
    let mut sh = home.command("/bin/sh");
    sh.arg("-c").arg(script).env("DATABRICKS_CONFIG_PROFILE", "x");
    let mut p = Proc::spawn("sh -c <exports>", sh);
    p.close_stdin();
    let evaluated = p.wait(COMMAND_TIMEOUT).await.success();
    assert!(evaluated.stdout == format!("{host}|unset|{t}"), "exports round-trip through sh");
}

/// A devstack whose workspaces serve `models`, with or without AI Gateway.
async fn serving(models: &[&str], ai_gateway: bool) -> Devstack {
    serving_with(models, ai_gateway, true).await
}

/// [`serving`], with or without Unity Catalog's model-services listing.
async fn serving_with(models: &[&str], ai_gateway: bool, model_services: bool) -> Devstack {
    lakepass_devstack::start(DevstackOptions {
        auto_approve: Some(USER_EMAIL.to_string()),
        claude_models: models.iter().map(|m| m.to_string()).collect(),
        ai_gateway,
        model_services,
        ..DevstackOptions::default()
    })
    .await
    .expect("start the devstack")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_pins_the_newest_models_the_workspace_serves_and_caches_the_choice() {
    // A workspace without AI Gateway that rolled out a newer Opus and serves no Haiku.
    let ds = serving(
        &["databricks-claude-opus-4-6", "databricks-claude-opus-5", "databricks-claude-sonnet-4-5"],
        false,
    )
    .await;
    let home = TempHome::new();
    let fake = home.root().join("fakebin").join("claude");
    home.write_config(&format!(
        "claude_path = '''{}'''\n{}\n[claude.prod]\nopus_model = \"my-opus\"\nsonnet_model = \"my-sonnet\"\nhaiku_model = \"my-haiku\"\n",
        fake.display(),
        devstack_config(&ds)
    ));
    home.login(&[]).await;
    let out = home.root().join("claude-dev");
    recorder(&fake, &out, "exit 0");
    let run = home.run(&["launch", "claude", "-w", "dev"]).await.success();
    let rec = recorded(&out, "the fake claude").await;
    let host = ws_host(&ds, "dev");
    assert_eq!(rec.env["ANTHROPIC_BASE_URL"], format!("{host}/serving-endpoints/anthropic"), "no AI Gateway");
    assert_eq!(rec.env["ANTHROPIC_DEFAULT_OPUS_MODEL"], "databricks-claude-opus-5", "5 is newer than 4.6");
    assert_eq!(rec.env["ANTHROPIC_DEFAULT_SONNET_MODEL"], "databricks-claude-sonnet-4-5");
    assert_eq!(
        rec.env["ANTHROPIC_DEFAULT_HAIKU_MODEL"], "databricks-claude-sonnet-4-5",
        "no Haiku: Sonnet does it"
    );
    assert!(run.stderr.contains("serves no haiku model"), "{run:?}");
    assert!(!run.stderr.contains("warning"), "{run:?}");

    // The choice is cached next to the state, private; a second launch does not ask again.
    let cache = home.data_dir().join("claude-models-dev.json");
    let cached: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).expect("cache")).unwrap();
    assert_eq!(cached["models"]["opus"], "databricks-claude-opus-5");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o600);
    let before = ds.stats().workspaces["dev"].clone();
    std::fs::remove_file(format!("{}.pid", out.display())).unwrap();
    home.run(&["launch", "claude", "-w", "dev"]).await.success();
    recorded(&out, "the fake claude, again").await;
    let after = ds.stats().workspaces["dev"].clone();
    assert_eq!(
        after.api_calls_ok + after.api_calls_unauthorized,
        before.api_calls_ok + before.api_calls_unauthorized,
        "answered from the cache"
    );

    // Models named in the config win, and nothing is asked.
    let out = home.root().join("claude-prod");
    recorder(&fake, &out, "exit 0");
    let before = ds.stats().workspaces["prod"].clone();
    home.run(&["launch", "claude", "-w", "prod"]).await.success();
    let rec = recorded(&out, "the fake claude for prod").await;
    assert_eq!(
        [
            &rec.env["ANTHROPIC_DEFAULT_OPUS_MODEL"],
            &rec.env["ANTHROPIC_DEFAULT_SONNET_MODEL"],
            &rec.env["ANTHROPIC_DEFAULT_HAIKU_MODEL"]
        ],
        ["my-opus", "my-sonnet", "my-haiku"]
    );
    assert_eq!(ds.stats().workspaces["prod"].api_calls_ok, before.api_calls_ok, "no model list was asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_gemini_picks_the_newest_pro_the_workspace_lists_and_keeps_the_listing_a_day() {
    let ds = serving(&["databricks-claude-sonnet-4-5"], true).await;
    let home = TempHome::new();
    let fake = home.root().join("fakebin").join("gemini");
    home.write_config(&format!(
        "{}\n[agent.gemini]\npath = '''{}'''\n",
        devstack_config(&ds),
        fake.display()
    ));
    home.login(&[]).await;
    let out = home.root().join("gemini-dev");
    recorder(&fake, &out, "exit 0");
    // The launch starts the engine the proxy lives in; it is stopped when the test ends,
    // passed or not.
    struct Daemons(Vec<String>);
    impl Drop for Daemons {
        fn drop(&mut self) {
            for pid in &self.0 {
                let _ = std::process::Command::new("kill").arg(pid).status();
            }
        }
    }
    let mut daemons = Daemons(Vec::new());
    let mut launch = async |what: &str| {
        let _ = std::fs::remove_file(format!("{}.pid", out.display()));
        let run = home.run(&["launch", "gemini", "-w", "dev"]).await.success();
        if let Some(pid) = run.stderr.split("in the background (pid ").nth(1) {
            daemons.0.push(pid.split(|c: char| !c.is_ascii_digit()).next().unwrap_or_default().to_string());
        }
        (run, recorded(&out, what).await)
    };
    let (run, rec) = launch("the fake gemini").await;
    assert_eq!(rec.env["GEMINI_MODEL"], "system.ai.gemini-2-5-pro", "the newest Pro it lists: {run:?}");
    assert!(!run.stderr.contains("warning"), "{run:?}");

    // The listing is kept next to the state, private, and answers the next launch for a day:
    // a listing edited in the cache is what the second launch picks.
    let cache = home.data_dir().join("model-services-dev.json");
    let mut cached: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).expect("the listing is cached")).unwrap();
    assert!(
        cached["ids"].as_array().unwrap().iter().any(|id| id == "system.ai.gemini-2-5-flash"),
        "{cached}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o600);
    cached["ids"] = serde_json::json!(["system.ai.gemini-9-pro"]);
    std::fs::write(&cache, cached.to_string()).unwrap();
    let (_, rec) = launch("the fake gemini, from the cache").await;
    assert_eq!(rec.env["GEMINI_MODEL"], "system.ai.gemini-9-pro", "answered from the cache, not asked");

    // A day later the workspace is asked again.
    cached["asked_at"] = serde_json::json!(cached["asked_at"].as_i64().unwrap() - 86_400);
    std::fs::write(&cache, cached.to_string()).unwrap();
    let (_, rec) = launch("the fake gemini, a day later").await;
    assert_eq!(rec.env["GEMINI_MODEL"], "system.ai.gemini-2-5-pro", "a day-old listing is asked again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_says_so_when_the_workspace_cannot_be_asked_and_pins_the_last_resort() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    let fake = home.root().join("fakebin").join("claude");
    // A base path the workspace does not serve: its model list is a 404.
    home.write_config(&format!(
        "claude_path = '''{}'''\n{}\n[claude.dev]\nbase_path = \"/ai-gateway/elsewhere\"\n",
        fake.display(),
        devstack_config(&ds)
    ));
    home.login(&[]).await;
    let out = home.root().join("claude");
    recorder(&fake, &out, "exit 0");
    let run = home.run(&["launch", "claude", "-w", "dev"]).await.success();
    let rec = recorded(&out, "the fake claude").await;
    assert!(
        run.stderr.contains("could not ask workspace `dev` which Claude models it serves")
            && run.stderr.contains("HTTP 404")
            && run.stderr.contains("[claude.dev]"),
        "{run:?}"
    );
    assert_eq!(rec.env["ANTHROPIC_DEFAULT_SONNET_MODEL"], "system.ai.claude-sonnet-4-5");
    assert!(!home.data_dir().join("claude-models-dev.json").exists(), "a failure is not cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_asks_unity_catalog_first_and_falls_back_to_ai_gateway_when_it_is_not_there() {
    for model_services in [true, false] {
        let ds = serving_with(
            &["databricks-claude-opus-4-5", "databricks-claude-sonnet-4-5"],
            true,
            model_services,
        )
        .await;
        let home = TempHome::new();
        let fake = home.root().join("fakebin").join("claude");
        home.write_config(&format!("claude_path = '''{}'''\n{}", fake.display(), devstack_config(&ds)));
        home.login(&[]).await;
        let out = home.root().join("claude");
        recorder(&fake, &out, "exit 0");
        let run = home.run(&["launch", "claude", "-w", "dev"]).await.success();
        let rec = recorded(&out, "the fake claude").await;
        let host = ws_host(&ds, "dev");
        assert_eq!(rec.env["ANTHROPIC_BASE_URL"], format!("{host}/ai-gateway/anthropic"));
        // The listing answers Unity Catalog names; AI Gateway's /v1/models the endpoint names.
        let want =
            if model_services { "system.ai.claude-sonnet-4-5" } else { "databricks-claude-sonnet-4-5" };
        assert_eq!(rec.env["ANTHROPIC_DEFAULT_SONNET_MODEL"], want, "model_services={model_services}");
        assert!(!run.stderr.contains("warning"), "{run:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_claude_with_an_old_claude_code_says_what_will_not_work_and_leaves_mcp_out() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let mut home = TempHome::new();
    let fakebin = home.root().join("fakebin");
    let fake = fakebin.join("claude");
    // Found on PATH, as a user's `claude` is.
    home.write_config(&format!("{}\n[mcp.dev]\nsql = true\n", devstack_config(&ds)));
    home.set_env("PATH", format!("{}:/usr/bin:/bin", fakebin.display()));
    home.login(&[]).await;
    let out = home.root().join("claude");
    recorder(&fake, &out, "exit 0");
    // An old Claude Code: 2.1.100 has headersHelper but does not re-run it on a 401.
    let script = std::fs::read_to_string(&fake).unwrap().replace(CURRENT_CLAUDE, "2.1.100");
    std::fs::write(&fake, script).unwrap();
    let run = home.run(&["launch", "claude", "-w", "dev"]).await.success();
    let rec = recorded(&out, "the fake claude").await;
    assert!(
        run.stderr.contains("warning: Claude Code 2.1.100 is older than 2.1.193")
            && run.stderr.contains("managed MCP servers"),
        "{run:?}"
    );
    assert!(!rec.argv.iter().any(|a| a == "--mcp-config"), "no MCP servers for it: {:?}", rec.argv);
    assert!(!run.stderr.contains("gets the managed MCP servers"), "{run:?}");
    // It has tool search (2.1.72) but not 1-hour caching (2.1.108) nor a safe [1m] (2.1.172).
    assert_eq!(rec.env.get("ENABLE_TOOL_SEARCH").map(String::as_str), Some("1"));
    assert!(!rec.env.contains_key("ENABLE_PROMPT_CACHING_1H"));
    assert_eq!(rec.env["ANTHROPIC_DEFAULT_OPUS_MODEL"], "system.ai.claude-opus-4-6");
    // The doctor shows the version and what it lacks.
    let doc = home.run(&["doctor", "-w", "dev"]).await.success();
    assert!(
        doc.stdout.contains(&format!("! Claude Code: 2.1.100 ({})", fake.display()))
            && doc.stdout.contains("older than 2.1.193"),
        "{doc:?}"
    );
    let json = home.run(&["doctor", "-w", "dev", "--json"]).await.success().json();
    assert_eq!(json["claude_code"]["version"], "2.1.100", "{json}");

    // Updated (a new file): asked again, and now it gets MCP and no warning.
    let script = std::fs::read_to_string(&fake).unwrap().replace("2.1.100", CURRENT_CLAUDE);
    std::fs::write(&fake, script).unwrap();
    std::fs::remove_file(format!("{}.pid", out.display())).unwrap();
    let run = home.run(&["launch", "claude", "-w", "dev"]).await.success();
    let rec = recorded(&out, "the updated fake claude").await;
    assert!(!run.stderr.contains("warning"), "{run:?}");
    assert_eq!(rec.argv[0], "--mcp-config");
}
