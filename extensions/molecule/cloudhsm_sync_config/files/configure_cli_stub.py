"""A recording stand-in for SDK 5 configure-cli: add-cluster / remove-cluster on <root>/etc/cloudhsm-cli.cfg.

add-cluster writes the HSM IPs that <root>/describe-clusters.json gives for the cluster (what DescribeClusters would
answer); every call is appended to <root>/calls.log. Only what the cloudhsm_sync_config role uses is handled.
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "etc", "cloudhsm-cli.cfg")


def main(argv):
    with open(os.path.join(ROOT, "calls.log"), "a") as log:
        log.write(" ".join(argv) + "\n")
    action, options = argv[0], dict(zip(argv[1::2], argv[2::2]))
    cluster_id = options["--cluster-id"]
    with open(CONFIG) as handle:
        config = json.load(handle)
    configured = [entry for entry in config["clusters"] if entry.get("cluster_id") == cluster_id]
    if action == "remove-cluster":
        if not configured:
            sys.stderr.write("Error: cluster %s is not in %s\n" % (cluster_id, CONFIG))
            return 1
        config["clusters"] = [entry for entry in config["clusters"] if entry not in configured]
    elif action == "add-cluster":
        with open(os.path.join(ROOT, "describe-clusters.json")) as handle:
            ips = json.load(handle)[cluster_id]
        config["clusters"] = [entry for entry in config["clusters"] if entry not in configured] + [{
            "type": "hsm2m", "cluster_id": cluster_id,
            "cluster": {"hsm_ca_file": os.path.join(ROOT, "etc", "customerCA.crt"),
                        "servers": [{"hostname": ip, "port": 2223, "enable": True} for ip in ips]}}]
    else:
        sys.stderr.write("Error: unexpected argument '%s' found\n" % action)
        return 1
    with open(CONFIG, "w") as handle:
        json.dump(config, handle, indent=4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
