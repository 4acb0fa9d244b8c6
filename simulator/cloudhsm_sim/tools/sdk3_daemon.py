"""Stand-in for the SDK 3 ``cloudhsm_client`` daemon: ``cloudhsm_client <cloudhsm_client.cfg>``.

It keeps ``<root>/daemon/1/cluster.info`` up to date with every HSM of the cluster named in the config, as the real
daemon does, until it is stopped. The emulated key_mgmt_util does not need it to run.
"""

import os
import signal
import sys
import time

from . import common
from .common import HsmRefused, ToolError

REFRESH_SECONDS = 10


def refresh(root, config_path):
    config = common.read_json(config_path)
    daemon_id = str(config.get("client", {}).get("daemon_id", 1))
    ip = config.get("server", {}).get("hostname")
    client = common.HsmClient(root, common.SDK3_VERSION)
    try:
        info = client.call("cluster_info", hsm=ip)
    finally:
        client.close()
    path = os.path.join(root, "daemon", daemon_id, "cluster.info")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    common.write_json(path, {"cluster_id": info["cluster_id"], "servers": [h["ip"] for h in info["hsms"]]})
    return path


def main(root, argv):
    config_path = argv[0] if argv else common.etc(root, "cloudhsm_client.cfg")
    running = [True]

    def stop(*_):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    once = "--once" in argv
    while running[0]:
        try:
            path = refresh(root, config_path)
            sys.stderr.write("cloudhsm_client: cluster list written to %s\n" % path)
        except (HsmRefused, ToolError, OSError, ValueError) as error:
            sys.stderr.write("cloudhsm_client: %s\n" % error)
            if once:
                return 1
        if once:
            return 0
        deadline = time.monotonic() + REFRESH_SECONDS
        while running[0] and time.monotonic() < deadline:
            time.sleep(0.2)
    return 0
