//! Defences that only an attacker exercises, each guarded by a test that fails when its line is
//! removed: the engine socket's peer-uid check (a client of another user gets nothing, even
//! when the files would let it connect), and the CLI's own re-checks of what an engine answers
//! (a stand-in engine — an older or a hostile one — that answers for another host, or without
//! the scope asked, is ignored and the vault's token is used instead).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use lakepass_tests::*;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

const FORGED: &str = "forged-token-from-a-stand-in-engine";

/// The engine socket of a home whose data dir is set (`$LAKEPASS_DATA_DIR/lakepass.sock`).
fn socket(home: &TempHome) -> std::path::PathBuf {
    home.data_dir().join("lakepass.sock")
}

/// A stand-in engine on the home's socket: answers every request line with `reply`.
fn stand_in_engine(home: &TempHome, reply: serde_json::Value) -> tokio::task::JoinHandle<()> {
    let path = socket(home);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).expect("bind the stand-in engine's socket");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                if BufReader::new(read).read_line(&mut line).await.is_ok() {
                    let mut out = serde_json::to_vec(&reply).unwrap();
                    out.push(b'\n');
                    let _ = write.write_all(&out).await;
                }
            });
        }
    })
}

async fn signed_in_home(ds: &Devstack) -> TempHome {
    let home = TempHome::new();
    home.write_devstack_config(ds);
    home.login(&[]).await;
    home
}

fn dev_host(home_status: &serde_json::Value) -> String {
    home_status["workspaces"].as_array().unwrap().iter().find(|w| w["name"] == "dev").unwrap()["host"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stand_in_engine_answering_for_another_host_is_ignored() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = signed_in_home(&ds).await;
    let expires =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3000;
    let _engine = stand_in_engine(
        &home,
        serde_json::json!({"status": "ok", "access_token": FORGED, "expires_at": expires,
                           "host": "https://attacker.example"}),
    );
    let out = home.run(&["-v", "token", "--raw", "--workspace", "dev"]).await.success();
    let token = out.stdout.trim();
    assert!(!token.is_empty() && token != FORGED, "the forged token was used: {}", redact(&out.stdout));
    assert!(out.stderr.contains("answered for another host"), "{out:?}");
    let (status, _) = scim_me(&ws_host(&ds, "dev"), token).await;
    assert_eq!(status, 200, "the vault's token, valid at the workspace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stand_in_engine_answering_a_scoped_request_without_the_scope_is_ignored() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_config(&format!("{}\n[mcp.dev]\n", devstack_config(&ds)));
    home.login(&[]).await;
    let host = dev_host(&home.run(&["status", "--json"]).await.success().json());
    let expires =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3000;
    // The right host, no scope: what an engine from before scoped tokens answers (its broad
    // workspace token).
    let _engine = stand_in_engine(
        &home,
        serde_json::json!({"status": "ok", "access_token": FORGED, "expires_at": expires, "host": host}),
    );
    let out = home.run(&["-v", "token", "--raw", "--workspace", "dev", "--scope", "sql"]).await.success();
    let token = out.stdout.trim();
    assert!(!token.is_empty() && token != FORGED, "the unscoped answer was used: {}", redact(&out.stdout));
    assert!(out.stderr.contains("without that scope"), "{out:?}");
}

/// Opens every folder from the temp root down to `dir` for others to pass through (x only).
fn let_others_through(root: &Path, dir: &Path) {
    let mut d = dir.to_path_buf();
    loop {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode | 0o011)).unwrap();
        if d == root || !d.pop() {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_gets_no_token_from_the_engine_socket_even_when_its_files_let_them_in() {
    let setpriv = std::process::Command::new("setpriv").arg("--help").output().is_ok();
    // The system Python: a per-user one (pyenv under /root) is not reachable by another user.
    let python = Path::new("/usr/bin/python3").exists();
    if !(is_root() && setpriv && python)
        && may_skip("needs root, setpriv and /usr/bin/python3 to act as another local user (CI runs as root)")
    {
        return;
    }
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_config(&format!("{}\n[serve]\nport = {}\n", devstack_config(&ds), free_port()));
    home.login(&[]).await;
    let host = dev_host(&home.run(&["status", "--json"]).await.success().json());
    let (mut daemon, _) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("live token service on").then_some(()),
    )
    .await;
    daemon.close_stdin();
    let sock = socket(&home);
    assert!(sock.exists(), "the daemon's socket at {}", sock.display());

    // Take the file-system walls away (folders passable, the socket writable by anyone): the
    // peer-uid check is then the only thing between another user and a token.
    let_others_through(home.root(), sock.parent().unwrap());
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let request = serde_json::json!({"request": "token", "workspace": "dev", "host": host}).to_string();
    let client = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
print("connected", file=sys.stderr)
data = b""
try:
    # The server may close before reading a byte: a refused peer gets nothing, not even a read.
    s.sendall(sys.argv[2].encode() + b"\n")
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except OSError as e:
    print("error:", e.__class__.__name__, file=sys.stderr)
sys.stdout.write(data.decode(errors="replace"))
"#;
    let out = tokio::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", client])
        .arg(&sock)
        .arg(&request)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains("connected"), "the other user reached the socket (the test's premise): {stderr}");
    assert!(!stdout.contains("access_token"), "another user got a token: {}", redact(&stdout));

    // The owner still gets a token.
    let mine = home.run(&["token", "--raw", "--workspace", "dev"]).await.success();
    assert!(!mine.stdout.trim().is_empty());
    daemon.sigterm();
    daemon.wait(Duration::from_secs(20)).await.success();
}
