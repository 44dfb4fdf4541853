#!/usr/bin/env bash
# Headless Chromium for PNG figures (lib/eval/render.ts drives it with playwright-core).
# Debian 12: the distribution package works offline from the Debian archive; no browser download
# from the Playwright CDN is needed. Without Chromium, `rarlhf eval` still writes HTML figures and
# skips PNGs with a warning. Another binary can be used with RARLHF_CHROMIUM=/path/to/chrome.
set -euo pipefail
if [ -n "${RARLHF_CHROMIUM:-}" ] && [ -x "$RARLHF_CHROMIUM" ]; then echo "chromium: $RARLHF_CHROMIUM"; exit 0; fi
for c in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
  if [ -x "$c" ]; then echo "chromium: $c"; exit 0; fi
done
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
echo "chromium: $(command -v chromium)"
