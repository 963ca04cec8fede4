#!/usr/bin/env python3
"""Builds a git repository whose history is a recall test set's commit corpus.

Owns: turning `<name>.commits.jsonl` (see ../shared/data/recall/README.md) into real
commits, oldest first, each touching the files it lists, so `baton memory reindex` can
be measured on a real history's shape without fetching the repository. Uses
`git fast-import`: thousands of commits in seconds.

Usage: recall_history_repo.py COMMITS_JSONL DEST_DIR
"""

import json
import os
import subprocess
import sys
from datetime import datetime


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: recall_history_repo.py COMMITS_JSONL DEST_DIR")
    source, dest = sys.argv[1], sys.argv[2]
    with open(source) as f:
        commits = [json.loads(line) for line in f if line.strip()]
    commits.reverse()  # the corpus is newest first
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", dest], check=True)
    stream = []
    for n, c in enumerate(commits, start=1):
        when = int(datetime.fromisoformat(c["author_date"]).timestamp())
        message = c["subject"] + ("\n\n" + c["body"] if c["body"].strip() else "") + "\n"
        data = message.encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"mark :{n}\n".encode())
        stream.append(f"author Recall Corpus <corpus@example.invalid> {when} +0000\n".encode())
        stream.append(f"committer Recall Corpus <corpus@example.invalid> {when} +0000\n".encode())
        stream.append(f"data {len(data)}\n".encode() + data)
        if n > 1:
            stream.append(f"from :{n - 1}\n".encode())
        for path in c["files"] or ["CHANGELOG"]:
            content = f"{c['sha']} {path}\n".encode()
            stream.append(f"M 100644 inline {path}\ndata {len(content)}\n".encode() + content)
        stream.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=dest, check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=dest, check=True)
    print(f"{len(commits)} commits in {dest}")


if __name__ == "__main__":
    main()
