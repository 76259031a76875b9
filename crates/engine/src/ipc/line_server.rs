//! The same-user line-protocol server: one mechanism under the engine socket
//! ([`IpcServer`](super::IpcServer)) and the dashboard's link to the Linux tray
//! (`lakepass_app::remote`), so both keep the same walls.
//!
//! It owns the socket (a 0600 socket in a 0700 folder, peers of this user only; a local-only
//! named pipe on Windows), the limits ([`Limits`]: clients at once, time and length of the
//! first line) and the cleanup (dropping the server ends every connection and removes the
//! socket). What a connection means is the protocol's: a [`LineHandler`] gets the first line
//! and the connection, and answers once or keeps talking.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, ReadHalf, WriteHalf};
use tokio::task::JoinHandle;

use super::IpcError;
use super::accept::{Accept, accept_bounded};
use super::platform;

/// A client's stream: a Unix socket, or a named pipe's server end on Windows.
pub type LocalStream = platform::Stream;

/// Most clients served at once, by default; further ones wait to be accepted.
pub const MAX_CLIENTS: usize = 64;
/// How long a client may take to send its first line, by default; then it is dropped.
pub const FIRST_LINE_TIMEOUT: Duration = Duration::from_secs(5);

/// A server's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections open at once; past it a client waits to be accepted until one ends.
    pub max_clients: usize,
    /// How long a client may take to send its first line; one that is silent longer is dropped
    /// unanswered, so idle clients cannot hold every slot.
    pub first_line_timeout: Duration,
    /// The longest first line, in bytes.
    pub max_line: u64,
}

impl Limits {
    /// The default client cap and first-line timeout, with the protocol's longest line.
    pub const fn with_max_line(max_line: u64) -> Limits {
        Limits { max_clients: MAX_CLIENTS, first_line_timeout: FIRST_LINE_TIMEOUT, max_line }
    }
}

/// A client whose first line has been read: the rest of what it sends, and the way back.
pub struct Connection {
    /// What the client sends after its first line.
    pub read: BufReader<ReadHalf<LocalStream>>,
    /// The way back to the client.
    pub write: WriteHalf<LocalStream>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// What a protocol does with a connection once its first line is in.
pub trait LineHandler: Send + Sync + 'static {
    /// Answers the client that sent `first_line` (with its line ending; empty when the client
    /// closed without sending one). The connection ends when the returned future does.
    fn handle(
        &self,
        first_line: String,
        conn: Connection,
    ) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// A running line server. Dropping it stops it, ends every connection and removes the socket.
pub struct LineServer {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for LineServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineServer").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Accept for platform::Listener {
    type Stream = LocalStream;

    fn accept(&mut self) -> impl Future<Output = std::io::Result<LocalStream>> + Send {
        platform::Listener::accept(self)
    }
}

impl LineServer {
    /// Listens at `path` and hands every client to `handler`, within `limits`. A stale socket
    /// left by a crashed server is replaced; a live one is [`IpcError::AlreadyRunning`]. `what`
    /// names the server in logs.
    pub async fn start<H: LineHandler>(
        path: PathBuf,
        limits: Limits,
        what: &'static str,
        handler: H,
    ) -> Result<LineServer, IpcError> {
        let listener = platform::Listener::bind(&path).await?;
        let handler = Arc::new(handler);
        let serve = move |stream: LocalStream| {
            let handler = handler.clone();
            async move {
                if let Err(error) = serve_one(&*handler, limits, stream).await {
                    tracing::debug!(%error, "{what}: connection ended");
                }
            }
        };
        let task =
            tokio::spawn(accept_bounded(listener, limits.max_clients, what, std::future::pending(), serve));
        tracing::info!(path = %path.display(), "{what} listening");
        Ok(LineServer { path, task })
    }

    /// The socket path (or the pipe name's source) it listens on.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LineServer {
    fn drop(&mut self) {
        // Aborting the loop drops every connection: followers see their stream end.
        self.task.abort();
        platform::cleanup(&self.path);
    }
}

async fn serve_one<H: LineHandler>(handler: &H, limits: Limits, stream: LocalStream) -> std::io::Result<()> {
    let (read, write) = tokio::io::split(stream);
    let mut first = BufReader::new(read).take(limits.max_line);
    let mut line = String::new();
    match tokio::time::timeout(limits.first_line_timeout, first.read_line(&mut line)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e),
        // Silent too long: dropped unanswered, its slot freed.
        Err(_) => return Ok(()),
    }
    handler.handle(line, Connection { read: first.into_inner(), write }).await
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Instant;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::UnixStream;

    use super::*;

    /// Answers a line with the same line.
    struct Echo;

    impl LineHandler for Echo {
        async fn handle(&self, line: String, mut conn: Connection) -> std::io::Result<()> {
            conn.write.write_all(line.as_bytes()).await?;
            conn.write.shutdown().await
        }
    }

    async fn answer(stream: &mut UnixStream, within: Duration) -> Option<String> {
        let mut got = String::new();
        match tokio::time::timeout(within, stream.read_to_string(&mut got)).await {
            Ok(Ok(_)) => Some(got),
            Ok(Err(e)) => panic!("reading the answer: {e}"),
            Err(_) => None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clients_past_the_cap_wait_until_a_silent_one_is_dropped_at_its_first_line_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("line.sock");
        let timeout = Duration::from_millis(400);
        let limits = Limits { max_clients: 2, first_line_timeout: timeout, max_line: 64 };
        let server = LineServer::start(path.clone(), limits, "test socket", Echo).await.expect("serves");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);

        let mut ok = UnixStream::connect(&path).await.unwrap();
        ok.write_all(b"hello\n").await.unwrap();
        assert_eq!(answer(&mut ok, Duration::from_secs(10)).await.as_deref(), Some("hello\n"));

        // Two clients that never send a line hold both slots.
        let start = Instant::now();
        let mut silent =
            [UnixStream::connect(&path).await.unwrap(), UnixStream::connect(&path).await.unwrap()];
        let mut late = UnixStream::connect(&path).await.unwrap();
        late.write_all(b"late\n").await.unwrap();
        assert_eq!(answer(&mut late, timeout / 2).await, None, "a client past the cap is not served");
        assert!(start.elapsed() < timeout, "the check ran before the silent clients' timeout");

        // At their timeout the silent ones are dropped unanswered, and the waiting one is served.
        for s in &mut silent {
            assert_eq!(answer(s, Duration::from_secs(10)).await.as_deref(), Some(""), "dropped, no answer");
        }
        assert!(start.elapsed() >= timeout, "not dropped before the timeout");
        assert_eq!(answer(&mut late, Duration::from_secs(10)).await.as_deref(), Some("late\n"));

        drop(server);
        assert!(!path.exists(), "the socket is removed when the server stops");
    }

    #[tokio::test]
    async fn a_second_server_is_refused_while_the_first_serves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("line.sock");
        let limits = Limits::with_max_line(64);
        let _first = LineServer::start(path.clone(), limits, "test socket", Echo).await.expect("serves");
        let second = LineServer::start(path.clone(), limits, "test socket", Echo).await;
        assert!(matches!(second, Err(IpcError::AlreadyRunning { .. })), "{second:?}");
    }
}
