#!/usr/bin/env bash
# Installs what the test suite needs, idempotently and non-interactively:
#   - Debian packages (keychain tests, real-client e2e tests, the desktop app's build, its
#     headless end-to-end and .deb tests), only those missing;
#   - cargo-nextest, if missing; tauri-driver at a pinned version;
#   - Python venvs with pinned `openai` and `anthropic` SDKs, Aider, and (for the desktop e2e tests)
#     `selenium`; the Continue CLI (`cn`), Claude Code (`claude`) and the Codex CLI (`codex`) at
#     pinned versions; all in a cache OUTSIDE the clone (default ~/.cache/switchboard, override with
#     SWITCHBOARD_CACHE); the repo's npm packages (the Tauri CLI).
#
# Progress goes to stderr. On success, stdout carries `export` lines for the e2e tests, so both
#   ./scripts/test.sh                      (calls this)
#   eval "$(./scripts/setup-test-deps.sh)" (by hand, then run single tests with cargo)
# work. Bumping a pin below reinstalls that one thing on the next run; nothing else is redone.
set -euo pipefail

# ---- pins ---------------------------------------------------------------------------------------
OPENAI_PY_VERSION="3.52.0"      # PyPI `openai`
CONTINUE_CLI_VERSION="1.5.47"   # npm `@continuedev/cli` (the version data/client-requests/cn.jsonl was recorded with)
NEXTEST_VERSION="0.9.151"       # crates.io `cargo-nextest`, built only when no cargo-nextest is installed
SELENIUM_VERSION="4.51.0"       # PyPI `selenium` (WebDriver client of the desktop e2e tests)
TAURI_DRIVER_VERSION="2.1.0"    # crates.io `tauri-driver` (WebDriver proxy for the real desktop app)
# The protocol-translation e2e clients (crates/cli/tests/e2e_translate.rs); the versions
# data/client-requests/*.jsonl were recorded with.
CLAUDE_CODE_VERSION="2.1.197"   # npm `@anthropic-ai/claude-code` (command `claude`)
CODEX_VERSION="0.169.0"         # npm `@openai/codex` (command `codex`)
AIDER_VERSION="0.86.2"          # PyPI `aider-chat` (command `aider`)
ANTHROPIC_PY_VERSION="2.11.0"   # PyPI `anthropic`

CACHE="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
VENV="$CACHE/venv"
DESKTOP_VENV="$CACHE/venv-desktop"
NPM_PREFIX="$CACHE/npm"
TAURI_DRIVER_ROOT="$CACHE/tauri-driver"
ANTHROPIC_VENV="$CACHE/venv-anthropic"
AIDER_VENV="$CACHE/venv-aider"
CLAUDE_PREFIX="$CACHE/npm-claude-code"
CODEX_PREFIX="$CACHE/npm-codex"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Run as root directly, otherwise through sudo when it exists (never prompt: -n).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@" || die "\`sudo $*\` failed (not root and sudo needs a password?); install manually: $*"
    else
        die "not root and no sudo; please run as root: $*"
    fi
}

# ---- 1. Debian packages -------------------------------------------------------------------------
apt_missing=()
need_pkg() {
    local p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            apt_missing+=("$p")
        fi
    done
}

if command -v dpkg-query >/dev/null 2>&1; then
    need_pkg pkg-config libdbus-1-dev gnome-keyring dbus dbus-x11 libsecret-tools
    # The desktop app (Tauri 2 on WebKitGTK 4.1, tray via ayatana-appindicator) and its bundler.
    need_pkg build-essential file libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev \
        libssl-dev libxdo-dev
    # Its headless tests: a virtual display, WebKit's WebDriver, an XEmbed tray host, X input and
    # screenshots, and a clean Debian root for the .deb install test.
    need_pkg xvfb xauth webkit2gtk-driver trayer xdotool xclip imagemagick debootstrap
    # python3 itself, and venv support (on Debian, `python3 -m venv` needs ensurepip from python3-venv).
    if ! command -v python3 >/dev/null 2>&1; then
        need_pkg python3 python3-venv
    elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        need_pkg python3-venv
    fi
    # nodejs/npm only when there is no node at all (NodeSource's nodejs ships npm and conflicts
    # with Debian's npm package).
    if ! command -v node >/dev/null 2>&1; then
        need_pkg nodejs npm
    elif ! command -v npm >/dev/null 2>&1; then
        need_pkg npm
    fi
    if [ "${#apt_missing[@]}" -gt 0 ]; then
        log "installing Debian packages: ${apt_missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -qq >&2
        as_root apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >&2
    else
        log "Debian packages: all present"
    fi
else
    log "no dpkg (not Debian/Ubuntu?): skipping system packages; make sure dbus, gnome-keyring, python3 and node are installed"
fi

# ---- 2. cargo-nextest ---------------------------------------------------------------------------
if cargo nextest --version >/dev/null 2>&1; then
    log "cargo-nextest: $(cargo nextest --version 2>/dev/null | head -n1)"
else
    log "installing cargo-nextest $NEXTEST_VERSION (cargo install --locked; about 6-14 minutes on 2 cores)"
    cargo install cargo-nextest --version "=$NEXTEST_VERSION" --locked >&2
fi

# rustfmt and clippy (rustup toolchains without the default profile lack them).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || die "cargo fmt / cargo clippy missing and no rustup to add them"
    log "adding rustup components rustfmt, clippy"
    rustup component add rustfmt clippy >&2
fi

# tauri-driver: the desktop e2e tests drive the real app through it (and WebKitWebDriver).
tauri_driver="$TAURI_DRIVER_ROOT/bin/tauri-driver"
if [ -x "$tauri_driver" ] && grep -q "tauri-driver $TAURI_DRIVER_VERSION " "$TAURI_DRIVER_ROOT/.crates.toml" 2>/dev/null; then
    log "tauri-driver: $TAURI_DRIVER_VERSION (cached in $TAURI_DRIVER_ROOT)"
else
    log "installing tauri-driver $TAURI_DRIVER_VERSION into $TAURI_DRIVER_ROOT (cargo install --locked; about 1-2 minutes)"
    cargo install tauri-driver --version "=$TAURI_DRIVER_VERSION" --locked --root "$TAURI_DRIVER_ROOT" >&2
fi

# ---- 3. Python venvs: a pinned openai SDK; selenium for the desktop e2e tests --------------------
# Two venvs, so that each pin change rebuilds only its own (and clones with other pins that share
# the cache do not undo each other's).
mkdir -p "$CACHE"
py_stamp="$VENV/.switchboard-stamp"
py_want="openai==$OPENAI_PY_VERSION"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import openai' >/dev/null 2>&1 \
    && [ "$(cat "$py_stamp" 2>/dev/null)" = "$py_want" ]; then
    log "python venv: $py_want (cached in $VENV)"
else
    log "creating python venv in $VENV with $py_want"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$py_want" >&2
    printf '%s' "$py_want" >"$py_stamp"
fi
desktop_stamp="$DESKTOP_VENV/.switchboard-stamp"
desktop_want="selenium==$SELENIUM_VERSION"
if [ -x "$DESKTOP_VENV/bin/python" ] && "$DESKTOP_VENV/bin/python" -c 'import selenium' >/dev/null 2>&1 \
    && [ "$(cat "$desktop_stamp" 2>/dev/null)" = "$desktop_want" ]; then
    log "python venv (desktop e2e): $desktop_want (cached in $DESKTOP_VENV)"
else
    log "creating python venv in $DESKTOP_VENV with $desktop_want"
    rm -rf "$DESKTOP_VENV"
    python3 -m venv "$DESKTOP_VENV" >&2
    "$DESKTOP_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$desktop_want" >&2
    printf '%s' "$desktop_want" >"$desktop_stamp"
fi

# The anthropic SDK and Aider, each in its own venv (Aider pins dozens of packages, among them an
# `openai` of its own; `pip install aider-chat` takes a few minutes cold, then it is cached).
# py_venv DIR PACKAGE==VERSION IMPORT_NAME: (re)creates DIR unless its stamp says it holds exactly that.
py_venv() {
    local dir="$1" want="$2" import="$3" stamp="$1/.switchboard-stamp"
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import $import" >/dev/null 2>&1 \
        && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        log "python venv: $want (cached in $dir)"
    else
        log "creating python venv in $dir with $want"
        rm -rf "$dir"
        python3 -m venv "$dir" >&2
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$want" >&2
        printf '%s' "$want" >"$stamp"
    fi
}
py_venv "$ANTHROPIC_VENV" "anthropic==$ANTHROPIC_PY_VERSION" anthropic
py_venv "$AIDER_VENV" "aider-chat==$AIDER_VERSION" aider
[ -x "$AIDER_VENV/bin/aider" ] || die "aider-chat installed but $AIDER_VENV/bin/aider is missing"

# ---- 4. Continue CLI at a pinned version --------------------------------------------------------
# cn declares no engines; it was recorded and tested on Node 20 (Debian bookworm's own nodejs is 18).
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
    log "warning: node $(node --version 2>/dev/null || echo '?') is older than the Node 20 the Continue CLI was tested with"
fi
cn_pkg_json="$NPM_PREFIX/node_modules/@continuedev/cli/package.json"
cn_bin="$NPM_PREFIX/node_modules/.bin/cn"
cn_have="$(node -p "require(process.argv[1]).version" "$cn_pkg_json" 2>/dev/null || true)"
if [ -x "$cn_bin" ] && [ "$cn_have" = "$CONTINUE_CLI_VERSION" ]; then
    log "continue cli: @continuedev/cli@$cn_have (cached in $NPM_PREFIX)"
else
    log "installing @continuedev/cli@$CONTINUE_CLI_VERSION into $NPM_PREFIX"
    mkdir -p "$NPM_PREFIX"
    npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
        "@continuedev/cli@$CONTINUE_CLI_VERSION" >&2
    [ -x "$cn_bin" ] || die "npm install finished but $cn_bin is missing"
fi

# ---- 4b. Claude Code and the Codex CLI at pinned versions ---------------------------------------
# Both are large (their real programs ship as per-platform optional packages: a native binary each),
# so each gets its own npm prefix in the cache, checked by a stamp plus `--version` (which needs no
# network), and reinstalled only when the pin changes.
# npm_cli PREFIX PACKAGE VERSION BIN: installs PACKAGE@VERSION into PREFIX unless already there.
npm_cli() {
    local prefix="$1" pkg="$2" version="$3" bin="$1/node_modules/.bin/$4" stamp="$1/.switchboard-stamp"
    if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$version" ] \
        && "$bin" --version >/dev/null 2>&1; then
        log "$4: $pkg@$version (cached in $prefix)"
        return
    fi
    log "installing $pkg@$version into $prefix (large: a native binary per platform)"
    rm -rf "$prefix"
    mkdir -p "$prefix"
    # --include=optional: the platform binary is an optional dependency (npm skips optional
    # dependencies under --omit=optional or a global `optional=false`).
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --include=optional \
        "$pkg@$version" >&2
    [ -x "$bin" ] || die "npm install finished but $bin is missing"
    "$bin" --version >&2 || die "$bin --version failed (is its platform package installed? see $prefix/node_modules)"
    printf '%s' "$pkg@$version" >"$stamp"
}
npm_cli "$CLAUDE_PREFIX" "@anthropic-ai/claude-code" "$CLAUDE_CODE_VERSION" claude
npm_cli "$CODEX_PREFIX" "@openai/codex" "$CODEX_VERSION" codex

# ---- 5. the repo's npm packages (the Tauri CLI that builds the .deb) -----------------------------
# `npm install`, not `npm ci`: the CLI's per-platform binaries are optional dependencies, and a
# registry mirror that lacks the other platforms' packages yields a lock file `npm ci` rejects.
# package.json pins the exact version.
npm_stamp="$repo_root/node_modules/.switchboard-stamp"
npm_want="$(cat "$repo_root/package.json" "$repo_root/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ -x "$repo_root/node_modules/.bin/tauri" ] && [ "$(cat "$npm_stamp" 2>/dev/null)" = "$npm_want" ]; then
    log "npm packages: $(cd "$repo_root" && node_modules/.bin/tauri --version) (node_modules up to date)"
else
    log "installing the repo's npm packages (the Tauri CLI)"
    (cd "$repo_root" && npm install --no-audit --no-fund --loglevel=error >&2)
    printf '%s' "$npm_want" >"$npm_stamp"
fi

# ---- environment for the e2e tests --------------------------------------------------------------
printf 'export SWITCHBOARD_E2E_PYTHON=%q\n' "$VENV/bin/python"
printf 'export SWITCHBOARD_E2E_CN=%q\n' "$cn_bin"
printf 'export SWITCHBOARD_E2E_ANTHROPIC_PYTHON=%q\n' "$ANTHROPIC_VENV/bin/python"
printf 'export SWITCHBOARD_E2E_AIDER=%q\n' "$AIDER_VENV/bin/aider"
printf 'export SWITCHBOARD_E2E_CLAUDE=%q\n' "$CLAUDE_PREFIX/node_modules/.bin/claude"
printf 'export SWITCHBOARD_E2E_CODEX=%q\n' "$CODEX_PREFIX/node_modules/.bin/codex"
printf 'export SWITCHBOARD_TAURI_DRIVER=%q\n' "$tauri_driver"
printf 'export SWITCHBOARD_DESKTOP_PYTHON=%q\n' "$DESKTOP_VENV/bin/python"
