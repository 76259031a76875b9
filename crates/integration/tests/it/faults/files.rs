//! Faults of the files Lakepass shares with other programs: a full disk under
//! `~/.databrickscfg`, another program saving it while we edit (without a lock, and with
//! util-linux `flock` in a script of its own), and a damaged vault file.

use lakepass_engine::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use lakepass_engine::status::TokenState;
use lakepass_store::databrickscfg;

use super::*;

/// A 64 KiB tmpfs mounted for one test (we run as root on CI), unmounted when dropped.
struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    fn mount() -> Option<TinyDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "lakepass-faults"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(TinyDisk { dir });
        }
        let why = "a_full_disk_under_databrickscfg_keeps_the_old_file_and_says_so: cannot mount a tmpfs \
                   here (needs root or CAP_SYS_ADMIN)";
        assert!(crate::support::may_skip(why));
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the disk refuses more; returns it.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = [0u8; 1024];
        for _ in 0..1024 {
            if file.write_all(&chunk).and_then(|()| file.sync_all()).is_err() {
                return filler;
            }
        }
        panic!("a 64 KiB disk took 1 MiB");
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[tokio::test]
async fn a_full_disk_under_databrickscfg_keeps_the_old_file_and_says_so() {
    within(CASE_TIMEOUT, async {
        let Some(disk) = TinyDisk::mount() else { return };
        let mut f = fixture().await;
        f.paths.databrickscfg = disk.path().join("databrickscfg");
        let e = f.engine().await;
        f.sign_in(&e).await;
        let before = std::fs::read(&f.paths.databrickscfg).unwrap();
        let filler = disk.fill();
        let t = e.refresh_workspace(&ws(&e, "dev"), true).await.expect("the exchange itself works");
        assert_eq!(std::fs::read(&f.paths.databrickscfg).unwrap(), before, "old file intact, byte for byte");
        assert!(temp_files(disk.path()).is_empty(), "no temp file left on the full disk");
        let s = status(&e, "dev");
        let told = s.error_message().unwrap_or_default();
        assert!(told.contains("free space") && told.contains("databrickscfg"), "the user is told: {s:?}");
        // The token is safe in the vault; space comes back and the next write catches up.
        assert_eq!(e.token(&ws(&e, "dev")).await.unwrap().access_token, t.access_token);
        std::fs::remove_file(filler).unwrap();
        let t2 = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap();
        assert_eq!(f.file_token("dev").as_deref(), Some(t2.access_token.secret()));
        assert_eq!(status(&e, "dev").last_error, None, "the warning clears once the file is written");
    })
    .await
}

#[tokio::test]
async fn an_editor_saving_while_we_edit_is_not_overwritten() {
    within(CASE_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("databrickscfg");
        std::fs::write(&path, "[mine]\nhost = https://mine.example\n").unwrap();
        let mut runs = 0;
        databrickscfg::update_file(&path, |text| {
            runs += 1;
            if runs == 1 {
                // Another program (no lock) saves between our read and our rename.
                let theirs = format!("{text}\n[theirs]\nhost = https://theirs.example\n");
                std::fs::write(&path, theirs).unwrap();
            }
            databrickscfg::upsert_profile(text, "dev", &[("host", "https://dev.example"), ("token", "t1")])
        })
        .unwrap();
        assert_eq!(runs, 2, "the edit ran again on the other program's version");
        let text = std::fs::read_to_string(&path).unwrap();
        for profile in ["mine", "theirs", "dev"] {
            assert!(
                databrickscfg::read_profile(&text, profile).unwrap().is_some(),
                "[{profile}] lost:\n{text}"
            );
        }
    })
    .await
}

/// A shell script that edits `~/.databrickscfg` the documented way, `flock FILE.lock` around
/// read → append → write, 60 times; `flock` is util-linux's, in its own process.
const LOCKING_EDITOR: &str = r#"
for i in $(seq 0 59); do
    flock "$CFG.lock" sh -c 'text=$(cat "$CFG"); printf "%s\n\n[ext%s]\nhost = https://ext%s.example\n" "$text" "$1" "$1" > "$CFG"' _ "$i"
done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_locking_editor_and_the_engine_lose_no_write() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let mut editor = tokio::process::Command::new("sh")
            .args(["-c", LOCKING_EDITOR])
            .env("CFG", &f.paths.databrickscfg)
            .kill_on_drop(true)
            .spawn()
            .expect("sh and flock (util-linux) run");
        let mut last = None;
        let mut during = 0;
        while during < 15 || editor.try_wait().unwrap().is_none() {
            last = Some(e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap());
            during += 1;
        }
        assert!(editor.wait().await.unwrap().success(), "the editor script failed");
        let text = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
        for i in 0..60 {
            assert!(
                databrickscfg::read_profile(&text, &format!("ext{i}")).unwrap().is_some(),
                "[ext{i}] lost after {during} refreshes"
            );
        }
        assert_eq!(
            f.file_token("dev").as_deref(),
            Some(last.unwrap().access_token.secret()),
            "our last write kept"
        );
    })
    .await
}

#[tokio::test]
async fn a_damaged_vault_file_is_reported_and_left_for_the_user() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let vault = f.paths.data_dir.join("vault.json");
        std::fs::write(&vault, b"{\"idp:devstack\": \"trunc").unwrap();
        let err = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Vault, "{err}");
        assert!(err.to_string().contains("damaged") && err.to_string().contains("vault.json.bad"), "{err}");
        assert_eq!(std::fs::read(&vault).unwrap(), b"{\"idp:devstack\": \"trunc", "never overwritten");
        assert_ne!(state(&e, "dev"), TokenState::Fresh);
    })
    .await
}
