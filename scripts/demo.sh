#!/usr/bin/env bash
# The main job: set up (idempotent), build baton, and run the offline todo-app demo into a
# fresh folder. Extra arguments go to `baton demo` (e.g. --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -p baton --bin baton
exec ./target/release/baton demo "$@"
