#!/usr/bin/env bash
# Installs what baton needs at run time on a fresh machine, idempotently:
# Debian's Chromium (feature checks), ONNX Runtime and the embedding model (memory).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    echo "setup: installing chromium (apt-get)"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

bash "$here/setup-model.sh"
