//! Small facts about the machine a test needs: file modes and free loopback ports.

use std::path::Path;

/// The Unix permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display())).permissions().mode()
        & 0o777
}

/// A free TCP port on 127.0.0.1 (bound then released; a tiny race is acceptable in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Whether the tests run as root (CI does): what binding port 443, adding a system CA or acting
/// as another user (`setpriv`) needs.
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Kills every process of the tmux server at `server` (`-S <path>` or `-L <name>`, as the
/// test started it), pane by pane, then the server. Each pane is its own process group, and an
/// agent that ignores the hang-up `kill-server` sends (Gemini CLI's Node process does) would
/// otherwise outlive the test. For a guard's `Drop`: it never fails.
pub fn end_tmux(server: &[&str], env: &[(String, std::ffi::OsString)]) {
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .env_clear()
            .envs(env.iter().cloned())
            .args(server)
            .args(args)
            .output()
    };
    if let Ok(out) = tmux(&["list-panes", "-a", "-F", "#{pane_pid}"]) {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if pid.chars().all(|c| c.is_ascii_digit()) {
                let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
            }
        }
    }
    let _ = tmux(&["kill-server"]);
}
