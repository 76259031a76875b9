//! Which Claude Code is installed, and what of Lakepass's launch it can carry out.
//!
//! A launch relies on settings Claude Code learned over time; an older one silently ignores
//! them. Each is a [`ClaudeFeature`] with the first version that has it, as
//! anthropics/claude-code `CHANGELOG.md` records it:
//! - 1.0.88 "Introduced `ANTHROPIC_DEFAULT_SONNET_MODEL` and `ANTHROPIC_DEFAULT_OPUS_MODEL`":
//!   without them Claude Code asks the gateway for Anthropic's own model names, which a
//!   workspace does not serve;
//! - 1.0.119 "Support dynamic headers for MCP servers via headersHelper configuration", and
//!   2.1.193 "the helper now re-runs and reconnects automatically when a tool call returns
//!   401/403": before that an MCP server's token is fetched once and dies within the hour, so
//!   the launch adds the managed MCP servers only from 2.1.193;
//! - 2.1.72 "Fixed tool search to activate even with `ANTHROPIC_BASE_URL` as long as
//!   `ENABLE_TOOL_SEARCH` is set" (Databricks' ucode sets `ENABLE_TOOL_SEARCH=1`);
//! - 2.1.108 "Added `ENABLE_PROMPT_CACHING_1H` env var to opt into 1-hour prompt cache TTL on
//!   API key …" (ucode sets it);
//! - 2.1.172 "Fixed model IDs getting a doubled 1M-context suffix (e.g. `[1M][1m]`) when
//!   `ANTHROPIC_DEFAULT_OPUS_MODEL` already includes one": the `[1m]` suffix ucode puts on Opus
//!   and Sonnet ≥ 4.6 is only safe from there (Claude Code strips `[1m]` before sending the id).
//!
//! The version is what `claude --version` prints (`2.1.330 (Claude Code)`), cached by program
//! path, size and modification time in the data dir, so a launch does not start a process to
//! learn what it learned last time. An unreadable version is taken as current: the launch goes
//! on as before, and says it could not tell.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use lakepass_store::atomic::{create_private_dirs, write_atomic};

/// A Claude Code version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClaudeVersion(pub u32, pub u32, pub u32);

impl std::fmt::Display for ClaudeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl ClaudeVersion {
    /// The version in `claude --version` output (`2.1.330 (Claude Code)`, `v1.0.88`).
    pub fn parse(output: &str) -> Option<Self> {
        let word = output.split_whitespace().next()?.trim_start_matches('v');
        let core = word.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let v = ClaudeVersion(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(v)
    }
}

/// A Claude Code setting a launch relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaudeFeature {
    /// `ANTHROPIC_DEFAULT_{OPUS,SONNET}_MODEL`: the workspace's models are the ones asked for.
    ModelAliases,
    /// MCP `headersHelper` re-run on 401/403: the managed MCP servers keep a fresh token.
    McpHeadersHelper,
    /// `ENABLE_TOOL_SEARCH` honoured behind `ANTHROPIC_BASE_URL`.
    ToolSearch,
    /// `ENABLE_PROMPT_CACHING_1H`.
    PromptCaching1h,
    /// A `[1m]` suffix on a pinned model id, for the 1M-token context.
    OneMillionContext,
}

impl ClaudeFeature {
    /// Every feature.
    pub const ALL: [ClaudeFeature; 5] = [
        ClaudeFeature::ModelAliases,
        ClaudeFeature::McpHeadersHelper,
        ClaudeFeature::ToolSearch,
        ClaudeFeature::PromptCaching1h,
        ClaudeFeature::OneMillionContext,
    ];

    /// The first Claude Code version that has it (see the module docs for the changelog lines).
    pub fn since(self) -> ClaudeVersion {
        match self {
            ClaudeFeature::ModelAliases => ClaudeVersion(1, 0, 88),
            ClaudeFeature::McpHeadersHelper => ClaudeVersion(2, 1, 193),
            ClaudeFeature::ToolSearch => ClaudeVersion(2, 1, 72),
            ClaudeFeature::PromptCaching1h => ClaudeVersion(2, 1, 108),
            ClaudeFeature::OneMillionContext => ClaudeVersion(2, 1, 172),
        }
    }

    /// What does not work without it, in the user's words.
    pub fn without(self) -> &'static str {
        match self {
            ClaudeFeature::ModelAliases => {
                "it ignores the models Lakepass pins (ANTHROPIC_DEFAULT_OPUS_MODEL/SONNET_MODEL) and asks \
                 for Anthropic's own model names, which the workspace does not serve"
            }
            ClaudeFeature::McpHeadersHelper => {
                "its MCP headersHelper is not re-run when a token expires (401/403), so the workspace's \
                 managed MCP servers would stop working within the hour: they are left out"
            }
            ClaudeFeature::ToolSearch => "MCP tool search stays off behind the gateway",
            ClaudeFeature::PromptCaching1h => "prompts are cached for 5 minutes, not an hour",
            ClaudeFeature::OneMillionContext => {
                "Opus and Sonnet run with the standard context, not 1M tokens"
            }
        }
    }
}

/// The installed Claude Code: where, and which version (`None`: it could not be told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeCode {
    /// The program.
    pub program: PathBuf,
    /// What `claude --version` said.
    pub version: Option<ClaudeVersion>,
}

impl ClaudeCode {
    /// Whether it has `feature`; an unknown version is taken as current.
    pub fn has(&self, feature: ClaudeFeature) -> bool {
        self.version.is_none_or(|v| v >= feature.since())
    }

    /// One line per feature a launch uses that this Claude Code lacks: what will not work, and
    /// from which version it would.
    pub fn shortfalls(&self) -> Vec<String> {
        let Some(v) = self.version else { return Vec::new() };
        ClaudeFeature::ALL
            .iter()
            .filter(|f| !self.has(**f))
            .map(|f| format!("Claude Code {v} is older than {}: {}", f.since(), f.without()))
            .collect()
    }
}

/// What the cache file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CachedVersion {
    program: PathBuf,
    size: u64,
    modified_ns: i128,
    version: ClaudeVersion,
}

/// The program's identity for the cache: its resolved path, size and modification time (an
/// update replaces the file, so one of them changes).
fn identity(program: &Path) -> Option<(PathBuf, u64, i128)> {
    let real = std::fs::canonicalize(program).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    let modified = meta.modified().ok()?;
    let ns = match modified.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    Some((real, meta.len(), ns))
}

/// Where the version is cached.
pub(crate) fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("claude-version.json")
}

/// How long `claude --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `<program> --version` and parses its answer; `None` when it fails, times out, or
/// prints no version.
fn ask_version(program: &Path) -> Option<ClaudeVersion> {
    let mut cmd = std::process::Command::new(program);
    cmd.arg("--version").stdin(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(cmd.output());
    });
    let out = rx.recv_timeout(VERSION_TIMEOUT).ok()?.ok()?;
    out.status.success().then(|| ClaudeVersion::parse(&String::from_utf8_lossy(&out.stdout)))?
}

/// The Claude Code at `program` and its version: from the cache under `data_dir` when the
/// program is the one cached, else asked and cached (a cache that cannot be written is only
/// logged).
pub fn installed_claude(program: &Path, data_dir: &Path) -> ClaudeCode {
    let path = cache_path(data_dir);
    let id = identity(program);
    if let Some((real, size, modified_ns)) = &id
        && let Some(c) =
            std::fs::read(&path).ok().and_then(|t| serde_json::from_slice::<CachedVersion>(&t).ok())
        && c.program == *real
        && c.size == *size
        && c.modified_ns == *modified_ns
    {
        return ClaudeCode { program: program.into(), version: Some(c.version) };
    }
    let version = ask_version(program);
    if let (Some(version), Some((program, size, modified_ns))) = (version, id) {
        let cached = CachedVersion { program, size, modified_ns, version };
        let written =
            serde_json::to_vec_pretty(&cached).map_err(std::io::Error::other).and_then(|mut text| {
                text.push(b'\n');
                create_private_dirs(data_dir)?;
                write_atomic(&path, &text, 0o600)
            });
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache Claude Code's version");
        }
    }
    ClaudeCode { program: program.into(), version }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_claude_prints_them_and_compare_by_number() {
        assert_eq!(ClaudeVersion::parse("2.1.330 (Claude Code)\n"), Some(ClaudeVersion(2, 1, 330)));
        assert_eq!(ClaudeVersion::parse("v1.0.88"), Some(ClaudeVersion(1, 0, 88)));
        assert_eq!(ClaudeVersion::parse("2.1.0-beta.1 (Claude Code)"), Some(ClaudeVersion(2, 1, 0)));
        assert_eq!(ClaudeVersion::parse("Claude Code"), None);
        assert_eq!(ClaudeVersion::parse("2.1"), None);
        assert_eq!(ClaudeVersion::parse("1.2.3.4"), None);
        assert!(ClaudeVersion(2, 1, 193) > ClaudeVersion(2, 1, 72), "193 after 72, not string order");
    }

    #[test]
    fn an_old_claude_code_is_told_what_will_not_work() {
        let at = |v| ClaudeCode { program: "claude".into(), version: v };
        let old = at(Some(ClaudeVersion(2, 1, 100)));
        assert!(!old.has(ClaudeFeature::McpHeadersHelper) && old.has(ClaudeFeature::ToolSearch));
        let lines = old.shortfalls();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("older than 2.1.193") && lines[0].contains("MCP"), "{lines:?}");
        assert!(at(Some(ClaudeVersion(2, 1, 193))).shortfalls().is_empty());
        let unknown = at(None);
        assert!(ClaudeFeature::ALL.iter().all(|f| unknown.has(*f)) && unknown.shortfalls().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn the_version_is_asked_once_per_program_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("claude");
        let count = dir.path().join("count");
        let script =
            |v: &str| format!("#!/bin/sh\necho x >> '{}'\necho '{v} (Claude Code)'\n", count.display());
        std::fs::write(&program, script("2.1.100")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        let runs = || std::fs::read_to_string(&count).map(|t| t.lines().count()).unwrap_or(0);
        assert_eq!(installed_claude(&program, &data).version, Some(ClaudeVersion(2, 1, 100)));
        assert_eq!(installed_claude(&program, &data).version, Some(ClaudeVersion(2, 1, 100)));
        assert_eq!(runs(), 1, "the second launch read the cache");
        // An update changes the file: asked again.
        std::fs::write(&program, script("2.1.300 ")).unwrap();
        assert_eq!(installed_claude(&program, &data).version, Some(ClaudeVersion(2, 1, 300)));
        assert_eq!(runs(), 2);
        assert_eq!(std::fs::metadata(cache_path(&data)).unwrap().permissions().mode() & 0o777, 0o600);
        // A program that prints no version: unknown, nothing cached for it.
        std::fs::write(&program, "#!/bin/sh\necho hello\n").unwrap();
        assert_eq!(installed_claude(&program, &data).version, None);
    }
}
