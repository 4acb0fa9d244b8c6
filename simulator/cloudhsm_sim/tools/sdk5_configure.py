"""Emulated ``configure-cli`` (Client SDK 5): writes ``<root>/etc/cloudhsm-cli.cfg``.

``-a IP...`` names the HSMs directly; ``--cluster-id`` (optionally ``--region``/``--endpoint``) asks the simulator
for the cluster's HSM ENI IPs the way the real tool calls DescribeClusters; ``add-cluster`` / ``remove-cluster`` edit a
multi-cluster file.
"""

import os
import sys

from . import common, unconfirmed
from .common import HsmRefused, ToolError

USAGE = """\
Usage: configure-cli [OPTIONS]
       configure-cli add-cluster [OPTIONS] --cluster-id <CLUSTER ID> [--region <REGION>] [--endpoint <ENDPOINT>] [--hsm-ca-cert <HSM CA CERTIFICATE FILE>] \
[--client-cert-hsm-tls-file <CLIENT CERTIFICATE FILE>] [--client-key-hsm-tls-file <CLIENT KEY FILE>]
       configure-cli remove-cluster [OPTIONS] --cluster-id <CLUSTER ID>

Options:
  -a <ENI IP address>...                  The ENI IPv4 / IPv6 addresses of the HSMs
      --hsm-ca-cert <CustomerCA/certificate/file>
      --cluster-id <Cluster ID>           Makes a DescribeClusters call to find the HSM ENI IP addresses of the cluster
      --endpoint <Endpoint>
      --region <Region>
      --server-client-cert-file <Client/certificate/file>
      --server-client-key-file <Private/key/file>
      --client-cert-hsm-tls-file <CLIENT CERTIFICATE FILE>
                                          Client certificate for mutual TLS with the HSMs (hsm2m.medium)
      --client-key-hsm-tls-file <CLIENT KEY FILE>
                                          Private key of that client certificate
      --log-level <Error | warn | info | debug | trace>
      --log-rotation <Weekly | daily>
      --log-file <Log/file/path>
      --disable-key-availability-check
      --enable-key-availability-check
      --disable-validate-key-at-init
      --enable-validate-key-at-init
  -h, --help
  -V, --version
"""
VALUE_OPTIONS = (
    "-a",
    "--hsm-ca-cert",
    "--cluster-id",
    "--endpoint",
    "--region",
    "--server-client-cert-file",
    "--server-client-key-file",
    "--client-cert-hsm-tls-file",
    "--client-key-hsm-tls-file",
    "--log-level",
    "--log-rotation",
    "--log-file",
)
FLAG_OPTIONS = (
    "--disable-key-availability-check",
    "--enable-key-availability-check",
    "--disable-validate-key-at-init",
    "--enable-validate-key-at-init",
)
HSM_PORT = 2223
# The multi-cluster subcommands' syntax as the reference gives it (section 3.2).
SUBCOMMAND_USAGE = {
    "add-cluster": "configure-cli add-cluster [OPTIONS] --cluster-id <CLUSTER ID> [--region <REGION>] "
    "[--endpoint <ENDPOINT>] [--hsm-ca-cert <HSM CA CERTIFICATE FILE>] "
    "[--client-cert-hsm-tls-file <CLIENT CERTIFICATE FILE>] [--client-key-hsm-tls-file <CLIENT KEY FILE>] "
    "[-h, --help]",
    "remove-cluster": "configure-cli remove-cluster [OPTIONS] --cluster-id <CLUSTER ID> [-h, --help]",
}


def default_config(root):
    return {
        "clusters": [],
        "logging": {
            "log_type": "file",
            "log_file": os.path.join(root, "run", "cloudhsm-cli.log"),
            "log_level": "info",
            "log_interval": "daily",
        },
    }


def parse(argv):
    options = {"-a": []}
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in FLAG_OPTIONS:
            options[word] = True
        elif word in VALUE_OPTIONS:
            if i + 1 >= len(argv):
                raise ToolError("a value is required for '%s' but none was supplied" % word)
            if word == "-a":
                while i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                    options["-a"].append(argv[i + 1])
                    i += 1
            else:
                options[word] = argv[i + 1]
                i += 1
        else:
            raise ToolError("unexpected argument '%s' found" % word)
        i += 1
    return options


def cluster_entry(root, servers, cluster_id=None, ca=None):
    entry = {
        "type": "hsm1",
        "cluster": {
            "hsm_ca_file": ca or common.etc(root, "customerCA.crt"),
            "servers": [{"hostname": ip, "port": HSM_PORT, "enable": True} for ip in servers],
        },
    }
    if cluster_id:
        entry[unconfirmed.CFG_CLUSTER_ID_KEY] = cluster_id
    return entry


def lookup(root, cluster_id, region):
    region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    client = common.HsmClient(root)
    try:
        info = client.call("cluster_info", cluster_id=cluster_id, region=region)
    except HsmRefused:
        raise ToolError("DescribeClusters call failed: cluster %s was not found in %s" % (cluster_id, region))
    finally:
        client.close()
    if not info["hsms"]:
        raise ToolError("cluster %s has no HSMs" % cluster_id)
    return [hsm["ip"] for hsm in info["hsms"]]


def mtls_files(options):
    """The client certificate and key for mutual TLS: both or neither, readable files."""
    cert, key = options.get("--client-cert-hsm-tls-file"), options.get("--client-key-hsm-tls-file")
    if bool(cert) != bool(key):
        raise ToolError("--client-cert-hsm-tls-file and --client-key-hsm-tls-file must be given together")
    for path in (cert, key):
        if path and not os.path.isfile(path):
            raise ToolError("cannot read %s: no such file" % path)
    return (os.path.abspath(cert), os.path.abspath(key)) if cert else None


def apply_common(config, options, entries):
    pair = mtls_files(options)
    for entry in entries:
        if pair:
            entry["cluster"][unconfirmed.CFG_CLIENT_CERT_KEY], entry["cluster"][unconfirmed.CFG_CLIENT_KEY_KEY] = pair
        if options.get("--hsm-ca-cert"):
            entry["cluster"]["hsm_ca_file"] = os.path.abspath(options["--hsm-ca-cert"])
        for flag in FLAG_OPTIONS:
            if options.get(flag):
                name = flag[2:].replace("enable-", "").replace("disable-", "").replace("-", "_")
                entry["cluster"]["options"] = dict(
                    entry["cluster"].get("options", {}), **{name: flag.startswith("--enable")}
                )
    logging = config.setdefault("logging", {})
    for flag, key in (("--log-level", "log_level"), ("--log-rotation", "log_interval"), ("--log-file", "log_file")):
        if options.get(flag):
            logging[key] = options[flag]


def run(root, argv):
    path = common.etc(root, "cloudhsm-cli.cfg")
    try:
        config = common.read_json(path)
    except (OSError, ValueError):
        config = default_config(root)
    clusters = config.setdefault("clusters", [])
    key = unconfirmed.CFG_CLUSTER_ID_KEY
    if argv and argv[0] in ("add-cluster", "remove-cluster"):
        action, options = argv[0], parse(argv[1:])
        mtls_files(options)  # checked before any lookup, so a bad pair changes nothing
        cluster_id = options.get("--cluster-id")
        if not cluster_id:
            raise ToolError("the following required arguments were not provided: --cluster-id <CLUSTER ID>")
        if action == "remove-cluster":
            if not any(c.get(key) == cluster_id for c in clusters):
                raise ToolError("cluster %s is not in %s" % (cluster_id, path))
            config["clusters"] = [c for c in clusters if c.get(key) != cluster_id]
        else:
            entry = cluster_entry(root, lookup(root, cluster_id, options.get("--region")), cluster_id)
            apply_common(config, options, [entry])
            config["clusters"] = [c for c in clusters if c.get(key) != cluster_id and c["cluster"].get("servers")]
            config["clusters"].append(entry)
    else:
        options = parse(argv)
        mtls_files(options)
        if options["-a"] and options.get("--cluster-id"):
            raise ToolError("the argument '-a <ENI IP address>' cannot be used with '--cluster-id <Cluster ID>'")
        if (options["-a"] or options.get("--cluster-id")) and len(clusters) > 1:
            raise ToolError("%s holds several clusters; use add-cluster or remove-cluster" % path)
        if options["-a"]:
            config["clusters"] = [cluster_entry(root, options["-a"])]
        elif options.get("--cluster-id"):
            config["clusters"] = [
                cluster_entry(
                    root, lookup(root, options["--cluster-id"], options.get("--region")), options["--cluster-id"]
                )
            ]
        elif not clusters:
            config["clusters"] = [cluster_entry(root, [])]
        apply_common(config, options, config["clusters"])
    common.write_json(path, config)
    return 0


def main(root, argv):
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if argv[:1] and argv[0] in SUBCOMMAND_USAGE and ("-h" in argv or "--help" in argv):
        sys.stdout.write("Usage: %s\n" % SUBCOMMAND_USAGE[argv[0]])
        return 0
    if argv[:1] in (["-V"], ["--version"]):
        sys.stdout.write("configure-cli 5.16.0\n")
        return 0
    try:
        return run(root, argv)
    except ToolError as error:
        sys.stderr.write(unconfirmed.CONFIGURE_CLI_ERROR.format(message=error) + "\n")
        return 1
