"""Test support: the HSM API served alone on loopback, with the control plane stubbed, and tool install trees.

Used by the simulator's own tests; ``HsmTestServer`` drives the data plane through ``cloudhsm_sim.events`` exactly
as the control plane does.
"""

import os
import subprocess
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .. import events, packaging
from . import STATE, links, subscribe
from .wsgi import application


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class HsmTestServer:
    """``with HsmTestServer() as hsm:`` serves ``/_hsm/`` on 127.0.0.1 and records control-plane calls."""

    def __init__(self):
        self.activated = []
        self.unreachable = set()
        self._saved = {}

    def __enter__(self):
        subscribe()
        STATE.on_reset()
        for name, stub in (
            ("activate_cluster", self.activated.append),
            ("cluster_initialized", lambda cid: False),
            ("hsm_reachable", lambda ip: ip not in self.unreachable),
        ):
            self._saved[name] = getattr(links, name)
            setattr(links, name, stub)
        self.server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_port
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        for name, function in self._saved.items():
            setattr(links, name, function)
        STATE.on_reset()

    # ------------------------------------------------------------------------------------------- control plane
    def cluster(
        self,
        cluster_id,
        ips,
        region="us-east-1",
        hsm_type="hsm1.medium",
        source_backup_id=None,
        initialized=True,
        hsm_ids=None,
        account="123456789012",
    ):
        events.emit(
            "cluster_created",
            account=account,
            region=region,
            cluster_id=cluster_id,
            hsm_type=hsm_type,
            mode="FIPS",
            source_backup_id=source_backup_id,
        )
        if initialized:
            events.emit("cluster_initialized", account=account, region=region, cluster_id=cluster_id)
        for index, ip in enumerate(ips):
            hsm_id = hsm_ids[index] if hsm_ids else "hsm-%s%d" % (cluster_id[-10:], index)
            events.emit(
                "hsm_created",
                account=account,
                region=region,
                cluster_id=cluster_id,
                hsm_id=hsm_id,
                eni_ip=ip,
                availability_zone=region + "a",
            )
        return STATE.clusters[cluster_id]

    def backup(self, cluster_id, backup_id, region="us-east-1"):
        events.emit("backup_created", account="123456789012", region=region, cluster_id=cluster_id, backup_id=backup_id)

    def clone(self, source_cluster_id, cluster_id, ips, region="us-west-2", backup_id=None):
        """Backup of the source, copy to ``region``, new cluster from the copy (the DR clone procedure)."""
        backup_id = backup_id or "backup-" + source_cluster_id[-11:]
        self.backup(source_cluster_id, backup_id)
        copy_id = backup_id + "c"
        events.emit(
            "backup_copied",
            account="123456789012",
            region=region,
            cluster_id=source_cluster_id,
            source_backup_id=backup_id,
            source_region="us-east-1",
            backup_id=copy_id,
        )
        # A clone has its backup's HSM type, as on the real service.
        return self.cluster(cluster_id, ips, region=region, source_backup_id=copy_id, initialized=False, hsm_type=None)

    def call(self, op, **args):
        return STATE.call(op, args)


def tool_root(sdk, directory, endpoint=None, ca=True):
    """Install the tools of SDK ``sdk`` under ``directory`` (as /opt/cloudhsm) and return it."""
    packaging.install_tree(sdk, directory, endpoint)
    if ca:
        with open(os.path.join(directory, "etc", "customerCA.crt"), "w") as handle:
            handle.write("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    return directory


def run_tool(root, tool, args=(), stdin="", env=None, endpoint=None, timeout=60):
    """Run an installed tool with piped stdin; returns the CompletedProcess (text)."""
    environment = dict(os.environ)
    for name in ("CLOUDHSM_ROLE", "CLOUDHSM_PIN", "DESTINATION_CLOUDHSM_ROLE", "DESTINATION_CLOUDHSM_PIN"):
        environment.pop(name, None)
    if endpoint:
        environment["CLOUDHSM_SIM_ENDPOINT"] = endpoint
    if os.path.exists("/usr/bin/python3"):
        # The tools run with whatever python3 comes first on PATH; version-manager shims (pyenv) add ~0.2 s a call.
        environment["PATH"] = "/usr/bin" + os.pathsep + environment.get("PATH", "")
    environment.update(env or {})
    return subprocess.run(
        [os.path.join(root, "bin", tool), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,  # callers assert on the exit status
    )
