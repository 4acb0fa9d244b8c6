# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared logic of the KMS custom key store modules (CustomKeyStoreType AWS_CLOUDHSM).

Look-ups, normalisation, the connection-state waits (through the one StateWaiter of module_utils.cloudhsm), the
cluster checks that can be made before changing anything, and what each ConnectionErrorCode means for the user.
"""

from __future__ import annotations

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import CloudHsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import StateWaiter

KMS_RETRY = AWSRetry.jittered_backoff(retries=10, catch_extra_error_codes=["KMSInternalException"])

CONNECTION_STATES = ("CONNECTED", "CONNECTING", "FAILED", "DISCONNECTED", "DISCONNECTING")

# ConnectionErrorCode -> what it means and how to fix it (AWS KMS developer guide, "Troubleshooting a custom key
# store"). Every message is completed with the store and cluster ids.
CONNECTION_ERROR_FIXES = {
    "INVALID_CREDENTIALS": (
        "KMS could not log in to the cluster as kmsuser with the password it holds (KMS rotates that password on "
        "every connect, so a cluster restored from a backup taken before the last connect has an older one). "
        "Fix: set the kmsuser password on the cluster as a crypto officer, give the same password in "
        "kmsuser_password with update_password=always, and run again. Five failed log-ins lock kmsuser out."
    ),
    "USER_NOT_FOUND": (
        "The cluster has no kmsuser crypto user (CU), or not on every HSM. Fix: create the crypto user kmsuser "
        "with the password given to KMS (for example with hsmops.cloudhsm.cloudhsm_user), without 2FA, and run again."
    ),
    "USER_LOGGED_IN": (
        "kmsuser is logged in to the cluster, so KMS cannot log in with it. Fix: log kmsuser out (end every "
        "client session that uses it) and run again. Do not use kmsuser for anything else."
    ),
    "USER_LOCKED_OUT": (
        "kmsuser is locked after too many failed log-ins. Fix: change the kmsuser password on the cluster as a "
        "crypto officer, give the new password in kmsuser_password with update_password=always, and run again."
    ),
    "CLUSTER_NOT_FOUND": (
        "KMS cannot find the cluster (it was deleted, or is in another Region). Fix: create a cluster from its "
        "newest backup in this Region, add two HSMs in different Availability Zones, and repoint the store with "
        "cluster_id=<the new cluster> (see the restore_in_region playbook)."
    ),
    "INSUFFICIENT_CLOUDHSM_HSMS": (
        "The cluster has no active HSM. Fix: add HSMs (two, in different Availability Zones, are needed to create "
        "KMS keys) and run again."
    ),
    "SUBNET_NOT_FOUND": (
        "A subnet of the cluster configuration no longer exists. Fix: create a cluster from the newest backup "
        "with subnets that exist in two Availability Zones, add two HSMs, and repoint the store to it."
    ),
    "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET": (
        "A cluster subnet has no free IP address for the network interface KMS creates. Fix: free addresses in "
        "the subnets, or create a cluster from a backup in larger subnets and repoint the store to it."
    ),
    "NETWORK_ERRORS": (
        "KMS cannot reach the cluster over the network. Fix: keep the inbound and outbound TCP 2223-2225 rules "
        "of the cluster security group (cloudhsm-cluster-<id>-sg) that refer to the group itself, and check the "
        "subnets' network ACLs, then run again."
    ),
    "INTERNAL_ERROR": "KMS failed internally. Fix: run again (the store is disconnected and connected again).",
}


class KeyStoreConnectionError(CloudHsmError):
    """A connect ended in FAILED; ``code`` is the ConnectionErrorCode."""

    def __init__(self, message, code, store):
        super(KeyStoreConnectionError, self).__init__(message)
        self.code = code
        self.store = store


def kms_client(module, region=None):
    extra = {}
    if region:
        extra["region"] = region
    return module.client("kms", retry_decorator=KMS_RETRY, **extra)


def get_store(client, store_id=None, name=None):
    """The key store (raw API shape) by id or name, or None when it does not exist."""
    params = {"CustomKeyStoreId": store_id} if store_id else {"CustomKeyStoreName": name}
    try:
        stores = client.describe_custom_key_stores(aws_retry=True, **params).get("CustomKeyStores") or []
    except is_boto3_error_code("CustomKeyStoreNotFoundException"):
        return None
    return stores[0] if stores else None


def list_stores(client):
    stores = []
    params = {}
    while True:
        page = client.describe_custom_key_stores(aws_retry=True, **params)
        stores.extend(page.get("CustomKeyStores") or [])
        if not page.get("Truncated") or not page.get("NextMarker"):
            return stores
        params["Marker"] = page["NextMarker"]


def keys_in_store(client, store_id):
    """The KMS keys of a key store (KeyMetadata, raw), found with ListKeys and DescribeKey."""
    found = []
    params = {}
    while True:
        page = client.list_keys(aws_retry=True, **params)
        for entry in page.get("Keys") or []:
            metadata = client.describe_key(aws_retry=True, KeyId=entry["KeyId"])["KeyMetadata"]
            if metadata.get("CustomKeyStoreId") == store_id:
                found.append(metadata)
        if not page.get("Truncated") or not page.get("NextMarker"):
            return found
        params["Marker"] = page["NextMarker"]


def normalize_store(store):
    """A key store as the modules return it (snake_case, creation date as ISO text)."""
    if store is None:
        return None
    result = camel_dict_to_snake_dict(normalize_boto3_result(dict(store)))
    result.setdefault("connection_error_code", None)
    return result


def normalize_key(metadata):
    keep = ("KeyId", "Arn", "KeyState", "Enabled", "Description", "CreationDate", "CloudHsmClusterId",
            "CustomKeyStoreId", "Origin")
    return camel_dict_to_snake_dict(normalize_boto3_result(dict((k, metadata.get(k)) for k in keep)))


def connection_state(store):
    return store.get("ConnectionState")


def connection_error_message(store):
    code = store.get("ConnectionErrorCode") or "UNKNOWN"
    fix = CONNECTION_ERROR_FIXES.get(code, "See ConnectionErrorCode in the AWS KMS developer guide.")
    return "Custom key store %s could not connect to CloudHSM cluster %s: ConnectionErrorCode %s. %s" % (
        store.get("CustomKeyStoreId"), store.get("CloudHsmClusterId"), code, fix)


def wait_for_state(client, store_id, wanted, timeout, initial=None):
    """Wait until the store's ConnectionState is one of wanted; returns the raw store.

    A connect ends in CONNECTED or FAILED; ask for both and look at the result (FAILED is terminal: only a
    disconnect leaves it).
    """
    return StateWaiter(timeout, first_delay=2.0, max_delay=30.0, factor=1.5).wait(
        lambda: get_store(client, store_id=store_id),
        connection_state,
        "custom key store %s" % store_id,
        wanted,
        initial=initial,
    )


def wait_connected(client, store_id, timeout, initial=None):
    """Wait for a connect to finish; raises KeyStoreConnectionError with the fix when it ends in FAILED."""
    store = wait_for_state(client, store_id, ("CONNECTED", "FAILED"), timeout, initial=initial)
    if store.get("ConnectionState") == "FAILED":
        raise KeyStoreConnectionError(connection_error_message(store), store.get("ConnectionErrorCode"), store)
    return store


def cluster_problems(cluster, cluster_id, region, operation="back a key store"):
    """Why a cluster (raw cloudhsmv2 shape, or None) cannot back a key store; [] when it can.

    The same rules KMS applies on CreateCustomKeyStore and UpdateCustomKeyStore, checked first so that a refused
    change leaves everything as it was.
    """
    if cluster is None or cluster.get("State") in ("DELETE_IN_PROGRESS", "DELETED"):
        return ["CloudHSM cluster %s does not exist in %s; a key store can only use a cluster in its own account and "
                "Region." % (cluster_id, region)]
    problems = []
    if cluster.get("State") != "ACTIVE":
        problems.append("CloudHSM cluster %s is %s; it must be ACTIVE to %s (initialize and activate it, or wait "
                        "for its first HSM)." % (cluster_id, cluster.get("State"), operation))
    active = [hsm for hsm in cluster.get("Hsms") or [] if hsm.get("State") == "ACTIVE"]
    zones = sorted(set(hsm.get("AvailabilityZone") for hsm in active))
    if len(zones) < 2:
        problems.append("CloudHSM cluster %s has %d ACTIVE HSM(s) in %s; it needs at least two ACTIVE HSMs in "
                        "different Availability Zones to %s. Add HSMs (hsmops.cloudhsm.cloudhsm_hsm) and run again."
                        % (cluster_id, len(active), ", ".join(zones) or "no zone", operation))
    return problems


def cluster_certificate(cluster):
    return ((cluster or {}).get("Certificates") or {}).get("ClusterCertificate")


MAX_LINEAGE = 25


def cluster_lineage(client_for, region, cluster):
    """The ids of the clusters a cluster descends from through backups (itself first), following copied backups
    to their source Region. client_for(region) returns a cloudhsmv2 client; clusters that are gone end the chain."""
    lineage = [cluster["ClusterId"]]
    current, current_region = cluster, region
    while current is not None and current.get("SourceBackupId") and len(lineage) < MAX_LINEAGE:
        backup_id, backup_region = _backup_reference(current["SourceBackupId"], current_region)
        backup = _describe_backup(client_for(backup_region), backup_id)
        while backup is not None and backup.get("SourceBackup") and backup.get("SourceRegion"):
            backup_region = backup["SourceRegion"]
            backup = _describe_backup(client_for(backup_region), backup["SourceBackup"])
        if backup is None or not backup.get("ClusterId") or backup["ClusterId"] in lineage:
            break
        lineage.append(backup["ClusterId"])
        clusters = client_for(backup_region).describe_clusters(
            aws_retry=True, Filters={"clusterIds": [backup["ClusterId"]]}).get("Clusters") or []
        current, current_region = (clusters[0] if clusters else None), backup_region
    return lineage


def _backup_reference(value, region):
    """(backup id, region) of a SourceBackupId, which is a backup id or a backup ARN."""
    if value.startswith("arn:"):
        parts = value.split(":")
        return parts[-1].split("/")[-1], parts[3]
    return value, region


def _describe_backup(client, backup_id):
    try:
        backups = client.describe_backups(aws_retry=True, Filters={"backupIds": [backup_id]}).get("Backups") or []
    except is_boto3_error_code("CloudHsmResourceNotFoundException"):
        return None
    return backups[0] if backups else None
