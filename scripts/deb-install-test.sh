#!/usr/bin/env bash
# Proves the desktop app's .deb installs and launches on a clean Debian system:
#   ./scripts/deb-install-test.sh [path/to/switchboard_*.deb]   (default: the newest one built)
#
# 1. a minimal Debian bookworm root (debootstrap --variant=minbase; cached as a tarball, unpacked
#    fresh for every run) — nothing of this machine's packages or build is visible in it;
# 2. `apt-get install ./switchboard_….deb` there: the package's own Depends must pull in
#    everything it needs (WebKitGTK, the tray library, …), plus xvfb to have a display;
# 3. checks the installed files (binary, .desktop entry, icons), then starts the installed
#    `switchboard-app` under Xvfb with a temporary config, waits for the proxy's /health,
#    checks that its window is on the screen, takes a screenshot, and quits it with SIGTERM.
#
# Needs root (chroot, mounts) or password-less sudo, and the Debian mirror apt uses. Screenshot
# and logs go to $SWITCHBOARD_ARTIFACTS (default $CARGO_TARGET_DIR/artifacts/deb).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}"
cache="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}/deb-test"
artifacts="${SWITCHBOARD_ARTIFACTS:-$CARGO_TARGET_DIR/artifacts/deb}"
mirror="${SWITCHBOARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm

log() { printf '[deb-test] %s\n' "$*" >&2; }
die() { printf '[deb-test] FAILED: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "needs root (chroot and mounts); run as root"
    exec sudo -n --preserve-env=CARGO_TARGET_DIR,SWITCHBOARD_CACHE,SWITCHBOARD_ARTIFACTS,SWITCHBOARD_DEBIAN_MIRROR \
        "$0" "$@"
fi

deb="${1:-}"
if [ -z "$deb" ]; then
    deb="$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)"
fi
[ -n "$deb" ] && [ -f "$deb" ] || die "no .deb found; build one with \`npm run app:build\`"
deb="$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
log "package: $deb ($(du -h "$deb" | cut -f1))"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap)"

mkdir -p "$cache/apt-archives/partial" "$artifacts"
base="$cache/$suite-minbase.tar"
if [ ! -f "$base" ]; then
    log "creating a minimal $suite root with debootstrap (once; cached in $base)"
    fresh="$(mktemp -d)"
    debootstrap --variant=minbase "$suite" "$fresh" "$mirror" >"$artifacts/debootstrap.log" 2>&1 \
        || { tail -n 20 "$artifacts/debootstrap.log" >&2; rm -rf "$fresh"; die "debootstrap failed"; }
    tar -C "$fresh" -cf "$base.tmp" . && mv "$base.tmp" "$base"
    rm -rf "$fresh"
fi

root="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-deb-root.XXXXXX")"
mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
    rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
mount_into() { mount "$@"; mounted+=("${@: -1}"); }
mount_into -t proc proc "$root/proc"
mount_into --bind /dev "$root/dev"
mount_into --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

log "apt-get install ./$(basename "$deb") in the clean root"
start=$(date +%s)
{
    in_root apt-get update -q
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "/tmp/$(basename "$deb")" xvfb xauth x11-utils x11-apps curl procps dbus
} >"$artifacts/apt-install.log" 2>&1 || { tail -n 30 "$artifacts/apt-install.log" >&2; die "the package did not install"; }
log "installed in $(( $(date +%s) - start )) s ($(grep -c '^Setting up' "$artifacts/apt-install.log") packages set up)"

package="$(dpkg-deb -f "$deb" Package)"
in_root dpkg -s "$package" | grep -q '^Status: install ok installed' || die "dpkg does not list $package as installed"
for f in /usr/bin/switchboard-app /usr/share/applications/Switchboard.desktop \
    /usr/share/icons/hicolor/128x128/apps/switchboard-app.png; do
    [ -e "$root$f" ] || die "the package did not install $f"
done
log "files in place: $(in_root dpkg -L "$package" | grep -c /) paths"

log "starting the installed app under Xvfb"
cat >"$root/tmp/launch.sh" <<'EOF'
#!/bin/sh
# Runs inside the clean root: start the app, wait for the proxy, look at the window, quit.
set -eu
mkdir -p /tmp/sb
printf '[server]\nlisten = "127.0.0.1:0"\n' >/tmp/sb/config.toml
export SWITCHBOARD_CONFIG=/tmp/sb/config.toml SWITCHBOARD_DATA_DIR=/tmp/sb/data
export XDG_DATA_HOME=/tmp/sb/xdg-data XDG_CONFIG_HOME=/tmp/sb/xdg-config
switchboard-app 2>/tmp/sb/app.log &
app=$!
addr=""
for _ in $(seq 150); do
    addr=$(sed -n 's/.*proxy running addr=\(127\.0\.0\.1:[0-9]*\).*/\1/p' /tmp/sb/app.log 2>/dev/null | head -n1)
    [ -n "$addr" ] && break
    kill -0 "$app" 2>/dev/null || { echo "the app exited:"; cat /tmp/sb/app.log; exit 1; }
    sleep 0.1
done
[ -n "$addr" ] || { echo "the proxy did not start:"; cat /tmp/sb/app.log; exit 1; }
curl -fsS "http://$addr/health"; echo
# The page asks the shell for the state once it runs (a fresh system first builds its font cache).
for _ in $(seq 300); do
    grep -q 'window page loaded' /tmp/sb/app.log && break
    sleep 0.1
done
grep -q 'window page loaded' /tmp/sb/app.log || { echo "the window's page never loaded:"; cat /tmp/sb/app.log; exit 1; }
# The window on the screen (xwininfo can fail while windows come and go: retry).
shown=""
for _ in $(seq 50); do
    shown=$(xwininfo -root -tree 2>/dev/null | grep '"Switchboard"' || true)
    [ -n "$shown" ] && break
    sleep 0.2
done
[ -n "$shown" ] || { echo "no Switchboard window on the screen"; exit 1; }
echo "$shown"
# Screenshots over the next seconds: the first paint on a fresh system can take a while (the
# host picks the first one that shows the rendered page).
for i in 1 2 3 4 5 6 7 8 9 10; do
    sleep 1
    xwd -root -silent >"/tmp/sb/screen-$i.xwd"
done
kill -TERM "$app"
wait "$app"
echo "app exited with $?"
EOF
chmod +x "$root/tmp/launch.sh"
# A desktop session has a session bus (tray menu, notifications, keychain, single instance).
if ! in_root timeout 120 dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" /tmp/launch.sh \
    >"$artifacts/launch.log" 2>&1; then
    cat "$artifacts/launch.log" >&2
    die "the installed app did not run"
fi
cp "$root/tmp/sb/app.log" "$artifacts/app.log" 2>/dev/null || true
rendered=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    shot="$root/tmp/sb/screen-$i.xwd"
    [ -f "$shot" ] || continue
    # A blank window is one or two colours; the rendered page has hundreds (text, badges, icons).
    if [ "$(convert "xwd:$shot" -format '%k' info:)" -gt 100 ]; then
        convert "xwd:$shot" "$artifacts/deb-installed-app.png"
        rendered="$i s"
        break
    fi
done
[ -n "$rendered" ] || die "the installed app's window stayed blank for 10 s"
log "screenshot: $artifacts/deb-installed-app.png (rendered within $rendered)"
grep -q '"status":"ok"' "$artifacts/launch.log" || die "/health did not answer ok"
log "ok: $(grep -o '"status":"ok"' "$artifacts/launch.log" | head -n1) from the installed app; $(tail -n1 "$artifacts/launch.log")"
