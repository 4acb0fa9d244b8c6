"""Emulated ``configure`` (Client SDK 3): edits ``cloudhsm_client.cfg`` and ``cloudhsm_mgmt_util.cfg``.

``-a IP`` names one HSM in both files; ``-m`` copies the daemon's cluster list (``<root>/daemon/<id>/cluster.info``,
or the simulator's view of the cluster when the daemon has not written one) into the CMU file; ``--cmu IP`` does both.
"""

import os
import shutil
import sys

from . import common
from .common import HsmRefused, ToolError

USAGE = """\
configure -h | --help
          -a <ENI IP address>
          -m [-i <daemon_id>]
          --ssl --pkey <private key file> --cert <certificate file>
          --cmu <ENI IP address>
"""


def cmu_server(root, ip):
    return {
        "CAfile": "",
        "CApath": common.etc(root, "certs"),
        "certificate": common.etc(root, "client.crt"),
        "e2e_encryption": {"enable": "yes", "owner_cert_path": common.etc(root, "customerCA.crt")},
        "enable": "yes",
        "hostname": ip,
        "name": ip,
        "pkey": common.etc(root, "client.key"),
        "port": 2225,
        "server_ssl": "yes",
        "ssl_ciphers": "",
    }


def cluster_ips(root, ip, daemon_id="1"):
    """Every HSM of the cluster: from the daemon's cluster.info, else from the simulator."""
    info_path = os.path.join(root, "daemon", str(daemon_id), "cluster.info")
    try:
        servers = common.read_json(info_path).get("servers") or []
        if servers and (ip is None or ip in servers):
            return servers
    except (OSError, ValueError):
        pass
    if not ip:
        ip = common.read_json(common.etc(root, "cloudhsm_client.cfg")).get("server", {}).get("hostname")
    client = common.HsmClient(root)
    try:
        return [h["ip"] for h in client.call("cluster_info", hsm=ip)["hsms"]] or [ip]
    except HsmRefused as refused:
        raise ToolError("cannot list the HSMs of the cluster of %s: %s" % (ip, refused.message))
    finally:
        client.close()


def write_cmu(root, ips):
    path = common.etc(root, "cloudhsm_mgmt_util.cfg")
    try:
        config = common.read_json(path)
    except (OSError, ValueError):
        config = {"scard": {"certificate": "cert-sc", "enable": "no", "pkey": "pkey-sc", "port": 2225}}
    config["servers"] = [cmu_server(root, ip) for ip in ips]
    common.write_json(path, config)
    return path


def write_client(root, ip):
    path = common.etc(root, "cloudhsm_client.cfg")
    config = common.read_json(path)
    config.setdefault("server", {"port": 2223})["hostname"] = ip
    common.write_json(path, config)
    return path


def run(root, argv):
    args = list(argv)
    out = sys.stdout
    if "-a" in args or "--cmu" in args:
        flag = "-a" if "-a" in args else "--cmu"
        index = args.index(flag)
        if index + 1 >= len(args):
            raise ToolError("missing ENI IP address after %s" % flag)
        ip = args[index + 1]
        ips = cluster_ips(root, ip) if flag == "--cmu" else [ip]
        out.write("\t\nUpdating server config in %s\n" % write_client(root, ip))
        out.write("Updating server config in %s\n" % write_cmu(root, ips))
        return 0
    if "-m" in args:
        daemon_id = args[args.index("-i") + 1] if "-i" in args and args.index("-i") + 1 < len(args) else "1"
        out.write("Updating server config in %s\n" % write_cmu(root, cluster_ips(root, None, daemon_id)))
        return 0
    if "--ssl" in args:
        try:
            pkey, cert = args[args.index("--pkey") + 1], args[args.index("--cert") + 1]
        except (ValueError, IndexError):
            raise ToolError("--ssl needs --pkey <private key file> and --cert <certificate file>")
        shutil.copyfile(pkey, common.etc(root, "client.key"))
        os.chmod(common.etc(root, "client.key"), 0o600)
        shutil.copyfile(cert, common.etc(root, "client.crt"))
        return 0
    out.write(USAGE)
    return 0 if args[:1] in (["-h"], ["--help"]) else 1


def main(root, argv):
    try:
        return run(root, argv)
    except (ToolError, OSError, ValueError) as error:
        sys.stderr.write("Error: %s\n" % error)
        return 1
