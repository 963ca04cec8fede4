#!/usr/bin/env bash
# Serve the notes API on 127.0.0.1:$PORT, in the foreground.
cd "$(dirname "$0")"
exec python3 server.py
