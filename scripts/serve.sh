#!/usr/bin/env bash
# Runs the headless gateway: ./scripts/serve.sh [serve options…]
# Installs the few system packages the build needs (Debian/Ubuntu), builds in release mode, and
# starts `switchboard serve` with the user's config (written with defaults on first run).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if ! command -v cargo >/dev/null 2>&1; then
    echo "serve.sh: Rust is not installed; install it with rustup (https://rustup.rs), then run this again" >&2
    exit 1
fi

# Build dependencies of the OS keychain client (Secret Service over D-Bus).
missing=()
for pkg in pkg-config libdbus-1-dev build-essential; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "serve.sh: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}"
cargo build --release --quiet -p switchboard-cli
exec "$CARGO_TARGET_DIR/release/switchboard" serve "$@"
