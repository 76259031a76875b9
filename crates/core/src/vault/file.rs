//! The file backend: `<data dir>/vault.json`, a JSON object `{ key: value }`.
//!
//! Plain text, protected only by its mode (0600, folder 0700): see the module docs of
//! [`crate::vault`] for why it exists. Writers hold `vault.json.lock` across read → modify →
//! write, so two processes adding different keys both keep theirs, and write through
//! [`write_atomic`] (temp file, fsync, rename), so a crash leaves the old file or the new one.
//! Readers need no lock: a rename is atomic. A file that does not parse is never overwritten.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use super::VaultError;
use crate::Secret;
use crate::atomic::write_atomic;
use crate::lock::FileLock;

/// The file's name inside the data dir.
pub(super) const FILE_NAME: &str = "vault.json";

/// How long a writer waits for another process to finish its write.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Key → secret, ordered so the file diffs and reads predictably.
type Entries = BTreeMap<String, Secret>;

/// Paths of the vault file, its lock and its folder. All methods block: call them off the
/// async threads.
#[derive(Debug, Clone)]
pub(super) struct FileStore {
    dir: PathBuf,
    path: PathBuf,
    lock_path: PathBuf,
}

impl FileStore {
    pub(super) fn new(data_dir: &Path) -> Self {
        FileStore {
            dir: data_dir.to_owned(),
            path: data_dir.join(FILE_NAME),
            lock_path: data_dir.join(format!("{FILE_NAME}.lock")),
        }
    }

    /// The vault file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the data dir, 0700, if it is missing. An existing folder is left as it is.
    pub(super) fn ensure_dir(&self) -> Result<(), VaultError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir).map_err(|source| VaultError::Io { path: self.dir.clone(), source })
    }

    pub(super) fn get(&self, key: &str) -> Result<Option<Secret>, VaultError> {
        Ok(self.read()?.remove(key))
    }

    pub(super) fn set(&self, key: &str, value: Secret) -> Result<(), VaultError> {
        self.ensure_dir()?;
        let _lock = FileLock::acquire(&self.lock_path, LOCK_TIMEOUT)?;
        let mut entries = self.read()?;
        entries.insert(key.to_owned(), value);
        self.write(&entries)
    }

    pub(super) fn delete(&self, key: &str) -> Result<(), VaultError> {
        if !self.dir.exists() {
            return Ok(());
        }
        let _lock = FileLock::acquire(&self.lock_path, LOCK_TIMEOUT)?;
        let mut entries = self.read()?;
        if entries.remove(key).is_none() {
            return Ok(());
        }
        self.write(&entries)
    }

    /// All entries; a missing file is an empty vault.
    fn read(&self) -> Result<Entries, VaultError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => parse(&Zeroizing::new(bytes), &self.path),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Entries::new()),
            Err(source) => Err(VaultError::Io { path: self.path.clone(), source }),
        }
    }

    fn write(&self, entries: &Entries) -> Result<(), VaultError> {
        write_atomic(&self.path, &render(entries), 0o600)
            .map_err(|source| VaultError::Io { path: self.path.clone(), source })
    }
}

/// Parses the file. An empty file holds nothing (there is nothing left to lose by writing it);
/// anything else that is not an object of strings is [`VaultError::Corrupt`].
fn parse(bytes: &[u8], path: &Path) -> Result<Entries, VaultError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Entries::new());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| VaultError::Corrupt { path: path.to_owned(), message: describe_json_error(&e) })
}

/// Where and what kind of error, without serde_json's message: that can quote the file's
/// content (`invalid type: string "<a token>"`), and the content is secrets.
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "not valid JSON",
        Category::Eof => "JSON cut short",
        Category::Data => "not a JSON object of string values",
        Category::Io => "unreadable",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn render(entries: &Entries) -> Zeroizing<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(entries).expect("a string map always serializes");
    bytes.push(b'\n');
    Zeroizing::new(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_messages_never_quote_the_content() {
        let path = Path::new("/d/vault.json");
        for bad in [
            &br#"{"idp:corp": 42, "x": "rt-very-secret"}"#[..],
            br#"["rt-very-secret"]"#,
            br#""rt-very-secret""#,
            br#"{"idp:corp": "rt-very-secret""#,
            br#"{"idp:corp" "rt-very-secret"}"#,
        ] {
            let err = parse(bad, path).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(matches!(err, VaultError::Corrupt { .. }), "{shown}");
            assert!(!shown.contains("very-secret"), "{shown}");
            assert!(shown.contains("/d/vault.json") && shown.contains("move it aside"), "{shown}");
        }
    }

    #[test]
    fn empty_file_is_an_empty_vault() {
        assert!(parse(b"", Path::new("v")).unwrap().is_empty());
        assert!(parse(b" \n", Path::new("v")).unwrap().is_empty());
    }

    #[test]
    fn render_round_trips() {
        let mut entries = Entries::new();
        entries.insert("ws:https://x.cloud.databricks.com".into(), Secret::new("{\"t\":\"a\"}"));
        entries.insert("idp:corp".into(), Secret::new("rt"));
        let back = parse(&render(&entries), Path::new("v")).unwrap();
        assert_eq!(back, entries);
    }
}
