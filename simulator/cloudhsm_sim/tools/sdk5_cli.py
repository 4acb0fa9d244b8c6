"""Emulated ``cloudhsm-cli`` (Client SDK 5): interactive and single-command modes, JSON results.

Reads ``<root>/etc/cloudhsm-cli.cfg`` (one or several clusters) and reaches the HSMs named there through the
simulator. Every command prints ``{"error_code": 0|1, "data": ...}`` indented as the real CLI does.
"""

import json
import os
import shlex
import sys

from . import common, unconfirmed
from .common import HsmRefused, ToolError
from .sdk5_help import HELP, TOP

VERSION = common.SDK5_VERSION
ROLE_TO_TYPE = {"admin": "CO", "crypto-user": "CU"}
TYPE_TO_ROLE = {
    "PRECO": "unactivated-admin",
    "CO": "admin",
    "PCO": "admin",
    "CU": "crypto-user",
    "AU": "internal(APPLIANCE_USER)",
}

# Command tree: words -> {option: kind}; kind "value", "flag" or "multi" (values up to the next option).
PAIR_OPTIONS = {
    "--public-label": "value",
    "--private-label": "value",
    "--session": "flag",
    "--public-attributes": "multi",
    "--private-attributes": "multi",
    "--share-crypto-users": "multi",
    "--manage-private-key-quorum-value": "value",
    "--use-private-key-quorum-value": "value",
}
COMMANDS = {
    ("cluster", "activate"): {"--password": "value"},
    ("cluster", "hsm-info"): {},
    ("login",): {"--username": "value", "--role": "value", "--password": "value", "--config": "value"},
    ("logout",): {},
    ("user", "list"): {"--verbose": "flag", "-v": "flag"},
    ("user", "create"): {"--username": "value", "--role": "value", "--password": "value", "--approval": "value"},
    ("user", "delete"): {"--username": "value", "--role": "value", "--approval": "value"},
    ("user", "change-password"): {
        "--username": "value",
        "--role": "value",
        "--password": "value",
        "--approval": "value",
        "--deregister-mfa": "value",
        "--deregister-quorum": "value",
    },
    ("user", "replicate"): {
        "--username": "value",
        "--role": "value",
        "--source-cluster-id": "value",
        "--destination-cluster-id": "value",
    },
    ("key", "list"): {
        "--filter": "multi",
        "--max-items": "value",
        "--starting-token": "value",
        "--verbose": "flag",
        "-v": "flag",
    },
    ("key", "generate-symmetric", "aes"): {
        "--label": "value",
        "--key-length-bytes": "value",
        "--session": "flag",
        "--attributes": "multi",
        "--share-crypto-users": "multi",
        "--manage-key-quorum-value": "value",
        "--use-key-quorum-value": "value",
    },
    ("key", "generate-symmetric", "generic-secret"): {
        "--label": "value",
        "--key-length-bytes": "value",
        "--session": "flag",
        "--attributes": "multi",
        "--share-crypto-users": "multi",
        "--manage-key-quorum-value": "value",
        "--use-key-quorum-value": "value",
    },
    ("user", "change-quorum", "token-sign", "register"): {"--public-key": "value", "--signed-token": "value"},
    ("cluster", "quorum", "token-sign", "set-quorum-value"): {"--service": "value", "--value": "value"},
    ("key", "generate-asymmetric-pair", "rsa"): dict(
        PAIR_OPTIONS, **{"--public-exponent": "value", "--modulus-size-bits": "value"}
    ),
    ("key", "generate-asymmetric-pair", "ec"): dict(PAIR_OPTIONS, **{"--curve": "value"}),
    ("key", "share"): {"--filter": "multi", "--username": "value", "--role": "value", "--approval": "value"},
    ("key", "unshare"): {"--filter": "multi", "--username": "value", "--role": "value", "--approval": "value"},
    ("key", "set-attribute"): {"--filter": "multi", "--name": "value", "--value": "value", "--approval": "value"},
    ("key", "delete"): {"--filter": "multi"},
    ("key", "replicate"): {"--filter": "multi", "--source-cluster-id": "value", "--destination-cluster-id": "value"},
    ("cluster", "mtls", "register-trust-anchor"): {"--path": "value", "--approval": "value"},
    ("cluster", "mtls", "list-trust-anchors"): {},
    ("cluster", "mtls", "deregister-trust-anchor"): {"--certificate-reference": "value", "--approval": "value"},
    ("cluster", "mtls", "set-enforcement"): {"--level": "value", "--approval": "value"},
    ("cluster", "mtls", "get-enforcement"): {},
}
REQUIRED = {
    ("login",): ("--username", "--role"),
    ("user", "create"): ("--username", "--role"),
    ("user", "delete"): ("--username", "--role"),
    ("user", "change-password"): ("--username", "--role"),
    ("user", "replicate"): ("--username", "--role", "--source-cluster-id", "--destination-cluster-id"),
    ("key", "generate-symmetric", "aes"): ("--label", "--key-length-bytes"),
    ("key", "generate-symmetric", "generic-secret"): ("--label", "--key-length-bytes"),
    ("key", "generate-asymmetric-pair", "rsa"): (
        "--public-exponent",
        "--modulus-size-bits",
        "--public-label",
        "--private-label",
    ),
    ("key", "generate-asymmetric-pair", "ec"): ("--curve", "--public-label", "--private-label"),
    ("user", "change-quorum", "token-sign", "register"): ("--public-key", "--signed-token"),
    ("cluster", "quorum", "token-sign", "set-quorum-value"): ("--service", "--value"),
    ("key", "share"): ("--filter", "--username", "--role"),
    ("key", "unshare"): ("--filter", "--username", "--role"),
    ("key", "set-attribute"): ("--filter", "--name", "--value"),
    ("key", "delete"): ("--filter",),
    ("key", "replicate"): ("--filter", "--source-cluster-id", "--destination-cluster-id"),
    ("cluster", "mtls", "register-trust-anchor"): ("--path",),
    ("cluster", "mtls", "deregister-trust-anchor"): ("--certificate-reference",),
    ("cluster", "mtls", "set-enforcement"): ("--level",),
}
# Commands that need no login even when CLOUDHSM_ROLE/CLOUDHSM_PIN are set.
NO_LOGIN = {
    ("cluster", "activate"),
    ("cluster", "hsm-info"),
    ("cluster", "mtls", "list-trust-anchors"),
    ("login",),
    ("logout",),
    ("user", "list"),
}
MTLS_LEVEL_NAMES = {"none": "None", "client-and-server": "Client And Server"}


class CliError(Exception):
    """A command failed; ``message`` becomes the ``data`` of an error_code 1 result."""


def envelope(code, data):
    return json.dumps({"error_code": code, "data": data}, indent=2)


def parse(words):
    """Split command words and options (clap style); returns (command tuple, options dict)."""
    for size in (4, 3, 2, 1):
        command = tuple(words[:size])
        if command in COMMANDS:
            break
    else:
        raise CliError("unrecognized subcommand '%s'" % " ".join(words[:2]))
    spec = dict(COMMANDS[command], **{"--cluster-id": "value", "--help": "flag", "-h": "flag"})
    options, rest, current = {}, words[len(command) :], None
    for word in rest:
        if word.startswith("-") and word in spec:
            kind = spec[word]
            current = None
            if kind == "flag":
                options[word] = True
            elif kind == "multi":
                options[word] = []
                current = word
            else:
                options[word] = None
                current = word
        elif "=" in word and word.split("=", 1)[0] in spec and spec[word.split("=", 1)[0]] == "value":
            name, value = word.split("=", 1)
            options[name] = value
        elif current is not None:
            if spec[current] == "multi":
                options[current].append(word)
            else:
                options[current] = word
                current = None
        else:
            raise CliError("unexpected argument '%s' found" % word)
    for name, value in options.items():
        if value is None:
            raise CliError("a value is required for '%s' but none was supplied" % name)
    if "--help" not in options and "-h" not in options:
        for name in REQUIRED.get(command, ()):
            if not options.get(name):
                raise CliError("the following required arguments were not provided: %s" % name)
    return command, options


def number(options, name):
    """An integer option (None when absent)."""
    value = options.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise CliError("invalid value '%s' for '%s'" % (value, name))


def parse_filters(values):
    filters = {}
    for item in values or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError("Invalid filter '%s'" % item)
        value = value.strip('"')
        if name == "key-reference":
            filters["key-reference"] = value
        elif name.startswith("attr."):
            filters[name[5:]] = value
        else:
            raise CliError("Invalid filter '%s'" % item)
    return filters


def parse_attributes(values):
    attributes = {}
    for item in values or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError("Invalid key attribute '%s'" % item)
        lowered = value.lower()
        attributes[name] = lowered == "true" if lowered in ("true", "false") else value
    return attributes


def key_json(key, verbose=True, id_as_text=False):
    reference = "0x%016x" % key["handle"]
    if not verbose:
        return {"key-reference": reference, "attributes": {"label": key["label"]}}
    attributes = dict(key["attributes"])
    if not id_as_text:
        attributes["id"] = "0x" + key["id"].encode().hex()
    return {
        "key-reference": reference,
        "key-info": {
            "key-owners": [{"username": key["owner_name"], "key-coverage": "full"}],
            "shared-users": [{"username": name, "key-coverage": "full"} for name in key["shared_names"]],
            "key-quorum-values": {
                "manage-key-quorum-value": key["quorum"][0],
                "use-key-quorum-value": key["quorum"][1],
            },
            "cluster-coverage": "full",
        },
        "attributes": attributes,
    }


def user_json(user, quorum=False):
    data = {
        "username": user["name"],
        "role": TYPE_TO_ROLE.get(user["role"], user["role"]),
        "locked": "true" if user["locked"] else "false",
        "mfa": [{"strategy": "token-sign", "status": "enabled"}] if user["two_factor"] else [],
    }
    if quorum or user["mofn"]:
        data["quorum"] = [unconfirmed.CLI_USER_QUORUM_ENTRY] if user["mofn"] else []
    data["cluster-coverage"] = "full"
    return data


def matching_key(cert_pem, key_pem):
    """Whether the private key belongs to the certificate (what a TLS handshake proves). A host without the
    cryptography package (a bare test container) skips the check: the HSM side still checks the certificate."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        return True
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return False
    spki, der = serialization.PublicFormat.SubjectPublicKeyInfo, serialization.Encoding.DER
    return certificate.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


class Cli:
    def __init__(self, root, cluster_id=None, stdin=None, out=None):
        self.root = root
        self.out = out or sys.stdout
        self.input = common.Input(stdin, self.out)
        self.default_cluster = cluster_id
        self.config_path = common.etc(root, "cloudhsm-cli.cfg")
        self.client = None
        self.dest_cert = None
        self.certificates = {}  # (certificate path, key path) -> PEM presented in the TLS handshake
        self.sessions = {}  # cluster key -> session token
        self.usernames = {}  # cluster key -> logged in user name

    # ------------------------------------------------------------------------------------------ plumbing
    def hsm_client(self):
        if self.client is None:
            self.client = common.HsmClient(self.root, VERSION)
        return self.client

    def clusters(self):
        try:
            config = common.read_json(self.config_path)
        except (OSError, ValueError) as error:
            raise CliError("Unable to read configuration file %s: %s" % (self.config_path, error))
        return config.get("clusters") or []

    def resolve(self, cluster_id):
        """The cluster entry a command runs against: --cluster-id, else the interactive default, else the only one."""
        wanted = cluster_id or self.default_cluster
        entries = self.clusters()
        key = unconfirmed.CFG_CLUSTER_ID_KEY
        if wanted:
            for entry in entries:
                if entry.get(key) == wanted:
                    return wanted, entry
            raise CliError(unconfirmed.CLI_UNKNOWN_CLUSTER.format(cluster_id=wanted))
        if len(entries) > 1:
            raise CliError(unconfirmed.CLI_MULTIPLE_CLUSTERS)
        if not entries or not entries[0].get("cluster", {}).get("servers"):
            raise CliError(unconfirmed.CLI_NOT_CONFIGURED)
        return entries[0].get(key) or "", entries[0]

    def presented(self, entry):
        """The client certificate this cluster entry presents for mutual TLS (None when none is configured).

        As in a TLS handshake, the certificate is only presented when its private key matches it."""
        cert_path = entry["cluster"].get(unconfirmed.CFG_CLIENT_CERT_KEY)
        key_path = entry["cluster"].get(unconfirmed.CFG_CLIENT_KEY_KEY)
        if not cert_path or not key_path:
            return None
        pair = (cert_path, key_path)
        if pair not in self.certificates:
            try:
                with open(cert_path, "rb") as handle:
                    pem = handle.read()
                with open(key_path, "rb") as handle:
                    key_pem = handle.read()
            except OSError as error:
                raise CliError(unconfirmed.CLI_MTLS_UNREADABLE.format(path=error.filename, error=error.strerror))
            if not matching_key(pem, key_pem):
                raise CliError(unconfirmed.CLI_MTLS_KEY_MISMATCH.format(path=cert_path))
            self.certificates[pair] = pem.decode()
        return self.certificates[pair]

    def call(self, entry, op, **args):
        """Call ``op`` on the first HSM of the cluster that answers."""
        servers = [s["hostname"] for s in entry["cluster"]["servers"] if s.get("enable", True)]
        if not servers:
            raise CliError(unconfirmed.CLI_NOT_CONFIGURED)
        args["client_cert"] = self.presented(entry)
        last = None
        for ip in servers:
            try:
                return self.hsm_client().call(op, hsm=ip, **args)
            except HsmRefused as error:
                if error.code not in ("hsm_unreachable", "no_such_hsm"):
                    raise
                last = error
        raise last

    def password(self, given, confirm):
        if given is not None:
            return given
        first = self.input.secret("Enter password:")
        if first is None:
            raise CliError("No password provided")
        if confirm:
            second = self.input.secret("Confirm password:")
            if second != first:
                raise CliError("Passwords do not match")
        return first

    def login(self, cluster_key, entry, username, role, password):
        if role not in ROLE_TO_TYPE:
            raise CliError("invalid value '%s' for '--role <ROLE>'" % role)
        result = self.call(entry, "login", role=ROLE_TO_TYPE[role], username=username, password=password)
        old = self.sessions.get(cluster_key)
        if old:
            self.hsm_client().call("logout", session=old)
        self.sessions[cluster_key] = result["session"]
        self.usernames[cluster_key] = result["user"]["name"]
        return result["user"]

    def env_login(self, cluster_key, entry, prefix=""):
        role, pin = os.environ.get(prefix + "CLOUDHSM_ROLE"), os.environ.get(prefix + "CLOUDHSM_PIN")
        if role and pin and cluster_key not in self.sessions:
            username, sep, password = pin.partition(":")
            if not sep:
                raise CliError("%sCLOUDHSM_PIN must be <username>:<password>" % prefix)
            self.login(cluster_key, entry, username, role.strip(), password)

    def session(self, cluster_key):
        return self.sessions.get(cluster_key)

    def close(self):
        if self.client is not None:
            for token in self.sessions.values():
                try:
                    self.client.call("logout", session=token)
                except (HsmRefused, ToolError):
                    pass
            self.client.close()

    # ----------------------------------------------------------------------------------------- dispatch
    def run_line(self, words):
        """Run one command; print its result; return the error code."""
        if words and words[0] == "help":
            self.out.write(self.help_text(words[1:]))
            self.out.flush()
            return 0
        try:
            command, options = parse(words)
            if options.get("--help") or options.get("-h"):
                self.out.write(self.help_text(list(command)))
                self.out.flush()
                return 0
            data = getattr(self, "cmd_" + "_".join(command).replace("-", "_"))(options)
            code = 0
        except CliError as error:
            code, data = 1, str(error)
        except HsmRefused as error:
            code, data = 1, self.error_text(error)
        except ToolError as error:
            code, data = 1, str(error)
        self.out.write(envelope(code, data) + "\n")
        self.out.flush()
        return code

    @staticmethod
    def error_text(error):
        if error.code == "key_selection":
            return error.message
        return unconfirmed.CLI_ERRORS.get(error.code, unconfirmed.CLI_DEFAULT_ERROR)

    def help_text(self, words):
        name = " ".join(words)
        if not name:
            return TOP
        if name in HELP:
            return HELP[name]
        for command in COMMANDS:
            if " ".join(command) == name:
                options = " ".join("[%s]" % o for o in sorted(COMMANDS[command]))
                return "Usage: cloudhsm-cli %s [OPTIONS] %s\n" % (name, options)
        return TOP

    def context(self, options, login=True):
        cluster_key, entry = self.resolve(options.get("--cluster-id"))
        if login:
            self.env_login(cluster_key, entry)
        return cluster_key, entry

    # ----------------------------------------------------------------------------------------- commands
    def cmd_cluster_activate(self, options):
        cluster_key, entry = self.context(options, login=False)
        password = self.password(options.get("--password"), confirm=True)
        self.call(entry, "activate", password=password, op_id=common.new_op_id())
        return "Cluster activation successful"

    def cmd_cluster_hsm_info(self, options):
        cluster_key, entry = self.context(options, login=False)
        info = self.call(entry, "cluster_info")
        hsms = []
        for hsm in info["hsms"]:
            if not hsm["reachable"]:
                continue
            serial = "5.3G1941-ICM%06d" % (sum(hsm["hsm_id"].encode()) % 1000000)
            hsms.append(
                {
                    "vendor": "Marvell Semiconductors, Inc.",
                    "model": "NITROX-III CNN35XX-NFBE",
                    "serial-number": serial,
                    "hardware-version-major": "5",
                    "hardware-version-minor": "3",
                    "firmware-version-major": "2",
                    "firmware-version-minor": "6",
                    "firmware-build-number": "16",
                    "firmware-id": "CNN35XX-NFBE-FW-2.06-16",
                    "fips-state": (
                        "2 [FIPS mode with single factor authentication]"
                        if info.get("mode", "FIPS") != "NON_FIPS"
                        else "0 [non-FIPS mode with single factor authentication]"
                    ),
                }
            )
        return {"hsms": hsms}

    def cmd_login(self, options):
        cluster_key, entry = self.context(options, login=False)
        password = self.password(options.get("--password"), confirm=False)
        user = self.login(cluster_key, entry, options["--username"], options["--role"], password)
        return {"username": user["name"], "role": TYPE_TO_ROLE[user["role"]]}

    def cmd_logout(self, options):
        cluster_key, entry = self.context(options, login=False)
        token = self.sessions.pop(cluster_key, None)
        self.usernames.pop(cluster_key, None)
        if token is None:
            raise CliError(unconfirmed.CLI_ERRORS["not_logged_in"])
        self.hsm_client().call("logout", session=token)
        return "Logout successful"

    def cmd_user_list(self, options):
        cluster_key, entry = self.context(options, login=False)
        users = self.call(entry, "list_users")["users"]
        return {"users": [user_json(u) for u in users]}

    def cmd_user_create(self, options):
        cluster_key, entry = self.context(options)
        role = options["--role"]
        if role not in ROLE_TO_TYPE:
            raise CliError("invalid value '%s' for '--role <ROLE>'" % role)
        password = self.password(options.get("--password"), confirm=True)
        result = self.call(
            entry,
            "create_user",
            session=self.session(cluster_key),
            role=ROLE_TO_TYPE[role],
            username=options["--username"],
            password=password,
            op_id=common.new_op_id(),
        )
        return {"username": result["user"]["name"], "role": role}

    def cmd_user_delete(self, options):
        cluster_key, entry = self.context(options)
        role = options["--role"]
        if role not in ROLE_TO_TYPE:
            raise CliError("invalid value '%s' for '--role <ROLE>'" % role)
        result = self.call(
            entry,
            "delete_user",
            session=self.session(cluster_key),
            role=ROLE_TO_TYPE[role],
            username=options["--username"],
            op_id=common.new_op_id(),
        )
        return {"username": result["user"]["name"], "role": role}

    def cmd_user_change_password(self, options):
        cluster_key, entry = self.context(options)
        role = options["--role"]
        if role not in ROLE_TO_TYPE:
            raise CliError("invalid value '%s' for '--role <ROLE>'" % role)
        password = self.password(options.get("--password"), confirm=True)
        result = self.call(
            entry,
            "change_password",
            session=self.session(cluster_key),
            role=ROLE_TO_TYPE[role],
            username=options["--username"],
            password=password,
            op_id=common.new_op_id(),
        )
        return {"username": result["user"]["name"], "role": role}

    def replicate_context(self, options):
        src_key, src = self.resolve(options["--source-cluster-id"])
        dst_key, dst = self.resolve(options["--destination-cluster-id"])
        self.env_login(src_key, src)
        self.env_login(dst_key, dst, prefix="DESTINATION_")
        if self.session(dst_key) is None:
            raise CliError(unconfirmed.CLI_ERRORS["not_logged_in"])
        dest_hsm = next(s["hostname"] for s in dst["cluster"]["servers"] if s.get("enable", True))
        self.dest_cert = self.presented(dst)
        return src_key, src, dst_key, dest_hsm

    def cmd_user_replicate(self, options):
        src_key, src, dst_key, dest_hsm = self.replicate_context(options)
        role = options["--role"]
        if role not in ROLE_TO_TYPE:
            raise CliError("invalid value '%s' for '--role <ROLE>'" % role)
        try:
            result = self.call(
                src,
                "sync_user",
                session=self.session(src_key),
                username=options["--username"],
                role=ROLE_TO_TYPE[role],
                dest_hsm=dest_hsm,
                dest_session=self.session(dst_key),
                dest_client_cert=self.dest_cert,
            )
        except HsmRefused as error:
            if error.code == "user_exists":
                total = len(self.call(src, "cluster_info")["hsms"])
                raise CliError(unconfirmed.CLI_USER_EXISTS_ON_DEST.format(failed=total, total=total))
            raise
        return {"user": user_json(result["user"], quorum=True), "message": "Successfully replicated user"}

    def cmd_key_list(self, options):
        cluster_key, entry = self.context(options)
        try:
            max_items = int(options.get("--max-items") or 10)
            start = int(options.get("--starting-token") or 0)
        except ValueError:
            raise CliError("invalid value for '--max-items' or '--starting-token'")
        result = self.call(
            entry,
            "list_keys",
            session=self.session(cluster_key),
            filters=parse_filters(options.get("--filter")),
            offset=start,
            limit=max_items,
        )
        verbose = bool(options.get("--verbose") or options.get("-v"))
        data = {
            "matched_keys": [key_json(k, verbose) for k in result["keys"]],
            "total_key_count": result["total"],
            "returned_key_count": len(result["keys"]),
        }
        if start + len(result["keys"]) < result["total"]:
            data["next_token"] = str(start + len(result["keys"]))
        return data

    def generate(self, options, key_type):
        cluster_key, entry = self.context(options)
        try:
            size = int(options["--key-length-bytes"])
        except ValueError:
            raise CliError("invalid value '%s' for '--key-length-bytes'" % options["--key-length-bytes"])
        attributes = parse_attributes(options.get("--attributes"))
        result = self.call(
            entry,
            "generate_key",
            session=self.session(cluster_key),
            key_type=key_type,
            size=size,
            label=options["--label"],
            share=options.get("--share-crypto-users") or [],
            session_key=bool(options.get("--session")),
            attributes=attributes,
            manage_quorum=number(options, "--manage-key-quorum-value"),
            use_quorum=number(options, "--use-key-quorum-value"),
            op_id=common.new_op_id(),
        )
        return {"key": key_json(result["key"], id_as_text=unconfirmed.CLI_ID_IN_GENERATE_AS_TEXT)}

    def generate_pair(self, options, key_type, **shape):
        cluster_key, entry = self.context(options)
        result = self.call(
            entry,
            "generate_key_pair",
            session=self.session(cluster_key),
            key_type=key_type,
            public_label=options["--public-label"],
            private_label=options["--private-label"],
            public_attributes=parse_attributes(options.get("--public-attributes")),
            private_attributes=parse_attributes(options.get("--private-attributes")),
            share=options.get("--share-crypto-users") or [],
            session_key=bool(options.get("--session")),
            manage_quorum=number(options, "--manage-private-key-quorum-value"),
            use_quorum=number(options, "--use-private-key-quorum-value"),
            op_id=common.new_op_id(),
            **shape
        )
        as_text = unconfirmed.CLI_ID_IN_GENERATE_AS_TEXT
        return {
            "public_key": key_json(result["public_key"], id_as_text=as_text),
            "private_key": key_json(result["private_key"], id_as_text=as_text),
        }

    def cmd_key_generate_asymmetric_pair_rsa(self, options):
        return self.generate_pair(
            options,
            "rsa",
            modulus_bits=number(options, "--modulus-size-bits"),
            public_exponent=number(options, "--public-exponent"),
        )

    def cmd_key_generate_asymmetric_pair_ec(self, options):
        return self.generate_pair(options, "ec", curve=options["--curve"])

    def share(self, options, share):
        cluster_key, entry = self.context(options)
        if options["--role"] != "crypto-user":
            raise CliError(unconfirmed.CLI_SHARE_ROLE)
        self.call(
            entry,
            "share_key",
            session=self.session(cluster_key),
            filters=parse_filters(options["--filter"]),
            users=[options["--username"]],
            share=share,
            op_id=common.new_op_id(),
        )
        return {"message": unconfirmed.CLI_KEY_SHARED if share else unconfirmed.CLI_KEY_UNSHARED}

    def cmd_key_share(self, options):
        return self.share(options, True)

    def cmd_key_unshare(self, options):
        return self.share(options, False)

    def cmd_user_change_quorum_token_sign_register(self, options):
        cluster_key, entry = self.context(options)
        for name in ("--public-key", "--signed-token"):
            if not os.path.isfile(options[name]):
                raise CliError("cannot read %s %s" % (name, options[name]))
        self.call(entry, "register_quorum_key", session=self.session(cluster_key), op_id=common.new_op_id())
        return unconfirmed.CLI_QUORUM_REGISTERED

    def cmd_cluster_quorum_token_sign_set_quorum_value(self, options):
        cluster_key, entry = self.context(options)
        if options["--service"] != "user":
            raise CliError("invalid value '%s' for '--service'" % options["--service"])
        self.call(
            entry,
            "set_user_quorum",
            session=self.session(cluster_key),
            value=number(options, "--value"),
            op_id=common.new_op_id(),
        )
        return unconfirmed.CLI_QUORUM_VALUE_SET

    def cmd_key_set_attribute(self, options):
        cluster_key, entry = self.context(options)
        value = options["--value"]
        self.call(
            entry,
            "set_attribute",
            session=self.session(cluster_key),
            filters=parse_filters(options["--filter"]),
            name=options["--name"],
            value=value.lower() == "true" if value.lower() in ("true", "false") else value,
            op_id=common.new_op_id(),
        )
        return {"message": unconfirmed.CLI_ATTRIBUTE_SET}

    def cmd_key_generate_symmetric_aes(self, options):
        return self.generate(options, "aes")

    def cmd_key_generate_symmetric_generic_secret(self, options):
        return self.generate(options, "generic-secret")

    def cmd_key_delete(self, options):
        cluster_key, entry = self.context(options)
        self.call(
            entry,
            "delete_key",
            session=self.session(cluster_key),
            filters=parse_filters(options["--filter"]),
            op_id=common.new_op_id(),
        )
        return {"message": "Key deleted successfully"}

    @staticmethod
    def anchor_json(anchor):
        return {
            "certificate-reference": "0x%02x" % anchor["reference"],
            "certificate": anchor["certificate"],
            "cluster-coverage": "full",
        }

    def cmd_cluster_mtls_register_trust_anchor(self, options):
        cluster_key, entry = self.context(options)
        try:
            with open(options["--path"]) as handle:
                pem = handle.read()
        except OSError as error:
            raise CliError("cannot read --path %s: %s" % (options["--path"], error.strerror))
        result = self.call(
            entry, "register_trust_anchor", session=self.session(cluster_key), certificate=pem, op_id=common.new_op_id()
        )
        return {"trust_anchor": self.anchor_json(result)}

    def cmd_cluster_mtls_list_trust_anchors(self, options):
        cluster_key, entry = self.context(options, login=False)
        anchors = self.call(entry, "list_trust_anchors")["trust_anchors"]
        return {"trust_anchors": [self.anchor_json(a) for a in anchors]}

    def cmd_cluster_mtls_deregister_trust_anchor(self, options):
        cluster_key, entry = self.context(options)
        text = options["--certificate-reference"]
        try:
            reference = int(text, 0)
        except ValueError:
            raise CliError("invalid value '%s' for '--certificate-reference <CERTIFICATE_REFERENCE>'" % text)
        self.call(
            entry,
            "deregister_trust_anchor",
            session=self.session(cluster_key),
            reference=reference,
            op_id=common.new_op_id(),
        )
        return {"message": unconfirmed.CLI_MTLS_DEREGISTERED.format(reference="0x%02x" % reference)}

    def cmd_cluster_mtls_set_enforcement(self, options):
        cluster_key, entry = self.context(options)
        level = options["--level"]
        if level not in MTLS_LEVEL_NAMES:
            raise CliError("invalid value '%s' for '--level <LEVEL>'" % level)
        self.call(
            entry, "set_mtls_enforcement", session=self.session(cluster_key), level=level, op_id=common.new_op_id()
        )
        return {"message": unconfirmed.CLI_MTLS_ENFORCEMENT_SET.format(level=MTLS_LEVEL_NAMES[level])}

    def cmd_cluster_mtls_get_enforcement(self, options):
        cluster_key, entry = self.context(options)
        result = self.call(entry, "get_mtls_enforcement", session=self.session(cluster_key))
        return {"mtls-enforcement-level": result["level"]}

    def cmd_key_replicate(self, options):
        src_key, src, dst_key, dest_hsm = self.replicate_context(options)
        try:
            result = self.call(
                src,
                "sync_key",
                session=self.session(src_key),
                filters=parse_filters(options["--filter"]),
                dest_hsm=dest_hsm,
                dest_session=self.session(dst_key),
                dest_client_cert=self.dest_cert,
            )
        except HsmRefused as error:
            if error.code == "key_exists":
                unused_cluster_id, dst = self.resolve(options["--destination-cluster-id"])
                total = len(self.call(dst, "cluster_info")["hsms"])
                raise CliError(unconfirmed.CLI_KEY_EXISTS.format(failed=total, total=total))
            raise
        return {"key": key_json(result["key"]), "message": "Successfully replicated key"}

    # ------------------------------------------------------------------------------------------- modes
    def interactive(self):
        while True:
            prompt = ""
            if self.input.tty or not unconfirmed.CLI_PROMPT_ONLY_ON_TTY:
                prompt = "aws-cloudhsm > "
                if self.default_cluster and self.default_cluster in self.usernames:  # multi-cluster style
                    prompt = "%s@%s > " % (self.usernames[self.default_cluster], self.default_cluster)
            line = self.input.prompt(prompt)
            if line is None:
                return 0
            try:
                words = shlex.split(line)
            except ValueError as error:
                self.out.write(envelope(1, str(error)) + "\n")
                continue
            if not words:
                continue
            if words[0] in ("quit", "exit"):
                return 0
            self.run_line(words)


def main(root, argv):
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(TOP)
        return 0
    if argv[0] in ("-V", "--version"):
        sys.stdout.write("cloudhsm-cli %s\n" % VERSION)
        return 0
    if argv[0] == "interactive":
        cluster_id = None
        rest = argv[1:]
        if rest[:1] == ["--cluster-id"] and len(rest) > 1:
            cluster_id = rest[1]
        elif rest and rest[0].startswith("--cluster-id="):
            cluster_id = rest[0].split("=", 1)[1]
        cli = Cli(root, cluster_id)
        try:
            if cluster_id is None:
                try:
                    cli.resolve(None)
                except CliError as error:
                    sys.stdout.write(envelope(1, str(error)) + "\n")
                    return unconfirmed.CLI_ERROR_EXIT_STATUS
            return cli.interactive()
        finally:
            cli.close()
    cli = Cli(root)
    try:
        code = cli.run_line(list(argv))
    finally:
        cli.close()
    return unconfirmed.CLI_ERROR_EXIT_STATUS if code else 0
