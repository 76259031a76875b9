#!/usr/bin/env bash
# Runs the fault suite and the bad-input corpus (crates/core/tests/{faults,bad_input}) and
# prints their counts: "faults survived: N/M" and "bad inputs rejected: N/M". Exits non-zero if
# any case failed. Extra arguments go to every `cargo test` (e.g. `-- --nocapture`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
# Each suite prints one "test result:" line; every case is its own #[test].
cargo test -p lakepass-core --test faults "$@" 2>&1 | tee -a "$log" || rc=1
echo "=== suite: bad_input" >>"$log"
cargo test -p lakepass-core --test bad_input "$@" 2>&1 | tee -a "$log" || rc=1

count() { # <suite log section> <"passed"|"failed">
    grep -oE "[0-9]+ $2" <<<"$1" | awk '{s += $1} END {print s + 0}'
}
faults=$(sed -n '1,/=== suite: bad_input/p' "$log" | grep '^test result:' || true)
bad=$(sed -n '/=== suite: bad_input/,$p' "$log" | grep '^test result:' || true)
properties=$(grep -cE '^test fuzz_properties::.* ok$' "$log" || true)
fp=$(count "$faults" passed) ff=$(count "$faults" failed)
bp=$(count "$bad" passed) bf=$(count "$bad" failed)
printf '\nfaults survived: %d/%d\n' "$fp" $((fp + ff))
printf 'bad inputs rejected: %d/%d (of which %d property tests of the fuzz targets)\n' \
    "$bp" $((bp + bf)) "$properties"
exit "$rc"
