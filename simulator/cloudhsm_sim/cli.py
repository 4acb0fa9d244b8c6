"""``cloudhsm-sim``: run the simulator (serve), build client packages (package), drive a running one (admin)."""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

from . import __version__

ENDPOINT_ENV = "CLOUDHSM_SIM_ENDPOINT"


def _parser():
    parser = argparse.ArgumentParser(prog="cloudhsm-sim", description="A local simulator of AWS CloudHSM.")
    parser.add_argument("--version", action="version", version="cloudhsm-sim " + __version__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the control plane, admin API and HSMs on one loopback endpoint")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    serve.add_argument("--transition-seconds", type=float, default=None,
                       help="seconds every state transition takes (default: done at the next read)")
    serve.add_argument("--state-dir", default=None, help="directory for runtime files (an 'endpoint' file, HSM state)")
    serve.add_argument("--endpoint-file", default=None, help="also write the endpoint URL to this file")
    serve.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")

    package = commands.add_parser("package", help="build the emulated client SDK as a .deb package")
    package.add_argument("--sdk", choices=["3", "5"], required=True)
    package.add_argument("--out", required=True, help="directory to write the package to")
    package.add_argument("--endpoint", default=None,
                         help="simulator URL the installed tools reach (etc/simulator-endpoint); default: none, "
                              "set $CLOUDHSM_SIM_ENDPOINT or write that file after installing")

    admin = commands.add_parser("admin", help="call the admin API of a running simulator")
    admin.add_argument("--endpoint", default=None,
                       help="simulator URL (default: --endpoint-file, else ${0})".format(ENDPOINT_ENV))
    admin.add_argument("--endpoint-file", default=None, help="file holding the simulator URL")
    actions = admin.add_subparsers(dest="action", required=True)

    activate = actions.add_parser("activate", help="activate an INITIALIZED cluster (takes a backup)")
    activate.add_argument("cluster_id")
    backup = actions.add_parser("backup", help="take a backup of an ACTIVE cluster now")
    backup.add_argument("cluster_id")
    cluster = actions.add_parser("cluster", help="show a cluster (any account or region)")
    cluster.add_argument("cluster_id")

    fault = actions.add_parser("faults", help="show or change injected faults")
    fault.add_argument("--clear", action="store_true", help="remove every fault first")
    fault.add_argument("--throttle-rate", type=float)
    fault.add_argument("--error-rate", type=float)
    fault.add_argument("--throttle-next", type=int)
    fault.add_argument("--error-next", type=int)
    fault.add_argument("--latency-seconds", type=float)
    fault.add_argument("--services", help="comma-separated services faults apply to ('*' = all)")
    fault.add_argument("--operations", help="comma-separated operations faults apply to (empty = all)")
    fault.add_argument("--seed", type=int)
    fault.add_argument("--hsm-create-failures", type=int)
    fault.add_argument("--unresponsive-ip", action="append", dest="unresponsive_ips",
                       help="HSM ENI IP that stops answering (repeat; replaces the list)")
    fault.add_argument("--degrade-hsm", action="append", dest="degrade_hsms", help="HSM id to turn DEGRADED")

    transition = actions.add_parser("transitions", help="show or set transition durations")
    transition.add_argument("--all", type=float, dest="all_seconds", help="seconds for every transition")
    transition.add_argument("--set", action="append", default=[], metavar="NAME=SECONDS")

    requests = actions.add_parser("requests", help="show (or clear) the AWS API request log")
    requests.add_argument("--mutating", action="store_true", help="only mutating requests")
    requests.add_argument("--service")
    requests.add_argument("--clear", action="store_true")

    actions.add_parser("reset", help="forget all state, faults and the request log")
    return parser


def _endpoint(args):
    if args.endpoint:
        return args.endpoint.rstrip("/")
    if args.endpoint_file:
        with open(args.endpoint_file) as stream:
            return stream.readline().strip().rstrip("/")
    if os.environ.get(ENDPOINT_ENV):
        return os.environ[ENDPOINT_ENV].rstrip("/")
    raise SystemExit("cloudhsm-sim admin: give --endpoint, --endpoint-file or ${0}".format(ENDPOINT_ENV))


def admin_call(endpoint, method, path, payload=None):
    """Call the admin API; returns (status, decoded JSON body)."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(endpoint + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _admin(args):
    endpoint = _endpoint(args)
    if args.action == "activate":
        calls = [("POST", "/_sim/clusters/{0}/activate".format(args.cluster_id), None)]
    elif args.action == "backup":
        calls = [("POST", "/_sim/clusters/{0}/backup".format(args.cluster_id), None)]
    elif args.action == "cluster":
        calls = [("GET", "/_sim/clusters/{0}".format(args.cluster_id), None)]
    elif args.action == "faults":
        settings = {}
        for name in ("throttle_rate", "error_rate", "throttle_next", "error_next", "latency_seconds", "seed",
                     "hsm_create_failures", "unresponsive_ips", "degrade_hsms"):
            if getattr(args, name) is not None:
                settings[name] = getattr(args, name)
        for name in ("services", "operations"):
            if getattr(args, name) is not None:
                settings[name] = [item for item in getattr(args, name).split(",") if item]
        calls = [("DELETE", "/_sim/faults", None)] if args.clear else []
        calls.append(("POST", "/_sim/faults", settings) if settings else ("GET", "/_sim/faults", None))
    elif args.action == "transitions":
        values = {}
        for item in args.set:
            name, unused_equals, seconds = item.partition("=")
            values[name] = seconds
        if args.all_seconds is not None:
            values["all"] = args.all_seconds
        calls = [("POST", "/_sim/transitions", values) if values else ("GET", "/_sim/transitions", None)]
    elif args.action == "requests":
        if args.clear:
            calls = [("DELETE", "/_sim/requests", None)]
        else:
            query = []
            if args.mutating:
                query.append("mutating=true")
            if args.service:
                query.append("service=" + args.service)
            calls = [("GET", "/_sim/requests" + ("?" + "&".join(query) if query else ""), None)]
    else:
        calls = [("POST", "/_sim/reset", None)]
    status, body = 200, {}
    for method, path, payload in calls:
        status, body = admin_call(endpoint, method, path, payload)
        if status >= 400:
            break
    print(json.dumps(body, indent=2, sort_keys=True))
    return 0 if status < 400 else 1


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from .server import serve

        try:
            return serve(host=args.host, port=args.port, transition_seconds=args.transition_seconds,
                         state_dir=args.state_dir, endpoint_file=args.endpoint_file, verbose=args.verbose)
        except ValueError as error:
            print("cloudhsm-sim serve: {0}".format(error), file=sys.stderr)
            return 2
    if args.command == "package":
        from .packaging import build_package

        print(build_package(args.sdk, args.out, endpoint=args.endpoint))
        return 0
    return _admin(args)


if __name__ == "__main__":
    sys.exit(main())
