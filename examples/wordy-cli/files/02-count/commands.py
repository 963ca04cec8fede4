# count: the number of whitespace-separated words.
def count(args):
    print(len(words(args[0])))
    return 0


COMMANDS["count"] = count


# baton:commands
