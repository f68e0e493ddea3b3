#!/usr/bin/env bash
# End-to-end tests of the real desktop app: ./scripts/desktop-e2e.sh [unittest args…]
#
# Builds the app and the mock upstream (debug, reusing the test build), then runs
# tests/desktop/e2e.py inside a private D-Bus session with an unlocked gnome-keyring
# (scripts/with-keychain.sh) and a virtual X display (xvfb-run), with tauri-driver +
# WebKitWebDriver, the `trayer` tray host and xdotool. Screenshots, logs and the measured
# start time / idle memory go to $SWITCHBOARD_ARTIFACTS (default $CARGO_TARGET_DIR/artifacts/desktop).
#
# Needs what scripts/setup-test-deps.sh installs; with its exports in the environment
# (SWITCHBOARD_DESKTOP_PYTHON, SWITCHBOARD_TAURI_DRIVER) or at their default cache paths.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}"
cache="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
python="${SWITCHBOARD_DESKTOP_PYTHON:-$cache/venv-desktop/bin/python}"
export SWITCHBOARD_TAURI_DRIVER="${SWITCHBOARD_TAURI_DRIVER:-$cache/tauri-driver/bin/tauri-driver}"
export SWITCHBOARD_ARTIFACTS="${SWITCHBOARD_ARTIFACTS:-$CARGO_TARGET_DIR/artifacts/desktop}"

for tool in xvfb-run xauth import xdotool trayer secret-tool WebKitWebDriver; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "desktop-e2e: \`$tool\` is missing; run scripts/setup-test-deps.sh" >&2
        exit 127
    fi
done
[ -x "$SWITCHBOARD_TAURI_DRIVER" ] || { echo "desktop-e2e: no tauri-driver at $SWITCHBOARD_TAURI_DRIVER; run scripts/setup-test-deps.sh" >&2; exit 127; }
"$python" -c 'import selenium' 2>/dev/null || { echo "desktop-e2e: no selenium in $python; run scripts/setup-test-deps.sh" >&2; exit 127; }

cargo build --locked --quiet -p switchboard-app -p mock-upstream --bins
export SWITCHBOARD_APP_BIN="${SWITCHBOARD_APP_BIN:-$CARGO_TARGET_DIR/debug/switchboard-app}"
export SWITCHBOARD_MOCK_BIN="${SWITCHBOARD_MOCK_BIN:-$CARGO_TARGET_DIR/debug/mock-upstream}"
export SWITCHBOARD_NATIVE_DRIVER="${SWITCHBOARD_NATIVE_DRIVER:-$(command -v WebKitWebDriver)}"

rm -rf "$SWITCHBOARD_ARTIFACTS"
mkdir -p "$SWITCHBOARD_ARTIFACTS"
echo "desktop-e2e: artifacts in $SWITCHBOARD_ARTIFACTS" >&2
exec "$repo_root/scripts/with-keychain.sh" \
    xvfb-run -a -s "-screen 0 1280x800x24" \
    "$python" "$repo_root/tests/desktop/e2e.py" "$@"
