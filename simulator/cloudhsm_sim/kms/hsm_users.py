"""What KMS does on a cluster's HSMs: log in as ``kmsuser``, rotate its password, keep backing keys.

The data plane (``cloudhsm_sim.dataplane``) offers no query functions for this yet, so this adapter reads and
changes its model (``STATE.clusters[...]``, ``STATE.sessions``) under the data plane's own lock. Never call the
control plane while holding that lock: the control plane emits events into the data plane.
"""

import secrets
import string
import time

KMSUSER = "kmsuser"
_ALPHANUMERIC = string.ascii_letters + string.digits
BACKING_KEY_BYTES = 32


def _dataplane():
    from .. import dataplane

    return dataplane


def _logged_in(state, cluster_id, name):
    from ..dataplane.service import SESSION_IDLE_SECONDS

    now = time.monotonic()
    return any(
        session["cluster_id"] == cluster_id and session["user"] == name and now - session["seen"] <= SESSION_IDLE_SECONDS
        for session in state.sessions.values()
    )


def kmsuser_status(cluster_id):
    """dict(exists, crypto_user, locked, logged_in) of the cluster's kmsuser."""
    dataplane = _dataplane()
    from ..dataplane.model import MAX_LOGIN_FAILURES

    state = dataplane.STATE
    with state.lock:
        cluster = state.clusters.get(cluster_id)
        user = cluster.users.get(KMSUSER) if cluster is not None else None
        if user is None:
            return {"exists": False, "crypto_user": False, "locked": False, "logged_in": False}
        return {
            "exists": True,
            "crypto_user": user["role"] == "CU",
            "locked": user["failures"] >= MAX_LOGIN_FAILURES,
            "logged_in": _logged_in(state, cluster_id, KMSUSER),
        }


def log_in_and_rotate(cluster_id, password):
    """KMS's log-in as kmsuser during a connect. Returns (ConnectionErrorCode or None, rotated password or None).

    A wrong password counts as a failed log-in (five lock the user out, as on the HSM). On success the password
    is changed to a random one that only KMS knows, as AWS KMS does on every connect.
    """
    dataplane = _dataplane()
    from ..dataplane.model import MAX_LOGIN_FAILURES, hash_password, verify_password

    state = dataplane.STATE
    with state.lock:
        cluster = state.clusters.get(cluster_id)
        user = cluster.users.get(KMSUSER) if cluster is not None else None
        if user is None or user["role"] != "CU":
            return "USER_NOT_FOUND", None
        if user["failures"] >= MAX_LOGIN_FAILURES:
            return "USER_LOCKED_OUT", None
        if _logged_in(state, cluster_id, KMSUSER):
            return "USER_LOGGED_IN", None
        if user.get("two_factor") or not verify_password(user, password or ""):
            user["failures"] += 1
            state.dirty = True
            return "INVALID_CREDENTIALS", None
        rotated = "".join(secrets.choice(_ALPHANUMERIC) for unused_position in range(32))
        user["salt"], user["hash"] = hash_password(rotated)
        user["failures"] = 0
        state.dirty = True
        return None, rotated


def create_backing_key(cluster_id, label):
    """A non-extractable 256-bit AES key owned by kmsuser, labelled with the KMS key ARN. Returns its handle."""
    dataplane = _dataplane()
    from ..dataplane.model import key_check_value, seal

    state = dataplane.STATE
    with state.lock:
        cluster = state.clusters[cluster_id]
        owner = cluster.users[KMSUSER]["id"]
        material = secrets.token_bytes(BACKING_KEY_BYTES)
        handle = cluster.allocate_handle()
        cluster.keys[handle] = {
            "handle": handle, "label": label, "id": "", "class": "secret-key", "key_type": "aes",
            "size": BACKING_KEY_BYTES, "owner": owner, "shared": [], "kcv": key_check_value("aes", material),
            "sealed": seal(cluster.masking_key, material), "session": False,
            "attrs": {"extractable": False, "never-extractable": True, "encrypt": True, "decrypt": True,
                      "wrap": True, "unwrap": True, "sign": False, "verify": False},
        }
        state.dirty = True
        return handle


def has_backing_key(cluster_id, label):
    dataplane = _dataplane()
    state = dataplane.STATE
    with state.lock:
        cluster = state.clusters.get(cluster_id)
        return cluster is not None and any(key["label"] == label for key in cluster.keys.values())
