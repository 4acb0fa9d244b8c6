"""The HTTP JSON API of the simulated HSMs, mounted by the simulator's server under ``/_hsm/``.

``POST /_hsm/v1/call`` with ``{"op": NAME, "args": {...}}`` answers ``{"ok": true, "result": {...}}`` or
``{"ok": false, "code": CODE, "message": TEXT, "details": {...}}`` (HTTP 200 either way: an HSM refusing is not a
transport error). ``GET /_hsm/v1/health`` answers ``{"ok": true}``. Only the client tools call this API.
"""

import json

from . import STATE, HsmError

PREFIX = "/_hsm/v1/"


def _reply(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == PREFIX + "health":
        return _reply(start_response, "200 OK", {"ok": True})
    if path != PREFIX + "call":
        return _reply(start_response, "404 Not Found", {"ok": False, "code": "not_found", "message": path})
    if method != "POST":
        return _reply(start_response, "405 Method Not Allowed", {"ok": False, "code": "method", "message": method})
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        op, args = request["op"], request.get("args") or {}
        client = request.get("client") or None
    except (ValueError, KeyError, TypeError) as error:
        return _reply(start_response, "400 Bad Request", {"ok": False, "code": "bad_request", "message": str(error)})
    try:
        result = STATE.call(op, args, client=client)
    except HsmError as error:
        return _reply(
            start_response,
            "200 OK",
            {"ok": False, "code": error.code, "message": error.message, "details": error.details},
        )
    except TypeError as error:  # wrong or missing arguments
        return _reply(start_response, "400 Bad Request", {"ok": False, "code": "bad_request", "message": str(error)})
    return _reply(start_response, "200 OK", {"ok": True, "result": result})
