#!/usr/bin/env bash
# The .deb as a user meets it: install, run, remove.
#   bash src-tauri/gui-tests/installed.sh <Lakepass_….deb> <python with dbus-next> [<claude>]
# 1. `apt-get install <deb>` (sudo when not root), then `lakepass --version` from PATH is the
#    packaged CLI (/usr/bin/lakepass, the tray's sidecar) and the .desktop entry and icons are in
#    place;
# 2. the installed tray under Xvfb on a private bus: tray_dbus.py with /usr/bin/lakepass-tray (its
#    menu, sign-in, refresh, switch, "Launch ▸ Terminal" and a non-Claude agent through the
#    sidecar) and, given the native Claude Code program, tray_launch.py (the "Launch ▸ Claude
#    Code" click, for real); and
#    start at login, turned on as the dashboard does, writes an entry that starts
#    /usr/bin/lakepass-tray --hidden (autostart.e2e.mjs);
# 3. `apt-get remove`: both programs gone, and the user's ~/.config/lakepass and ~/.databrickscfg
#    byte for byte as they were (files are made for the check, and removed after, when absent).
# Removes the package at the end even when it was installed before.
set -euo pipefail

deb=$(realpath "$1")
py=$2
claude=${3:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/may-skip.sh
source "$here/../../scripts/may-skip.sh"
sudo=()
((EUID == 0)) || sudo=(sudo -n)
apt() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -qq "$@"; }
fail() {
    echo "installed: $*" >&2
    exit 1
}

# The user's files the removal must leave alone; made for the check when absent.
cfg_dir=${XDG_CONFIG_HOME:-$HOME/.config}/lakepass
mine=("$cfg_dir/config.toml" "$HOME/.databrickscfg")
made=()
cleanup() {
    local f
    for f in "${made[@]}"; do rm -f "$f"; done
    rmdir "$cfg_dir" 2>/dev/null || true
}
trap cleanup EXIT
for f in "${mine[@]}"; do
    [[ -e $f ]] && continue
    mkdir -p "$(dirname "$f")"
    printf '# made by installed.sh: must survive apt-get remove\n[keep]\nhost = https://example.invalid\n' >"$f"
    made+=("$f")
done
before=$(sha256sum "${mine[@]}")

echo "--- install $deb"
apt install "$deb" >/dev/null
[[ $(command -v lakepass) == /usr/bin/lakepass ]] || fail "lakepass on PATH is $(command -v lakepass || echo nothing), not /usr/bin/lakepass"
[[ $(command -v lakepass-tray) == /usr/bin/lakepass-tray ]] || fail "no /usr/bin/lakepass-tray"
lakepass --version
lakepass-tray --version
for f in /usr/share/applications/Lakepass.desktop /usr/share/icons/hicolor/{16x16,32x32,48x48,128x128,256x256,512x512}/apps/lakepass-tray.png; do
    [[ -f $f ]] || fail "$f is not installed"
done
grep -qx 'Exec=lakepass-tray' /usr/share/applications/Lakepass.desktop || fail "the .desktop entry does not start lakepass-tray"

echo "--- the installed tray under Xvfb (tray_dbus.py)"
timeout --kill-after=10 180 xvfb-run -a dbus-run-session -- \
    "$py" "$here/tray_dbus.py" --app /usr/bin/lakepass-tray --lakepass /usr/bin/lakepass
echo "--- start at login starts the installed app (autostart.e2e.mjs, real webview)"
timeout --kill-after=10 120 xvfb-run -a dbus-run-session -- \
    node "$here/autostart.e2e.mjs" --app /usr/bin/lakepass-tray

if [[ -n $claude ]]; then
    echo "--- the installed tray: Launch ▸ Claude Code and Launch ▸ Terminal (tray_launch.py)"
    timeout --kill-after=10 300 xvfb-run -a dbus-run-session -- \
        "$py" "$here/tray_launch.py" --app /usr/bin/lakepass-tray --lakepass /usr/bin/lakepass --claude "$claude"
else
    may_skip "installed.sh: the installed tray's Launch Claude Code click: no Claude Code given" || exit 1
fi

echo "--- remove"
apt remove lakepass >/dev/null
[[ ! -e /usr/bin/lakepass && ! -e /usr/bin/lakepass-tray ]] || fail "apt-get remove left the programs behind"
! dpkg-query -W -f='${Status}' lakepass 2>/dev/null | grep -q 'ok installed' || fail "lakepass is still installed"
[[ $(sha256sum "${mine[@]}") == "$before" ]] || fail "removing the package changed ${mine[*]}"
echo "installed: install, run and remove ok; ${mine[*]} untouched"
