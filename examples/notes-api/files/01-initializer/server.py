#!/usr/bin/env python3
"""notes: a JSON API for named notes, kept in memory (standard library only)."""
import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOTES = {}
NAME = re.compile(r"^/notes/([A-Za-z0-9_-]+)$")

# Each route takes (handler, match) and returns (status, JSON body or None).
ROUTES = []


def route(method, pattern):
    def register(function):
        ROUTES.append((method, re.compile(pattern), function))
        return function
    return register


@route("GET", r"^/health$")
def health(handler, match):
    return 200, {"status": "ok"}


# baton:routes


class Handler(BaseHTTPRequestHandler):
    def answer(self, method):
        path = self.path.split("?", 1)[0]
        for verb, pattern, function in ROUTES:
            match = pattern.match(path)
            if match and verb == method:
                status, body = function(self, match)
                break
        else:
            status, body = 404, {"error": "no route for " + method + " " + path}
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def do_GET(self):
        self.answer("GET")

    def do_PUT(self):
        self.answer("PUT")

    def do_DELETE(self):
        self.answer("DELETE")


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
