//! The Lakepass config parser (TOML → validated config) on arbitrary text: errors, no panics.
//!
//! toml_edit 0.23 panics on some malformed files; `Config::parse` catches that and returns an
//! error (regression row `bad_input::broken_config::fuzz_crash_*`). libfuzzer-sys's panic hook
//! aborts even on a caught panic, so the default hook is put back: a panic that escapes
//! `Config::parse` still aborts through libfuzzer-sys's own `catch_unwind` and is reported.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cfg) = lakepass_config::Config::parse(text, std::path::Path::new("fuzz.toml")) {
            let _ = cfg.workspaces();
        }
    }
});
