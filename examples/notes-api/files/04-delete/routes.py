@route("DELETE", NAME.pattern)
def delete_note(handler, match):
    name = match.group(1)
    if NOTES.pop(name, None) is None:
        return 404, {"error": "no note named " + name}
    return 204, None


# baton:routes
