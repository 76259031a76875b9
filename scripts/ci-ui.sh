#!/usr/bin/env bash
# The tray app (src-tauri/) and its dashboard (ui/), end to end. Run from anywhere:
#   bash scripts/ci-ui.sh
# Steps: system packages the tray needs (apt, only when missing) → ui: npm ci, prettier --check,
# build, vitest → the `lakepass` CLI (the devstack the GUI checks run against) → clippy and the
# Rust tests of lakepass-tray (pure decisions, the host against a devstack, IPC commands in the
# mock runtime) → the generated TypeScript types are current →
# GUI checks under Xvfb, each on its own private D-Bus: the dashboard in the real webview
# (WebKitWebDriver), the tray over D-Bus (the test is the StatusNotifier host; the dashboard it
# opens is read under WebKitWebDriver and checked against `lakepass status --json`), and a start with
# no bus at all; README command one with a display (scripts/demo.sh); "Launch Claude Code" and
# "Open terminal" clicked for real (xterm, the npm Claude Code); then the .deb (debug profile)
# built, installed with apt-get, run, and removed.
# Artifacts (the dashboard screenshot) go to target/ui-e2e/.
#
# Environment:
#   LAKEPASS_TRAY_TARGET_DIR  cargo target dir for the tray (default target/tray: Tauri builds do
#                             not hold the main target dir's lock)
#   LAKEPASS_UI_DEB=1         also build the release .deb (several minutes)
#   LAKEPASS_PEERS_DIR        where scripts/ci-deps.sh installed Claude Code (default tests/peers)
#   LAKEPASS_UI_SKIP_APT=1    do not check or install apt packages
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=may-skip.sh
source scripts/may-skip.sh
export CARGO_TARGET_DIR=${LAKEPASS_TRAY_TARGET_DIR:-$repo/target/tray}
export CARGO_TERM_COLOR=never NO_COLOR=1 RUST_BACKTRACE=1
artifacts=$repo/target/ui-e2e
mkdir -p "$artifacts"

APT_PACKAGES=(
    build-essential pkg-config libssl-dev file curl
    libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
    libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
    xvfb xauth xdotool imagemagick dbus-x11 at-spi2-core
    webkit2gtk-driver dunst libnotify-bin
    python3-venv xterm
)

# Background process groups started here; all are killed on exit, whatever happens.
helpers=()
cleanup() {
    local pg
    for pg in "${helpers[@]}"; do
        kill -TERM -- "-$pg" 2>/dev/null || true
    done
    sleep 0.5
    for pg in "${helpers[@]}"; do
        kill -KILL -- "-$pg" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
step() {
    local name=$1 limit=$2
    shift 2
    printf '\n=== [ci-ui %s] %s (limit %ss)\n' "$(date -u +%H:%M:%S)" "$name" "$limit"
    local t rc=0
    t=$(date +%s)
    timeout --kill-after=15 "$limit" "$@" || rc=$?
    ((rc == 124 || rc == 137)) && echo "ci-ui: step '$name' timed out after ${limit}s" >&2
    ((rc == 0)) || {
        echo "ci-ui: step '$name' failed (exit $rc)" >&2
        exit "$rc"
    }
    printf '=== [ci-ui %s] %s: ok in %ss\n' "$(date -u +%H:%M:%S)" "$name" "$(($(date +%s) - t))"
}

# A GUI step: its own X server and session bus, in its own process group so that the trap can
# kill everything it started (Xvfb, dbus-daemon, the app, WebKitWebDriver, the devstack).
gui() {
    local name=$1 limit=$2
    shift 2
    printf '\n=== [ci-ui %s] %s (limit %ss)\n' "$(date -u +%H:%M:%S)" "$name" "$limit"
    local t rc=0 pid
    t=$(date +%s)
    setsid timeout --kill-after=10 "$limit" xvfb-run -a "$@" </dev/null &
    pid=$!
    helpers+=("$pid")
    wait "$pid" || rc=$?
    kill -TERM -- "-$pid" 2>/dev/null || true
    ((rc == 124 || rc == 137)) && echo "ci-ui: step '$name' timed out after ${limit}s" >&2
    ((rc == 0)) || {
        echo "ci-ui: step '$name' failed (exit $rc)" >&2
        exit "$rc"
    }
    printf '=== [ci-ui %s] %s: ok in %ss\n' "$(date -u +%H:%M:%S)" "$name" "$(($(date +%s) - t))"
}

apt_packages() {
    local missing=()
    local p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && {
        echo "all ${#APT_PACKAGES[@]} packages present"
        return 0
    }
    echo "installing: ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

npm_ci() {
    # npm ci only when package.json or the lock file changed since the last install.
    local stamp=ui/node_modules/.lakepass-lock-stamp want
    want=$(cat ui/package.json ui/package-lock.json | sha256sum | cut -c1-16)
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
        echo "ui/node_modules up to date"
        return 0
    fi
    # The lock file lists every platform's optional packages (rollup, esbuild, the tauri CLI), so
    # `npm ci` installs exactly what it pins and fails when package.json and the lock disagree.
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
}

gui_venv() {
    local venv=$CARGO_TARGET_DIR/gui-venv req=src-tauri/gui-tests/requirements.txt
    local want
    want=$(sha256sum "$req" | cut -c1-16)
    if [[ -x $venv/bin/python && -f $venv/.stamp && $(cat "$venv/.stamp") == "$want" ]]; then
        echo "venv up to date"
        return 0
    fi
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    echo "$want" >"$venv/.stamp"
}

if [[ ${LAKEPASS_UI_SKIP_APT:-} != 1 ]]; then
    step "apt packages for the tray" 600 bash -c "$(declare -p APT_PACKAGES); $(declare -f apt_packages); apt_packages"
fi
step "ui: npm ci" 300 bash -c "$(declare -f npm_ci); npm_ci"
step "ui: prettier --check" 120 bash -c "cd ui && npm run format:check --silent"
step "ui: build (tsc + vite)" 180 bash -c "cd ui && npm run build --silent"
step "ui: vitest" 180 bash -c "cd ui && npx vitest run"
step "python venv for the tray test (dbus-next)" 180 bash -c "CARGO_TARGET_DIR='$CARGO_TARGET_DIR'; $(declare -f gui_venv); gui_venv"
step "build the lakepass CLI (the devstack)" 900 nice -n 5 cargo build -p lakepass-cli
step "clippy lakepass-tray -D warnings" 900 nice -n 5 cargo clippy -p lakepass-tray --all-targets -- -D warnings
# Also builds target/…/debug/lakepass-tray, which the GUI checks run.
step "cargo test -p lakepass-tray" 900 nice -n 5 cargo test -p lakepass-tray --no-fail-fast
# The dashboard's types are generated from the tray's Rust types: regenerating must change nothing.
step "ui: generated types are current (scripts/gen-types.sh)" 600 bash -c \
    'bash scripts/gen-types.sh && git diff --exit-code -- ui/src/generated &&
        test -z "$(git status --porcelain -- ui/src/generated)"'

app=$CARGO_TARGET_DIR/debug/lakepass-tray
cli=$CARGO_TARGET_DIR/debug/lakepass
py=$CARGO_TARGET_DIR/gui-venv/bin/python
gui "dashboard in the real webview (WebKitWebDriver)" 300 \
    dbus-run-session -- node ui/e2e/dashboard.e2e.mjs --app "$app" --lakepass "$cli" --out "$artifacts"
gui "first-run set-up in the real webview (preset, pasted URL, import, try it locally; 1040 and 640 px)" 300 \
    dbus-run-session -- node ui/e2e/setup.e2e.mjs --app "$app" --lakepass "$cli" --out "$artifacts"
gui "tray over D-Bus (the test is the StatusNotifier host; Open dashboard read under WebKitWebDriver)" 180 \
    dbus-run-session -- "$py" src-tauri/gui-tests/tray_dbus.py --app "$app" --lakepass "$cli"
gui "headless start: no bus, no tray host, tokens still refreshed" 120 \
    env -u DBUS_SESSION_BUS_ADDRESS "$py" src-tauri/gui-tests/tray_dbus.py --headless --app "$app" --lakepass "$cli"
gui "README command one with a display: scripts/demo.sh opens the tray signed in, Ctrl-C stops it" 600 \
    dbus-run-session -- bash src-tauri/gui-tests/demo_display.sh "$cli" "$artifacts"

# The real Claude Code (npm, installed by scripts/ci-deps.sh): its native program (TESTING.md).
claude=${LAKEPASS_PEERS_DIR:-$repo/tests/peers}/node_modules/@anthropic-ai/claude-code-linux-x64/claude
if [[ -x $claude ]]; then
    gui "tray: Launch Claude Code and Open terminal, clicked for real (xterm, Claude Code)" 300 \
        dbus-run-session -- "$py" src-tauri/gui-tests/tray_launch.py --app "$app" --lakepass "$cli" --claude "$claude"
else
    may_skip "ci-ui: the Launch Claude Code click: no Claude Code at $claude (run scripts/ci-deps.sh)" || exit 1
    claude=
fi

# The package as a user meets it: the .deb (debug profile: the tray is already built), installed
# with apt-get, the installed tray run under Xvfb, removed again.
step "package: .deb, debug profile (scripts/package.sh --debug)" 900 nice -n 5 bash scripts/package.sh --debug --no-appimage
deb=$(ls -t "$CARGO_TARGET_DIR"/debug/bundle/deb/*.deb | head -1)
step "package: install, run, remove (gui-tests/installed.sh)" 600 bash src-tauri/gui-tests/installed.sh "$deb" "$py" "$claude"

if [[ ${LAKEPASS_UI_DEB:-} == 1 ]]; then
    step "package: release .deb (scripts/package.sh)" 1500 nice -n 5 bash scripts/package.sh
    deb=$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -1)
    step "package: .deb contents" 60 bash -c "dpkg-deb -I '$deb' && dpkg-deb -c '$deb'"
fi

echo
echo "ci-ui: all green in $(($(date +%s) - started))s; dashboard screenshot: $artifacts/dashboard.png"
