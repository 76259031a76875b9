#!/usr/bin/env bash
# Mutation testing of the modules whose tests must catch a wrong line: `bash scripts/mutants.sh
# [module…]`. Not part of CI (hours on two cores); its results are committed, dated, in
# docs/mutants.md, and each survivor there is either killed by a test or explained.
#
# Each module is one cargo-mutants run (https://mutants.rs) over the files that hold it, tested
# by the package that owns them plus the packages named for it (the fault suite and the e2e tests
# also guard some modules: a mutant they catch is caught). Results land in mutants.out/<module>/
# (cargo-mutants' own outcomes.json, caught.txt, missed.txt, …); `--summary` only prints the
# table docs/mutants.md keeps, from those files.
#
#   module        package            files                                   also tested by
#   vault         lakepass-store     crates/store/src/vault/**               lakepass-integration
#   databrickscfg lakepass-store     crates/store/src/databrickscfg/**       -
#   exchange      lakepass-wire      crates/wire/src/exchange.rs             lakepass-integration
#   idp           lakepass-wire      crates/wire/src/idp/**                  lakepass-integration
#   ipc           lakepass-engine    crates/engine/src/ipc/**                -
#   serve         lakepass-engine    crates/engine/src/serve/**              -
#   engine        lakepass-engine    crates/engine/src/engine/**             lakepass-integration
#   cli           lakepass-cli       crates/cli/src/**                       -
set -euo pipefail
cd "$(dirname "$0")/.."
out=${MUTANTS_OUT:-$PWD/mutants.out}

declare -A package=(
  [vault]=lakepass-store [databrickscfg]=lakepass-store [exchange]=lakepass-wire
  [idp]=lakepass-wire [ipc]=lakepass-engine [serve]=lakepass-engine
  [engine]=lakepass-engine [cli]=lakepass-cli
)
declare -A files=(
  [vault]='crates/store/src/vault/**' [databrickscfg]='crates/store/src/databrickscfg/**'
  [exchange]='crates/wire/src/exchange.rs' [idp]='crates/wire/src/idp/**'
  [ipc]='crates/engine/src/ipc/**' [serve]='crates/engine/src/serve/**'
  [engine]='crates/engine/src/engine/**' [cli]='crates/cli/src/**'
)
declare -A also=(
  [vault]=lakepass-integration [exchange]=lakepass-integration [idp]=lakepass-integration
  [engine]=lakepass-integration
)
order=(vault databrickscfg exchange idp ipc serve engine cli)

summary() {
  python3 - "$out" "${order[@]}" <<'PY'
import json, os, sys
out, mods = sys.argv[1], sys.argv[2:]
print("| module | mutants | caught | missed | timeout | unviable | run |")
print("|---|---:|---:|---:|---:|---:|---|")
for m in mods:
    p = os.path.join(out, m, "mutants.out", "outcomes.json")
    if not os.path.exists(p):
        print(f"| {m} | not run | | | | | |")
        continue
    d = json.load(open(p))
    print(f"| {m} | {d['total_mutants']} | {d['caught']} | {d['missed']} | {d['timeout']} "
          f"| {d['unviable']} | {d['start_time'][:10]} |")
PY
}

if [[ ${1:-} == --summary ]]; then summary; exit 0; fi
command -v cargo-mutants >/dev/null || { echo "mutants: cargo install cargo-mutants --locked" >&2; exit 2; }
mods=("$@"); [[ ${#mods[@]} -gt 0 ]] || mods=("${order[@]}")
for m in "${mods[@]}"; do
  [[ -n ${package[$m]:-} ]] || { echo "mutants: no module $m (one of: ${order[*]})" >&2; exit 2; }
  echo "[mutants] $m: ${files[$m]}, tested by ${package[$m]}" >&2
  # Under the throwaway keyring the vault's real-keyring cases run, as in CI.
  nice -n 19 bash scripts/with-keyring.sh cargo mutants -p "${package[$m]}" \
    --test-package "${package[$m]}" -f "${files[$m]}" -j 1 --timeout 180 -o "$out/$m" || true
  if [[ -n ${also[$m]:-} ]]; then
    # Second pass over the survivors only (--iterate), with the suites that also guard the module:
    # linking the fault suite for every mutant would take hours.
    echo "[mutants] $m: the survivors again, tested by ${package[$m]} and ${also[$m]}" >&2
    nice -n 19 bash scripts/with-keyring.sh cargo mutants -p "${package[$m]}" --iterate \
      --test-package "${package[$m]},${also[$m]}" -f "${files[$m]}" -j 1 --timeout 300 \
      -o "$out/$m" || true
  fi
done
summary
