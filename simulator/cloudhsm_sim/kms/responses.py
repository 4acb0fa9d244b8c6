"""Handlers attached to moto's KmsResponse (the six custom key store operations, CreateKey, GenerateRandom) and the
wrappers that make KMS keys of a CloudHSM key store follow their store (key metadata, key state, crypto)."""

import json

from . import clusters, errors, hsm_users, stores

# Filled by install.install() with moto's own functions before they are replaced.
ORIGINALS = {}


def _handler(function):
    function.cloudhsm_sim = True
    return function


@_handler
def create_custom_key_store(self):
    store_id = stores.create(
        self.kms_backend,
        name=self._get_param("CustomKeyStoreName"),
        cluster_id=self._get_param("CloudHsmClusterId"),
        trust_anchor=self._get_param("TrustAnchorCertificate"),
        password=self._get_param("KeyStorePassword"),
        store_type=self._get_param("CustomKeyStoreType"),
    )
    return json.dumps({"CustomKeyStoreId": store_id})


@_handler
def connect_custom_key_store(self):
    stores.connect(self.kms_backend, self._get_param("CustomKeyStoreId"))
    return json.dumps({})


@_handler
def disconnect_custom_key_store(self):
    stores.disconnect(self.kms_backend, self._get_param("CustomKeyStoreId"))
    return json.dumps({})


@_handler
def update_custom_key_store(self):
    stores.update(
        self.kms_backend,
        self._get_param("CustomKeyStoreId"),
        new_name=self._get_param("NewCustomKeyStoreName"),
        password=self._get_param("KeyStorePassword"),
        cluster_id=self._get_param("CloudHsmClusterId"),
    )
    return json.dumps({})


@_handler
def delete_custom_key_store(self):
    backend = self.kms_backend
    in_use = {getattr(key, "cloudhsm_sim_store_id", None) for key in backend.keys.values()}
    stores.delete(backend, self._get_param("CustomKeyStoreId"), in_use)
    return json.dumps({})


@_handler
def describe_custom_key_stores(self):
    page, following = stores.describe(
        self.kms_backend,
        store_id=self._get_param("CustomKeyStoreId"),
        name=self._get_param("CustomKeyStoreName"),
        limit=self._get_param("Limit"),
        marker=self._get_param("Marker"),
    )
    result = {"CustomKeyStores": page, "Truncated": following is not None}
    if following is not None:
        result["NextMarker"] = following
    return json.dumps(result)


OPERATIONS = {
    "CreateCustomKeyStore": create_custom_key_store,
    "ConnectCustomKeyStore": connect_custom_key_store,
    "DisconnectCustomKeyStore": disconnect_custom_key_store,
    "UpdateCustomKeyStore": update_custom_key_store,
    "DeleteCustomKeyStore": delete_custom_key_store,
    "DescribeCustomKeyStores": describe_custom_key_stores,
}


# ----------------------------------------------------------------------------------------------- KMS keys


@_handler
def create_key(self):
    origin = self._get_param("Origin") or "AWS_KMS"
    store_id = self._get_param("CustomKeyStoreId")
    if origin != "AWS_CLOUDHSM" and store_id is None:
        return ORIGINALS["create_key"](self)
    if origin != "AWS_CLOUDHSM":
        raise errors.UnsupportedOperationException(
            "CustomKeyStoreId {0} needs Origin AWS_CLOUDHSM, not {1}.".format(store_id, origin))
    if store_id is None:
        raise errors.ValidationException("Origin AWS_CLOUDHSM needs a CustomKeyStoreId.")
    if self._get_param("MultiRegion"):
        raise errors.UnsupportedOperationException("You cannot create a multi-Region key in a custom key store.")
    key_spec = self._get_param("KeySpec") or self._get_param("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    key_usage = self._get_param("KeyUsage") or "ENCRYPT_DECRYPT"
    if key_spec != "SYMMETRIC_DEFAULT" or key_usage != "ENCRYPT_DECRYPT":
        raise errors.UnsupportedOperationException(
            "A custom key store holds only symmetric encryption keys (KeySpec SYMMETRIC_DEFAULT, KeyUsage "
            "ENCRYPT_DECRYPT), not {0} / {1}.".format(key_spec, key_usage))
    backend = self.kms_backend
    with stores.locked():
        store = stores.get_store(backend, store_id)
        if store.state != "CONNECTED":
            raise errors.CustomKeyStoreInvalidStateException(
                "Custom key store {0} is {1}; KMS keys can be created only in a CONNECTED key store.".format(
                    store_id, store.state))
        cluster = clusters.ClusterFacts(store.cluster_id, backend.account_id, backend.region_name)
        if len(cluster.active_zones()) < 2:
            raise errors.CloudHsmClusterInvalidConfigurationException(
                "CloudHSM cluster {0} has {1}; creating a KMS key needs at least two active HSMs in different "
                "Availability Zones.".format(store.cluster_id, cluster.hsm_summary()))
        created = json.loads(ORIGINALS["create_key"](self))
        key = backend.keys[created["KeyMetadata"]["KeyId"]]
        try:
            hsm_users.create_backing_key(store.cluster_id, key.arn)
        except Exception:
            del backend.keys[key.id]
            raise errors.KMSInternalException("KMS could not create the backing key in CloudHSM cluster {0}.".format(
                store.cluster_id))
        key.cloudhsm_sim_store_id = store.store_id
        key.cloudhsm_sim_cluster_id = store.cluster_id
        return json.dumps(key.to_dict())


@_handler
def generate_random(self):
    store_id = self._get_param("CustomKeyStoreId")
    if store_id is not None:
        store = stores.get_store(self.kms_backend, store_id)
        if store.state != "CONNECTED":
            raise errors.CustomKeyStoreInvalidStateException(
                "Custom key store {0} is {1}; GenerateRandom needs a CONNECTED key store.".format(
                    store_id, store.state))
    return ORIGINALS["generate_random"](self)


RESPONSE_OVERRIDES = {"create_key": create_key, "generate_random": generate_random}


def _store_of(key):
    from moto.kms.models import kms_backends

    store_id = getattr(key, "cloudhsm_sim_store_id", None)
    if store_id is None:
        return None
    backend = kms_backends[key.account_id][key.region]
    store = stores.stores_of(backend).get(store_id)
    if store is not None:
        stores.advance(store)
    return store


@_handler
def key_to_dict(self):
    result = ORIGINALS["Key.to_dict"](self)
    store_id = getattr(self, "cloudhsm_sim_store_id", None)
    if store_id is None:
        return result
    store = _store_of(self)
    metadata = result["KeyMetadata"]
    metadata["CustomKeyStoreId"] = store_id
    metadata["CloudHsmClusterId"] = store.cluster_id if store is not None else self.cloudhsm_sim_cluster_id
    if metadata["KeyState"] != "PendingDeletion" and (store is None or store.state != "CONNECTED"):
        metadata["KeyState"] = "Unavailable"
    return result


def check_usable(key):
    """Raise KMSInvalidStateException unless a KMS key of a CloudHSM key store can do cryptography now."""
    store = _store_of(key)
    if getattr(key, "cloudhsm_sim_store_id", None) is None:
        return
    if store is None or store.state != "CONNECTED":
        raise errors.KMSInvalidStateException(
            "{0} is unavailable. You cannot perform this operation on an unavailable KMS key.".format(key.arn))
    cluster = clusters.ClusterFacts(store.cluster_id, store.account, store.region)
    if not cluster.found or not cluster.active_hsms:
        raise errors.KMSInvalidStateException(
            "KMS cannot communicate with your CloudHSM cluster {0}. The cluster is {1}.".format(
                store.cluster_id, cluster.hsm_summary() if cluster.found else "not found"))
    if not hsm_users.has_backing_key(store.cluster_id, key.arn):
        raise errors.KMSInvalidStateException(
            "The backing key of {0} is not in CloudHSM cluster {1} (its label is the key ARN). Restore the "
            "cluster from a backup that holds it.".format(key.arn, store.cluster_id))


@_handler
def backend_encrypt(self, key_id, plaintext, encryption_context):
    check_usable(self.keys[self.any_id_to_key_id(key_id)])
    return ORIGINALS["KmsBackend.encrypt"](self, key_id=key_id, plaintext=plaintext,
                                           encryption_context=encryption_context)


@_handler
def backend_decrypt(self, ciphertext_blob, encryption_context, key_id=None):
    plaintext, arn = ORIGINALS["KmsBackend.decrypt"](self, ciphertext_blob=ciphertext_blob,
                                                     encryption_context=encryption_context, key_id=key_id)
    check_usable(self.keys[self.any_id_to_key_id(arn)])
    return plaintext, arn
