#!/usr/bin/env bash
# The one command that runs every test: ./scripts/test.sh
#
#   1. installs what is missing (scripts/setup-test-deps.sh: Debian packages, cargo-nextest,
#      tauri-driver, Python venvs with the pinned `openai` and `anthropic` SDKs, Aider and
#      `selenium`, the pinned Continue CLI, Claude Code and Codex CLI, cached outside the clone;
#      the Tauri CLI from package.json),
#   2. cargo fmt --check, 3. clippy -D warnings,
#   4. every test with cargo-nextest, inside a private D-Bus session with an unlocked gnome-keyring
#      (scripts/with-keychain.sh), real-client end-to-end tests included,
#   5. doctests (when there are any),
#   6. the desktop app end to end under Xvfb with tauri-driver (scripts/desktop-e2e.sh),
#   7. its .deb (`npm run app:build`) installed and started in a clean Debian root
#      (scripts/deb-install-test.sh).
# Every phase runs even if an earlier one failed; the summary shows each one's status and time, and
# the exit status is non-zero if any phase failed.
#
# Environment:
#   SWITCHBOARD_CACHE   where the venv and npm packages live (default ~/.cache/switchboard)
#   CARGO_TARGET_DIR    default ~/.cache/switchboard-target, so warm runs reuse the build
#   Extra arguments are passed to `cargo nextest run` (e.g. a filter: ./scripts/test.sh e2e_).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
# Panics keep their backtraces (RUST_BACKTRACE), but a test returning an anyhow::Error prints
# just its message: the e2e tests' errors already carry both sides' output.
export RUST_LIB_BACKTRACE="${RUST_LIB_BACKTRACE:-0}"

if [ -t 1 ]; then bold=$'\e[1m' red=$'\e[31m' green=$'\e[32m' reset=$'\e[0m'; else bold='' red='' green='' reset=''; fi

summary=()
failed=0
total_start=$(date +%s)

# run_phase NAME COMMAND...: runs one phase, records its status and duration, never aborts the script.
run_phase() {
    local name="$1"; shift
    printf '\n%s==> %s%s\n    $ %s\n' "$bold" "$name" "$reset" "$*"
    local start rc=0
    start=$(date +%s)
    "$@" || rc=$?
    local secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then
        summary+=("$(printf '%s  ok    %5ss  %s%s' "$green" "$secs" "$name" "$reset")")
    else
        summary+=("$(printf '%s  FAIL  %5ss  %s (exit %s)%s' "$red" "$secs" "$name" "$rc" "$reset")")
        failed=1
    fi
    printf '%s<== %s: %s in %ss%s\n' "$bold" "$name" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")" "$secs" "$reset"
}

print_summary() {
    printf '\n%sSummary%s (target dir: %s)\n' "$bold" "$reset" "$CARGO_TARGET_DIR"
    printf '%s\n' "${summary[@]}"
    printf '  total %ss\n' "$(( $(date +%s) - total_start ))"
}

# ---- 1. dependencies (fatal: nothing else is meaningful without them) ---------------------------
printf '%s==> test dependencies%s\n' "$bold" "$reset"
deps_start=$(date +%s)
if ! deps_env="$("$repo_root/scripts/setup-test-deps.sh")"; then
    printf '%sinstalling test dependencies failed; see the [setup] lines above%s\n' "$red" "$reset" >&2
    exit 1
fi
eval "$deps_env"
summary+=("$(printf '%s  ok    %5ss  test dependencies%s' "$green" "$(( $(date +%s) - deps_start ))" "$reset")")
printf '    %s, %s\n' "$(rustc --version)" "$(cargo --version)"
env | grep -E '^SWITCHBOARD_(E2E_|TAURI_DRIVER|DESKTOP_PYTHON)' | sort | sed 's/^/    /' || true

# ---- 2-3. formatting and lints ------------------------------------------------------------------
run_phase "cargo fmt" cargo fmt --all --check
run_phase "cargo clippy" cargo clippy --locked --workspace --all-targets -- -D warnings

# ---- 4. tests -----------------------------------------------------------------------------------
if [ -x "$repo_root/scripts/with-keychain.sh" ]; then
    run_phase "cargo nextest" "$repo_root/scripts/with-keychain.sh" \
        cargo nextest run --locked --workspace --no-fail-fast "$@"
else
    printf '%sscripts/with-keychain.sh is missing or not executable%s\n' "$red" "$reset" >&2
    summary+=("$(printf '%s  FAIL      -  cargo nextest (scripts/with-keychain.sh missing)%s' "$red" "$reset")")
    failed=1
fi

# ---- 5. doctests (nextest does not run them) ----------------------------------------------------
if grep -rqE '^\s*//[/!].*```' --include='*.rs' crates src-tauri 2>/dev/null; then
    run_phase "doctests" cargo test --workspace --doc
else
    summary+=("  skip      -  doctests (none in the workspace)")
fi

# ---- 6-7. the desktop app: end to end, then its installer -----------------------------------------
run_phase "desktop e2e" "$repo_root/scripts/desktop-e2e.sh"
run_phase "desktop .deb build" npm run --silent app:build
run_phase "desktop .deb install" "$repo_root/scripts/deb-install-test.sh"

print_summary
exit "$failed"
