"""Run a command against a fresh local CloudHSM simulator, then stop the simulator.

    python scripts/with_simulator.py [--sim-arg ARG ...] [--lock-client] -- COMMAND [ARGS...]

Starts ``cloudhsm-sim serve`` on 127.0.0.1 with a free port, and gives the command the endpoint through
CLOUDHSM_SIM_ENDPOINT and AWS_ENDPOINT_URL, dummy credentials, and the ansible-test cloud config
``tests/integration/cloud-config-aws.ini``. The command's exit status is this script's exit status.
"""

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOUD_CONFIG = os.path.join(ROOT, "tests", "integration", "cloud-config-aws.ini")
# Runs that install the client packages into /opt/cloudhsm share one dpkg database and one client configuration.
CLIENT_LOCK = os.path.join(tempfile.gettempdir(), "hsmops-cloudhsm-client.lock")


def start_simulator(extra_args, log_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(ROOT, "simulator"), env.get("PYTHONPATH")]))
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudhsm_sim.cli", "serve", "--host", "127.0.0.1", "--port", "0"] + extra_args,
        stdout=subprocess.PIPE, stderr=log, env=env, text=True,
    )
    endpoint = proc.stdout.readline().strip()
    if not endpoint.startswith("http://127.0.0.1:"):
        proc.kill()
        sys.exit("cloudhsm-sim did not start (first line %r); see %s" % (endpoint, log_path))
    return proc, endpoint


def write_cloud_config(endpoint):
    with open(CLOUD_CONFIG, "w") as handle:
        handle.write(
            "[default]\n"
            "aws_access_key = testing\n"
            "aws_secret_key = testing\n"
            "security_token = \n"
            "aws_region = us-east-1\n"
            "aws_endpoint_url = %s\n"
            "sim_endpoint = %s\n" % (endpoint, endpoint)
        )


class _ClientHold:
    """One holder's share of the process's client lock; ``close()`` gives it back."""

    def __init__(self):
        self.open = True

    def close(self):
        if self.open:
            self.open = False
            _release_client()


# One flock per process, counted: a test module that holds the client may start runs that take it again.
_CLIENT = {"handle": None, "holders": 0}
_CLIENT_GUARD = threading.Lock()


def lock_client(announce=None):
    """Wait for, then hold, the machine's CloudHSM client (packages and /opt/cloudhsm); close the result to release.

    Re-entrant within one process, so every user of the client (test fixtures, demo runs, molecule) takes this one
    lock and no two locks can ever be taken in opposite orders by two processes.
    """
    with _CLIENT_GUARD:
        if _CLIENT["holders"] == 0:
            handle = open(CLIENT_LOCK, "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if announce:
                    announce("waiting for another run that uses the CloudHSM client of this machine (%s)"
                             % CLIENT_LOCK)
                fcntl.flock(handle, fcntl.LOCK_EX)
            _CLIENT["handle"] = handle
        _CLIENT["holders"] += 1
    return _ClientHold()


def _release_client():
    with _CLIENT_GUARD:
        _CLIENT["holders"] -= 1
        if _CLIENT["holders"] == 0:
            _CLIENT["handle"].close()
            _CLIENT["handle"] = None


def simulator_env(endpoint, base=None):
    """The environment a command needs to use the simulator at ``endpoint``: its URL and dummy AWS credentials."""
    env = dict(os.environ if base is None else base)
    env.update(
        CLOUDHSM_SIM_ENDPOINT=endpoint,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    return env


def stop_simulator(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sim-arg", action="append", default=[])
    parser.add_argument("--log", default=None)
    parser.add_argument("--lock-client", action="store_true",
                        help="hold the machine's CloudHSM client while the command runs (it installs packages)")
    parser.add_argument("--no-cloud-config", action="store_true",
                        help="leave tests/integration/cloud-config-aws.ini alone (it is for ansible-test runs)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command is needed after --")
    log_path = args.log or os.path.join(tempfile.gettempdir(), "cloudhsm-sim-%d.log" % os.getpid())
    client_lock = lock_client(lambda text: print(text, flush=True)) if args.lock_client else None
    proc, endpoint = start_simulator(args.sim_arg, log_path)
    if not args.no_cloud_config:
        write_cloud_config(endpoint)
    env = simulator_env(endpoint)
    print("cloudhsm-sim serving at %s (log %s)" % (endpoint, log_path), flush=True)
    try:
        return subprocess.call(command, env=env)
    finally:
        stop_simulator(proc)
        if client_lock is not None:
            client_lock.close()


if __name__ == "__main__":
    sys.exit(main())
