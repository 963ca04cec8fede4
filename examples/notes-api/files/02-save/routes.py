@route("PUT", NAME.pattern)
def save_note(handler, match):
    body = handler.read_json()
    NOTES[match.group(1)] = body["text"]
    return 200, {"name": match.group(1), "text": body["text"]}


@route("GET", NAME.pattern)
def read_note(handler, match):
    name = match.group(1)
    if name not in NOTES:
        return 404, {"error": "no note named " + name}
    return 200, {"name": name, "text": NOTES[name]}


# baton:routes
