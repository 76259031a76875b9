//! The dashboard's TypeScript types (`ui/src/generated/`) are generated from the Rust types the
//! tray sends and receives, with ts-rs, so the two cannot drift apart.
//!
//! `scripts/gen-types.sh` runs this test with `TS_RS_EXPORT_DIR` set, and it writes the files
//! there. Run without it (plain `cargo test`), it generates into a temporary directory and fails
//! when the committed files differ: a Rust type changed and the script was not run.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use lakepass_app::app_error::AppError;
use lakepass_app::events::Event;
use lakepass_app::forms::{IdpForm, PresetForm, PresetView, WorkspaceForm};
use lakepass_app::remote::{Answered, Call};
use lakepass_app::view::AppView;
use lakepass_config::TeamPlan;
use lakepass_doctor::Report;
use lakepass_engine::{ErrorKind, Failure};
use ts_rs::{Config, TS};

/// Exports one type and what it refers to.
type Export = fn(&Config) -> Result<(), ts_rs::ExportError>;

/// Writes every type the dashboard uses, and what they refer to, into `dir`.
fn export(dir: &Path) {
    // Unix times are i64, which ts-rs would make `bigint`; serde_json sends them as numbers.
    let cfg = Config::new().with_out_dir(dir).with_large_int("number");
    let all: [Export; 13] = [
        // The dashboard's calls and what each answers: `ui/src/api.ts` is typed by these two.
        Call::export_all,
        Answered::export_all,
        AppView::export_all,
        Event::export_all,
        AppError::export_all,
        WorkspaceForm::export_all,
        IdpForm::export_all,
        ErrorKind::export_all,
        Failure::export_all,
        Report::export_all,
        PresetView::export_all,
        PresetForm::export_all,
        TeamPlan::export_all,
    ];
    for f in all {
        f(&cfg).expect("export the TypeScript bindings");
    }
}

/// The `.ts` files in `dir`, by name.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "ts") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.insert(name, fs::read_to_string(&path).unwrap());
        }
    }
    out
}

#[test]
fn export_bindings() {
    if let Some(dir) = std::env::var_os("TS_RS_EXPORT_DIR") {
        export(Path::new(&dir));
        return;
    }
    let fresh = tempfile::tempdir().unwrap();
    export(fresh.path());
    let committed: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "ui", "src", "generated"].iter().collect();
    assert_eq!(
        files(&committed),
        files(fresh.path()),
        "ui/src/generated is stale: run scripts/gen-types.sh and commit the result"
    );
}
