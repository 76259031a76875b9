//! Which terminal emulator to open, and the argv that makes it start in a folder and run a
//! command: a declarative table per platform, pure so every platform's rows are unit-tested on
//! any machine.
//!
//! Order: the config's `terminal`, if set, and nothing else (a configured terminal that is
//! missing is an error, not a silent fallback). Otherwise Linux tries `$TERMINAL`,
//! `x-terminal-emulator` (Debian's choice), gnome-terminal, konsole, alacritty, kitty, wezterm
//! and xterm; macOS opens iTerm (when running inside it) or Terminal with `open -a` and a small
//! self-deleting `.command` script, because apps started by `open` do not inherit our
//! environment; Windows tries Windows Terminal (`wt`), then `cmd /c start`.

use std::path::Path;

use lakepass_config::TerminalSetting;

use super::environment::EnvChanges;
use lakepass_engine::sink::sh_quote;

/// The operating systems Lakepass opens terminals on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and other freedesktop Unixes.
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

/// What the choice depends on besides the platform.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalContext<'a> {
    /// The config's `terminal`.
    pub configured: Option<&'a TerminalSetting>,
    /// `$TERMINAL`.
    pub env_terminal: Option<&'a str>,
    /// `$TERM_PROGRAM` (macOS: `iTerm.app` inside iTerm).
    pub term_program: Option<&'a str>,
    /// `$SHELL`, run when a terminal must be given a command and none was asked for.
    pub shell: Option<&'a str>,
}

/// How a terminal emulator is told where to start and what to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalKind {
    /// `-e CMD…`, starting in the process's folder: xterm, x-terminal-emulator, unknown ones.
    DashE,
    /// `--working-directory=DIR -- CMD…`.
    GnomeTerminal,
    /// `--workdir DIR -e CMD…`.
    Konsole,
    /// `--working-directory DIR -e CMD…`.
    Alacritty,
    /// `--directory DIR CMD…`.
    Kitty,
    /// `start --cwd DIR -- CMD…`.
    Wezterm,
    /// macOS Terminal: `open -a Terminal <script>`.
    MacTerminal,
    /// iTerm: `open -a iTerm <script>`.
    ITerm,
    /// Windows Terminal: `wt -d DIR CMD…`.
    WindowsTerminal,
    /// The command itself in a new console window (Windows' own fallback), started directly:
    /// no `cmd /c start`, so nothing in the folder or the arguments is parsed by `cmd.exe`.
    NewConsole,
    /// The config's exact argv prefix; the command is appended.
    Exact(Vec<String>),
}

/// One terminal to try: the program to find, and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalCandidate {
    /// Program name or path to look for (`open` for the macOS apps).
    pub program: String,
    /// How to talk to it.
    pub kind: TerminalKind,
}

/// A terminal launch, ready to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalInvocation {
    /// The program (as found on PATH by the caller).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// A script to write (mode 0700) at the path given to [`terminal_invocation`] first (macOS).
    pub script: Option<String>,
    /// Give the program a console window of its own (Windows); it starts in the launch folder.
    pub new_console: bool,
}

const LINUX_DEFAULTS: &[&str] =
    &["x-terminal-emulator", "gnome-terminal", "konsole", "alacritty", "kitty", "wezterm", "xterm"];

/// The terminals to try, in order.
pub fn terminal_candidates(platform: Platform, ctx: &TerminalContext<'_>) -> Vec<TerminalCandidate> {
    match ctx.configured {
        Some(TerminalSetting::Program(p)) => return vec![candidate(platform, p)],
        Some(TerminalSetting::Command(argv)) => {
            let (program, prefix) =
                argv.split_first().map(|(p, rest)| (p.clone(), rest.to_vec())).unwrap_or_default();
            return vec![TerminalCandidate { program, kind: TerminalKind::Exact(prefix) }];
        }
        None => {}
    }
    let env_terminal = ctx.env_terminal.map(str::trim).filter(|t| !t.is_empty());
    match platform {
        Platform::Linux => env_terminal
            .into_iter()
            .chain(LINUX_DEFAULTS.iter().copied())
            .map(|p| candidate(platform, p))
            .collect(),
        Platform::MacOs => {
            let mut out: Vec<_> = env_terminal.map(|p| candidate(platform, p)).into_iter().collect();
            if ctx.term_program == Some("iTerm.app") {
                out.push(candidate(platform, "iTerm"));
            }
            out.push(candidate(platform, "Terminal"));
            out
        }
        Platform::Windows => ["wt", "cmd"].iter().map(|p| candidate(platform, p)).collect(),
    }
}

fn candidate(platform: Platform, program: &str) -> TerminalCandidate {
    let base = program.rsplit(['/', '\\']).next().unwrap_or(program).to_ascii_lowercase();
    let base = base.strip_suffix(".exe").unwrap_or(&base);
    let kind = match base {
        "gnome-terminal" => TerminalKind::GnomeTerminal,
        "konsole" => TerminalKind::Konsole,
        "alacritty" => TerminalKind::Alacritty,
        "kitty" => TerminalKind::Kitty,
        "wezterm" => TerminalKind::Wezterm,
        "wt" if platform == Platform::Windows => TerminalKind::WindowsTerminal,
        "cmd" if platform == Platform::Windows => TerminalKind::NewConsole,
        "terminal" | "terminal.app" if platform == Platform::MacOs => TerminalKind::MacTerminal,
        "iterm" | "iterm2" | "iterm.app" if platform == Platform::MacOs => TerminalKind::ITerm,
        _ => TerminalKind::DashE,
    };
    let program =
        if matches!(kind, TerminalKind::MacTerminal | TerminalKind::ITerm) { "open" } else { program };
    TerminalCandidate { program: program.to_string(), kind }
}

/// The argv for `found` (the candidate's program as found), starting in `dir` and running
/// `command` (or the terminal's default shell when `None`). `env` is applied to the spawned
/// process by the caller; for the macOS apps, which do not inherit it, it also goes into the
/// script at `script_path` (never a secret: those are left out).
pub fn terminal_invocation(
    cand: &TerminalCandidate,
    found: &str,
    ctx: &TerminalContext<'_>,
    dir: &Path,
    command: Option<&[String]>,
    env: &EnvChanges,
    script_path: &Path,
) -> TerminalInvocation {
    let d = dir.to_string_lossy().into_owned();
    let cmd: Vec<String> = command.map(<[String]>::to_vec).unwrap_or_default();
    let with =
        |flag: &str| if cmd.is_empty() { Vec::new() } else { [vec![flag.to_string()], cmd.clone()].concat() };
    let args: Vec<String> = match &cand.kind {
        TerminalKind::DashE => with("-e"),
        TerminalKind::GnomeTerminal => [vec![format!("--working-directory={d}")], with("--")].concat(),
        TerminalKind::Konsole => [vec!["--workdir".into(), d], with("-e")].concat(),
        TerminalKind::Alacritty => [vec!["--working-directory".into(), d], with("-e")].concat(),
        TerminalKind::Kitty => [vec!["--directory".into(), d], cmd.clone()].concat(),
        TerminalKind::Wezterm => [vec!["start".into(), "--cwd".into(), d], with("--")].concat(),
        TerminalKind::MacTerminal | TerminalKind::ITerm => {
            let app = if cand.kind == TerminalKind::ITerm { "iTerm" } else { "Terminal" };
            let script = mac_script(script_path, dir, &cmd, env);
            return TerminalInvocation {
                program: found.into(),
                args: vec!["-a".into(), app.into(), script_path.to_string_lossy().into_owned()],
                script: Some(script),
                new_console: false,
            };
        }
        TerminalKind::WindowsTerminal => {
            // `wt` splits its command line at `;` into several tabs unless escaped.
            [vec!["-d".into(), d], cmd.iter().map(|a| a.replace(';', "\\;")).collect()].concat()
        }
        TerminalKind::NewConsole => {
            // The folder is the child's working directory, not an argument; the command's words
            // are its own argv, quoted by the OS's rules for a program, never by cmd.exe's.
            let mut run = if cmd.is_empty() { vec!["cmd.exe".to_string()] } else { cmd.clone() };
            let program = run.remove(0);
            return TerminalInvocation { program, args: run, script: None, new_console: true };
        }
        TerminalKind::Exact(prefix) => {
            let run =
                if cmd.is_empty() { vec![ctx.shell.unwrap_or("/bin/sh").to_string()] } else { cmd.clone() };
            [prefix.clone(), run].concat()
        }
    };
    TerminalInvocation { program: found.into(), args, script: None, new_console: false }
}

/// The `.command` script macOS Terminal/iTerm run: deletes itself, changes folder, sets the
/// environment, then runs the command or a login shell.
fn mac_script(path: &Path, dir: &Path, cmd: &[String], env: &EnvChanges) -> String {
    let mut s =
        String::from("#!/bin/sh\n# Written by Lakepass for one terminal launch; it holds no secrets.\n");
    s.push_str(&format!("rm -f -- {}\n", sh_quote(&path.to_string_lossy())));
    s.push_str(&format!("cd -- {} || exit 1\n", sh_quote(&dir.to_string_lossy())));
    for k in &env.remove {
        s.push_str(&format!("unset {k}\n"));
    }
    for (k, v) in &env.set {
        s.push_str(&format!("export {k}={}\n", sh_quote(v)));
    }
    if cmd.is_empty() {
        s.push_str("exec \"${SHELL:-/bin/zsh}\" -l\n");
    } else {
        let words: Vec<String> = cmd.iter().map(|w| sh_quote(w)).collect();
        s.push_str(&format!("exec {}\n", words.join(" ")));
    }
    s
}
