#!/usr/bin/env bash
# Runs Lakepass on its embedded default: a local IdP and two workspace emulators on 127.0.0.1,
# a sign-in, and tokens refreshing live. No Databricks account needed.
#
# With a display ($DISPLAY or $WAYLAND_DISPLAY) it is the product itself: it builds the dashboard,
# the tray app and the CLI (progress shown), starts the devstack, signs in (the devstack approves
# the sign-in on its own), and opens the tray app with its dashboard, tokens living --token-ttl
# seconds and refreshing live. Without a display (or with --headless / --no-browser) it runs
# `lakepass demo`, the same in the terminal.
# Quit in the tray menu, or Ctrl-C here, stops everything it started.
#
# Usage: bash scripts/demo.sh [--token-ttl S] [demo options, see `lakepass demo --help`]
# Files: <data dir>/lakepass/demo/ ($LAKEPASS_DEMO_DIR overrides the tray demo's folder); never
# your own config or ~/.databrickscfg.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
target=${CARGO_TARGET_DIR:-$repo/target}

say() { printf '\033[1mdemo:\033[0m %s\n' "$*" >&2; }

with_display=0
[[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]] && with_display=1
ttl=90
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
    --headless | --no-browser) with_display=0 ;;
    --token-ttl) ttl=${args[i + 1]:-90} ;;
    --token-ttl=*) ttl=${args[i]#--token-ttl=} ;;
    -h | --help)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    esac
done

need=(build-essential pkg-config libssl-dev libdbus-1-dev)
((with_display)) && need+=(libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
    libsoup-3.0-dev libjavascriptcoregtk-4.1-dev curl)
missing=()
for pkg in "${need[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || {
    say "needs a Rust toolchain (https://rustup.rs), then re-run"
    exit 2
}

if ((!with_display)); then
    say "no display here: the terminal demo (with a display, this opens the tray app)"
    say "building lakepass (first build takes a couple of minutes)…"
    cargo build -q -p lakepass-cli
    exec "$target/debug/lakepass" demo "$@"
fi

# --- With a display: the tray app and its dashboard.
command -v npm >/dev/null || {
    say "the dashboard needs Node.js 20+ and npm (https://nodejs.org), then re-run"
    exit 2
}
say "1/4 building the dashboard (ui/)…"
[[ -x ui/node_modules/.bin/vite ]] || (cd ui && npm ci --no-audit --no-fund --loglevel=error)
(cd ui && npm run build --silent)
say "2/4 building the tray app and the CLI (the first build takes a few minutes)…"
# Apart: built together, cargo would unify their features and rebuild the core for each.
cargo build -p lakepass-cli
cargo build -p lakepass-tray
lakepass=$target/debug/lakepass
tray=$target/debug/lakepass-tray

dir=${LAKEPASS_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/lakepass/demo/app}
rm -rf "$dir"
mkdir -p "$dir"
config=$dir/config.toml
# The demo's own files: its config, vault (a file, not your keyring) and credentials file.
export LAKEPASS_DATA_DIR=$dir/data LAKEPASS_VAULT=file DATABRICKS_CONFIG_FILE=$dir/databrickscfg
unset LAKEPASS_CONFIG
# The devstack approves sign-ins by itself: following the URL completes it, so "Sign in" (in the
# dashboard, or here) needs no person. A curl stands in for the browser.
printf '#!/bin/sh\nexec curl -sSL --max-time 30 -o /dev/null "$1"\n' >"$dir/browser.sh"
chmod +x "$dir/browser.sh"
export BROWSER=$dir/browser.sh

# Everything started here runs in its own process group, stopped on the way out.
groups=()
stop_all() {
    local g
    for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
    sleep 0.5
    for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'echo >&2; say "stopping"; exit 130' INT TERM HUP

say "3/4 starting the devstack (a local IdP and two workspaces; tokens live ${ttl}s)…"
setsid "$lakepass" devstack --auto-approve you@example.com --token-ttl "$ttl" --write-config "$config" \
    >"$dir/devstack.json" 2>"$dir/devstack.log" &
groups+=($!)
for _ in $(seq 150); do
    [[ -s $dir/devstack.json ]] && break
    sleep 0.1
done
[[ -s $dir/devstack.json ]] || {
    cat "$dir/devstack.log" >&2
    say "the devstack did not start"
    exit 1
}
# Sign in as a script can: the URL `login --no-browser` prints, followed with curl.
"$lakepass" --config "$config" login --no-browser --timeout 60 >/dev/null 2>"$dir/login.log" &
login=$!
url=
for _ in $(seq 300); do
    url=$(grep -m1 -E '^https?://' "$dir/login.log" || true)
    [[ -n $url ]] && break
    sleep 0.1
done
[[ -n $url ]] && "$BROWSER" "$url" || true
wait "$login" || {
    cat "$dir/login.log" >&2
    say "the sign-in failed"
    exit 1
}

say "4/4 opening the Lakepass tray app and its dashboard…"
setsid "$tray" --config "$config" --show >"$dir/tray.log" 2>&1 &
app=$!
groups+=("$app")
sleep 3
if ! kill -0 "$app" 2>/dev/null; then
    wait "$app" && say "a Lakepass app is already running and was asked to show its dashboard; quit it first to see the demo" ||
        { tail -20 "$dir/tray.log" >&2; say "the tray app stopped"; }
    exit 1
fi
say "running: signed in to two workspaces; tokens are refreshed before their ${ttl}s run out."
say "the tray icon's menu switches workspace and launches Claude Code or a terminal; files in $dir"
say "Quit in the tray menu, or Ctrl-C here, stops the app and the devstack."
wait "$app" || true
say "the app quit; stopping the devstack"
