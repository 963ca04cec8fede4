#!/usr/bin/env bash
# A Qdrant server for the tests. `start` starts ../shared/qdrant's server on two free
# loopback ports with a fresh storage folder and prints shell assignments to eval
# (BATON_TEST_QDRANT_URL and what `stop` needs); without ../shared/qdrant it prints nothing
# and the server tests skip (or fail under BATON_REQUIRE_QDRANT=1). `stop` stops that server
# and removes its storage.
set -euo pipefail
cd "$(dirname "$0")/.."
start_sh=../shared/qdrant/start.sh
case "${1:-}" in
  start)
    if [ ! -f "$start_sh" ]; then
      echo "qdrant-test-server: no $start_sh; the server tests skip" >&2
      exit 0
    fi
    free_port() {
      local port=$1
      while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
      echo "$port"
    }
    http=$(free_port 16333)
    grpc=$(free_port $((http + 1)))
    storage=$(mktemp -d)
    url=$(QDRANT_HTTP_PORT=$http QDRANT_GRPC_PORT=$grpc QDRANT_STORAGE=$storage bash "$start_sh")
    echo "qdrant-test-server: $url (storage $storage)" >&2
    printf 'export BATON_TEST_QDRANT_URL=%q BATON_TEST_QDRANT_GRPC_PORT=%q BATON_TEST_QDRANT_STORAGE=%q\n' \
      "$url" "$grpc" "$storage"
    ;;
  stop)
    [ -n "${BATON_TEST_QDRANT_GRPC_PORT:-}" ] || exit 0
    QDRANT_GRPC_PORT=$BATON_TEST_QDRANT_GRPC_PORT bash "$start_sh" stop >/dev/null || true
    rm -rf "${BATON_TEST_QDRANT_STORAGE:?}"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
