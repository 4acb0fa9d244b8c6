"""The HSM state of every simulated cluster: users, keys, the masking key, and the snapshots held by backups.

All HSMs of one cluster share one ``ClusterState``: the simulator keeps them synchronised, as AWS does. Roles are
stored with their SDK 3 names (PRECO, CO, PCO, CU, AU); the SDK 5 tools translate them for display.

Simulator differences (documented in docs/simulator.md): password hashes use PBKDF2 with few iterations so that
thousands of operations stay fast; key material is random bytes sealed with AES-GCM under the masking key.
"""

import copy
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PBKDF2_ITERATIONS = 1000
DEFAULT_PRECO_PASSWORD = "password"
MAX_LOGIN_FAILURES = 5
FIRST_KEY_HANDLE = 6  # the first key generated on a fresh cluster in a real run got handle 6
USER_ROLES = ("PRECO", "CO", "PCO", "CU", "AU")
ADMIN_ROLES = ("CO", "PCO")
_SEAL_AAD = b"cloudhsm-sim masked object"
# Whether a backup carries the trust anchors and mTLS enforcement level to a cluster restored from it. AWS does not
# say (NOT CONFIRMED); backups carry the HSM's configuration and policies, so they do here.
# CLOUDHSM_SIM_MTLS_IN_BACKUPS=0 makes new backups drop them, to prove the collection works either way.
MTLS_IN_BACKUPS = os.environ.get("CLOUDHSM_SIM_MTLS_IN_BACKUPS", "1") != "0"


class HsmError(Exception):
    """An HSM refused an operation. ``code`` is a stable identifier the client tools turn into their own wording."""

    def __init__(self, code, message="", **details):
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.details = details


def hash_password(password, salt=None):
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)
    return salt.hex(), digest.hex()


def verify_password(user, password):
    unused_salt, digest = hash_password(password, bytes.fromhex(user["salt"]))
    return hmac.compare_digest(digest, user["hash"])


def check_username(name):
    # SDK 3 documents letters, digits and "_"; SDK 5's own examples also use "-" (crypto-user-1, example-admin).
    if not name or len(name) > 31 or not all(c.isalnum() or c in "_-" for c in name) or not name.isascii():
        raise HsmError("invalid_username", "user name must be 1 to 31 letters, digits, underscores or hyphens")
    return name.lower()


def check_password(password):
    if password is None or not 7 <= len(password) <= 32:
        raise HsmError("invalid_password", "password must be 7 to 32 characters")


def seal(masking_key_hex, material):
    nonce = secrets.token_bytes(12)
    return (nonce + AESGCM(bytes.fromhex(masking_key_hex)).encrypt(nonce, material, _SEAL_AAD)).hex()


def unseal(masking_key_hex, sealed_hex):
    blob = bytes.fromhex(sealed_hex)
    try:
        return AESGCM(bytes.fromhex(masking_key_hex)).decrypt(blob[:12], blob[12:], _SEAL_AAD)
    except InvalidTag:
        raise HsmError("masking_key_mismatch", "the masked object cannot be unmasked with this cluster's masking key")


def key_check_value(key_type, material):
    if key_type == "aes":
        encryptor = Cipher(algorithms.AES(material), modes.ECB()).encryptor()
        return "0x" + (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex()
    return "0x" + hashlib.sha1(material).digest()[:3].hex()


def new_user(user_id, name, role, password):
    salt, digest = hash_password(password)
    return {
        "id": user_id,
        "name": name,
        "role": role,
        "salt": salt,
        "hash": digest,
        "failures": 0,
        "mofn": False,
        "two_factor": False,
    }


class KeyTable(dict):
    """handle -> key; keeps a label index (rebuilt lazily after a change) so filters by label stay cheap."""

    def __init__(self, *args):
        super().__init__(*args)
        self.version = 0
        self._index = (-1, {})

    def __setitem__(self, handle, key):
        super().__setitem__(handle, key)
        self.version += 1

    def __delitem__(self, handle):
        super().__delitem__(handle)
        self.version += 1

    def by_label(self, label):
        version, index = self._index
        if version != self.version:
            index = {}
            for handle, key in self.items():
                index.setdefault(key["label"], []).append(handle)
            self._index = (self.version, index)
        return sorted(index.get(label, ()))


class ClusterState:
    """Users, keys and masking key of one cluster (every HSM of the cluster sees the same state)."""

    def __init__(self, cluster_id, account="", region="", hsm_type="hsm1.medium"):
        self.cluster_id = cluster_id
        self.account = account
        self.region = region
        self.hsm_type = hsm_type
        self.mode = "FIPS"
        self.masking_key = secrets.token_bytes(32).hex()
        self.users = {}  # lower-case name -> user dict
        self.keys = KeyTable()  # handle -> key dict
        self.next_user_id = 1
        self.next_handle = FIRST_KEY_HANDLE
        self.initialized = False
        self.activated = False
        # Quorum (M of N) for user management: the M value; below 2 no approval is needed. Set by an admin once
        # enough admins registered quorum keys; backups carry it (HSM configuration and policies).
        self.user_quorum = 0
        # Mutual TLS (hsm2m.medium): registered trust anchors (reference -> PEM; at most two) and the enforcement
        # level ("none" or "client-and-server").
        self.trust_anchors = {}
        self.mtls_enforcement = "none"
        # While an HSM-type migration or rollback runs: the control-plane state (MODIFY_IN_PROGRESS or
        # ROLLBACK_IN_PROGRESS) that puts the HSMs in limited-write mode; None otherwise.
        self.limited_write = None
        self.applied_ops = {}  # op id -> stored outcome, so a command repeated on a second HSM applies once

    @classmethod
    def fresh(cls, cluster_id, account="", region="", hsm_type="hsm1.medium"):
        cluster = cls(cluster_id, account, region, hsm_type)
        cluster.add_user("admin", "PRECO", DEFAULT_PRECO_PASSWORD)
        cluster.add_user("app_user", "AU", secrets.token_urlsafe(24))
        return cluster

    # -- snapshots (backups) ------------------------------------------------------------------------------------
    def snapshot(self):
        return {
            "masking_key": self.masking_key,
            "users": copy.deepcopy(self.users),
            "keys": {str(h): copy.deepcopy(k) for h, k in self.keys.items() if not k.get("session")},
            "next_user_id": self.next_user_id,
            "next_handle": self.next_handle,
            "activated": self.activated,
            "hsm_type": self.hsm_type,
            "mode": self.mode,
            "user_quorum": self.user_quorum,
            "mtls_in_backup": MTLS_IN_BACKUPS,
            "trust_anchors": dict(self.trust_anchors),
            "mtls_enforcement": self.mtls_enforcement,
        }

    @classmethod
    def from_snapshot(cls, cluster_id, snapshot, account="", region="", hsm_type=None):
        cluster = cls(cluster_id, account, region, hsm_type or snapshot.get("hsm_type", "hsm1.medium"))
        cluster.masking_key = snapshot["masking_key"]
        cluster.mode = snapshot.get("mode", "FIPS")
        cluster.users = copy.deepcopy(snapshot["users"])
        cluster.keys = KeyTable({int(h): copy.deepcopy(k) for h, k in snapshot["keys"].items()})
        cluster.next_user_id = snapshot["next_user_id"]
        cluster.next_handle = snapshot["next_handle"]
        cluster.user_quorum = snapshot.get("user_quorum", 0)
        if snapshot.get("mtls_in_backup", True):
            cluster.trust_anchors = dict(snapshot.get("trust_anchors") or {})
            cluster.mtls_enforcement = snapshot.get("mtls_enforcement", "none")
        # A cluster restored from a backup of an active cluster is active itself (AWS: "don't initialize or
        # activate it").
        cluster.activated = cluster.initialized = snapshot.get("activated", False)
        return cluster

    def to_dict(self):
        data = self.snapshot()
        data.update(cluster_id=self.cluster_id, account=self.account, region=self.region, initialized=self.initialized,
                    limited_write=self.limited_write)
        data["mtls_in_backup"] = True  # the saved state of a live cluster always keeps its mTLS settings
        return data

    @classmethod
    def from_dict(cls, data):
        cluster = cls.from_snapshot(data["cluster_id"], data, data.get("account", ""), data.get("region", ""))
        cluster.initialized = data.get("initialized", cluster.initialized)
        cluster.activated = data.get("activated", False)
        cluster.limited_write = data.get("limited_write")
        return cluster

    # -- users ----------------------------------------------------------------------------------------------------
    def add_user(self, name, role, password, user_id=None):
        name = check_username(name)
        if role not in USER_ROLES:
            raise HsmError("invalid_user_type", "invalid user type %s" % role)
        if name in self.users:
            raise HsmError("user_exists", "user %s already exists" % name)
        if user_id is None:
            user_id = self.next_user_id
        self.next_user_id = max(self.next_user_id, user_id + 1)
        user = new_user(user_id, name, role, password)
        self.users[name] = user
        return user

    def user(self, name):
        user = self.users.get((name or "").lower())
        if user is None:
            raise HsmError("no_such_user", "user %s does not exist" % name)
        return user

    def user_by_id(self, user_id):
        for user in self.users.values():
            if user["id"] == user_id:
                return user
        raise HsmError("no_such_user", "user id %s does not exist" % user_id)

    def users_sorted(self):
        return sorted(self.users.values(), key=lambda u: u["id"])

    # -- keys -----------------------------------------------------------------------------------------------------
    def key(self, handle):
        key = self.keys.get(int(handle))
        if key is None:
            raise HsmError("no_such_key", "invalid key handle %s" % handle)
        return key

    def allocate_handle(self):
        handle = self.next_handle
        self.next_handle += 1
        return handle

    def keys_of_user(self, user_id):
        """Handles a user owns or shares, in handle order."""
        return [k for h, k in sorted(self.keys.items()) if k["owner"] == user_id or user_id in k["shared"]]

    def owns_keys(self, user_id):
        return any(k["owner"] == user_id for k in self.keys.values())
