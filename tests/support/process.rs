//! Child processes a test can neither hang on nor deadlock with: [`Proc`] is killed when
//! dropped and its pipes are drained in the background; [`Output`] is what it left.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

use crate::redact;

/// A finished process: exit code and everything it printed.
pub struct Output {
    /// What ran, for messages (arguments only; never secrets).
    pub what: String,
    /// The exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.code,
            redact(&tail(&self.stdout, 4000)),
            redact(&tail(&self.stderr, 8000))
        )
    }
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = s.len() - max;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &s[cut..])
}

impl Output {
    /// Panics (with the redacted output) unless it exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "expected success: {self:?}");
        self
    }

    /// Panics (with the redacted output) unless it exited with `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "expected exit {code}: {self:?}");
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// A running child: killed on drop, its stdout and stderr drained by background tasks.
pub struct Proc {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

/// Which output stream of a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Proc {
    /// Spawns `cmd` with piped stdio (stdin stays open until [`Proc::close_stdin`] or drop).
    pub fn spawn(what: impl Into<String>, mut cmd: Command) -> Self {
        let what = what.into();
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
        let stdin = child.stdin.take();
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        Proc { what, child, stdin, stdout, stderr }
    }

    /// Like [`Proc::spawn`], but reads `stream` line by line until `pick` returns `Some`,
    /// within `timeout`; the rest is then drained in the background.
    pub async fn spawn_until<T>(
        what: impl Into<String>,
        mut cmd: Command,
        stream: Stream,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> (Self, T) {
        let what = what.into();
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let (watched, other): (Box<dyn AsyncRead + Unpin + Send>, _) = match stream {
            Stream::Stdout => (Box::new(out), drain(err)),
            Stream::Stderr => (Box::new(err), drain(out)),
        };
        let mut lines = BufReader::new(watched).lines();
        let mut head = String::new();
        let found = tokio::time::timeout(timeout, async {
            while let Ok(Some(line)) = lines.next_line().await {
                head.push_str(&line);
                head.push('\n');
                if let Some(v) = pick(&line) {
                    return Some(v);
                }
            }
            None
        })
        .await;
        let value = match found {
            Ok(Some(v)) => v,
            other => {
                let _ = child.start_kill();
                let why = if other.is_err() { "timed out" } else { "closed its output" };
                panic!(
                    "`{what}` {why} before printing what the test waits for; {stream:?} so far:\n{}",
                    redact(&head)
                );
            }
        };
        let rest = tokio::spawn(async move {
            let mut rest = String::new();
            let _ = lines.into_inner().read_to_string(&mut rest).await;
            format!("{head}{rest}")
        });
        let (stdout, stderr) = match stream {
            Stream::Stdout => (rest, other),
            Stream::Stderr => (other, rest),
        };
        let proc = Proc { what, child, stdin, stdout, stderr };
        (proc, value)
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("child still running")
    }

    /// Closes the child's stdin (peers exit when it closes).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends SIGTERM (via `kill(1)`: the workspace forbids `unsafe`).
    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits up to `timeout` for the child to exit (killing it on timeout, which panics).
    pub async fn wait(mut self, timeout: Duration) -> Output {
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(s) => s.expect("wait for child"),
            Err(_) => {
                let _ = self.child.kill().await;
                let out = self.collect(None).await;
                panic!("timed out after {timeout:?}; killed it: {out:?}");
            }
        };
        self.collect(status.code()).await
    }

    async fn collect(&mut self, code: Option<i32>) -> Output {
        self.stdin = None;
        let grab = |h: &mut JoinHandle<String>| {
            let h = std::mem::replace(h, tokio::spawn(async { String::new() }));
            async move {
                tokio::time::timeout(Duration::from_secs(5), h)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default()
            }
        };
        let stdout = grab(&mut self.stdout).await;
        let stderr = grab(&mut self.stderr).await;
        Output { what: self.what.clone(), code, stdout, stderr }
    }
}

fn drain(pipe: impl AsyncRead + Unpin + Send + 'static) -> JoinHandle<String> {
    tokio::spawn(async move {
        let mut bytes = Vec::new();
        let _ = BufReader::new(pipe).read_to_end(&mut bytes).await;
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
