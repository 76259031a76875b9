//! End-to-end tests: the built `lakepass` binary, run as a real process in a throwaway home,
//! against the devstack (in-process, real HTTP on 127.0.0.1) and real third-party peers.
//!
//! Build the binary first: `cargo build -p lakepass-cli && cargo test -p lakepass-tests`
//! (`.ci/run` does both). The peer tests need `scripts/ci-deps.sh` (npm `oidc-provider`, PyPI
//! `databricks-sdk`); without it they print "skipped" locally and fail under `CI`.

mod access_token_setup;
mod agent_codex;
mod agent_copilot;
mod agent_gemini;
mod agent_opencode;
mod agent_pi;
mod bad_input;
mod claude_code;
mod cli_helper_config;
mod defences;
mod doctor;
mod exit_codes;
mod faults_process;
mod isolation;
mod launch;
mod live_sdk;
mod login_flow;
mod mcp;
mod mcp_proxy;
mod oidc_provider;
mod parallel_token;
mod python_sdk;
mod readme_cli;
mod removal;
mod revoked;
mod rotation;
mod secrets;
mod signout;
mod team_setup;
mod tls;
mod tray;
