# top: the N most frequent words, compared in lower case without surrounding punctuation.
def top(args):
    n, path = int(args[0]), args[1]
    normalised = (word.strip(".,;:!?\"'()").lower() for word in words(path))
    for word, times in Counter(w for w in normalised if w).most_common(n):
        print(f"{word} {times}")
    return 0


COMMANDS["top"] = top


# baton:commands
