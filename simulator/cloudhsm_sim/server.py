"""``cloudhsm-sim serve``: one local endpoint for every AWS region, the admin API and the HSMs.

Routing (one WSGI app in front of moto's server app):
- ``/_sim/...``  the simulator's admin JSON API (activation, backups, transition delays, faults, request log, reset)
- ``/_hsm/...``  the HSM data plane (``cloudhsm_sim.dataplane.wsgi.application``, given the full path), or 404
  when that module is absent
- anything else: moto (with cloudhsmv2 completed, and KMS custom key stores when ``cloudhsm_sim.kms`` is present),
  after the request is logged and faults are applied. moto picks the service and region from
  the SigV4 credential scope, so one URL serves cloudhsmv2 and EC2 in every region.
"""

import collections
import importlib
import io
import ipaddress
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import parse_qs

from . import __version__, events, faults, regions
from . import controlplane
from .controlplane import transitions

# SigV4 signing names that differ from the service name the log reports.
SIGNING_NAMES = {"cloudhsm": "cloudhsmv2"}
READ_ONLY_PREFIXES = ("Describe", "List", "Get")
_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
ADVANCE_INTERVAL = 0.2


class RequestLog:
    """Every AWS API request the server saw, oldest first (bounded)."""

    def __init__(self, size=20000):
        self._entries = collections.deque(maxlen=size)
        self._lock = threading.Lock()
        self._sequence = 0

    def add(self, **entry):
        with self._lock:
            self._sequence += 1
            entry["seq"] = self._sequence
            self._entries.append(entry)
            return entry

    def entries(self, mutating=None, service=None, since=0):
        with self._lock:
            found = list(self._entries)
        return [
            entry
            for entry in found
            if entry["seq"] > since
            and (mutating is None or entry["mutating"] == mutating)
            and (service is None or entry["service"] == service)
        ]

    def clear(self):
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count


def is_mutating(operation):
    """Anything but Describe*/List*/Get*; REST calls without an operation name ("GET /path") by their method."""
    method, unused_space, path = operation.partition(" ")
    if path.startswith("/") and method.isupper():
        return method not in ("GET", "HEAD", "OPTIONS")
    return not operation.startswith(READ_ONLY_PREFIXES)


def describe_request(environ, body):
    """(service, operation, region) of an AWS API request, from its SigV4 scope and its target or Action."""
    match = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = region = None
    if match:
        service = SIGNING_NAMES.get(match.group("service"), match.group("service"))
        region = match.group("region")
    target = environ.get("HTTP_X_AMZ_TARGET")
    operation = None
    if target:
        operation = target.rsplit(".", 1)[-1]
    else:
        for source in (body.decode("utf-8", "replace"), environ.get("QUERY_STRING", "")):
            action = parse_qs(source).get("Action")
            if action:
                operation = action[0]
                break
    if operation is None:
        operation = "{0} {1}".format(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"))
    return service or "unknown", operation, region


def _fault_response(kind, service, json_protocol):
    request_id = str(uuid.uuid4())
    if json_protocol:
        if kind == faults.THROTTLE:
            status, code, message = 400, "ThrottlingException", "Rate exceeded"
        else:
            code = "CloudHsmInternalFailureException" if service == "cloudhsmv2" else "InternalFailure"
            status, message = 500, "The request was rejected because of an internal failure. It can be retried."
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    else:
        if kind == faults.THROTTLE:
            status, code, message = 503, "RequestLimitExceeded", "Request limit exceeded."
        else:
            status, code, message = 500, "InternalError", "An internal error has occurred"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{0}</Code><Message>{1}</Message>'
            "</Error></Errors><RequestID>{2}</RequestID></Response>".format(code, message, request_id)
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return status, headers, body


_STATUS_TEXT = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                409: "Conflict", 500: "Internal Server Error", 503: "Service Unavailable"}


def _respond(start_response, status, body, headers=None):
    if not isinstance(body, bytes):
        body = json.dumps(body, indent=1, sort_keys=True, default=str).encode()
        headers = [("Content-Type", "application/json")] + list(headers or [])
    headers = list(headers or []) + [("Content-Length", str(len(body)))]
    start_response("{0} {1}".format(status, _STATUS_TEXT.get(status, "")), headers)
    return [body]


def _optional(name):
    """The simulator's subpackage ``name``, or None when it is not part of this installation."""
    module = "{0}.{1}".format(__package__, name)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name == module:
            return None
        raise


def _load_dataplane():
    """The data-plane package (its import subscribes it to the control plane's events), or None."""
    dataplane = _optional("dataplane")
    if dataplane is None or _optional("dataplane.wsgi") is None:
        return None
    return dataplane


class SimulatorApp:
    """The WSGI app of ``cloudhsm-sim serve``."""

    def __init__(self, moto_app, dataplane=None, request_log=None):
        self.moto_app = moto_app
        self.dataplane = dataplane  # the cloudhsm_sim.dataplane package, when installed
        self.dataplane_app = dataplane.wsgi.application if dataplane is not None else None
        self.requests = request_log or RequestLog()
        self.admin = AdminApi(self)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        if path == "/_sim" or path.startswith("/_sim/"):
            return self.admin(environ, start_response)
        if path == "/_hsm" or path.startswith("/_hsm/"):
            if self.dataplane_app is None:
                return _respond(start_response, 404, {"error": "the HSM data plane is not installed"})
            return self.dataplane_app(environ, start_response)
        if path.startswith("/moto-api"):
            result = self.moto_app(environ, start_response)
            if path.rstrip("/") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
                events.emit("reset")
            return result
        return self._aws_request(environ, start_response)

    def _aws_request(self, environ, start_response):
        body = _read_body(environ)
        service, operation, region = describe_request(environ, body)
        entry = dict(time=time.time(), service=service, operation=operation, region=region,
                     mutating=is_mutating(operation), status=None, fault=None)
        json_protocol = bool(environ.get("HTTP_X_AMZ_TARGET")) or "json" in environ.get("CONTENT_TYPE", "")
        if region and not regions.exists(region):
            # moto has no backend for such a region and would answer an HTTP 500 page.
            status, headers, payload = regions.refusal(region, service, json_protocol)
            self.requests.add(**dict(entry, status=status))
            return _respond(start_response, status, payload, headers)
        delay = faults.latency(service, operation)
        if delay:
            time.sleep(delay)
        kind = faults.decide(service, operation)
        if kind is not None:
            status, headers, payload = _fault_response(kind, service, json_protocol)
            self.requests.add(**dict(entry, status=status, fault=kind))
            return _respond(start_response, status, payload, headers)

        def recording_start_response(status, headers, exc_info=None):
            entry["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        try:
            return self.moto_app(environ, recording_start_response)
        finally:
            self.requests.add(**entry)


def _read_body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class AdminApi:
    """JSON endpoints under /_sim/ (documented in docs/simulator.md)."""

    def __init__(self, app):
        self.app = app
        self.routes = [
            ("GET", r"/_sim/health", self.health),
            ("GET", r"/_sim/requests", self.list_requests),
            ("DELETE", r"/_sim/requests", self.clear_requests),
            ("GET", r"/_sim/transitions", self.get_transitions),
            ("POST", r"/_sim/transitions", self.set_transitions),
            ("DELETE", r"/_sim/transitions", self.reset_transitions),
            ("GET", r"/_sim/faults", self.get_faults),
            ("POST", r"/_sim/faults", self.set_faults),
            ("DELETE", r"/_sim/faults", self.clear_faults),
            ("GET", r"/_sim/clusters/(?P<cluster_id>[^/]+)", self.get_cluster),
            ("POST", r"/_sim/clusters/(?P<cluster_id>[^/]+)/activate", self.activate),
            ("POST", r"/_sim/clusters/(?P<cluster_id>[^/]+)/backup", self.backup),
            ("POST", r"/_sim/clusters/(?P<cluster_id>[^/]+)/time-passes", self.time_passes),
            ("GET", r"/_sim/hsms", self.find_hsm),
            ("POST", r"/_sim/hsms/(?P<hsm_id>[^/]+)/degrade", self.degrade),
            ("POST", r"/_sim/reset", self.reset),
        ]
        kms_admin = _optional("kms.admin")  # connect/disconnect delays and a store listing, when KMS is present
        if kms_admin is not None:
            self.routes.extend(kms_admin.ROUTES)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "").rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        allowed = False
        for route_method, pattern, handler in self.routes:
            match = re.fullmatch(pattern, path)
            if not match:
                continue
            allowed = True
            if route_method != method:
                continue
            try:
                body = _read_body(environ)
                payload = json.loads(body) if body.strip() else {}
                if not isinstance(payload, dict):
                    raise ValueError("the request body must be a JSON object")
                query = {key: values[-1] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
                status, result = handler(payload=payload, query=query, **match.groupdict())
            except controlplane.SimulatorError as error:
                status, result = 409, {"error": str(error)}
            except (ValueError, TypeError) as error:
                status, result = 400, {"error": str(error)}
            return _respond(start_response, status, result)
        if allowed:
            return _respond(start_response, 405, {"error": "method {0} not allowed on {1}".format(method, path)})
        return _respond(start_response, 404, {"error": "no admin endpoint {0}".format(path)})

    def health(self, **_):
        return 200, {"status": "ok", "version": __version__, "dataplane": self.app.dataplane_app is not None}

    def list_requests(self, query, **_):
        mutating = query.get("mutating")
        entries = self.app.requests.entries(
            mutating=None if mutating is None else mutating.lower() in ("1", "true", "yes"),
            service=query.get("service"),
            since=int(query.get("since", 0)),
        )
        return 200, {"requests": entries}

    def clear_requests(self, **_):
        return 200, {"cleared": self.app.requests.clear()}

    def get_transitions(self, **_):
        return 200, {"transitions": transitions.get_all()}

    def set_transitions(self, payload, **_):
        payload = dict(payload)
        all_seconds = payload.pop("all", None)
        return 200, {"transitions": transitions.set_seconds(payload, all_seconds=all_seconds)}

    def reset_transitions(self, **_):
        transitions.reset()
        return 200, {"transitions": transitions.get_all()}

    def get_faults(self, **_):
        return 200, {"faults": faults.snapshot()}

    def set_faults(self, payload, **_):
        payload = dict(payload)
        degrade = payload.pop("degrade_hsms", [])
        settings = faults.configure(**payload)
        degraded = [controlplane.degrade_hsm(hsm_id) for hsm_id in degrade]
        return 200, {"faults": settings, "degraded": degraded}

    def clear_faults(self, **_):
        faults.clear()
        return 200, {"faults": faults.snapshot()}

    def get_cluster(self, cluster_id, **_):
        cluster = controlplane.describe_cluster(cluster_id)
        if cluster is None:
            return 404, {"error": "cluster {0} not found".format(cluster_id)}
        return 200, {"cluster": cluster}

    def activate(self, cluster_id, **_):
        return 200, {"cluster": controlplane.activate_cluster(cluster_id)}

    def time_passes(self, cluster_id, payload, **_):
        if "seconds" not in payload:
            raise ValueError("time-passes needs {\"seconds\": N}")
        return 200, {"cluster": controlplane.time_passes(cluster_id, payload["seconds"])}

    def backup(self, cluster_id, **_):
        return 200, {"backup": controlplane.take_backup(cluster_id)}

    def find_hsm(self, query, **_):
        if "ip" not in query:
            raise ValueError("give the HSM's ENI address as ?ip=")
        hsm = controlplane.find_hsm_by_ip(query["ip"])
        if hsm is None:
            return 404, {"error": "no HSM with ENI IP {0}".format(query["ip"])}
        return 200, {"hsm": hsm}

    def degrade(self, hsm_id, payload, **_):
        return 200, {"hsm": controlplane.degrade_hsm(hsm_id, payload.get("message", "HSM is degraded."))}

    def reset(self, **_):
        controlplane.reset()
        faults.clear()
        self.app.requests.clear()
        return 200, {"reset": True}


def check_loopback(host):
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError("refusing to listen on {0!r}: the simulator only listens on loopback addresses".format(host))


def _write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".endpoint-")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(temporary, path)


def _warm_up():
    """Import moto's EC2 (seconds of work) now rather than inside the first client request that needs it."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ec2 import responses  # noqa: F401  (imported for its side effect: loading the module)
        from moto.ec2.models import ec2_backends

        ec2_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    except Exception as error:  # only a head start; a real request reports real problems
        print("cloudhsm-sim: warm-up failed: {0!r}".format(error), file=sys.stderr)


def build_app():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    controlplane.install()
    controlplane.set_hsm_create_failure_hook(faults.take_hsm_create_failure)
    kms = _optional("kms")  # custom key stores on the simulated clusters, when present
    if kms is not None:
        kms.install()
    return SimulatorApp(DomainDispatcherApplication(create_backend_app), _load_dataplane())


def serve(host="127.0.0.1", port=0, transition_seconds=None, state_dir=None, endpoint_file=None, verbose=False,
          stdout=None):
    """Run the simulator until SIGTERM/SIGINT; prints the endpoint URL as the first line of stdout."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    stdout = stdout or sys.stdout
    check_loopback(host)
    if not verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if transition_seconds is not None:
        transitions.set_seconds(all_seconds=transition_seconds)
        transitions.keep_as_baseline()
    written = []
    if state_dir:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        os.environ["CLOUDHSM_SIM_STATE_DIR"] = os.path.abspath(state_dir)

    app = build_app()
    dataplane = app.dataplane
    if dataplane is not None and state_dir:
        dataplane.load(state_dir)
        dataplane.start_autosave(state_dir)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    bound_port = server.server_port
    os.environ["MOTO_PORT"] = str(bound_port)  # moto calls itself through this port for some services
    url = "http://{0}:{1}".format("[{0}]".format(host) if ":" in host else host, bound_port)

    stop = threading.Event()

    def request_stop(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    serving = threading.Thread(target=server.serve_forever, name="cloudhsm-sim-http", daemon=True)
    serving.start()

    def advance_transitions():
        while not stop.wait(ADVANCE_INTERVAL):
            try:
                controlplane.advance()
            except Exception as error:  # keep ticking; the next API call reports the problem
                print("cloudhsm-sim: advancing transitions failed: {0!r}".format(error), file=sys.stderr)

    ticker = threading.Thread(target=advance_transitions, name="cloudhsm-sim-transitions", daemon=True)
    ticker.start()
    threading.Thread(target=_warm_up, name="cloudhsm-sim-warm-up", daemon=True).start()

    # Files first, so whoever reads the URL from stdout finds them in place.
    for path in filter(None, [endpoint_file, os.path.join(state_dir, "endpoint") if state_dir else None]):
        _write_atomically(path, url + "\n")
        written.append(path)
    stdout.write(url + "\n")
    stdout.flush()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()
        server.server_close()
        ticker.join(timeout=2)
        if dataplane is not None and state_dir:
            dataplane.stop_autosave(state_dir)
        for path in written:
            try:
                os.remove(path)
            except OSError:
                pass
    return 0
