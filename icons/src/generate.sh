#!/usr/bin/env bash
# Regenerates every icon from the SVGs here (run from anywhere; needs rsvg-convert from
# librsvg2-bin and the npm Tauri CLI installed by `npm ci`):
#   - app icons in the sizes Tauri bundles need (`tauri icon`: png, ico, icns),
#   - tray icons for the three proxy states (tray-running/-stopped/-error, 64 px PNG).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
icons="$(dirname "$here")"
root="$(dirname "$icons")"

# Tray: the app glyph simplified for 16-32 px on a state-coloured tile. Running: the cord joins
# the jacks; stopped: grey, no cord; error: red with an exclamation badge.
tray_svg() {
    local color=$1 cord=$2 badge=$3
    printf '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">\n'
    printf '  <rect x="2" y="2" width="60" height="60" rx="14" fill="%s"/>\n' "$color"
    if [ "$cord" = yes ]; then
        printf '  <path d="M19 22 C 19 44, 45 20, 45 42" fill="none" stroke="#ffd166" stroke-width="7" stroke-linecap="round"/>\n'
    fi
    printf '  <circle cx="19" cy="19" r="9" fill="#ffffff"/>\n  <circle cx="45" cy="45" r="9" fill="#ffffff"/>\n'
    if [ "$badge" = yes ]; then
        printf '  <circle cx="47" cy="17" r="13" fill="#ffffff"/>\n'
        printf '  <rect x="45" y="8" width="4" height="11" rx="2" fill="%s"/>\n  <circle cx="47" cy="24" r="2.4" fill="%s"/>\n' "$color" "$color"
    fi
    printf '</svg>\n'
}
tray_svg '#1a9e55' yes no >"$here/tray-running.svg"
tray_svg '#6b7280' no no >"$here/tray-stopped.svg"
tray_svg '#c62f23' yes yes >"$here/tray-error.svg"
for state in running stopped error; do
    rsvg-convert -w 64 -h 64 "$here/tray-$state.svg" -o "$icons/tray-$state.png"
done

rsvg-convert -w 1024 -h 1024 "$here/app.svg" -o "$here/app-1024.png"
(cd "$root" && npx --no-install tauri icon "$here/app-1024.png" --output "$icons")
rm -f "$here/app-1024.png"
# Mobile and Windows-Store tiles are not shipped.
rm -rf "$icons/android" "$icons/ios" "$icons"/Square*Logo.png "$icons/StoreLogo.png"
