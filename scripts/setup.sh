#!/usr/bin/env bash
# Installs what baton needs at run time on a fresh machine, idempotently:
# Debian's Chromium (feature checks), bubblewrap (the bash sandbox), tmux (the TUI's
# end-to-end test), Node.js and playwright-core (the verify crate's Playwright oracle test;
# no browser download), ONNX Runtime and the embedding model (memory).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]} (apt-get)"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash "$here/setup-model.sh"
bash "$here/setup-playwright.sh"
