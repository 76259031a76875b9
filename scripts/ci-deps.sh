#!/usr/bin/env bash
# Installs what Lakepass's build and tests need on a Debian machine (CI and developers alike):
#   - system packages the Rust crates link against and the tests run (apt, one update at most);
#   - the npm test peers (tests/peers/package-lock.json, `npm ci`);
#   - the PyPI test peers (tests/peers/requirements.txt, a venv in tests/peers/.venv).
# Idempotent and quiet: a second run with nothing to do takes about a second. Any failure prints
# the failing command's output and exits non-zero.
#
# Add a Debian package: append it to APT_PACKAGES. Add a peer: pin it in tests/peers/package.json
# (then `npm install` there to refresh package-lock.json) or in tests/peers/requirements.txt.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers="$repo/tests/peers"

APT_PACKAGES=(
    build-essential pkg-config libssl-dev # building the crates
    libdbus-1-dev dbus gnome-keyring libsecret-tools # keyring crate + scripts/with-keyring.sh
    curl ca-certificates procps # kill(1) for the daemon tests, curl for scripts
    tinyproxy                   # a real HTTP CONNECT proxy for the HTTPS_PROXY test (tests/e2e/tls.rs)
)

log() { printf '[ci-deps %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() {
    printf 'ci-deps: FAILED: %s\n' "$*" >&2
    exit 1
}
# Runs a command, showing its output only when it fails.
quiet() {
    local out
    if ! out=$("$@" 2>&1); then
        printf '%s\n' "$out" | tail -n 60 >&2
        die "$*"
    fi
}
# A short fingerprint of some files, to know when an install is already up to date.
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

started=$(date +%s)

# --- System packages -------------------------------------------------------------------------
wanted=("${APT_PACKAGES[@]}")
# Node 20 and npm come with the machine image; only fall back to Debian's when missing.
command -v node >/dev/null && command -v npm >/dev/null || wanted+=(nodejs npm)
command -v python3 >/dev/null || wanted+=(python3)
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "need root to install: ${missing[*]} (apt-get install -y ${missing[*]})"
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    quiet apt-get update
    quiet apt-get install -y --no-install-recommends "${missing[@]}"
fi
if ! python3 -m venv --help >/dev/null 2>&1; then
    [[ $(id -u) == 0 ]] || die "python3 has no venv module: apt-get install -y python3-venv"
    log "apt-get install python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    quiet apt-get update
    quiet apt-get install -y --no-install-recommends python3-venv
fi

# --- npm peers (oidc-provider, …) --------------------------------------------------------------
npm_stamp=$(stamp_of "$peers/package.json" "$peers/package-lock.json")
if [[ $(cat "$peers/node_modules/.lakepass-deps-stamp" 2>/dev/null) != "$npm_stamp" ]]; then
    log "npm ci in tests/peers (node $(node --version), npm $(npm --version))"
    t=$(date +%s)
    (cd "$peers" && quiet npm ci --no-audit --no-fund --loglevel=error)
    echo "$npm_stamp" >"$peers/node_modules/.lakepass-deps-stamp"
    log "npm peers installed in $(($(date +%s) - t)) s"
fi
[[ -f "$peers/node_modules/oidc-provider/package.json" ]] || die "oidc-provider missing after npm ci"
# Claude Code: npm 11 skips the wrapper's postinstall, so the tests run the platform package's
# native `claude` (TESTING.md). If that is missing or does not run, run the postinstall ourselves.
claude_bin="$peers/node_modules/@anthropic-ai/claude-code-linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')/claude"
if ! "$claude_bin" --version >/dev/null 2>&1; then
    log "Claude Code's native binary is missing or does not run; running its postinstall"
    (cd "$peers/node_modules/@anthropic-ai/claude-code" && quiet node install.cjs)
    claude_bin="$peers/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
fi
"$claude_bin" --version >/dev/null 2>&1 || die "Claude Code does not run: $claude_bin --version"

# --- PyPI peers (databricks-sdk) ---------------------------------------------------------------
venv="$peers/.venv"
py_stamp=$( (python3 --version; cat "$peers/requirements.txt") | sha256sum | cut -c1-16)
if [[ $(cat "$venv/.lakepass-deps-stamp" 2>/dev/null) != "$py_stamp" ]]; then
    log "python venv + pip install -r tests/peers/requirements.txt ($(python3 --version))"
    t=$(date +%s)
    rm -rf "$venv"
    quiet python3 -m venv "$venv"
    quiet "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$peers/requirements.txt"
    echo "$py_stamp" >"$venv/.lakepass-deps-stamp"
    log "python peers installed in $(($(date +%s) - t)) s"
fi
"$venv/bin/python" -c 'import databricks.sdk' 2>/dev/null || die "databricks-sdk does not import in $venv"

log "dependencies ready in $(($(date +%s) - started)) s"
