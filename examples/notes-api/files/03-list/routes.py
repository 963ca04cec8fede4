@route("GET", r"^/notes$")
def list_notes(handler, match):
    return 200, {"names": sorted(NOTES)}


# baton:routes
