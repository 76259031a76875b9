//! Tauri's build step: embeds tauri.conf.json, the capabilities and the icons.
//!
//! `generate_context!` refuses to compile when the dashboard (`ui/dist`) has not been built. A
//! workspace-wide `cargo check` should not need Node, so a missing `ui/dist` gets a placeholder
//! page that says how to build the real one; `scripts/ci-ui.sh` and `tauri build` build it first.
use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(&dist).expect("create ui/dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><title>Lakepass</title><p>This build has no dashboard: run \
             <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>, then rebuild.</p>",
        )
        .expect("write the placeholder dashboard");
    }
    tauri_build::build()
}
