//! lakepass-app: what the tray and the dashboard show and do, with no toolkit in it.
//!
//! The [`host::Host`] runs the engine (as the core's `Daemon`) and publishes one
//! [`view::AppView`]; decisions are pure functions over it — [`menu::menu`],
//! [`look::icon_state`], [`notices::decide`], [`events::diff`] — unit tested without a display.
//! Two front ends apply them: the Tauri app (`src-tauri`, the dashboard everywhere and the tray
//! on macOS and Windows) and, on Linux, `lakepass tray` (a StatusNotifierItem beside the engine,
//! with no GTK or WebKit in its process). There the dashboard runs as its own process and reaches
//! the tray's host through [`remote`].
//!
//! What it may use: the library crates (`lakepass-wire`, `-store`, `-config`, `-engine`, and the
//! tools `-launch`, `-doctor`, `-admin`); never a toolkit. What uses it: `src-tauri` and the CLI.

pub mod app_error;
pub mod events;
pub mod follow;
pub mod forms;
pub mod hints;
pub mod host;
pub mod look;
pub mod menu;
pub mod notices;
pub mod onboarding;
pub mod platform;
pub mod remote;
pub mod view;
