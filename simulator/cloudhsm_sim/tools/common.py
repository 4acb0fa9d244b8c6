"""What every emulated client tool shares: install root, config files, the simulator endpoint, the HSM API client.

Standard library only: the tools run with the system ``python3`` from ``/opt/cloudhsm`` after a package install.
"""

import json
import os
import socket
import sys
import urllib.parse

DEFAULT_ROOT = "/opt/cloudhsm"
ENDPOINT_ENV = "CLOUDHSM_SIM_ENDPOINT"
ENDPOINT_FILE = "simulator-endpoint"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# The client SDK versions the emulated tools report to the HSMs (the packages' versions, see packaging.py); the
# simulated service keeps which versions connected to a cluster for the HSM-type migration prerequisite.
SDK3_VERSION = "3.4.4"
SDK5_VERSION = "5.16.0"


class ToolError(Exception):
    """A local problem (bad config, no simulator) the tool reports in its own words."""


class HsmRefused(Exception):
    """The HSM answered with an error; ``code`` is the data plane's stable identifier."""

    def __init__(self, code, message, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


def root_from(path):
    """``<root>/bin/tool`` -> ``<root>``."""
    return os.path.dirname(os.path.dirname(os.path.realpath(path)))


def etc(root, name):
    return os.path.join(root, "etc", name)


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def write_json(path, data, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=4, sort_keys=True)
        handle.write("\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def endpoint(root):
    value = os.environ.get(ENDPOINT_ENV, "").strip()
    if not value:
        try:
            with open(etc(root, ENDPOINT_FILE)) as handle:
                value = handle.read().strip()
        except OSError:
            value = ""
    if not value:
        raise ToolError(
            "the CloudHSM simulator endpoint is not set (%s or %s)" % (ENDPOINT_ENV, etc(root, ENDPOINT_FILE))
        )
    parsed = urllib.parse.urlsplit(value if "//" in value else "http://" + value)
    if parsed.hostname not in LOOPBACK_HOSTS:
        raise ToolError("the CloudHSM simulator endpoint must be on loopback, not %s" % parsed.hostname)
    return parsed.hostname, parsed.port or 80


def new_op_id():
    return os.urandom(8).hex()


class HsmClient:
    """JSON calls to the simulated HSMs over one kept-alive loopback HTTP/1.1 connection.

    A few lines of socket code instead of http.client: importing http.client costs more than a whole call.
    """

    def __init__(self, root, sdk_version=None):
        self.host, self.port = endpoint(root)
        self.sdk_version = sdk_version
        self.sock = None
        self.buffer = b""

    def _exchange(self, body):
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout=120)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        request = (
            "POST /_hsm/v1/call HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (self.host, self.port, len(body))
        ).encode() + body
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict((k.strip().lower(), v.strip()) for k, unused_colon, v in (line.partition(":") for line in lines[1:]))
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._receive()
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        if headers.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0"):
            self.close()
        return status, data

    def _receive(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the simulator")
        self.buffer += chunk

    def call(self, op, **args):
        request = {"op": op, "args": args}
        if self.sdk_version:
            request["client"] = {"version": self.sdk_version}
        body = json.dumps(request).encode()
        for attempt in (1, 2):
            try:
                status, data = self._exchange(body)
                break
            except (OSError, ValueError, IndexError) as error:
                self.close()
                if attempt == 2:
                    raise ToolError("cannot reach the CloudHSM simulator at %s:%s: %s" % (self.host, self.port, error))
        try:
            answer = json.loads(data)
        except ValueError:
            raise ToolError("the CloudHSM simulator answered HTTP %s" % status)
        if not answer.get("ok"):
            raise HsmRefused(answer.get("code", "error"), answer.get("message", ""), answer.get("details"))
        return answer["result"]

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Input:
    """Lines typed at a terminal or piped on stdin; passwords without echo when a terminal is attached."""

    def __init__(self, stream=None, out=None):
        self.stream = stream or sys.stdin
        self.out = out or sys.stdout
        self.tty = self.stream.isatty()

    def prompt(self, text):
        self.out.write(text)
        self.out.flush()
        line = self.stream.readline()
        if not line:
            return None
        return line.rstrip("\r\n")

    def secret(self, text):
        if self.tty:
            import getpass  # only needed at a terminal

            try:
                return getpass.getpass(text)
            except EOFError:
                return None
        self.out.write(text)
        self.out.flush()
        line = self.stream.readline()
        self.out.write("\n")  # getpass ends the prompt line the same way
        if not line:
            return None
        return line.rstrip("\r\n")
