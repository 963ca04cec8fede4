#!/usr/bin/env bash
# Serve the app (static files, no build step) on 127.0.0.1:$PORT, in the foreground.
cd "$(dirname "$0")"
exec python3 -m http.server "${PORT:-8000}" --bind 127.0.0.1
