//! The in-process integration tests of the library crates (wire, store, config, engine,
//! launch, doctor, admin) against a real devstack over loopback: the engine, live service,
//! socket and roles, the fault suite, the bad-input corpus with its controls, the parsers'
//! properties and the real-keyring check.
//!
//! Why one binary: each top-level file used to link core, the devstack and every dependency
//! on its own, nine times over. Suites are modules now; pick one by its path, e.g.
//! `cargo test -p lakepass-integration --test it faults::` (what `scripts/faults.sh` does) or
//! `cargo nextest run -p lakepass-integration -E 'test(/^serve::/)'`. The shared fixture is `support`.

mod admin;
mod bad_input;
mod controls;
mod doctor;
mod engine;
mod faults;
#[cfg(unix)]
mod ipc;
mod keyring_real;
mod mcp;
mod properties;
mod roles;
mod serve;
mod server_errors;
mod support;
mod tls;
