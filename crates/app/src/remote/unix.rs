//! The tray's side (a [`Server`] over a host) and the dashboard's side ([`RemoteHost`]) of
//! `app.sock`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lakepass_engine::ErrorKind;
use lakepass_engine::ipc::{Connection, Limits, LineHandler, LineServer, connect_local};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::{Answer, Call, Push, Reply, dispatch};
use crate::app_error::AppError;
use crate::events::Event;
use crate::host::Host;
use crate::view::AppView;

/// The longest request line: a team file being imported is the largest thing sent (the core
/// refuses team files over 1 MiB).
const MAX_LINE: u64 = 2 * 1024 * 1024;
/// The longest reply or push line (a view with hundreds of workspaces, a doctor's report).
const MAX_REPLY: u64 = 16 * 1024 * 1024;

/// What the tray does when a second start asks for the dashboard.
pub type OnShow = Arc<dyn Fn() + Send + Sync>;

/// Serves a host's calls on `app.sock` until dropped (then followers see the stream end).
#[derive(Debug)]
pub struct Server {
    server: LineServer,
}

/// The dashboard socket's limits: the engine socket's client cap and first-line timeout, and
/// room for the largest call.
const LIMITS: Limits = Limits::with_max_line(MAX_LINE);

impl Server {
    /// Listens at `path`. A socket left by a tray that crashed is replaced; a live one is
    /// `IpcError::AlreadyRunning` (the caller asked it to show the dashboard first).
    pub async fn start(host: Arc<Host>, path: PathBuf, on_show: OnShow) -> Result<Server, AppError> {
        let server = LineServer::start(path, LIMITS, "dashboard socket", Calls { host, on_show })
            .await
            .map_err(|e| AppError::new(ErrorKind::Unexpected, format!("the dashboard's socket: {e}")))?;
        Ok(Server { server })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        self.server.path()
    }
}

/// The tray's side of the protocol: a call line, then one reply, or pushes for a follower.
struct Calls {
    host: Arc<Host>,
    on_show: OnShow,
}

impl LineHandler for Calls {
    async fn handle(&self, line: String, conn: Connection) -> std::io::Result<()> {
        let Connection { read, mut write } = conn;
        let call = match serde_json::from_str::<Call>(line.trim_end()) {
            Ok(c) => c,
            Err(e) => {
                let err = AppError::new(ErrorKind::BadRequest, format!("not a call: {e}"));
                return write_line(&mut write, &Reply::Err(err)).await;
            }
        };
        let reply = match call {
            Call::Follow => return follow(&self.host, read, write).await,
            Call::ShowDashboard => {
                (self.on_show)();
                Reply::Ok(serde_json::Value::Null)
            }
            call => match dispatch(&self.host, call).await {
                Ok(v) => Reply::Ok(v),
                Err(e) => Reply::Err(e),
            },
        };
        write_line(&mut write, &reply).await
    }
}

async fn write_line<W: AsyncWrite + Unpin, T: serde::Serialize>(w: &mut W, value: &T) -> std::io::Result<()> {
    let mut out = serde_json::to_vec(value).expect("replies serialize");
    out.push(b'\n');
    w.write_all(&out).await?;
    w.flush().await
}

/// Pushes the view and the events now and on every change, until the client goes away (its
/// read side ends) or the host is dropped.
async fn follow<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    host: &Arc<Host>,
    mut read: BufReader<R>,
    mut write: W,
) -> std::io::Result<()> {
    let mut views = host.subscribe();
    let mut events = host.subscribe_events();
    write_line(&mut write, &Push::View(Box::new(host.view()))).await?;
    write_line(&mut write, &Push::Events(host.events())).await?;
    views.borrow_and_update();
    events.borrow_and_update();
    let mut sink = Vec::new();
    loop {
        tokio::select! {
            r = views.changed() => {
                if r.is_err() { return Ok(()) }
                let view = views.borrow_and_update().clone();
                write_line(&mut write, &Push::View(Box::new(view))).await?;
            }
            r = events.changed() => {
                if r.is_err() { return Ok(()) }
                events.borrow_and_update();
                write_line(&mut write, &Push::Events(host.events())).await?;
            }
            // The client sends nothing after its call: a read that ends means it went away.
            n = read.read_buf(&mut sink) => {
                if matches!(n, Ok(0) | Err(_)) { return Ok(()) }
                sink.clear();
            }
        }
    }
}

/// The dashboard's handle on the tray's host.
#[derive(Debug, Clone)]
pub struct RemoteHost {
    path: PathBuf,
}

/// One thing a follower hears.
#[derive(Debug, Clone)]
pub enum Update {
    /// A new view.
    View(Box<AppView>),
    /// The recent events, newest first.
    Events(Vec<Event>),
}

/// A [`Call::Follow`] connection.
pub struct Follow {
    lines: tokio::io::Lines<BufReader<UnixStream>>,
}

impl Follow {
    /// The next update; `None` when the tray is gone (quit, crashed).
    pub async fn next(&mut self) -> Option<Update> {
        let line = self.lines.next_line().await.ok().flatten()?;
        match serde_json::from_str::<Push>(&line) {
            Ok(Push::View(v)) => Some(Update::View(v)),
            Ok(Push::Events(e)) => Some(Update::Events(e)),
            Err(e) => {
                tracing::warn!(error = %e, "app socket: a push that does not parse; closing");
                None
            }
        }
    }
}

fn unreachable(path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::new(
        ErrorKind::Unexpected,
        format!("the Lakepass tray does not answer on {}: {e}", path.display()),
    )
}

impl RemoteHost {
    /// The tray serving at `path`.
    pub fn new(path: PathBuf) -> RemoteHost {
        RemoteHost { path }
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn open(&self, call: &Call) -> Result<UnixStream, AppError> {
        let mut stream = connect_local(&self.path).await.map_err(|e| unreachable(&self.path, e))?;
        write_line(&mut stream, call).await.map_err(|e| unreachable(&self.path, e))?;
        Ok(stream)
    }

    /// Sends one call and waits for its answer (a sign-in waits for the browser).
    pub async fn call(&self, call: &Call) -> Answer {
        let stream = self.open(call).await?;
        let mut line = String::new();
        BufReader::new(stream)
            .take(MAX_REPLY)
            .read_line(&mut line)
            .await
            .map_err(|e| unreachable(&self.path, e))?;
        if line.is_empty() {
            return Err(unreachable(&self.path, "it closed the connection without an answer"));
        }
        match serde_json::from_str::<Reply>(line.trim_end()) {
            Ok(Reply::Ok(v)) => Ok(v),
            Ok(Reply::Err(e)) => Err(e),
            Err(e) => {
                Err(AppError::new(ErrorKind::BadRequest, format!("the tray's answer does not parse: {e}")))
            }
        }
    }

    /// Opens a follow connection: the current view and events first, then each change.
    pub async fn follow(&self) -> Result<Follow, AppError> {
        let stream = self.open(&Call::Follow).await?;
        Ok(Follow { lines: BufReader::new(stream).lines() })
    }
}
