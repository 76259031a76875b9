//! How the CLI talks to people: errors with their cause chain and an exit code, a spinner on
//! a TTY for slow steps, times in words. Logs go to stderr; stdout is for results only.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lakepass_engine::BuildError;

use lakepass_engine::EngineError;

use lakepass_engine::ErrorKind;

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}
impl std::error::Error for Exit {}

/// An error the CLI itself finds (a bad argument, a missing secret), carrying its kind and so
/// its exit code: what `anyhow::bail!` would say, typed.
#[derive(Debug)]
pub struct Problem {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened and what to do.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Problem {}

/// A usage error (exit 2): a flag or argument that cannot work.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Problem { kind: ErrorKind::Invalid, message: message.into() }.into()
}

/// An error of `kind` with `message`.
pub fn problem(kind: ErrorKind, message: impl Into<String>) -> anyhow::Error {
    Problem { kind, message: message.into() }.into()
}

/// Sets up logging to stderr. `LAKEPASS_LOG` (an env-filter) wins over `-v`.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LAKEPASS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .init();
}

/// The kind of the first typed error in the chain, if any.
pub fn kind_of(e: &anyhow::Error) -> Option<ErrorKind> {
    e.chain().find_map(|cause| {
        if let Some(ee) = cause.downcast_ref::<EngineError>() {
            Some(ee.kind())
        } else if let Some(be) = cause.downcast_ref::<BuildError>() {
            Some(be.kind())
        } else if let Some(p) = cause.downcast_ref::<Problem>() {
            Some(p.kind)
        } else if let Some(p) = cause.downcast_ref::<lakepass_admin::presets::PresetError>() {
            Some(p.kind())
        } else if let Some(a) = cause.downcast_ref::<lakepass_admin::AdminError>() {
            Some(a.kind())
        } else if let Some(w) = cause.downcast_ref::<lakepass_admin::WhoamiError>() {
            Some(w.kind())
        } else if let Some(l) = cause.downcast_ref::<lakepass_launch::LaunchError>() {
            Some(l.kind())
        } else if cause.is::<lakepass_wire::HostError>() {
            Some(ErrorKind::Invalid)
        } else {
            cause.downcast_ref::<lakepass_config::ConfigError>().map(|_| ErrorKind::Config)
        }
    })
}

/// The exit code an error maps to (see `lakepass --help`): [`ErrorKind::exit_code`].
pub fn code_for(e: &anyhow::Error) -> u8 {
    if let Some(Exit(c)) = e.downcast_ref::<Exit>() {
        return *c;
    }
    kind_of(e).map_or(1, ErrorKind::exit_code)
}

/// Prints the error chain and returns its exit code.
pub fn report(e: &anyhow::Error) -> ExitCode {
    let code = code_for(e);
    if e.downcast_ref::<Exit>().is_none() {
        eprintln!("lakepass: {}", chain_text(e));
    }
    ExitCode::from(code)
}

/// The error and its causes, `: `-separated, without repeats: the core's errors already say
/// their cause in their own message (`could not reach X: …`), so printing every link of the
/// chain (`{:#}`) would say it twice.
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A spinner on stderr while `fut` runs, only when stderr is a terminal.
pub async fn with_spinner<T>(message: &str, fut: impl std::future::Future<Output = T>) -> T {
    if !std::io::stderr().is_terminal() {
        return fut.await;
    }
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let msg = message.to_string();
    let spin = tokio::spawn(async move {
        let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        let mut i = 0;
        while !flag.load(Ordering::Relaxed) {
            eprint!("\r{} {msg}", frames[i % frames.len()]);
            let _ = std::io::stderr().flush();
            i += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprint!("\r\x1b[2K");
    });
    let out = fut.await;
    done.store(true, Ordering::Relaxed);
    let _ = spin.await;
    out
}

pub use lakepass_engine::status::time_left;

/// RFC 3339 for a UNIX time.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Unreachable(std::io::Error);
    impl std::fmt::Display for Unreachable {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "could not reach https://idp.example: {}", self.0)
        }
    }
    impl std::error::Error for Unreachable {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chains_say_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let e = anyhow::Error::new(Unreachable(io)).context("no token for workspace `dev`");
        assert_eq!(
            chain_text(&e),
            "no token for workspace `dev`: could not reach https://idp.example: connection refused"
        );
    }

    #[test]
    fn times_read_naturally() {
        // `time_left` is the core's (tested there); the CLI prints it and RFC 3339 in UTC.
        assert_eq!(time_left(7325), "2h 02m");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
