#!/usr/bin/env python3
"""wordy: word statistics for text files (standard library only)."""
import sys
from collections import Counter

# Each command takes its arguments (after the command name) and returns the exit status.
COMMANDS = {}


def words(path):
    with open(path, encoding="utf-8") as text:
        return text.read().split()


# baton:commands


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print("usage: wordy.py COMMAND [ARGS] FILE; commands: " + ", ".join(sorted(COMMANDS)), file=sys.stderr)
        return 2
    return COMMANDS[argv[1]](argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
