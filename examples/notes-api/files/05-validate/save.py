    try:
        body = handler.read_json()
    except ValueError:
        return 400, {"error": "the body is not JSON"}
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return 400, {"error": "the body needs \"text\", a string"}
    NOTES[match.group(1)] = body["text"]
