#!/usr/bin/env bash
# Installs playwright-core (the npm package only, no browser download) for the verify crate's
# oracle test, which drives the same Debian Chromium with Playwright and compares verdicts.
# Idempotent: does nothing when the package is already there.
#   BATON_PLAYWRIGHT_DIR   where node_modules/playwright-core goes
#                          (default: $HOME/.cache/baton/playwright)
set -euo pipefail
DIR="${BATON_PLAYWRIGHT_DIR:-$HOME/.cache/baton/playwright}"
if [ -f "$DIR/node_modules/playwright-core/package.json" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "setup-playwright: npm not found; install Node.js 18+ (apt-get install nodejs npm)" >&2
    exit 1
fi
mkdir -p "$DIR"
echo "setup-playwright: installing playwright-core into $DIR"
# The browsers Playwright would download are not needed: the oracle uses /usr/bin/chromium.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIR" --no-audit --no-fund --silent playwright-core >/dev/null
echo "setup-playwright: done (export BATON_PLAYWRIGHT_DIR=$DIR to use another place)"
