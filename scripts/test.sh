#!/usr/bin/env bash
# The test command: set up what the tests need (idempotent), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BATON_REQUIRE_MODEL=1
# The memory tests' server half runs against a real Qdrant server: ../shared/qdrant (beside
# the clone in CI) on free ports with a throwaway storage folder, stopped at the end. Its URL
# goes in BATON_TEST_QDRANT_URL, which only the server tests read: every other test keeps the
# embedded store. BATON_REQUIRE_QDRANT=1 (set by .ci/run) makes a missing server a failure.
if [ -z "${BATON_TEST_QDRANT_URL:-}" ]; then
  eval "$(bash scripts/qdrant-test-server.sh start)"
  trap 'bash scripts/qdrant-test-server.sh stop' EXIT
fi
cargo test --workspace --no-fail-fast
# The tests against a real local model (llama-server + a 1.5B model from PyPI): a few minutes.
bash scripts/realmodel.sh
