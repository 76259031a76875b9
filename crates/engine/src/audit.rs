//! The audit log: one JSON line per sign-in, exchange, IdP refresh and launch, success or
//! failure, in `<data dir>/audit.jsonl`.
//!
//! Why a local file: when a token exchange starts failing at 3 a.m., the first question is
//! "since when, and how?" — the dashboard's recent events and `lakepass log` answer it without a
//! server. What a line holds is chosen so the file can be attached to a support ticket: time,
//! event, workspace or IdP, outcome, a stable error kind (`federation_rejected`, `network`, …),
//! the server's OAuth error code, a short message and the latency. Never a token: events carry
//! no token fields at all, and messages pass through [`scrub`] as a second guard.
//!
//! Writes are single `write` calls on a file opened with `O_APPEND`, so lines from concurrent
//! processes (tray, daemon, ten CLI calls) never interleave. The file rotates by size
//! (`audit.jsonl` → `.1` → `.2` → `.3`, the oldest dropped) under a short cross-process lock.
//! Recording is best effort: a full disk must not stop a token refresh, so [`record`] only logs
//! a warning. Reading skips a damaged line (a crash mid-write, a hand edit) and reports it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use lakepass_store::paths::Paths;
use lakepass_wire::clock::UnixTime;

/// The log's file name under the data dir.
pub(crate) const AUDIT_FILE: &str = "audit.jsonl";
/// Rotate when the current file would grow past this.
pub(crate) const MAX_BYTES: u64 = 1024 * 1024;
/// How many rotated files are kept.
pub(crate) const KEEP: usize = 3;
/// Longest message kept in a line.
const MAX_MESSAGE: usize = 400;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An interactive IdP sign-in.
    SignIn,
    /// A Databricks token obtained for a workspace (token exchange or M2M client credentials).
    Exchange,
    /// An IdP session refreshed with its refresh token.
    Refresh,
    /// A tool launched (Claude Code, a terminal).
    Launch,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It worked.
    Ok,
    /// It failed; see `error_kind`.
    Failure,
}

/// One line of the audit log. Holds no secret by construction: there is no field for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When, RFC 3339 UTC.
    pub time: String,
    /// What happened.
    pub event: EventKind,
    /// The workspace, when the event concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// The identity provider, when the event concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// Success or failure.
    pub outcome: Outcome,
    /// A stable error kind on failure (`federation_rejected`, `network`, `needs_login`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// The server's error code on failure (RFC 6749 `error`, e.g. `invalid_request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// A short description (scrubbed of anything token-like).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
}

impl AuditEvent {
    /// A successful event at `now` that took `latency`.
    pub fn ok(event: EventKind, now: UnixTime, latency: Duration) -> Self {
        AuditEvent {
            time: rfc3339(now),
            event,
            workspace: None,
            idp: None,
            outcome: Outcome::Ok,
            error_kind: None,
            error_code: None,
            message: None,
            latency_ms: latency.as_millis().min(u64::MAX as u128) as u64,
        }
    }

    /// A failed event: `error_kind` is a stable kind, `message` is scrubbed and shortened.
    pub fn failure(
        event: EventKind,
        now: UnixTime,
        latency: Duration,
        error_kind: crate::error::ErrorKind,
        message: &str,
    ) -> Self {
        AuditEvent {
            outcome: Outcome::Failure,
            error_kind: Some(error_kind.as_str().to_string()),
            message: Some(scrub(message)),
            ..AuditEvent::ok(event, now, latency)
        }
    }

    /// Names the workspace.
    pub fn workspace(mut self, name: &str) -> Self {
        self.workspace = Some(name.to_string());
        self
    }

    /// Names the identity provider.
    pub fn idp(mut self, name: &str) -> Self {
        self.idp = Some(name.to_string());
        self
    }

    /// Adds the server's error code.
    pub fn error_code(mut self, code: Option<&str>) -> Self {
        self.error_code = code.map(String::from);
        self
    }

    /// Adds a short note (scrubbed), e.g. what was launched.
    pub fn message(mut self, text: &str) -> Self {
        self.message = Some(scrub(text));
        self
    }
}

/// Appends `event` to the audit log under `paths.data_dir`; failures are logged, not returned.
///
/// This is the call for every recorder, launchers included:
/// `audit::record(&paths, &AuditEvent::ok(EventKind::Launch, now, elapsed).workspace("dev"))`.
pub fn record(paths: &Paths, event: &AuditEvent) {
    if let Err(e) = AuditLog::new(&paths.data_dir).append(event) {
        tracing::warn!(error = %e, "could not write the audit log");
    }
}

/// A damaged line that [`AuditLog::read`] skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedLine {
    /// The file it is in.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it (never its content).
    pub reason: String,
}

/// What [`AuditLog::read`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditRead {
    /// Events, oldest first.
    pub events: Vec<AuditEvent>,
    /// Lines that could not be read.
    pub skipped: Vec<SkippedLine>,
}

/// The audit log files of one data dir.
#[derive(Debug, Clone)]
pub struct AuditLog {
    dir: PathBuf,
    max_bytes: u64,
    keep: usize,
}

impl AuditLog {
    /// The log in `data_dir`, with the default limits (1 MiB, 3 rotated files).
    pub fn new(data_dir: &Path) -> Self {
        Self::with_limits(data_dir, MAX_BYTES, KEEP)
    }

    /// The log with explicit limits (tests use small ones).
    pub(crate) fn with_limits(data_dir: &Path, max_bytes: u64, keep: usize) -> Self {
        AuditLog { dir: data_dir.to_path_buf(), max_bytes: max_bytes.max(1), keep: keep.max(1) }
    }

    /// The current file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(AUDIT_FILE)
    }

    fn rotated(&self, n: usize) -> PathBuf {
        self.dir.join(format!("{AUDIT_FILE}.{n}"))
    }

    /// Appends one line, rotating first when the file would grow past the limit.
    pub fn append(&self, event: &AuditEvent) -> io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        create_private_dir(&self.dir)?;
        // The lock only guards rotation; if it cannot be had quickly, append anyway.
        let lock = lakepass_store::lock::FileLock::acquire(
            &self.dir.join("locks").join("audit.lock"),
            Duration::from_millis(500),
        );
        let size = std::fs::metadata(self.path()).map(|m| m.len()).unwrap_or(0);
        if lock.is_ok() && size > 0 && size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let mut file = open_append(&self.path())?;
        // One write call per line: with O_APPEND the kernel places it whole at the end.
        let written = file.write(&line)?;
        if written != line.len() {
            file.write_all(&line[written..])?;
        }
        Ok(())
    }

    fn rotate(&self) -> io::Result<()> {
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1))?;
            }
        }
        std::fs::rename(self.path(), self.rotated(1))
    }

    /// Every readable event, oldest first (rotated files, then the current one); damaged lines
    /// are skipped and listed.
    pub fn read(&self) -> AuditRead {
        let mut out = AuditRead::default();
        let files = (1..=self.keep).rev().map(|n| self.rotated(n)).chain([self.path()]);
        for file in files {
            let Ok(bytes) = std::fs::read(&file) else { continue };
            for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
                if raw.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<AuditEvent>(raw) {
                    Ok(e) => out.events.push(e),
                    Err(e) => out.skipped.push(SkippedLine {
                        file: file.clone(),
                        line: i + 1,
                        reason: format!("not an audit event ({})", e.classify_name()),
                    }),
                }
            }
        }
        out
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(unix)]
fn open_append(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_append(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Replaces anything token-like in `text` (a JWT, a Databricks token, a long opaque run) with
/// `[redacted]`, and shortens it. Error messages are written never to hold tokens; this is the
/// second guard.
pub(crate) fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let opaque = word.len() >= 32 && !word.contains(['/', ':', '.']);
        let tokenish = word.starts_with("eyJ") && word.len() >= 16
            || (word.starts_with("dapi") || word.starts_with("dose") || word.starts_with("dvs"))
                && word.len() >= 20
            || opaque;
        out.push_str(if tokenish { "[redacted]" } else { word });
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-_.~+/=:".contains(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    out
}

fn rfc3339(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_tokens_and_keeps_words() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let s =
            scrub(&format!("refused {jwt} at http://127.0.0.1:1/oidc/v1/token (dapi0123456789abcdef0123)"));
        assert!(!s.contains("eyJ") && !s.contains("dapi0123"), "{s}");
        assert!(s.contains("http://127.0.0.1:1/oidc/v1/token"), "{s}");
        assert!(scrub(&"x ".repeat(400)).ends_with('…'));
    }

    #[test]
    fn rotates_and_reads_oldest_first_skipping_damage() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::with_limits(dir.path(), 400, 2);
        for i in 0..20 {
            log.append(&AuditEvent::ok(EventKind::Exchange, i, Duration::from_millis(5)).workspace("dev"))
                .unwrap();
        }
        assert!(log.rotated(1).exists() && log.rotated(2).exists() && !log.rotated(3).exists());
        assert!(std::fs::metadata(log.path()).unwrap().len() <= 400);
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"time\": tru\n")
            .unwrap();
        log.append(&AuditEvent::ok(EventKind::Refresh, 99, Duration::ZERO)).unwrap();
        let read = log.read();
        assert_eq!(read.skipped.len(), 1, "{read:?}");
        let times: Vec<_> = read.events.iter().map(|e| e.time.clone()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "oldest first");
        assert_eq!(read.events.last().unwrap().event, EventKind::Refresh);
    }
}
