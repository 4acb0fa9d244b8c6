"""The data plane: the simulated HSMs of every cluster and the operations the client tools call on them.

One ``DataPlane`` holds every cluster's ``ClusterState``, the HSMs (keyed by ENI IP), the snapshots taken for backups
and the login sessions. Every operation takes and returns plain JSON-able values; ``call(op, args)`` is what the
``/_hsm/`` WSGI API exposes. Operations addressed to several HSMs of one cluster carry the same ``op_id`` so that the
cluster applies them once (the simulator keeps a cluster's HSMs in sync).
"""

import json
import os
import secrets
import tempfile
import threading
import time
from collections import OrderedDict

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import links, mtls
from .model import (
    ADMIN_ROLES,
    MAX_LOGIN_FAILURES,
    ClusterState,
    HsmError,
    check_password,
    hash_password,
    key_check_value,
    seal,
    unseal,
    verify_password,
)

SESSION_IDLE_SECONDS = 600
APPLIED_OPS_KEPT = 256
STATE_FILE = "dataplane.json"
SESSION_ERRORS = ("not_logged_in", "access_denied")
# How long a client connection counts for the HSM-type migration prerequisite ("All client connections have used
# SDK 5.9 or higher" in the prior 7 days: user guide, migrating from hsm1.medium to hsm2m.medium).
CLIENTS_SEEN_SECONDS = 7 * 24 * 3600

KEY_TYPES = {"aes": (16, 24, 32), "des3": (24,), "generic-secret": None}
# SDK 5 attribute defaults for a generated secret key (cloudhsm-cli key attributes table).
DEFAULT_KEY_ATTRIBUTES = OrderedDict(
    [
        ("encrypt", False),
        ("decrypt", False),
        ("token", True),
        ("always-sensitive", True),
        ("derive", False),
        ("destroyable", True),
        ("extractable", True),
        ("local", True),
        ("modifiable", True),
        ("never-extractable", False),
        ("private", True),
        ("sensitive", True),
        ("sign", True),
        ("trusted", False),
        ("unwrap", False),
        ("verify", True),
        ("wrap", False),
        ("wrap-with-trusted", False),
    ]
)
# Where a public or private key's defaults differ from a secret key's (cloudhsm-cli key attributes table; the
# per-class values the reference does not list are chosen in tools/unconfirmed.py's sense: see docs/simulator.md).
CLASS_KEY_ATTRIBUTES = {
    "public-key": {"sensitive": False, "sign": False, "private": False, "always-sensitive": False},
    "private-key": {"sign": True, "verify": False},
}
# Asymmetric key pairs: RSA modulus sizes and EC curves the HSM generates (cloudhsm-cli key attributes table;
# prime256v1 is another name of secp256r1). Value: the curve's name in the cryptography package.
RSA_MODULUS_BITS = (2048, 3072, 4096)
EC_CURVES = {
    "prime256v1": "SECP256R1",
    "secp256r1": "SECP256R1",
    "secp384r1": "SECP384R1",
    "secp521r1": "SECP521R1",
    "secp256k1": "SECP256K1",
    "secp224r1": "SECP224R1",
}
# key set-attribute / setAttribute: what may change after a key is made (SDK 3 documents label, encrypt, decrypt,
# wrap and unwrap; SDK 5 adds the rest of its modifiable attributes).
CHANGEABLE_KEY_ATTRIBUTES = {
    "label",
    "id",
    "encrypt",
    "decrypt",
    "wrap",
    "unwrap",
    "sign",
    "verify",
    "derive",
    "trusted",
    "wrap-with-trusted",
}
MAX_KEY_QUORUM = 8

SETTABLE_KEY_ATTRIBUTES = {
    "encrypt",
    "decrypt",
    "derive",
    "destroyable",
    "extractable",
    "modifiable",
    "private",
    "sensitive",
    "sign",
    "trusted",
    "unwrap",
    "verify",
    "wrap",
    "wrap-with-trusted",
    "id",
}


def key_view(cluster, key):
    """What a tool may see of a key: everything but the sealed material."""
    owner = _user_name(cluster, key["owner"])
    attributes = OrderedDict(
        [
            ("key-type", key["key_type"]),
            ("label", key["label"]),
            ("id", key["id"]),
            ("check-value", key["kcv"]),
            ("class", key["class"]),
        ]
    )
    defaults = CLASS_KEY_ATTRIBUTES.get(key["class"], {})
    for name, default in DEFAULT_KEY_ATTRIBUTES.items():
        attributes[name] = key["attrs"].get(name, defaults.get(name, default))
    attributes["token"] = not key.get("session", False)
    if key["key_type"] == "rsa":
        attributes["modulus"] = key["modulus"]
        attributes["modulus-size-bits"] = key["modulus_bits"]
        attributes["public-exponent"] = key["public_exponent"]
    elif key["key_type"] == "ec":
        attributes["ec-point"] = key["ec_point"]
        attributes["curve"] = key["curve"]
    attributes["key-length-bytes"] = key["size"]
    return {
        "handle": key["handle"],
        "owner": key["owner"],
        "owner_name": owner,
        "shared": list(key["shared"]),
        "shared_names": [_user_name(cluster, uid) for uid in key["shared"]],
        "label": key["label"],
        "id": key["id"],
        "key_type": key["key_type"],
        "size": key["size"],
        "class": key["class"],
        "extractable": attributes["extractable"],
        "kcv": key["kcv"],
        "session": key.get("session", False),
        "quorum": [key.get("manage_quorum", 0), key.get("use_quorum", 0)],
        "pair": key.get("pair"),
        "attributes": attributes,
    }


def _user_name(cluster, user_id):
    for user in cluster.users.values():
        if user["id"] == user_id:
            return user["name"]
    return str(user_id)


def user_view(user):
    return {
        "id": user["id"],
        "name": user["name"],
        "role": user["role"],
        "mofn": user["mofn"],
        "failures": user["failures"],
        "two_factor": user["two_factor"],
        "locked": user["failures"] >= MAX_LOGIN_FAILURES,
    }


_RAW_FIELDS = {"label": "label", "key-type": "key_type", "class": "class"}


def _matches(cluster, key, filters):
    """Whether a stored key satisfies every filter (SDK 5 attribute names; key-reference is the handle)."""
    view = None
    for name, wanted in (filters or {}).items():
        if name == "key-reference":
            if key["handle"] != _int(wanted):
                return False
        elif name in _RAW_FIELDS:
            if str(key[_RAW_FIELDS[name]]) != str(wanted):
                return False
        elif name == "check-value":
            if _int(wanted) != _int(key["kcv"]):
                return False
        elif name == "id":
            if str(wanted) not in (key["id"], "0x" + key["id"].encode().hex()):
                return False
        else:
            view = view or key_view(cluster, key)
            value = view["attributes"].get(name)
            if value is None:
                raise HsmError("invalid_filter", "unknown key attribute %s" % name)
            if str(wanted).lower() != str(value).lower():
                return False
    return True


def _candidates(cluster, filters):
    """Keys worth testing against ``filters``, in handle order (an index lookup for a reference or a label)."""
    filters = filters or {}
    if "key-reference" in filters:
        key = cluster.keys.get(_int(filters["key-reference"]))
        return [key] if key else []
    if "label" in filters:
        return [cluster.keys[h] for h in cluster.keys.by_label(str(filters["label"]))]
    return [k for unused_handle, k in sorted(cluster.keys.items())]


def _check_user_quorum(cluster):
    """User management on a cluster with quorum (M >= 2) needs approved quorum tokens, which the simulator never
    grants: the tools answer with their documented quorum failure."""
    if cluster.user_quorum >= 2:
        raise HsmError("quorum_required", "Quorum approval is required for this operation")


def _share_ids(cluster, owner, users):
    """User ids of the crypto users named (by name or id) to share a key with; never the owner itself."""
    ids = []
    for who in users or ():
        target = cluster.user_by_id(int(who)) if str(who).isdigit() else cluster.user(who)
        if target["role"] != "CU" or target["id"] == owner["id"]:
            raise HsmError("invalid_share", "cannot share with %s" % who)
        ids.append(target["id"])
    return ids


def _quorum_values(manage, use, users):
    """(manage, use) quorum values: at most 8 and at most the number of users associated with the key."""
    values = int(manage or 0), int(use or 0)
    for value in values:
        if not 0 <= value <= min(MAX_KEY_QUORUM, users) and value:
            raise HsmError("invalid_quorum", "key quorum value %d exceeds the %d users of the key" % (value, users))
    return values


def _initial_attributes(attributes, extractable):
    attrs = {}
    for name, value in (attributes or {}).items():
        if name == "token":
            raise HsmError("token_attribute", "Token key attribute cannot be supplied via optional attributes")
        if name not in SETTABLE_KEY_ATTRIBUTES:
            raise HsmError("invalid_attribute", "unknown key attribute %s" % name)
        attrs[name] = value
    if not extractable:
        attrs["extractable"] = False
    attrs["never-extractable"] = attrs.get("extractable", True) is False
    return attrs


def _random_modulus(bits):
    """A modulus-shaped value (top and bottom bits set). Nothing computes with simulated RSA keys, and generating
    real 4096-bit ones would cost a second each."""
    value = bytearray(secrets.token_bytes(bits // 8))
    value[0] |= 0x80
    value[-1] |= 0x01
    return bytes(value)


def _ec_point(curve_name):
    """The uncompressed public point of a fresh key on the named curve (cheap to make for real)."""
    private = ec.generate_private_key(getattr(ec, curve_name)())
    return private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _int(value):
    try:
        return int(str(value), 0)
    except ValueError:
        raise HsmError("invalid_filter", "not a number: %s" % value)


class DataPlane:
    def __init__(self):
        self.lock = threading.RLock()
        self.clusters = {}  # cluster_id -> ClusterState
        self.hsms = OrderedDict()  # eni ip -> {cluster_id, hsm_id, availability_zone, account, region}
        self.backups = {}  # backup_id -> snapshot
        self.sessions = {}  # token -> {cluster_id, user, role, seen}
        self.clients_seen = {}  # cluster_id -> {client SDK version: last time.time() a tool of it called}
        self.dirty = False
        self._local = threading.local()

    # ---------------------------------------------------------------------------------------------- events
    def on_cluster_created(
        self, cluster_id, account="", region="", hsm_type="hsm1.medium", source_backup_id=None, mode=None, **_
    ):
        with self.lock:
            snapshot = self.backups.get(source_backup_id) if source_backup_id else None
            if snapshot is not None:
                cluster = ClusterState.from_snapshot(cluster_id, snapshot, account, region, hsm_type)
            else:
                cluster = ClusterState.fresh(cluster_id, account, region, hsm_type or "hsm1.medium")
            if mode:
                cluster.mode = mode
            self.clusters[cluster_id] = cluster
            self.dirty = True

    def on_cluster_initialized(self, cluster_id, **_):
        with self.lock:
            if cluster_id in self.clusters:
                self.clusters[cluster_id].initialized = True
                self.dirty = True

    def on_cluster_deleted(self, cluster_id, **_):
        with self.lock:
            self.clusters.pop(cluster_id, None)
            for ip in [ip for ip, hsm in self.hsms.items() if hsm["cluster_id"] == cluster_id]:
                del self.hsms[ip]
            self.dirty = True

    def on_hsm_created(self, cluster_id, hsm_id, eni_ip, availability_zone="", account="", region="", **_):
        with self.lock:
            self.hsms[eni_ip] = {
                "cluster_id": cluster_id,
                "hsm_id": hsm_id,
                "availability_zone": availability_zone,
                "account": account,
                "region": region,
            }
            self.dirty = True

    def on_hsm_deleted(self, eni_ip, hsm_id=None, **_):
        with self.lock:
            hsm = self.hsms.get(eni_ip)
            if hsm is not None and (hsm_id is None or hsm["hsm_id"] == hsm_id):
                del self.hsms[eni_ip]
                self.dirty = True

    def on_backup_created(self, cluster_id, backup_id, **_):
        with self.lock:
            cluster = self.clusters.get(cluster_id)
            if cluster is not None:
                self.backups[backup_id] = cluster.snapshot()
                self.dirty = True

    def on_backup_copied(self, source_backup_id, backup_id, **_):
        with self.lock:
            if source_backup_id in self.backups:
                self.backups[backup_id] = json.loads(json.dumps(self.backups[source_backup_id]))
                self.dirty = True

    def on_cluster_hsm_type_changing(self, cluster_id, hsm_type=None, state=None, **_):
        """ModifyCluster(HsmType) started (migration or rollback): the HSMs are in limited-write mode."""
        with self.lock:
            cluster = self.clusters.get(cluster_id)
            if cluster is not None:
                cluster.limited_write = state or "MODIFY_IN_PROGRESS"
                self.dirty = True

    def on_cluster_hsm_type_changed(self, cluster_id, hsm_type, **_):
        with self.lock:
            cluster = self.clusters.get(cluster_id)
            if cluster is not None:
                cluster.limited_write = None
                cluster.hsm_type = hsm_type
                self.dirty = True

    def client_versions_since(self, cluster_id, since):
        """{client SDK version: last seen} of the tools that called an HSM of the cluster at or after ``since``."""
        with self.lock:
            seen = self.clients_seen.get(cluster_id) or {}
            return {version: moment for version, moment in seen.items() if moment >= since}

    def age_clients(self, cluster_id, seconds):
        """Make the recorded client connections of a cluster ``seconds`` older (the admin API's time-passes)."""
        with self.lock:
            seen = self.clients_seen.get(cluster_id) or {}
            for version in seen:
                seen[version] -= seconds
            self.dirty = True

    def _record_client(self, client, args):
        version = str((client or {}).get("version") or "")
        if not version:
            return
        moment = time.time()
        ips = [args.get("hsm"), args.get("dest_hsm")] + list(args.get("hsms") or [])
        cluster_ids = {self.hsms[ip]["cluster_id"] for ip in ips if ip in self.hsms}
        if args.get("cluster_id"):
            cluster_ids.add(args["cluster_id"])
        for cluster_id in cluster_ids & set(self.clusters):
            self.clients_seen.setdefault(cluster_id, {})[version] = moment
            self.dirty = True

    @staticmethod
    def _writable(cluster, what):
        """Refuse a write the HSM does not take in limited-write mode (during an HSM-type migration)."""
        if cluster.limited_write:
            raise HsmError(
                "limited_write",
                "cluster %s is in limited-write mode while its HSM type changes (%s): %s is not allowed"
                % (cluster.cluster_id, cluster.limited_write, what),
                state=cluster.limited_write,
            )

    def on_reset(self, **_):
        with self.lock:
            self.clusters.clear()
            self.clients_seen.clear()
            self.hsms.clear()
            self.backups.clear()
            self.sessions.clear()
            self.dirty = True

    # ----------------------------------------------------------------------------------------- persistence
    def to_dict(self):
        with self.lock:
            return json.loads(
                json.dumps(
                    {
                        "version": 1,
                        "clusters": {cid: c.to_dict() for cid, c in self.clusters.items()},
                        "hsms": self.hsms,
                        "backups": self.backups,
                        "clients_seen": self.clients_seen,
                    }
                )
            )

    def save(self, directory):
        with self.lock:
            data = json.dumps(self.to_dict())
            self.dirty = False
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".dataplane.")
        with os.fdopen(fd, "w") as handle:
            handle.write(data)
        os.chmod(tmp, 0o600)  # holds password hashes
        os.replace(tmp, os.path.join(directory, STATE_FILE))

    def load(self, directory):
        path = os.path.join(directory, STATE_FILE)
        if not os.path.exists(path):
            return False
        with open(path) as handle:
            data = json.load(handle)
        with self.lock:
            self.clusters = {cid: ClusterState.from_dict(c) for cid, c in data["clusters"].items()}
            self.hsms = OrderedDict(data["hsms"])
            self.backups = data["backups"]
            self.clients_seen = data.get("clients_seen") or {}
            self.sessions.clear()
            self.dirty = False
        return True

    # -------------------------------------------------------------------------------------------- helpers
    def _hsm(self, ip):
        hsm = self.hsms.get(ip)
        if hsm is None or hsm["cluster_id"] not in self.clusters:
            raise HsmError("no_such_hsm", "no HSM answers at %s" % ip)
        if not self._reachable(ip):
            raise HsmError("hsm_unreachable", "HSM %s does not answer" % ip)
        return hsm

    def _cluster(self, ip):
        return self.clusters[self._hsm(ip)["cluster_id"]]

    def _session(self, cluster, token, roles=None):
        session = self.sessions.get(token or "")
        now = time.monotonic()
        if (
            session is None
            or session["cluster_id"] != cluster.cluster_id
            or now - session["seen"] > SESSION_IDLE_SECONDS
        ):
            raise HsmError("not_logged_in", "no user is logged in")
        user = cluster.users.get(session["user"])
        if user is None:
            raise HsmError("not_logged_in", "the logged in user no longer exists")
        session["seen"] = now
        if roles and user["role"] not in roles:
            raise HsmError("access_denied", "user %s (%s) may not do this" % (user["name"], user["role"]))
        return user

    def _logged_in_elsewhere(self, cluster, name, token):
        now = time.monotonic()
        return any(
            s["cluster_id"] == cluster.cluster_id
            and s["user"] == name
            and t != token
            and now - s["seen"] <= SESSION_IDLE_SECONDS
            for t, s in self.sessions.items()
        )

    def _once(self, cluster, op_id, func):
        """Run ``func`` once per (cluster, op_id); a repeat gets the first outcome (raised again if an error)."""
        if op_id and op_id in cluster.applied_ops:
            outcome = cluster.applied_ops[op_id]
            if outcome[0] == "error":
                raise HsmError(outcome[1], outcome[2], **outcome[3])
            return outcome[1]
        try:
            result = func()
        except HsmError as error:
            if op_id and error.code not in SESSION_ERRORS:  # another HSM's session may well be fine
                self._remember(cluster, op_id, ("error", error.code, error.message, error.details))
            raise
        if op_id:
            self._remember(cluster, op_id, ("ok", result))
        self.dirty = True
        return result

    @staticmethod
    def _remember(cluster, op_id, outcome):
        cluster.applied_ops[op_id] = outcome
        while len(cluster.applied_ops) > APPLIED_OPS_KEPT:
            cluster.applied_ops.pop(next(iter(cluster.applied_ops)))

    def _cluster_hsms(self, cluster_id):
        return [(ip, h) for ip, h in self.hsms.items() if h["cluster_id"] == cluster_id]

    # -------------------------------------------------------------------------------------------- operations
    def call(self, op, args, client=None):
        handler = getattr(self, "op_" + op, None)
        if handler is None:
            raise HsmError("unknown_operation", "unknown operation %s" % op)
        # The control plane is asked (reachability, cluster state) before taking the data-plane lock, and told
        # (activation) after releasing it: it emits events back into the data plane under its own lock.
        # The certificates the client presents in its TLS handshakes with the HSM and, for replication, the
        # destination HSM; a cluster that enforces mutual TLS refuses the call without an accepted one.
        args = dict(args)
        client_cert, dest_client_cert = args.pop("client_cert", None), args.pop("dest_client_cert", None)
        self._local.reach, self._local.initialized = self._prefetch(op, args)
        self._local.client_cert = client_cert
        after = []
        try:
            with self.lock:
                self._check_mtls(args.get("hsm"), client_cert)
                self._check_mtls(args.get("dest_hsm"), dest_client_cert)
                self._record_client(client, args)
                result = handler(after=after, **args)
        finally:
            self._local.reach, self._local.initialized, self._local.client_cert = {}, {}, None
        for hook in after:
            try:
                hook()
            except Exception as error:  # the HSM change stands; report that the service did not follow
                raise HsmError("control_plane", "the control plane did not accept the change: %s" % error)
        return result

    def _prefetch(self, op, args):
        with self.lock:
            ips = {ip for ip in [args.get("hsm"), args.get("dest_hsm")] + list(args.get("hsms") or []) if ip}
            cluster_ids = {self.hsms[ip]["cluster_id"] for ip in ips if ip in self.hsms}
            if args.get("cluster_id"):
                cluster_ids.add(args["cluster_id"])
            if op == "cluster_info":
                ips |= {ip for ip, hsm in self.hsms.items() if hsm["cluster_id"] in cluster_ids}
        reach = {ip: links.hsm_reachable(ip) for ip in ips}
        initialized = {cid: links.cluster_initialized(cid) for cid in cluster_ids} if op == "activate" else {}
        return reach, initialized

    def _check_mtls(self, ip, client_cert):
        hsm = self.hsms.get(ip) if ip else None
        if hsm is not None and hsm["cluster_id"] in self.clusters:
            mtls.check_client(self.clusters[hsm["cluster_id"]], client_cert)

    def _reachable(self, ip):
        return getattr(self._local, "reach", {}).get(ip, True)

    def op_connect(self, hsms, after):
        answer = []
        for ip in hsms:
            entry = {"ip": ip, "reachable": False, "cluster_id": None, "hsm_id": None}
            hsm = self.hsms.get(ip)
            if hsm is not None and hsm["cluster_id"] in self.clusters:
                entry.update(cluster_id=hsm["cluster_id"], hsm_id=hsm["hsm_id"], reachable=self._reachable(ip))
            answer.append(entry)
        return {"hsms": answer}

    def op_cluster_info(self, after, hsm=None, cluster_id=None, region=None):
        if hsm is not None:
            cluster = self._cluster(hsm)
        else:
            cluster = self.clusters.get(cluster_id)
            if cluster is None or (region and cluster.region and cluster.region != region):
                raise HsmError("no_such_cluster", "cluster %s not found" % cluster_id)
        members = [
            {
                "ip": ip,
                "hsm_id": h["hsm_id"],
                "reachable": self._reachable(ip),
                "availability_zone": h["availability_zone"],
            }
            for ip, h in self._cluster_hsms(cluster.cluster_id)
        ]
        return {
            "cluster_id": cluster.cluster_id,
            "region": cluster.region,
            "hsm_type": cluster.hsm_type,
            "mode": cluster.mode,
            "activated": cluster.activated,
            "initialized": cluster.initialized,
            "hsms": members,
        }

    def op_list_users(self, hsm, after):
        cluster = self._cluster(hsm)
        return {"users": [user_view(u) for u in cluster.users_sorted()]}

    def op_login(self, hsm, role, username, password, after, op_id=None):
        cluster = self._cluster(hsm)

        def login():
            user = cluster.user(username)
            if role != user["role"] and not (role == "CO" and user["role"] == "PCO"):
                raise HsmError("invalid_user_type", "user %s is not of type %s" % (user["name"], role))
            if user["failures"] >= MAX_LOGIN_FAILURES:
                raise HsmError("user_locked", "user %s is locked" % user["name"])
            if user["role"] == "PRECO" and role == "PRECO" and not cluster.initialized:
                raise HsmError("not_initialized", "the cluster is not initialized")
            if not verify_password(user, password or ""):
                user["failures"] += 1
                self.dirty = True
                raise HsmError("login_failed", "wrong password for %s" % user["name"])
            user["failures"] = 0
            token = secrets.token_hex(16)
            self.sessions[token] = {"cluster_id": cluster.cluster_id, "user": user["name"], "seen": time.monotonic()}
            return {"session": token, "user": user_view(user)}

        return self._once(cluster, op_id, login)

    def op_logout(self, session, after, hsm=None):
        ended = self.sessions.pop(session or "", None)
        if ended:
            # Session keys live only as long as the session that made them (cloudhsm-cli --session help text).
            cluster = self.clusters.get(ended["cluster_id"])
            for handle in [h for h, k in (cluster.keys.items() if cluster else ()) if k.get("session_of") == session]:
                del cluster.keys[handle]
        return {}

    def op_whoami(self, hsm, session, after):
        cluster = self._cluster(hsm)
        return {"user": user_view(self._session(cluster, session))}

    def op_create_user(self, hsm, session, role, username, password, after, op_id=None):
        cluster = self._cluster(hsm)

        def create():
            self._session(cluster, session, ADMIN_ROLES)
            self._writable(cluster, "user creation")
            _check_user_quorum(cluster)
            check_password(password)
            if role not in ("CO", "CU", "AU", "PCO", "PRECO"):
                raise HsmError("invalid_user_type", "invalid user type %s" % role)
            return {"user": user_view(cluster.add_user(username, role, password))}

        return self._once(cluster, op_id, create)

    def op_delete_user(self, hsm, session, role, username, after, op_id=None):
        cluster = self._cluster(hsm)

        def delete():
            self._session(cluster, session, ADMIN_ROLES)
            self._writable(cluster, "user deletion")
            _check_user_quorum(cluster)
            user = cluster.user(username)
            if role != user["role"] and not (role == "CO" and user["role"] == "PCO"):
                raise HsmError("no_such_user", "user %s(%s) does not exist" % (username, role))
            if cluster.owns_keys(user["id"]):
                raise HsmError("user_owns_keys", "user %s owns keys" % user["name"])
            if (
                self._logged_in_elsewhere(cluster, user["name"], session)
                or self.sessions.get(session, {}).get("user") == user["name"]
            ):
                raise HsmError("user_logged_in", "user %s is logged in" % user["name"])
            del cluster.users[user["name"]]
            for key in cluster.keys.values():
                if user["id"] in key["shared"]:
                    key["shared"].remove(user["id"])
            return {"user": user_view(user)}

        return self._once(cluster, op_id, delete)

    def op_register_quorum_key(self, hsm, session, after, op_id=None):
        """The logged-in admin registers a quorum (token-sign) key. The simulator checks no signature."""
        cluster = self._cluster(hsm)

        def register():
            me = self._session(cluster, session, ADMIN_ROLES)
            self._writable(cluster, "quorum key registration")
            me["mofn"] = True
            return {"user": user_view(me)}

        return self._once(cluster, op_id, register)

    def op_set_user_quorum(self, hsm, session, value, after, op_id=None):
        """Set the M value of quorum for user management; it cannot exceed the admins with a quorum key."""
        cluster = self._cluster(hsm)

        def set_value():
            self._session(cluster, session, ADMIN_ROLES)
            self._writable(cluster, "a quorum value change")
            registered = sum(1 for u in cluster.users.values() if u["role"] in ADMIN_ROLES and u["mofn"])
            if not 1 <= int(value) <= max(registered, 1):
                raise HsmError(
                    "invalid_quorum",
                    "quorum value %s needs as many admins with a quorum key (%d)" % (value, registered),
                )
            cluster.user_quorum = int(value)
            return {"user_quorum": cluster.user_quorum}

        return self._once(cluster, op_id, set_value)

    # ------------------------------------------------------------------------------------------ mutual TLS
    @staticmethod
    def _mtls_cluster_check(cluster):
        if cluster.hsm_type not in mtls.MTLS_HSM_TYPES:
            raise HsmError(
                "mtls_unsupported",
                "mutual TLS needs hsm2m.medium HSMs; %s is %s" % (cluster.cluster_id, cluster.hsm_type),
            )

    @staticmethod
    def _anchor_views(cluster):
        return [
            {"reference": int(ref), "certificate": pem}
            for ref, pem in sorted(cluster.trust_anchors.items(), key=lambda item: int(item[0]))
        ]

    def op_list_trust_anchors(self, hsm, after):
        cluster = self._cluster(hsm)
        return {"trust_anchors": self._anchor_views(cluster)}

    def op_register_trust_anchor(self, hsm, session, certificate, after, op_id=None):
        cluster = self._cluster(hsm)

        def register():
            self._session(cluster, session, ADMIN_ROLES)
            self._writable(cluster, "mTLS trust anchor registration")
            self._mtls_cluster_check(cluster)
            pem = mtls.check_anchor(certificate)
            wanted = mtls.fingerprint(pem)
            if any(mtls.fingerprint(p) == wanted for p in cluster.trust_anchors.values()):
                raise HsmError("trust_anchor_exists", "this trust anchor is already registered")
            free = [n for n in range(1, mtls.MAX_TRUST_ANCHORS + 1) if str(n) not in cluster.trust_anchors]
            if not free:
                raise HsmError(
                    "trust_anchor_limit", "at most %d trust anchors can be registered" % mtls.MAX_TRUST_ANCHORS
                )
            cluster.trust_anchors[str(free[0])] = pem
            return {"reference": free[0], "certificate": pem}

        return self._once(cluster, op_id, register)

    def op_deregister_trust_anchor(self, hsm, session, reference, after, op_id=None):
        cluster = self._cluster(hsm)

        def deregister():
            self._session(cluster, session, ADMIN_ROLES)
            self._writable(cluster, "mTLS trust anchor deregistration")
            key = str(int(reference))
            if key not in cluster.trust_anchors:
                raise HsmError("no_such_trust_anchor", "no trust anchor has reference %s" % reference)
            if cluster.mtls_enforcement != "none" and len(cluster.trust_anchors) == 1:
                # Removing the last anchor of an enforcing cluster would lock every client out.
                raise HsmError("trust_anchor_in_use", "the last trust anchor of a cluster that enforces mTLS")
            del cluster.trust_anchors[key]
            return {"reference": int(key)}

        return self._once(cluster, op_id, deregister)

    def op_set_mtls_enforcement(self, hsm, session, level, after, op_id=None):
        cluster = self._cluster(hsm)
        client_cert = getattr(self._local, "client_cert", None)

        def set_level():
            self._session(cluster, session, ADMIN_ROLES)
            self._writable(cluster, "an mTLS enforcement change")
            self._mtls_cluster_check(cluster)
            if level not in mtls.ENFORCEMENT_LEVELS:
                raise HsmError("invalid_enforcement_level", "invalid enforcement level %s" % level)
            if level != "none":
                if not cluster.trust_anchors:
                    raise HsmError("no_trust_anchor", "register a trust anchor before enforcing mTLS")
                if not mtls.client_accepted(cluster.trust_anchors.values(), client_cert):
                    raise HsmError("mtls_client_not_trusted", "this client's own certificate is not accepted")
            cluster.mtls_enforcement = level
            return {"level": level}

        return self._once(cluster, op_id, set_level)

    def op_get_mtls_enforcement(self, hsm, session, after):
        cluster = self._cluster(hsm)
        self._session(cluster, session, ADMIN_ROLES + ("CU",))
        return {"level": cluster.mtls_enforcement}

    def op_change_password(self, hsm, session, role, username, password, after, op_id=None):
        cluster = self._cluster(hsm)

        def change():
            me = self._session(cluster, session)
            self._writable(cluster, "a user modification (password change)")
            target = cluster.user(username)
            if role != target["role"] and not (role == "CO" and target["role"] == "PCO"):
                raise HsmError("no_such_user", "user %s(%s) does not exist" % (username, role))
            if target["name"] != me["name"] and me["role"] not in ADMIN_ROLES:
                raise HsmError("access_denied", "only an admin may change another user's password")
            if target["name"] != me["name"] and self._logged_in_elsewhere(cluster, target["name"], session):
                raise HsmError("user_logged_in", "user %s is logged in" % target["name"])
            check_password(password)
            target["salt"], target["hash"] = hash_password(password)
            target["failures"] = 0
            if target["role"] == "PRECO":
                self._activate(cluster, target, after)
            return {"user": user_view(target)}

        return self._once(cluster, op_id, change)

    def _activate(self, cluster, admin, after):
        admin["role"] = "CO"  # two real runs show CO (not PCO) after the PRECO's password change
        cluster.activated = True
        cluster_id = cluster.cluster_id
        after.append(lambda: links.activate_cluster(cluster_id))

    def op_activate(self, hsm, password, after, op_id=None):
        cluster = self._cluster(hsm)

        def activate():
            if cluster.activated:
                raise HsmError("already_activated", "Cluster has already been activated")
            if not cluster.initialized and not self._local.initialized.get(cluster.cluster_id):
                raise HsmError("not_initialized", "the cluster is not initialized")
            admin = next((u for u in cluster.users.values() if u["role"] == "PRECO"), None)
            if admin is None:
                raise HsmError("already_activated", "Cluster has already been activated")
            check_password(password)
            admin["salt"], admin["hash"] = hash_password(password)
            self._activate(cluster, admin, after)
            return {}

        return self._once(cluster, op_id, activate)

    # ----------------------------------------------------------------------------------------------- keys
    def _visible(self, cluster, user, key):
        if user["role"] in ADMIN_ROLES:
            return True
        # Every user sees every public key (key list / findKey: "owns, shares, and all public keys").
        return key["owner"] == user["id"] or user["id"] in key["shared"] or key["class"] == "public-key"

    def op_list_keys(self, hsm, session, after, filters=None, offset=0, limit=None):
        cluster = self._cluster(hsm)
        user = self._session(cluster, session)
        matched = [
            k
            for k in _candidates(cluster, filters)
            if self._visible(cluster, user, k) and _matches(cluster, k, filters)
        ]
        page = matched[offset : offset + limit if limit is not None else None]
        return {"total": len(matched), "keys": [key_view(cluster, k) for k in page]}

    def op_get_key(self, hsm, handle, after):
        cluster = self._cluster(hsm)
        return {"key": key_view(cluster, cluster.key(handle))}

    def op_find_all_keys(self, hsm, session, user_id, after):
        cluster = self._cluster(hsm)
        self._session(cluster, session)
        entries = []
        user_id = int(user_id)
        for handle, key in sorted(cluster.keys.items()):
            if key.get("session"):
                continue  # token keys only (NOT CONFIRMED: no published findAllKeys shows a session key)
            if key["owner"] == user_id:
                entries.append([handle, "o"])
            elif user_id in key["shared"]:
                entries.append([handle, "s"])
            elif key["class"] == "public-key":
                entries.append([handle, None])  # another user's public key: listed bare
        return {"keys": entries}

    def op_generate_key(
        self,
        hsm,
        session,
        key_type,
        size,
        label,
        after,
        key_id="",
        extractable=True,
        share=(),
        session_key=False,
        attributes=None,
        manage_quorum=0,
        use_quorum=0,
        op_id=None,
    ):
        cluster = self._cluster(hsm)

        def generate():
            user = self._session(cluster, session, ("CU",))
            if not session_key:
                self._writable(cluster, "token key generation")
            if key_type not in KEY_TYPES:
                raise HsmError("invalid_key_type", "unsupported key type %s" % key_type)
            sizes = KEY_TYPES[key_type]
            if (sizes and size not in sizes) or not 1 <= size <= 800:
                raise HsmError("invalid_key_size", "invalid key size %s" % size)
            if key_id and any(k["id"] == key_id for k in cluster.keys.values()):
                raise HsmError("id_not_unique", "key id %s is not unique" % key_id)
            shared = _share_ids(cluster, user, share)
            quorum = _quorum_values(manage_quorum, use_quorum, 1 + len(shared))
            attrs = _initial_attributes(attributes, extractable)
            material = secrets.token_bytes(size)
            handle = cluster.allocate_handle()
            key = {
                "handle": handle,
                "label": label,
                "id": attrs.pop("id", key_id) or "",
                "class": "secret-key",
                "key_type": key_type,
                "size": size,
                "owner": user["id"],
                "shared": shared,
                "kcv": key_check_value(key_type, material),
                "sealed": seal(cluster.masking_key, material),
                "session": bool(session_key),
                "session_of": session if session_key else None,
                "attrs": attrs,
                "manage_quorum": quorum[0],
                "use_quorum": quorum[1],
            }
            cluster.keys[handle] = key
            return {"key": key_view(cluster, key)}

        return self._once(cluster, op_id, generate)

    def op_generate_key_pair(
        self,
        hsm,
        session,
        key_type,
        public_label,
        private_label,
        after,
        modulus_bits=None,
        public_exponent=65537,
        curve=None,
        public_id="",
        private_id="",
        public_attributes=None,
        private_attributes=None,
        extractable=True,
        share=(),
        session_key=False,
        manage_quorum=0,
        use_quorum=0,
        op_id=None,
    ):
        """An RSA or EC key pair: a public and a private key object linked to each other (``pair``)."""
        cluster = self._cluster(hsm)

        def generate():
            user = self._session(cluster, session, ("CU",))
            if not session_key:
                self._writable(cluster, "token key generation")
            if key_type == "rsa":
                if int(modulus_bits or 0) not in RSA_MODULUS_BITS:
                    raise HsmError("invalid_key_size", "invalid RSA modulus size %s" % modulus_bits)
                if int(public_exponent) < 65537 or int(public_exponent) % 2 == 0:
                    raise HsmError("invalid_key_size", "invalid RSA public exponent %s" % public_exponent)
                public = _random_modulus(int(modulus_bits))
                fields = {
                    "modulus": "0x" + public.hex(),
                    "modulus_bits": int(modulus_bits),
                    "public_exponent": "0x%06x" % int(public_exponent),
                }
            elif key_type == "ec":
                if curve not in EC_CURVES:
                    raise HsmError("invalid_key_type", "unsupported curve %s" % curve)
                public = _ec_point(EC_CURVES[curve])
                fields = {"ec_point": "0x" + public.hex(), "curve": curve}
            else:
                raise HsmError("invalid_key_type", "unsupported key pair type %s" % key_type)
            for key_id in (public_id, private_id):
                if key_id and any(k["id"] == key_id for k in cluster.keys.values()):
                    raise HsmError("id_not_unique", "key id %s is not unique" % key_id)
            shared = _share_ids(cluster, user, share)
            quorum = _quorum_values(manage_quorum, use_quorum, 1 + len(shared))
            kcv = key_check_value(key_type, public)
            handles = cluster.allocate_handle(), cluster.allocate_handle()
            made = []
            for handle, partner, key_class, label, key_id, attributes, material in (
                (handles[0], handles[1], "public-key", public_label, public_id, public_attributes, public),
                (
                    handles[1],
                    handles[0],
                    "private-key",
                    private_label,
                    private_id,
                    private_attributes,
                    secrets.token_bytes(len(public)),
                ),
            ):
                attrs = _initial_attributes(attributes, extractable if key_class == "private-key" else True)
                key = {
                    "handle": handle,
                    "label": label,
                    "id": attrs.pop("id", key_id) or "",
                    "class": key_class,
                    "key_type": key_type,
                    "size": len(public),
                    "owner": user["id"],
                    # Sharing and quorum values concern the private key; a public key is readable by everyone.
                    "shared": list(shared) if key_class == "private-key" else [],
                    "kcv": kcv,
                    "sealed": seal(cluster.masking_key, material),
                    "session": bool(session_key),
                    "session_of": session if session_key else None,
                    "attrs": attrs,
                    "manage_quorum": quorum[0] if key_class == "private-key" else 0,
                    "use_quorum": quorum[1] if key_class == "private-key" else 0,
                    "pair": partner,
                }
                key.update(fields)
                cluster.keys[handle] = key
                made.append(key)
            return {"public_key": key_view(cluster, made[0]), "private_key": key_view(cluster, made[1])}

        return self._once(cluster, op_id, generate)

    def op_share_key(self, hsm, session, after, users=(), share=True, handle=None, filters=None, op_id=None):
        """Share a key with crypto users, or stop sharing it (SDK 5 key share/unshare, SDK 3 shareKey)."""
        cluster = self._cluster(hsm)

        def change():
            user = self._session(cluster, session, ("CU",))
            key = self._select_one(cluster, user, handle, filters)
            if key["owner"] != user["id"]:
                raise HsmError("key_access_denied", "only the owner may share key %s" % key["handle"])
            if key["class"] == "public-key":
                raise HsmError("invalid_share", "public keys cannot be shared")
            if not key.get("session"):
                self._writable(cluster, "a key modification (sharing)")
            for target_id in _share_ids(cluster, user, users):
                if share and target_id in key["shared"]:
                    raise HsmError(
                        "already_shared", "key %s is already shared with user %s" % (key["handle"], target_id)
                    )
                if not share and target_id not in key["shared"]:
                    raise HsmError("not_shared", "key %s is not shared with user %s" % (key["handle"], target_id))
                if share:
                    key["shared"].append(target_id)
                else:
                    key["shared"].remove(target_id)
            self.dirty = True
            return {"key": key_view(cluster, key)}

        return self._once(cluster, op_id, change)

    def op_set_attribute(self, hsm, session, name, value, after, handle=None, filters=None, op_id=None):
        """Change one attribute of a key after it was made (SDK 5 key set-attribute, SDK 3 setAttribute)."""
        cluster = self._cluster(hsm)

        def change():
            user = self._session(cluster, session, ("CU",))
            key = self._select_one(cluster, user, handle, filters)
            if key["owner"] != user["id"]:
                raise HsmError("key_access_denied", "only the owner may change key %s" % key["handle"])
            if name not in CHANGEABLE_KEY_ATTRIBUTES or not key_view(cluster, key)["attributes"].get("modifiable"):
                raise HsmError("invalid_attribute", "attribute %s of key %s cannot be changed" % (name, key["handle"]))
            if not key.get("session"):
                self._writable(cluster, "a key attribute change")
            if name == "label":
                cluster.keys[key["handle"]] = dict(key, label=str(value))  # through the table: label index
            elif name == "id":
                key["id"] = str(value)
            else:
                key["attrs"][name] = value if isinstance(value, bool) else str(value).lower() == "true"
            self.dirty = True
            return {"key": key_view(cluster, cluster.keys[key["handle"]])}

        return self._once(cluster, op_id, change)

    def _select_one(self, cluster, user, handle=None, filters=None):
        if handle is not None:
            key = cluster.key(handle)
            if not self._visible(cluster, user, key):
                raise HsmError("no_such_key", "invalid key handle %s" % handle)
            return key
        matched = [
            k
            for k in _candidates(cluster, filters)
            if self._visible(cluster, user, k) and _matches(cluster, k, filters)
        ]
        if len(matched) != 1:
            raise HsmError(
                "key_selection",
                "Key selection criteria matched %d keys. Refine selection criteria to "
                "select a single key." % len(matched),
                count=len(matched),
            )
        return matched[0]

    def op_delete_key(self, hsm, session, after, handle=None, filters=None, op_id=None):
        cluster = self._cluster(hsm)

        def delete():
            user = self._session(cluster, session)
            key = self._select_one(cluster, user, handle, filters)
            if key["owner"] != user["id"]:
                raise HsmError("key_access_denied", "only the owner may delete key %s" % key["handle"])
            if not key.get("session"):
                self._writable(cluster, "token key deletion")
            del cluster.keys[key["handle"]]
            return {"key": key_view(cluster, key)}

        return self._once(cluster, op_id, delete)

    def _peer(self, src, dest_hsm, dest_session):
        dest = self._cluster(dest_hsm)
        if dest is src:
            raise HsmError("same_cluster", "source and destination are the same cluster")
        dest_user = self._session(dest, dest_session)
        return dest, dest_user

    def op_sync_key(self, hsm, session, dest_hsm, after, dest_session=None, handle=None, filters=None):
        """Copy one key as a masked object to a clone cluster (SDK 3 syncKey, SDK 5 key replicate)."""
        src = self._cluster(hsm)
        user = self._session(src, session, ADMIN_ROLES + ("CU",))
        key = self._select_one(src, user, handle, filters)
        if user["role"] == "CU" and key["owner"] != user["id"]:
            raise HsmError("key_access_denied", "crypto users may only replicate keys they own")
        dest, unused_dest_user = self._peer(src, dest_hsm, dest_session)
        material = unseal(dest.masking_key, key["sealed"])  # fails unless the clusters share a masking key
        names = [_user_name(src, key["owner"])] + [_user_name(src, uid) for uid in key["shared"]]
        missing = [name for name in names if name not in dest.users]
        if missing:
            raise HsmError(
                "missing_user", "user %s does not exist on the destination cluster" % missing[0], users=missing
            )
        if key["handle"] in dest.keys:
            raise HsmError(
                "key_exists",
                "a key with reference %s exists on the destination" % key["handle"],
                identical=dest.keys[key["handle"]]["kcv"] == key["kcv"],
            )
        self._writable(dest, "token key creation (key replication into it)")
        copy_ = json.loads(json.dumps(key))
        copy_["owner"] = dest.users[names[0]]["id"]
        copy_["shared"] = [dest.users[name]["id"] for name in names[1:]]
        copy_["sealed"] = seal(dest.masking_key, material)
        dest.keys[key["handle"]] = copy_
        dest.next_handle = max(dest.next_handle, key["handle"] + 1)
        self.dirty = True
        return {"key": key_view(dest, copy_), "destination_hsms": len(self._cluster_hsms(dest.cluster_id))}

    def op_sync_user(self, hsm, session, dest_hsm, after, dest_session=None, user_id=None, username=None, role=None):
        """Copy one user (with its credentials) to a clone cluster (SDK 3 syncUser, SDK 5 user replicate)."""
        src = self._cluster(hsm)
        self._session(src, session, ADMIN_ROLES)
        user = src.user_by_id(int(user_id)) if user_id is not None else src.user(username)
        if role and role != user["role"] and not (role == "CO" and user["role"] == "PCO"):
            raise HsmError("no_such_user", "user %s(%s) does not exist" % (username, role))
        dest, unused_dest_user = self._peer(src, dest_hsm, dest_session)
        if src.hsm_type == "hsm2m.medium" and dest.hsm_type == "hsm1.medium":
            # User guide (cloudhsm-cli user replicate; migrating to hsm2m.medium): not supported in this direction.
            raise HsmError(
                "replicate_to_older_type",
                "users cannot be replicated from hsm2m.medium cluster %s to hsm1.medium cluster %s"
                % (src.cluster_id, dest.cluster_id),
            )
        _check_user_quorum(src)
        _check_user_quorum(dest)
        if dest.masking_key != src.masking_key:
            raise HsmError("masking_key_mismatch", "the clusters do not share a masking key")
        if user["name"] in dest.users:
            raise HsmError(
                "user_exists",
                "user %s already exists on the destination" % user["name"],
                identical=dest.users[user["name"]]["hash"] == user["hash"],
            )
        self._writable(dest, "user creation (user replication into it)")
        copy_ = dict(user)
        if any(u["id"] == user["id"] for u in dest.users.values()):
            copy_["id"] = dest.next_user_id
        dest.users[user["name"]] = copy_
        dest.next_user_id = max(dest.next_user_id, copy_["id"] + 1)
        self.dirty = True
        return {"user": user_view(copy_), "destination_hsms": len(self._cluster_hsms(dest.cluster_id))}
