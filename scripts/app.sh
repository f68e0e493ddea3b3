#!/usr/bin/env bash
# Runs the desktop tray app from the source tree: ./scripts/app.sh
# Installs the system packages the Tauri build needs (Debian/Ubuntu) and the Tauri CLI (npm install)
# if missing, then `npm run app` (a debug build of src-tauri, started with the user's config).
# For an installer, `npm run app:build` writes a .deb to $CARGO_TARGET_DIR/release/bundle/deb/.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

for tool in cargo npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "app.sh: \`$tool\` is not installed (Rust: https://rustup.rs; Node.js 20: your package manager)" >&2
        exit 1
    fi
done

missing=()
for pkg in build-essential pkg-config file libdbus-1-dev libssl-dev libxdo-dev \
    libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "app.sh: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

[ -x node_modules/.bin/tauri ] || npm install --no-audit --no-fund --loglevel=error

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}"
exec npm run app
