#!/usr/bin/env bash
# Whole-request benchmarks of the gateway against the mock upstream: ./scripts/bench.sh [--quick]
#
#   1. builds the release binaries (switchboard, mock-upstream, loadgen) and installs the pinned
#      `oha` load generator into ~/.cache/switchboard/bin if it is missing,
#   2. starts the mock upstream and the gateway on 127.0.0.1:0, the gateway pinned to CPU 0 and
#      everything else (mock, oha, loadgen) to CPU 1,
#   3. measures: non-streaming throughput at 64 connections (direct vs via the gateway) and the
#      gateway's CPU time per request; latency at 20, 500 and 1,000 req/s; time to first byte of
#      100 concurrent 50-chunk streams; translated streams (OpenAI client → Anthropic upstream,
#      Anthropic client → OpenAI upstream): throughput and gateway CPU per stream against the
#      passthrough stream, and their time to first byte; start-up time and idle RSS; the cost of
#      `info` logging and of accounting; and, for reference, minimal proxies in the gateway's
#      place (a TCP byte relay, and axum + reqwest or axum + hyper-util passing the body through:
#      `loadgen baseline`),
#   4. prints a table (measured vs target, pass/fail) and keeps every raw result in
#      docs/bench-results/<timestamp>/ (git-ignored).
#
# Options:
#   --quick      short smoke run (seconds, not minutes); figures are indicative only
#   --no-build   use the binaries already built
#   --perf       also profile the gateway with `perf` during the 64-connection run and the stream
#                run (builds a frame-pointer, symbolized copy in $CARGO_TARGET_DIR-prof)
# Environment:
#   CARGO_TARGET_DIR   default ~/.cache/switchboard-target
#   GATEWAY_CPU / LOAD_CPU   default 0 and 1
#   QUIET_WAIT_SECS    before each run, wait at most this long for other processes to leave the
#                      CPUs idle (default 600, quick 30); runs measured on a busy machine say so
#   ATTEMPTS           how often a run disturbed by other processes is tried (default 3, quick 1)
# Every run is bounded in count and time and only targets 127.0.0.1; every process this script
# starts is stopped on exit.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

OHA_VERSION=1.16.0
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}"
cache_bin="$HOME/.cache/switchboard/bin"
gw_cpu="${GATEWAY_CPU:-0}"
load_cpu="${LOAD_CPU:-1}"

quick=0 build=1 perf=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --no-build) build=0 ;;
        --perf) perf=1 ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown option \`$arg\` (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$quick" = 1 ]; then
    thr_secs=3 warm_secs=1 rate_secs=3 light_secs=5 streams_per_worker=2 startup_trials=3 idle_ms=300
    quiet_max="${QUIET_WAIT_SECS:-30}" attempts=1
else
    thr_secs=10 warm_secs=2 rate_secs=10 light_secs=15 streams_per_worker=10 startup_trials=20 idle_ms=1000
    quiet_max="${QUIET_WAIT_SECS:-600}" attempts="${ATTEMPTS:-3}"
fi

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }

[ "$(nproc --all)" -ge 2 ] || die "needs at least 2 CPUs (gateway on one, load on the other)"
command -v taskset >/dev/null || die "needs \`taskset\` (util-linux)"

# --- build -------------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
    log "building release binaries"
    cargo build --release --quiet -p switchboard-cli -p mock-upstream -p loadgen
fi
bin="$CARGO_TARGET_DIR/release"
for b in switchboard mock-upstream loadgen; do
    [ -x "$bin/$b" ] || die "missing $bin/$b; run without --no-build"
done
oha="$cache_bin/oha"
if ! [ -x "$oha" ] || ! "$oha" --version 2>/dev/null | grep -q "$OHA_VERSION"; then
    log "installing oha $OHA_VERSION into $cache_bin (takes a few minutes, once)"
    CARGO_TARGET_DIR="$HOME/.cache/switchboard/oha-build" \
        cargo install oha --locked --version "$OHA_VERSION" --root "$HOME/.cache/switchboard" --quiet
fi
gw_bin="$bin/switchboard"
if [ "$perf" = 1 ]; then
    command -v perf >/dev/null || die "--perf needs \`perf\` (apt-get install linux-perf)"
    log "building a symbolized, frame-pointer copy of the gateway for perf"
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR-prof" RUSTFLAGS="-C force-frame-pointers=yes" \
        CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
        cargo build --release --quiet -p switchboard-cli
    gw_bin="$CARGO_TARGET_DIR-prof/release/switchboard"
fi

# --- processes ---------------------------------------------------------------------------------
stamp="$(date +%Y%m%d-%H%M%S)"
out="$repo_root/docs/bench-results/$stamp$([ "$quick" = 1 ] && echo -quick || true)"
mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench.XXXXXX")"
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

# wait_for_url FILE PREFIX: prints the URL after PREFIX once it appears in FILE (10 s at most).
wait_for_url() {
    local file="$1" prefix="$2" i line
    for i in $(seq 1 200); do
        line="$(grep -m1 "^$prefix" "$file" 2>/dev/null || true)"
        if [ -n "$line" ]; then echo "${line#"$prefix"}"; return 0; fi
        sleep 0.05
    done
    die "no \`$prefix\` line in $file after 10 s: $(cat "$file" "$file.err" 2>/dev/null | tail -5)"
}

# forget PID: waits for a process this script started and drops it from the cleanup list.
forget() {
    wait "$1" 2>/dev/null || true
    local kept=() pid
    for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    pids=("${kept[@]}")
}
# stop PID: stops one process this script started.
stop() {
    kill "$1" 2>/dev/null || true
    forget "$1"
}

taskset -c "$load_cpu" "$bin/mock-upstream" --listen 127.0.0.1:0 --no-record --workers 1 \
    >"$work/mock.out" 2>"$work/mock.out.err" &
pids+=($!)
mock_url="$(wait_for_url "$work/mock.out" "mock-upstream listening on ")"
log "mock upstream at $mock_url (CPU $load_cpu)"

# The config sits alone in its directory: the gateway watches that directory for edits, and the
# log file or data dir next to it would wake the watcher on every write.
mkdir -p "$work/conf"
cat >"$work/conf/gateway.toml" <<EOF
[providers.mock]
api = "openai"
base_url = "$mock_url/v1"

[providers.mock-anthropic]
api = "anthropic"
base_url = "$mock_url"

# OpenAI and Anthropic clients alike: an Anthropic client asking for it is translated.
[models."gpt-4o-mini"]
provider = "mock"
model = "mock-small"

# An OpenAI client asking for it is translated to the Anthropic upstream.
[models."claude-mock"]
provider = "mock-anthropic"
model = "claude-mock-upstream"
EOF
mkdir -p "$work/data"

gw_pid='' gw_url='' target_pid=''
# start_gateway LOG_LEVEL [SERVE ARGS...]: (re)starts the gateway pinned to $gw_cpu; its log
# goes to a file. LOG_LEVEL `default` leaves SWITCHBOARD_LOG unset (info).
start_gateway() {
    if [ -n "$gw_pid" ]; then stop "$gw_pid"; fi
    local level="$1"; shift
    : >"$work/gw.out"
    if [ "$level" = default ]; then
        taskset -c "$gw_cpu" env -u SWITCHBOARD_LOG "$gw_bin" serve --config "$work/conf/gateway.toml" \
            --listen 127.0.0.1:0 --data-dir "$work/data" "$@" >"$work/gw.out" 2>"$work/gw.log" &
    else
        taskset -c "$gw_cpu" env SWITCHBOARD_LOG="$level" "$gw_bin" serve \
            --config "$work/conf/gateway.toml" --listen 127.0.0.1:0 --data-dir "$work/data" "$@" \
            >"$work/gw.out" 2>"$work/gw.log" &
    fi
    gw_pid=$!
    target_pid=$gw_pid
    pids+=("$gw_pid")
    gw_url="$(wait_for_url "$work/gw.out" "Switchboard listening on ")"
}

start_gateway warn
log "gateway at $gw_url (CPU $gw_cpu, pid $gw_pid)"

# --- environment -------------------------------------------------------------------------------
threads() { cat /proc/"$1"/task/*/comm 2>/dev/null | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}'; }
# Tokio sizes its worker pool by std's available_parallelism, which honours the affinity mask, as
# nproc does. (Thread names cannot tell: blocking-pool threads are `tokio-rt-worker` too.)
workers="$(taskset -c "$gw_cpu" nproc)"
[ "$workers" = 1 ] || log "warning: CPU set \`$gw_cpu\` gives tokio $workers workers (expected 1)"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "mode: $([ "$quick" = 1 ] && echo quick || echo full)"
    if git rev-parse --git-dir >/dev/null 2>&1; then
        echo "git: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo ' (uncommitted changes in crates/)')"
    else
        echo "source: snapshot $(cat SNAPSHOT 2>/dev/null || echo '?') (not a git checkout)"
    fi
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') × $(nproc --all)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    echo "oha: $("$oha" --version)"
    echo "gateway affinity: $(taskset -pc "$gw_pid" | sed 's/.*: //')"
    echo "gateway threads: $(threads "$gw_pid")"
    echo "gateway tokio workers: $workers (available_parallelism under its affinity; the other tokio-rt-worker threads are the blocking pool)"
    echo "mock affinity: $(taskset -pc "${pids[0]}" | sed 's/.*: //'), threads: $(threads "${pids[0]}")"
} >"$out/env.txt"
sed 's/^/    /' "$out/env.txt" >&2

# --- load helpers ------------------------------------------------------------------------------
chat_body='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello."}]}'
clk_tck="$(getconf CLK_TCK)"
mock_pid="${pids[0]}"

# user_jiffies: user+nice time of all CPUs so far, in clock ticks.
user_jiffies() { awk '/^cpu / {printf "%.0f", $2 + $3}' /proc/stat; }
# ours_utime: user time of every process this script runs in the background, in clock ticks.
ours_utime() {
    local pid
    for pid in "${pids[@]}"; do cat /proc/"$pid"/stat 2>/dev/null || true; done \
        | awk '{s += $14} END {printf "%.0f", s}'
}
# gw_cpu_sample: "utime+stime ticks, sum of per-thread run time in ns" of the process under test
# ($target_pid: the gateway, or a reference proxy). Its thread ids go to $work/tids-new (one per
# line, sorted): a thread that ends takes its run time out of the sum, so `load` compares them.
gw_cpu_sample() {
    [ -n "$target_pid" ] || { : >"$work/tids-new"; echo "0 0"; return; }
    local ticks ns
    ticks="$(awk '{print $14 + $15}' /proc/"$target_pid"/stat)"
    # %.0f, not %d: mawk clamps %d to 32 bits (2.1 s of run time in ns).
    ns="$(cat /proc/"$target_pid"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}')"
    ls /proc/"$target_pid"/task 2>/dev/null | sort >"$work/tids-new"
    echo "$ticks $ns"
}

# wait_quiet: the machine may be shared (builds, tests); waits until the user CPU time of every
# process but ours stays under 5 % of one CPU for 3 s in a row, for at most $quiet_max s per call.
wait_quiet() {
    local waited=0 calm=0 j0 o0 j1 o1
    while [ "$calm" -lt 3 ]; do
        j0="$(user_jiffies)" o0="$(ours_utime)"
        sleep 1
        j1="$(user_jiffies)" o1="$(ours_utime)"
        if [ $(((j1 - j0) - (o1 - o0))) -le $((clk_tck / 20)) ]; then
            calm=$((calm + 1))
            continue
        fi
        calm=0 waited=$((waited + 1))
        [ "$waited" != 1 ] || log "other processes are using the CPUs; waiting for quiet (at most ${quiet_max}s)"
        if [ "$waited" -ge "$quiet_max" ]; then
            log "warning: the machine stayed busy; measuring anyway (see \"foreign CPU\" in the results)"
            return 0
        fi
    done
}

# load NAME CMD...: runs one load generator (stdout to $out/NAME.json) on a quiet machine, and
# writes $out/cpu-NAME.json: the gateway's CPU time over the run, and the CPU time other
# processes (not the gateway, the mock or the load generator) took meanwhile, in % of one CPU.
# A run disturbed by other processes (over 5 % of a CPU) is repeated, up to $attempts times.
load() {
    local name="$1"; shift
    local attempt j0 o0 g0 t0 j1 o1 g1 t1 lu foreign ended
    for attempt in $(seq 1 "$attempts"); do
        wait_quiet
        j0="$(user_jiffies)" o0="$(ours_utime)" g0="$(gw_cpu_sample)" t0="$(date +%s.%N)"
        mv "$work/tids-new" "$work/tids-before"
        local TIMEFORMAT='%3U'
        { time "$@" >"$out/$name.json" 2>"$work/load.err"; } 2>"$work/time.txt" \
            || die "\`$name\` failed: $(tail -3 "$work/load.err")"
        j1="$(user_jiffies)" o1="$(ours_utime)" g1="$(gw_cpu_sample)" t1="$(date +%s.%N)"
        lu="$(tail -1 "$work/time.txt")"
        # Threads that ended during the run (tokio's idle blocking threads do after 10 s) took
        # their whole run time out of the per-thread sum: then it falls back to the ticks.
        ended="$(comm -23 "$work/tids-before" "$work/tids-new" | wc -l)"
        echo "$g0 $g1 $clk_tck $j0 $j1 $o0 $o1 $lu $t0 $t1 $attempt $ended" | awk '{
            wall = $12 - $11
            foreign = (($7 - $6) - ($9 - $8)) / $5 - $10
            if (foreign < 0) foreign = 0
            sched = $4 - $2
            if ($14 > 0) sched = ($3 - $1) * 1e9 / $5
            printf "{\"ticks\": %.0f, \"sched_ns\": %.0f, \"sched_from_ticks\": %s, \"clk_tck\": %d, \"wall_s\": %.3f, \"foreign_cpu_pct\": %.1f, \"attempt\": %d}\n",
                $3 - $1, sched, ($14 > 0 ? "true" : "false"), $5, wall, 100 * foreign / wall, $13
        }' >"$out/cpu-$name.json"
        foreign="$(sed 's/.*"foreign_cpu_pct": \([0-9.]*\).*/\1/' "$out/cpu-$name.json")"
        if awk -v f="$foreign" 'BEGIN {exit !(f <= 5)}'; then return 0; fi
        log "other processes took ${foreign} % of a CPU during \`$name\` (attempt $attempt of $attempts)"
    done
}

# oha_run NAME URL ARGS...: one oha run on the load CPU; JSON to $out/oha-NAME.json.
oha_run() {
    local name="$1" url="$2"; shift 2
    load "oha-$name" taskset -c "$load_cpu" "$oha" --no-tui --output-format json -m POST \
        -H 'content-type: application/json' -d "$chat_body" "$@" "$url/v1/chat/completions"
}

# streams_run NAME URL ARGS...: one loadgen stream run on the load CPU (OpenAI chat client).
streams_run() {
    local name="$1" url="$2"; shift 2
    load "streams-$name" taskset -c "$load_cpu" "$bin/loadgen" streams \
        --url "$url/v1/chat/completions" --concurrency 100 --chunks 50 --timeout-secs 120 "$@"
}
# anthropic_streams_run NAME URL ARGS...: the same with an Anthropic messages client.
anthropic_streams_run() {
    local name="$1" url="$2"; shift 2
    load "streams-$name" taskset -c "$load_cpu" "$bin/loadgen" streams --dialect anthropic \
        --url "$url/v1/messages" --concurrency 100 --chunks 50 --timeout-secs 120 "$@"
}

warm() {
    taskset -c "$load_cpu" "$oha" --no-tui --output-format json -m POST \
        -H 'content-type: application/json' -d "$chat_body" -c 64 -z "${warm_secs}s" \
        "$1/v1/chat/completions" >/dev/null
}

# perf_during SECONDS NAME: samples the gateway for SECONDS in the background.
perf_pid=''
perf_during() {
    [ "$perf" = 1 ] || return 0
    perf record -F 1999 -g -p "$gw_pid" -o "$out/perf-$2.data" -- sleep "$1" >/dev/null 2>&1 &
    perf_pid=$!
    pids+=("$perf_pid")
}
perf_done() {
    [ "$perf" = 1 ] && [ -n "$perf_pid" ] || return 0
    forget "$perf_pid"
    perf_pid=''
    perf report -i "$out/perf-$1.data" --no-children --percent-limit 0.7 --stdio 2>/dev/null \
        | grep -v '^$' | head -400 >"$out/perf-$1-self.txt" || true
    perf report -i "$out/perf-$1.data" --children --percent-limit 2 --stdio -g none 2>/dev/null \
        | grep -v '^$' | head -200 >"$out/perf-$1-children.txt" || true
}

# --- 1. throughput at 64 connections -----------------------------------------------------------
log "throughput, 64 connections, ${thr_secs}s each: direct, then via the gateway"
warm "$mock_url"
oha_run thr-direct "$mock_url" -c 64 -z "${thr_secs}s"
warm "$gw_url"
perf_during $((thr_secs - 1)) thr
oha_run thr-gateway "$gw_url" -c 64 -z "${thr_secs}s"
perf_done thr

# --- 2. latency at fixed rates -----------------------------------------------------------------
for rate in 20 500 1000; do
    secs=$([ "$rate" = 20 ] && echo "$light_secs" || echo "$rate_secs")
    log "latency at $rate req/s for ${secs}s: direct, then via the gateway"
    oha_run "rate$rate-direct" "$mock_url" -c 8 -q "$rate" -z "${secs}s"
    oha_run "rate$rate-gateway" "$gw_url" -c 8 -q "$rate" -z "${secs}s"
done

# --- 3. streams: time to first byte ------------------------------------------------------------
log "100 concurrent 50-chunk streams, 10 ms between events: direct, then via the gateway"
streams_run paced-direct "$mock_url" --per-worker "$streams_per_worker" --gap-ms 10
perf_during 4 streams
streams_run paced-gateway "$gw_url" --per-worker "$streams_per_worker" --gap-ms 10
perf_done streams
log "100 concurrent 50-chunk streams, all events at once, all started together: direct, then via the gateway"
streams_run burst-direct "$mock_url" --per-worker "$streams_per_worker" --gap-ms 0 --burst
streams_run burst-gateway "$gw_url" --per-worker "$streams_per_worker" --gap-ms 0 --burst

# --- 3b. translated streams (issue 4) ---------------------------------------------------------
# Throughput: 100 concurrent 50-chunk streams, no pause between events, back to back; the same
# stream passed through (OpenAI → OpenAI, and Anthropic → Anthropic for reference) and
# translated both ways. The gateway's CPU per stream
# is the steadier figure on a shared machine.
log "translated streams: throughput (no pauses) of passthrough vs OpenAI→Anthropic vs Anthropic→OpenAI"
thr_streams=$((streams_per_worker * 2))
streams_run thr-passthrough "$gw_url" --per-worker "$thr_streams" --gap-ms 0 --burst
anthropic_streams_run thr-passthrough-anthropic "$gw_url" --model claude-mock \
    --per-worker "$thr_streams" --gap-ms 0 --burst
perf_during 3 streams-o2a
streams_run thr-o2a "$gw_url" --model claude-mock --per-worker "$thr_streams" --gap-ms 0 --burst
perf_done streams-o2a
perf_during 3 streams-a2o
anthropic_streams_run thr-a2o "$gw_url" --per-worker "$thr_streams" --gap-ms 0 --burst
perf_done streams-a2o
log "translated streams: time to first byte, 100 concurrent paced 50-chunk streams"
anthropic_streams_run paced-direct-anthropic "$mock_url" --model claude-mock-upstream \
    --per-worker "$streams_per_worker" --gap-ms 10
streams_run paced-o2a "$gw_url" --model claude-mock --per-worker "$streams_per_worker" --gap-ms 10
anthropic_streams_run paced-a2o "$gw_url" --per-worker "$streams_per_worker" --gap-ms 10

# --- 4. memory after load ----------------------------------------------------------------------
sleep 1
awk '/VmRSS|RssAnon|RssFile/ {printf "%s %s\n", $1, $2}' /proc/"$gw_pid"/status >"$out/rss-after-load.txt"
if grep -qiE 'panic|error' "$work/gw.log"; then cp "$work/gw.log" "$out/gateway-warn.log"; fi

# --- 5. the cost of info logging and of accounting --------------------------------------------
log "the same throughput and 1,000 req/s runs with the default \`info\` log level"
start_gateway default
warm "$gw_url"
oha_run thr-gateway-info "$gw_url" -c 64 -z "${thr_secs}s"
oha_run rate1000-gateway-info "$gw_url" -c 8 -q 1000 -z "${rate_secs}s"
wc -l <"$work/gw.log" | awk '{print "log lines: " $1}' >"$out/info-log.txt"
head -3 "$work/gw.log" >>"$out/info-log.txt"
if "$gw_bin" serve --help 2>/dev/null | grep -q -- --no-accounting; then
    log "the throughput run without accounting (\`serve --no-accounting\`)"
    start_gateway warn --no-accounting
    warm "$gw_url"
    oha_run thr-gateway-noacct "$gw_url" -c 64 -z "${thr_secs}s"
fi
stop "$gw_pid"
gw_pid='' target_pid=''

# --- 6. reference proxies ----------------------------------------------------------------------
# What the extra hop costs without Switchboard: a byte relay (no HTTP: the floor of any proxy) and
# axum + reqwest or axum + hyper-util (Switchboard's client) forwarding the body untouched (the
# frameworks, without Switchboard's own work), pinned and measured exactly like the gateway.
for mode in tcp http hyper; do
    log "reference proxy \`$mode\`: throughput, 20 and 1,000 req/s"
    taskset -c "$gw_cpu" "$bin/loadgen" baseline --mode "$mode" --upstream "$mock_url" \
        >"$work/base.out" 2>&1 &
    base_pid=$!
    pids+=("$base_pid")
    target_pid=$base_pid
    base_url="$(wait_for_url "$work/base.out" "baseline listening on ")"
    warm "$base_url"
    oha_run "thr-base-$mode" "$base_url" -c 64 -z "${thr_secs}s"
    oha_run "rate20-base-$mode" "$base_url" -c 8 -q 20 -z "${light_secs}s"
    oha_run "rate1000-base-$mode" "$base_url" -c 8 -q 1000 -z "${rate_secs}s"
    stop "$base_pid"
done
target_pid=''

# --- 7. start-up time and idle memory ----------------------------------------------------------
log "start-up: $startup_trials starts of \`switchboard serve\` (pinned to CPU $gw_cpu)"
SWITCHBOARD_LOG=warn load startup taskset -c "$load_cpu" "$bin/loadgen" startup \
    --bin "$bin/switchboard" --config "$work/conf/gateway.toml" --data-dir "$work/data" \
    --cpus "$gw_cpu" --trials "$startup_trials" --idle-ms "$idle_ms"

# --- summary -----------------------------------------------------------------------------------
"$bin/loadgen" report --dir "$out" | tee "$out/summary.md"
log "raw results in ${out#"$repo_root"/}"
