    try:
        return COMMANDS[argv[1]](argv[2:])
    except FileNotFoundError as error:
        print(f"wordy: no such file: {error.filename}", file=sys.stderr)
        return 1
