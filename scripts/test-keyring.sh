#!/usr/bin/env bash
# Runs crates/integration/tests/it/keyring_real.rs alone against a real Secret Service
# (scripts/with-keyring.sh: a throwaway gnome-keyring on a private D-Bus session). CI runs the
# case inside the whole nextest suite instead (.ci/run); this is the quick local check.
# Extra arguments go to `cargo test`, e.g. `scripts/test-keyring.sh -- --nocapture`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The whole run, build included, is bounded: a hung D-Bus call must fail, not stall.
exec timeout --kill-after=10 1800 bash scripts/with-keyring.sh \
    cargo test -p lakepass-integration --test it keyring_real:: "$@"
