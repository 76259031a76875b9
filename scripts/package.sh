#!/usr/bin/env bash
# Builds the installable packages of the tray app, with the `lakepass` CLI inside:
#   bash scripts/package.sh            release build → target/release/bundle/deb/Lakepass_<v>_<arch>.deb
#   bash scripts/package.sh --debug    debug build (much faster; what CI installs) → target/debug/bundle/
# The AppImage is built too when its tools (linuxdeploy, downloaded by the Tauri bundler from
# GitHub) can be had; `--no-appimage` skips it, `LAKEPASS_PACKAGE_APPIMAGE=1` makes it required.
#
# The CLI goes in as a Tauri sidecar: tauri.package.conf.json adds `bundle.externalBin`
# (binaries/lakepass), which needs the binary at src-tauri/binaries/lakepass-<target triple>. The
# .deb installs it as /usr/bin/lakepass beside /usr/bin/lakepass-tray, where the app's sidecar
# lookup (next to its own executable) finds it. The copy is removed again afterwards: a plain
# `cargo build -p lakepass-tray` must not copy a packaged CLI over the one cargo builds.
#
# Needs: the tray's system packages (scripts/ci-ui.sh lists them), Node (ui/), a Rust toolchain.
# Honours CARGO_TARGET_DIR.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

profile=release appimage=auto
for a in "$@"; do
    case $a in
    --debug) profile=debug ;;
    --release) profile=release ;;
    --no-appimage) appimage=no ;;
    -h | --help)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "package: unknown argument \`$a\` (see --help)" >&2
        exit 2
        ;;
    esac
done
[[ ${LAKEPASS_PACKAGE_PROFILE:-} == debug ]] && profile=debug
[[ ${LAKEPASS_PACKAGE_APPIMAGE:-} == 1 ]] && appimage=yes

target_dir=${CARGO_TARGET_DIR:-$repo/target}
export CARGO_TARGET_DIR=$target_dir
say() { printf '[package %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# 1. The dashboard (the Tauri CLI's beforeBuildCommand builds it; node_modules must be there).
if [[ ! -x ui/node_modules/.bin/tauri ]]; then
    say "ui: npm ci"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi

# 2. The CLI, in the same profile, named as Tauri's externalBin wants it.
cargo_profile=()
[[ $profile == release ]] && cargo_profile=(--release)
say "building the lakepass CLI ($profile)"
cargo build "${cargo_profile[@]}" -p lakepass-cli
triple=$(rustc -vV | sed -n 's/^host: //p')
sidecar=src-tauri/binaries/lakepass-$triple
trap 'rm -f "$repo/$sidecar"' EXIT
install -m 0755 "$target_dir/$profile/lakepass" "$sidecar"

# 3. Which bundles: the .deb always; the AppImage when linuxdeploy can be downloaded.
bundles=deb
if [[ $appimage != no ]]; then
    if curl -sfI --max-time 8 -o /dev/null \
        https://github.com/linuxdeploy/linuxdeploy/releases/download/continuous/linuxdeploy-x86_64.AppImage; then
        bundles=deb,appimage
    elif [[ $appimage == yes ]]; then
        echo "package: the AppImage tools (linuxdeploy, from github.com) cannot be downloaded here" >&2
        exit 1
    else
        say "skipping the AppImage: its tools (linuxdeploy, from github.com) cannot be downloaded here"
    fi
fi

# 4. The app and its bundles.
tauri_profile=()
[[ $profile == debug ]] && tauri_profile=(--debug)
say "tauri build ($profile, bundles: $bundles)"
ui/node_modules/.bin/tauri build --ci "${tauri_profile[@]}" --bundles "$bundles" \
    --config "$repo/src-tauri/tauri.package.conf.json"

out=$target_dir/$profile/bundle
deb=$(ls -t "$out"/deb/*.deb | head -1)
say "built $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb -c "$deb" | awk '{print $3, $6}' >&2
dpkg-deb -c "$deb" | grep -qE ' (\./)?usr/bin/lakepass$' || {
    echo "package: $deb holds no /usr/bin/lakepass" >&2
    exit 1
}
ls "$out"/appimage/*.AppImage 2>/dev/null || true
echo "$deb"
