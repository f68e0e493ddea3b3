#!/usr/bin/env bash
# Reproduces the dashboard screenshots in docs/screenshots/:
#   ./scripts/ui-screenshot.sh [OUT_DIR] [--check]
# Builds the gateway and the mock upstream, starts both on 127.0.0.1:0 with a throw-away config and
# data dir, sends a little varied traffic (streamed and not, reported and estimated usage, an
# upstream error, a nearly full context, a closed session), then shoots the dashboard with Debian's
# Chromium through playwright-core (installed once into ~/.cache/switchboard/npm-ui), in light and
# dark, at 1280 px (the whole page). It fails if the page logs an error (a CSP violation, say) or
# is wider than a 900 px window. --check also keeps 900 px shots and shots of the dialogs and the
# no-token page. Everything it starts is stopped on exit. Only 127.0.0.1 is ever contacted.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

out_dir="$repo_root/docs/screenshots"
check=""
for arg in "$@"; do
    case "$arg" in
        --check) check="--check" ;;
        -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
        *) out_dir="$(mkdir -p "$arg" && cd "$arg" && pwd)" ;;
    esac
done
mkdir -p "$out_dir"

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    echo "ui-screenshot.sh: Chromium is missing; install it with: sudo apt-get install -y chromium" >&2
    exit 1
fi
command -v node >/dev/null || { echo "ui-screenshot.sh: Node.js is needed (apt-get install nodejs npm)" >&2; exit 1; }

npm_dir="${SWITCHBOARD_NPM_UI:-$HOME/.cache/switchboard/npm-ui}"
if [ ! -d "$npm_dir/node_modules/playwright-core" ]; then
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] || echo '{"name":"switchboard-npm-ui","private":true}' >"$npm_dir/package.json"
    echo "ui-screenshot.sh: installing playwright-core into $npm_dir" >&2
    (cd "$npm_dir" && npm install --no-audit --no-fund --silent playwright-core@1)
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}"
nice -n 19 cargo build --quiet -p switchboard-cli -p mock-upstream
bin="$CARGO_TARGET_DIR/debug"

work="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-ui.XXXXXX")"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to 20 s for a line matching $2 in the file $1 and prints the first URL in it.
wait_for_url() {
    local i
    for i in $(seq 200); do
        if grep -q "$2" "$1" 2>/dev/null; then
            grep "$2" "$1" | head -n1 | grep -o 'http://[^ ]*' | head -n1
            return 0
        fi
        sleep 0.1
    done
    echo "ui-screenshot.sh: timed out waiting for '$2' in $1:" >&2
    cat "$1" >&2
    return 1
}

"$bin/mock-upstream" --listen 127.0.0.1:0 >"$work/mock.log" 2>&1 &
pids+=($!)
mock="$(wait_for_url "$work/mock.log" 'listening on')"

cat >"$work/config.toml" <<EOF
[providers.mock]
api = "openai"
base_url = "$mock/v1"

[models."gpt-4o"]
provider = "mock"
model = "gpt-4o"

[models."gpt-4o-mini"]
provider = "mock"
model = "mock-small"

[models."llama-local"]
provider = "mock"
model = "llama3.1:8b"
max_context_size = 8192
EOF

RUST_LOG=warn "$bin/switchboard" serve --config "$work/config.toml" --listen 127.0.0.1:0 \
    --data-dir "$work/data" >"$work/gateway.log" 2>&1 &
pids+=($!)
dashboard="$(wait_for_url "$work/gateway.log" 'dashboard:')"
base="${dashboard%%/ui/*}"
token="${dashboard##*#token=}"
case "$base" in http://127.0.0.1:*) ;; *) echo "ui-screenshot.sh: unexpected base URL $base" >&2; exit 1 ;; esac

# chat AGENT MODEL STREAM CONTENT [extra curl args…]
chat() {
    local agent="$1" model="$2" stream="$3" content="$4"
    shift 4
    curl -sS -o /dev/null "$base/v1/chat/completions" -H 'content-type: application/json' \
        -H "user-agent: $agent" "$@" \
        -d "{\"model\":\"$model\",\"stream\":$stream,\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful coding assistant.\"},{\"role\":\"user\",\"content\":\"$content\"}]}"
}
admin() {
    curl -sS -H "authorization: Bearer $token" "$@"
}

# A session that is over: closed from the admin API.
chat "zed/0.160.2" gpt-4o true "Explain this stack trace"
# Requests are stored in batches by a background writer: wait until the session is there.
zed_session=""
for _ in $(seq 50); do
    zed_session="$(admin "$base/admin/api/sessions?status=active" | { grep -o '"id":"[^"]*"' || true; } | head -n1 | cut -d'"' -f4)"
    [ -n "$zed_session" ] && break
    sleep 0.1
done
[ -n "$zed_session" ] || { echo "ui-screenshot.sh: the first session was never stored" >&2; exit 1; }
admin -X POST -o /dev/null "$base/admin/api/sessions/$zed_session/close"

# Live sessions.
chat "Continue/1.2.3 (vscode)" gpt-4o-mini false "Write a unit test for parse_time"
chat "Continue/1.2.3 (vscode)" gpt-4o-mini true "Now cover leap years" -H 'x-mock-usage: none'
chat "aider/0.82.1" gpt-4o false "Refactor the router" -H 'x-mock-fault: {"kind":"status","status":429}'
chat "aider/0.82.1" gpt-4o true "Refactor the router" -H 'x-mock-chunks: 40' -H 'x-mock-chunk-gap-ms: 8'
long_prompt="$(head -c 27000 /dev/zero | tr '\0' 'x')"
chat "opencode/0.3.1" llama-local true "Summarise: $long_prompt" -H 'x-mock-chunks: 20' -H 'x-mock-chunk-gap-ms: 10'
chat "opencode/0.3.1" llama-local false "Summarise: $long_prompt"
chat "cursor/0.48.6" gpt-4o true "Why is this test flaky?" -H 'x-mock-fault: {"kind":"delay-first-byte","ms":350}'
chat "cursor/0.48.6" gpt-4o false "Suggest a fix"
sleep 1

NODE_PATH="$npm_dir/node_modules" CHROMIUM="$chromium" CHROMIUM_PROFILE="$work/chromium-profile" \
    SHOOT_INFLIGHT="$base" node "$repo_root/scripts/ui/shoot.mjs" "$dashboard" "$out_dir" $check

ls -l "$out_dir"/dashboard-*.png
