#!/usr/bin/env bash
# Fuzzes Lakepass's parsers with cargo-fuzz (libFuzzer): the JWT decoder, the ~/.databrickscfg
# editor (round trip to identical bytes), the config parser and the sign-in callback parser.
#
#   scripts/fuzz.sh [seconds per target, default 60] [target…]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`, ~2 min);
# this script installs cargo-fuzz when it is missing. CI does not run it (building core with
# sanitizers takes minutes on 2 cores); CI runs the same properties as proptests instead
# (crates/integration/tests/it/properties.rs). A crash is saved under
# fuzz/artifacts/<target>/: turn it into a row of the bad-input corpus, then fix it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

secs=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(jwt_decode databrickscfg_roundtrip config_parse callback_parse)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
toolchain=+nightly
rustup run nightly true 2>/dev/null || { echo "fuzz: no nightly toolchain; using RUSTC_BOOTSTRAP=1 on stable" >&2; toolchain=; export RUSTC_BOOTSTRAP=1; }

for t in "${targets[@]}"; do
    echo "=== fuzz $t for ${secs}s"
    mkdir -p "corpus/$t"
    # A hard outer limit too: libFuzzer's own -max_total_time does not cover the build.
    timeout --kill-after=10 $((secs + 900)) cargo $toolchain fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048
done
echo "fuzz: no crash in ${#targets[@]} target(s), ${secs}s each"
