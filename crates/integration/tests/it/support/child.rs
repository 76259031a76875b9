//! A real second process for the cases that claim one: this test binary run again, as a child,
//! with a role in its environment, on the same home.
//!
//! Why not a second engine in this process: `lock.rs` puts a process-wide mutex in front of
//! `flock`, so two engines in one process never reach the file lock, and a case that says "two
//! processes" would pass with `flock` removed. The child has its own copy of that mutex, so the
//! file lock is the only thing between the two. The test re-runs itself (`--exact`, like
//! `vault::tests::real_probe_without_dbus_falls_back_to_the_file`), and its first line hands
//! over to the child's part when [`role`] says it is the child. The two meet on the child's
//! stdin and stdout: the child says `ready` once its engine is built and waits for `go`, so the
//! racers start together rather than one process start-up apart.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};

/// The variable that carries the child's role; unset in the parent.
const ROLE: &str = "LAKEPASS_IT_CHILD_ROLE";

/// The role this process was started with, if it is a child of [`Child::spawn`].
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// The child's side: one line to the parent, flushed at once (a piped stdout may buffer).
pub fn say(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).unwrap();
}

/// The child's side of the start line: says `ready` and waits for the parent's `go`.
pub async fn ready_then_wait_for_go() {
    say("ready");
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(line.trim(), "go", "the parent's start signal");
}

/// A child process running the test `test` (its path inside the binary, e.g.
/// `faults::idp::…`) in role `role`; killed if dropped before [`Child::finish`].
pub struct Child {
    process: tokio::process::Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Child {
    /// Starts the child with `env` added to this process's environment.
    pub fn spawn(test: &str, role: &str, env: &[(&str, String)]) -> Child {
        let mut process = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the test binary runs again as a child");
        let stdin = process.stdin.take().unwrap();
        let stdout = BufReader::new(process.stdout.take().unwrap()).lines();
        Child { process, stdin, stdout }
    }

    /// What follows `prefix` on the child's next stdout line that has it (not necessarily at
    /// the start: libtest's `test name ... ` has no newline before the test's first line).
    pub async fn line(&mut self, prefix: &str) -> String {
        while let Some(line) = self.stdout.next_line().await.unwrap() {
            if let Some((_, rest)) = line.split_once(prefix) {
                return rest.to_string();
            }
        }
        panic!("the child ended without saying `{prefix}`")
    }

    /// The child's process id (to read its `/proc/<pid>` from outside).
    pub fn pid(&self) -> u32 {
        self.process.id().expect("the child runs")
    }

    /// Waits for the child's `ready`, then lets it go.
    pub async fn start(&mut self) {
        self.line("ready").await;
        self.stdin.write_all(b"go\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Waits for the child to end; fails unless its test passed.
    pub async fn finish(mut self) {
        let mut rest = Vec::new();
        while let Some(line) = self.stdout.next_line().await.unwrap() {
            rest.push(line);
        }
        let status = self.process.wait().await.unwrap();
        let rest = rest.join("\n");
        assert!(status.success(), "the child failed:\n{rest}");
        assert!(rest.contains("1 passed"), "the child ran no test:\n{rest}");
    }
}
