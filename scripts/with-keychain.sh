#!/usr/bin/env bash
# Runs a command against a real, private, unlocked Secret Service (gnome-keyring) on a private
# D-Bus session bus, e.g. `scripts/with-keychain.sh cargo test -p switchboard-cli --test keychain`.
#
# Stage 1 (the caller's environment): make a temporary directory, then run stage 2 under
# `dbus-run-session`; once the session has ended, stop the keyring daemon and remove the directory.
# Stage 2 (inside the session): point gnome-keyring at the temporary directory (XDG_DATA_HOME
# for its keyrings, XDG_RUNTIME_DIR for its control socket), start it unlocked, export
# SWITCHBOARD_KEYCHAIN_TESTS=1 and exec the command.
# HOME is never changed (cargo and rustup live there); XDG_DATA_HOME is what keeps the user's
# real keyrings out of reach. Works non-interactively and as root.
set -euo pipefail

me="with-keychain.sh"

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    echo "runs COMMAND inside a private D-Bus session with an unlocked gnome-keyring" >&2
    exit 2
fi

# Already inside a session set up by this script: nothing to do.
if [[ "${SWITCHBOARD_KEYCHAIN_SESSION:-}" == 1 ]]; then
    exec "$@"
fi

require() {
    local tool=$1 package=$2
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$me: \`$tool\` is not installed; install it with \`apt-get install $package\`" >&2
        exit 127
    fi
}

# The daemon forks away from us and does not always exit when its bus goes away (it may still
# be starting up when a quick command ends), so stage 2 records its pid and stage 1 stops it,
# after checking that the pid is still that daemon, started for this session.
stop_daemon() {
    local pid
    pid=$(cat "$tmp/daemon.pid" 2>/dev/null) || return 0
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == gnome-keyring-d* ]] &&
        { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "XDG_DATA_HOME=$tmp/data"; then
        kill "$pid" 2>/dev/null || true
    fi
}

if [[ "${_SWITCHBOARD_KEYCHAIN_STAGE:-}" != inner ]]; then
    require dbus-run-session dbus-daemon
    require dbus-send dbus-bin
    require gnome-keyring-daemon gnome-keyring
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-keychain.XXXXXX")
    trap 'stop_daemon; rm -rf -- "$tmp"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$tmp/data"
    mkdir -m 700 "$tmp/runtime"
    # Not exec: this stage stays behind to clean up after the session ends.
    status=0
    _SWITCHBOARD_KEYCHAIN_STAGE=inner _SWITCHBOARD_KEYCHAIN_TMP="$tmp" \
        XDG_RUNTIME_DIR="$tmp/runtime" dbus-run-session -- "$BASH" "$0" "$@" || status=$?
    exit "$status"
fi

# Stage 2: inside the private session bus.
tmp=${_SWITCHBOARD_KEYCHAIN_TMP:?"$me: internal error: _SWITCHBOARD_KEYCHAIN_TMP is not set"}
unset _SWITCHBOARD_KEYCHAIN_STAGE _SWITCHBOARD_KEYCHAIN_TMP

# gnome-keyring-daemon first looks for a running daemon through GNOME_KEYRING_CONTROL and
# $XDG_RUNTIME_DIR/keyring/control; on a desktop those lead to the user's real keyring. So the
# runtime dir is always a private one here, not only when it is unset.
unset GNOME_KEYRING_CONTROL
export XDG_DATA_HOME="$tmp/data"
export XDG_RUNTIME_DIR="$tmp/runtime"

# The daemon prints `NAME=value` lines for its control socket; export them without eval.
if ! daemon_env=$(printf pw | gnome-keyring-daemon --unlock --components=secrets); then
    echo "$me: gnome-keyring-daemon failed to start an unlocked keyring" >&2
    exit 1
fi
while IFS= read -r line; do
    if [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
        export "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"
    fi
done <<<"$daemon_env"

# `--unlock` returns before the daemon owns `org.freedesktop.secrets` on the bus. A client that
# came too early would make the bus activate a second daemon, so wait for the name (the query
# does not activate anything) and note the owner's pid for stage 1.
daemon_pid=
for _ in $(seq 100); do
    if reply=$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixProcessID \
        string:org.freedesktop.secrets 2>/dev/null); then
        daemon_pid=${reply##* }
        break
    fi
    sleep 0.05
done
if [[ -z "$daemon_pid" ]]; then
    echo "$me: gnome-keyring-daemon did not provide the Secret Service (\`org.freedesktop.secrets\`)" \
        "on the session bus within 5 s" >&2
    exit 1
fi
echo "$daemon_pid" >"$tmp/daemon.pid"

export SWITCHBOARD_KEYCHAIN_TESTS=1
export SWITCHBOARD_KEYCHAIN_SESSION=1
exec "$@"
