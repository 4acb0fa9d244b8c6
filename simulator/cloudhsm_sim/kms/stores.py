"""AWS_CLOUDHSM custom key stores: state, connection state machine and the six operations.

Stores live on moto's per-account, per-region ``KmsBackend`` (so moto's reset forgets them). One lock guards them;
it is taken before any control-plane or data-plane call, and those two never call back into KMS.

Connection states: DISCONNECTED -> CONNECTING -> CONNECTED or FAILED (with a ConnectionErrorCode); CONNECTED,
CONNECTING or FAILED -> DISCONNECTING -> DISCONNECTED. CONNECTING and DISCONNECTING last ``delays`` seconds (0:
done at the next read); the outcome of a connect is decided when CONNECTING ends, from the cluster and kmsuser as
they are then.
"""

import collections
import re
import secrets
import threading
import time

from . import clusters, errors, hsm_users

STORE_QUOTA = 10
ENV_CONNECT_SECONDS = "CLOUDHSM_SIM_KMS_CONNECT_SECONDS"
ENV_DISCONNECT_SECONDS = "CLOUDHSM_SIM_KMS_DISCONNECT_SECONDS"

_lock = threading.RLock()
_DEFAULT_DELAYS = {"connect": 0.0, "disconnect": 0.0}
_delays = dict(_DEFAULT_DELAYS)


def locked():
    return _lock


def set_delays(connect=None, disconnect=None):
    """Seconds CONNECTING and DISCONNECTING last (real connects take up to 20 minutes). Returns the settings."""
    with _lock:
        for name, value in (("connect", connect), ("disconnect", disconnect)):
            if value is not None:
                value = float(value)
                if value < 0:
                    raise ValueError("{0} seconds must not be negative".format(name))
                _delays[name] = value
        return dict(_delays)


def get_delays():
    with _lock:
        return dict(_delays)


def reset_delays():
    with _lock:
        _delays.clear()
        _delays.update(_DEFAULT_DELAYS)
        return dict(_delays)


class CustomKeyStore:
    def __init__(self, account, region, name, cluster, trust_anchor, password):
        self.store_id = "cks-" + secrets.token_hex(9)[:17]
        self.account = account
        self.region = region
        self.name = name
        self.cluster_id = cluster.cluster_id
        self.cluster_certificate = cluster.certificate
        self.trust_anchor = trust_anchor
        self.password = password  # what KMS believes the kmsuser password is; rotated on every connect
        self.creation_date = time.time()
        self.state = "DISCONNECTED"
        self.error_code = None
        self.pending = None  # (due time, "connect" | "disconnect")

    def to_api(self):
        result = {
            "CustomKeyStoreId": self.store_id,
            "CustomKeyStoreName": self.name,
            "CloudHsmClusterId": self.cluster_id,
            "TrustAnchorCertificate": self.trust_anchor,
            "ConnectionState": self.state,
            "CreationDate": self.creation_date,
            "CustomKeyStoreType": "AWS_CLOUDHSM",
        }
        if self.state == "FAILED" and self.error_code:
            result["ConnectionErrorCode"] = self.error_code
        return result


def stores_of(backend):
    """The key stores of one KmsBackend (account and region), in creation order."""
    stores = getattr(backend, "cloudhsm_sim_custom_key_stores", None)
    if stores is None:
        stores = collections.OrderedDict()
        backend.cloudhsm_sim_custom_key_stores = stores
    return stores


# ----------------------------------------------------------------------------------------------- transitions


def advance(store):
    """Finish CONNECTING / DISCONNECTING when its time has come."""
    with _lock:
        if store.pending is None or store.pending[0] > time.time():
            return
        kind = store.pending[1]
        store.pending = None
        if kind == "disconnect":
            store.state, store.error_code = "DISCONNECTED", None
            return
        code = _connect_outcome(store)
        if code is None:
            store.state, store.error_code = "CONNECTED", None
        else:
            store.state, store.error_code = "FAILED", code


def _connect_outcome(store):
    """The ConnectionErrorCode a connect ends with now, or None when it succeeds (then kmsuser is rotated)."""
    cluster = clusters.ClusterFacts(store.cluster_id, store.account, store.region)
    if not cluster.found:
        return "CLUSTER_NOT_FOUND"
    if not cluster.active_hsms:
        return "INSUFFICIENT_CLOUDHSM_HSMS"
    if cluster.missing_subnets():
        return "SUBNET_NOT_FOUND"
    code, rotated = hsm_users.log_in_and_rotate(store.cluster_id, store.password)
    if code is None:
        store.password = rotated
    return code


def advance_all(backend):
    with _lock:
        for store in list(stores_of(backend).values()):
            advance(store)


# ----------------------------------------------------------------------------------------------- validation


def _check_name(name, field="customKeyStoreName"):
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise errors.validation(field, name, "Member must have length between 1 and 256")


def _check_password(password):
    if not isinstance(password, str) or not 7 <= len(password) <= 32:
        # The value is never echoed: it is a secret.
        raise errors.ValidationException(
            "1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: "
            "Member must have length between 7 and 32"
        )


def _check_cluster_id(cluster_id):
    if not isinstance(cluster_id, str) or not re.fullmatch(r"cluster-[2-7a-zA-Z]{11,16}", cluster_id):
        raise errors.validation("cloudHsmClusterId", cluster_id,
                                "Member must satisfy regular expression pattern: cluster-[2-7a-zA-Z]{11,16}")


def _usable_cluster(backend, cluster_id):
    """The cluster facts, or the exception Create/Update raise for a cluster KMS cannot use."""
    cluster = clusters.ClusterFacts(cluster_id, backend.account_id, backend.region_name)
    if not cluster.found:
        raise errors.CloudHsmClusterNotFoundException(
            "KMS cannot find CloudHSM cluster {0} in account {1} region {2}. A key store can only use a cluster "
            "in its own account and Region.".format(cluster_id, backend.account_id, backend.region_name)
        )
    return cluster


def _require_active(cluster):
    if cluster.state != "ACTIVE":
        raise errors.CloudHsmClusterNotActiveException(
            "CloudHSM cluster {0} is {1}, not ACTIVE. Initialize and activate the cluster and try the command "
            "again.".format(cluster.cluster_id, cluster.state)
        )


def _require_two_hsms(cluster):
    if len(cluster.subnet_mapping) < 2:
        raise errors.CloudHsmClusterInvalidConfigurationException(
            "CloudHSM cluster {0} has subnets in {1} Availability Zone(s); a key store needs private subnets in "
            "at least two.".format(cluster.cluster_id, len(cluster.subnet_mapping))
        )
    if len(cluster.active_zones()) < 2:
        raise errors.CloudHsmClusterInvalidConfigurationException(
            "CloudHSM cluster {0} has {1}; it must have at least two active HSMs, each in a different "
            "Availability Zone. Add HSMs with the CloudHSM CreateHsm operation.".format(
                cluster.cluster_id, cluster.hsm_summary())
        )


def _same_pem(left, right):
    return "".join((left or "").split()) == "".join((right or "").split())


def get_store(backend, store_id=None, name=None):
    stores = stores_of(backend)
    for store in stores.values():
        if (store_id is not None and store.store_id == store_id) or (name is not None and store.name == name):
            advance(store)
            return store
    raise errors.CustomKeyStoreNotFoundException(
        "Custom key store {0} was not found in account {1} region {2}.".format(
            store_id if store_id is not None else name, backend.account_id, backend.region_name)
    )


def _invalid_state(store, operation, allowed):
    return errors.CustomKeyStoreInvalidStateException(
        "{0} is not valid for custom key store {1} in ConnectionState {2}; it needs {3}.".format(
            operation, store.store_id, store.state, " or ".join(allowed))
    )


# ----------------------------------------------------------------------------------------------- operations


def create(backend, name, cluster_id, trust_anchor, password, store_type=None):
    with _lock:
        advance_all(backend)
        if store_type not in (None, "AWS_CLOUDHSM"):
            raise errors.UnsupportedOperationException(
                "This simulator supports only CustomKeyStoreType AWS_CLOUDHSM, not {0}.".format(store_type))
        _check_name(name)
        for field, value in (("CloudHsmClusterId", cluster_id), ("TrustAnchorCertificate", trust_anchor),
                             ("KeyStorePassword", password)):
            if value is None:
                raise errors.ValidationException(
                    "{0} is required to create an AWS_CLOUDHSM custom key store.".format(field))
        _check_cluster_id(cluster_id)
        _check_password(password)
        if not 1 <= len(trust_anchor) <= 5000:
            raise errors.validation("trustAnchorCertificate", "...", "Member must have length between 1 and 5000")
        stores = stores_of(backend)
        for store in stores.values():
            # An identical request for a disconnected store is taken as a retry: the existing id is returned.
            if (store.name == name and store.cluster_id == cluster_id and store.state == "DISCONNECTED"
                    and _same_pem(store.trust_anchor, trust_anchor) and store.password == password):
                return store.store_id
        if any(store.name == name for store in stores.values()):
            raise errors.CustomKeyStoreNameInUseException(
                "Custom key store name {0} is already used by another custom key store in account {1} region "
                "{2}.".format(name, backend.account_id, backend.region_name))
        cluster = _usable_cluster(backend, cluster_id)
        for store in stores.values():
            if store.cluster_id == cluster_id or (cluster.certificate and store.cluster_certificate == cluster.certificate):
                raise errors.CloudHsmClusterInUseException(
                    "CloudHSM cluster {0} is already associated with custom key store {1}, or shares a backup "
                    "history (cluster certificate) with its cluster {2}. Each key store needs a different "
                    "cluster.".format(cluster_id, store.store_id, store.cluster_id))
        _require_active(cluster)
        _require_two_hsms(cluster)
        if not _same_pem(cluster.trust_anchor, trust_anchor):
            raise errors.IncorrectTrustAnchorException(
                "The trust anchor certificate is not the one CloudHSM cluster {0} was initialized with (the "
                "customerCA.crt file made at initialization).".format(cluster_id))
        if len(stores) >= STORE_QUOTA:
            raise errors.LimitExceededException(
                "Account {0} already has {1} custom key stores in region {2}; the quota is {1}.".format(
                    backend.account_id, STORE_QUOTA, backend.region_name))
        store = CustomKeyStore(backend.account_id, backend.region_name, name, cluster, trust_anchor, password)
        stores[store.store_id] = store
        return store.store_id


def connect(backend, store_id):
    with _lock:
        store = get_store(backend, store_id)
        if store.state in ("CONNECTED", "CONNECTING"):
            return
        if store.state != "DISCONNECTED":
            raise _invalid_state(store, "ConnectCustomKeyStore", ["DISCONNECTED", "CONNECTED", "CONNECTING"])
        cluster = clusters.ClusterFacts(store.cluster_id, backend.account_id, backend.region_name)
        if cluster.found:
            _require_active(cluster)
            if cluster.hsm_count == 0:
                raise errors.CloudHsmClusterInvalidConfigurationException(
                    "CloudHSM cluster {0} has no HSM; connecting a key store needs at least one active HSM. Add "
                    "HSMs with the CloudHSM CreateHsm operation.".format(cluster.cluster_id))
        store.state, store.error_code = "CONNECTING", None
        store.pending = (time.time() + _delays["connect"], "connect")


def disconnect(backend, store_id):
    with _lock:
        store = get_store(backend, store_id)
        if store.state in ("DISCONNECTED", "DISCONNECTING"):
            raise _invalid_state(store, "DisconnectCustomKeyStore", ["CONNECTED", "CONNECTING", "FAILED"])
        store.state = "DISCONNECTING"
        store.pending = (time.time() + _delays["disconnect"], "disconnect")


def update(backend, store_id, new_name=None, password=None, cluster_id=None):
    with _lock:
        advance_all(backend)
        store = get_store(backend, store_id)
        if new_name is not None:
            _check_name(new_name, "newCustomKeyStoreName")
        if password is not None:
            _check_password(password)
        if cluster_id is not None:
            _check_cluster_id(cluster_id)
        needs_disconnected = password is not None or cluster_id is not None
        allowed = ["DISCONNECTED"] if needs_disconnected else ["CONNECTED", "DISCONNECTED"]
        if store.state not in allowed:
            raise _invalid_state(store, "UpdateCustomKeyStore", allowed)
        if new_name is not None and new_name != store.name and any(
                other.name == new_name for other in stores_of(backend).values()):
            raise errors.CustomKeyStoreNameInUseException(
                "Custom key store name {0} is already used by another custom key store in account {1} region "
                "{2}.".format(new_name, backend.account_id, backend.region_name))
        cluster = None
        if cluster_id is not None and cluster_id != store.cluster_id:
            cluster = _usable_cluster(backend, cluster_id)
            if not clusters.related(store.cluster_certificate, store.cluster_id, cluster):
                raise errors.CloudHsmClusterNotRelatedException(
                    "CloudHSM cluster {0} has a different cluster certificate than cluster {1} of custom key store "
                    "{2}; they share no backup history. Specify a cluster created from a backup of {1} (or from "
                    "the backup {1} came from), or create a new key store for an unrelated cluster.".format(
                        cluster_id, store.cluster_id, store.store_id))
        elif cluster_id is not None:
            cluster = _usable_cluster(backend, cluster_id)
        if cluster is not None:
            _require_active(cluster)
            _require_two_hsms(cluster)
        if new_name is not None:
            store.name = new_name
        if password is not None:
            store.password = password
        if cluster is not None:
            store.cluster_id = cluster.cluster_id
            store.cluster_certificate = cluster.certificate or store.cluster_certificate


def delete(backend, store_id, key_store_ids_in_use):
    with _lock:
        store = get_store(backend, store_id)
        if store.state != "DISCONNECTED":
            raise _invalid_state(store, "DeleteCustomKeyStore", ["DISCONNECTED"])
        if store.store_id in key_store_ids_in_use:
            raise errors.CustomKeyStoreHasCMKsException(
                "Custom key store {0} contains KMS keys. Schedule their deletion (ScheduleKeyDeletion) and wait "
                "for it to complete before deleting the key store.".format(store.store_id))
        del stores_of(backend)[store.store_id]


def describe(backend, store_id=None, name=None, limit=None, marker=None):
    with _lock:
        advance_all(backend)
        if store_id is not None and name is not None:
            raise errors.ValidationException("Specify CustomKeyStoreId or CustomKeyStoreName, not both.")
        if store_id is not None or name is not None:
            return [get_store(backend, store_id, name).to_api()], None
        everything = [store.to_api() for store in stores_of(backend).values()]
        if limit is not None and not (isinstance(limit, int) and 1 <= limit <= 1000):
            raise errors.validation("limit", limit, "Member must have value between 1 and 1000")
        limit = limit or 1000
        start = 0
        if marker is not None:
            if not (isinstance(marker, str) and marker.startswith("cks-offset-") and marker[11:].isdigit()):
                raise errors.InvalidMarkerException("Marker {0} is not valid.".format(marker))
            start = int(marker[11:])
        page = everything[start:start + limit]
        following = "cks-offset-{0}".format(start + limit) if start + limit < len(everything) else None
        return page, following
