#!/usr/bin/env bash
# Regenerates the dashboard's TypeScript types (ui/src/generated/) from the Rust types the tray
# sends and receives, with ts-rs (src-tauri/tests/bindings.rs). Run it after changing one of them
# and commit the result; scripts/ci-ui.sh checks that running it changes nothing.
#
# It builds lakepass-tray, which needs ui/dist (cd ui && npm ci && npm run build) and the GTK dev
# packages (scripts/ci-ui.sh installs them). CARGO_TARGET_DIR is honoured.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$repo/ui/src/generated
# Generate into a fresh directory, then swap it in: a type removed in Rust disappears here too,
# and a failed build leaves the old files.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$repo" && TS_RS_EXPORT_DIR=$tmp cargo test -p lakepass-tray --test bindings --quiet -- export_bindings)
rm -rf "$out"
mkdir -p "$out"
cp "$tmp"/*.ts "$out"/
echo "gen-types: $(ls "$out" | wc -l) files in ui/src/generated"
