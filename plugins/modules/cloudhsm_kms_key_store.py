#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_kms_key_store
version_added: 0.1.0
short_description: Manage an AWS KMS custom key store backed by an AWS CloudHSM cluster
description:
  - Creates, updates, connects, disconnects and deletes a KMS custom key store of type V(AWS_CLOUDHSM).
  - The store and its cluster are in the same account and Region (O(region)). O(cluster_id) can later name another
    cluster only if it shares the backup history of the store's cluster (same cluster certificate), for example a
    cluster restored from a backup in the same Region; the store's existing KMS keys work again once it reconnects.
  - A cluster cloned to another Region can back its own key store there, but the KMS keys of the two stores are not
    interoperable. Cross-region disaster recovery for KMS is a second store on the clone, with its own keys.
  - Changing O(cluster_id) or the password needs a disconnected store. The module disconnects a connected store
    for that only when O(allow_disconnect=true), because its KMS keys are unusable while it is disconnected.
  - Before changing anything, the module checks the cluster rules KMS applies (cluster V(ACTIVE), two V(ACTIVE)
    HSMs in different Availability Zones, a related cluster when repointing), so a refused change leaves the store
    as it was.
  - A connect can take up to 20 minutes on AWS. A connect that ends in V(FAILED) makes the module fail with the
    C(ConnectionErrorCode) and how to fix it; the store is then disconnected again (V(FAILED) only leaves through a
    disconnect) and a store this run created is deleted, so nothing is left half-done.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  name:
    description:
      - The name of the key store, unique in the account and Region.
      - Identifies the store unless O(key_store_id) is given; then it is the name to give the store (a rename).
    type: str
    aliases: [custom_key_store_name]
  key_store_id:
    description:
      - The id (V(cks-...)) of an existing key store.
    type: str
    aliases: [custom_key_store_id]
  state:
    description:
      - V(present) creates or updates the store; V(absent) disconnects and deletes it.
      - Deleting a store that still holds KMS keys is refused (schedule their deletion first and wait for it).
    type: str
    choices: [present, absent]
    default: present
  cluster_id:
    description:
      - The CloudHSM cluster of the store. Required to create a store.
      - On an existing store, a different value repoints it to that cluster, which must share the store's backup
        history and have two V(ACTIVE) HSMs in different Availability Zones.
    type: str
  trust_anchor:
    description:
      - The trust anchor certificate of the cluster (the C(customerCA.crt) made at initialization), as PEM text or
        the path of a PEM file on the managed node. Required to create a store.
      - It cannot change after creation; a different value on an existing store is an error.
    type: str
  kmsuser_password:
    description:
      - The password of the C(kmsuser) crypto user on the cluster (7 to 32 characters), given to KMS. Required to
        create a store. It does not change any password in the cluster.
      - KMS rotates the C(kmsuser) password each time it connects, so after the first connect only KMS knows it.
    type: str
  update_password:
    description:
      - V(on_create) gives O(kmsuser_password) to KMS only when creating the store (the password cannot be read
        back, so it cannot be compared).
      - V(always) also gives it to an existing store on every run (this needs a disconnected store and reports a
        change). Use it after resetting the C(kmsuser) password on the cluster.
    type: str
    choices: [always, on_create]
    default: on_create
  connection_state:
    description:
      - V(connected) connects the store (and waits, when O(wait=true)); a V(FAILED) store is disconnected and
        connected again.
      - V(disconnected) disconnects it; its KMS keys become unusable until it is connected again.
    type: str
    choices: [connected, disconnected]
    default: connected
  allow_disconnect:
    description:
      - Allow the module to disconnect a connected store when a change needs it (O(cluster_id), or the password
        with O(update_password=always)); the store is connected again afterwards when O(connection_state=connected).
      - Without it such a change fails and nothing is changed, unless O(connection_state=disconnected) asks for a
        disconnected store anyway.
    type: bool
    default: false
  wait:
    description:
      - Wait for connects and disconnects to finish.
      - Polls with backoff (first after 2 seconds, then up to every 30 seconds) until O(wait_timeout).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each connect or disconnect. AWS documents connects of up to 20 minutes.
    type: int
    default: 1800
notes:
  - Supports check mode and diff mode. In check mode no call that changes anything is made.
  - The C(kmsuser) crypto user must exist on the cluster, without 2FA, and must not be logged in while KMS connects.
  - Needs C(kms:CreateCustomKeyStore), C(kms:ConnectCustomKeyStore), C(kms:DisconnectCustomKeyStore),
    C(kms:UpdateCustomKeyStore), C(kms:DeleteCustomKeyStore), C(kms:DescribeCustomKeyStores),
    C(cloudhsm:DescribeClusters), C(cloudhsm:DescribeBackups) (the checks before a repoint), and for O(state=absent)
    C(kms:ListKeys) and C(kms:DescribeKey).
seealso:
  - module: hsmops.cloudhsm.cloudhsm_kms_key_store_info
  - module: hsmops.cloudhsm.cloudhsm_cluster
  - module: hsmops.cloudhsm.cloudhsm_user
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create a key store on the primary cluster and connect it
  hsmops.cloudhsm.cloudhsm_kms_key_store:
    region: us-east-1
    name: primary-keystore
    cluster_id: cluster-igklspoyj5v
    trust_anchor: /etc/cloudhsm/customerCA.crt
    kmsuser_password: "{{ vault_kmsuser_password }}"

- name: Repoint the store to a cluster restored from the newest backup, then reconnect
  hsmops.cloudhsm.cloudhsm_kms_key_store:
    region: us-east-1
    name: primary-keystore
    cluster_id: "{{ restored.cluster.cluster_id }}"
    allow_disconnect: true

- name: Tell KMS the kmsuser password after a crypto officer reset it on the cluster
  hsmops.cloudhsm.cloudhsm_kms_key_store:
    region: us-east-1
    name: primary-keystore
    kmsuser_password: "{{ vault_kmsuser_password }}"
    update_password: always
    allow_disconnect: true

- name: A second, independent key store on the DR clone (its KMS keys are new keys)
  hsmops.cloudhsm.cloudhsm_kms_key_store:
    region: us-west-2
    name: dr-keystore
    cluster_id: "{{ clone_cluster_id }}"
    trust_anchor: /etc/cloudhsm/customerCA.crt
    kmsuser_password: "{{ vault_kmsuser_password }}"

- name: Delete a key store that holds no KMS keys
  hsmops.cloudhsm.cloudhsm_kms_key_store:
    region: us-east-1
    name: old-keystore
    state: absent
"""

RETURN = r"""
key_store:
  description: The key store after the run (before it, for O(state=absent)); null when there is none.
  returned: always
  type: dict
  contains:
    custom_key_store_id:
      description: The id of the store.
      type: str
      sample: cks-1234567890abcdef0
    custom_key_store_name:
      description: The name of the store.
      type: str
      sample: primary-keystore
    cloud_hsm_cluster_id:
      description: The CloudHSM cluster of the store.
      type: str
      sample: cluster-igklspoyj5v
    connection_state:
      description: V(CONNECTED), V(CONNECTING), V(FAILED), V(DISCONNECTED) or V(DISCONNECTING).
      type: str
      sample: CONNECTED
    connection_error_code:
      description: Why the last connect failed (only while V(FAILED)), else null.
      type: str
      sample: null
    trust_anchor_certificate:
      description: The trust anchor certificate of the cluster (PEM).
      type: str
    creation_date:
      description: When the store was created.
      type: str
      sample: "2026-11-28T13:51:42.123000+00:00"
    custom_key_store_type:
      description: Always V(AWS_CLOUDHSM) for this module.
      type: str
      sample: AWS_CLOUDHSM
actions:
  description: What the run did (or in check mode would do), in order.
  returned: always
  type: list
  elements: str
  sample: ["disconnected", "updated cluster_id", "connected"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import AWS_ERRORS
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import CloudHsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import load_pem
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import same_pem
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import KeyStoreConnectionError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import cluster_certificate
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import cluster_lineage
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import cluster_problems
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import get_store
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import keys_in_store
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import kms_client
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import normalize_store
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import wait_connected
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import wait_for_state

# Connection states a disconnect applies to (DisconnectCustomKeyStore refuses the others).
DISCONNECTABLE = ("CONNECTED", "CONNECTING", "FAILED")


class KeyStoreTask(ControlPlaneTask):
    """The run's main client is KMS; CloudHSM clusters are read through regional_client."""

    def __init__(self, module):
        super(KeyStoreTask, self).__init__(module, client=kms_client(module))
        self.actions = []
        self.created_id = None

    def partial_results(self):
        return dict(actions=self.actions)

    # --- helpers ---

    def act(self, action):
        self.actions.append(action)
        self.changed = True

    def find(self):
        if self.params["key_store_id"]:
            store = self.look_up("describe custom key stores", get_store, self.client, store_id=self.params["key_store_id"])
            if store is None:
                self.fail("Custom key store %s does not exist in %s." % (self.params["key_store_id"], self.region))
            return store
        return self.look_up("describe custom key stores", get_store, self.client, name=self.params["name"])

    def refresh(self, store_id):
        return self.look_up("describe custom key store %s" % store_id, get_store, self.client, store_id=store_id)

    def cluster(self, cluster_id):
        return self.look_up("describe CloudHSM cluster %s" % cluster_id, get_cluster, self.regional_client(self.region),
                            cluster_id)

    def check_cluster(self, cluster_id, operation):
        problems = cluster_problems(self.cluster(cluster_id), cluster_id, self.region, operation)
        if problems:
            self.fail(" ".join(problems) + " Nothing was changed.")

    # --- connection ---

    def wait_store(self, store_id, wanted, initial=None):
        if wanted == "CONNECTED":
            return self.wait("custom key store %s" % store_id, wait_connected, self.client, store_id,
                             self.params["wait_timeout"], initial=initial)
        return self.wait("custom key store %s" % store_id, wait_for_state, self.client, store_id, (wanted,),
                         self.params["wait_timeout"], initial=initial)

    def wait_failed(self, error):
        if isinstance(error, KeyStoreConnectionError):
            self.connect_failed(error.store["CustomKeyStoreId"], str(error), error.code)
        super(KeyStoreTask, self).wait_failed(error)

    def connect_failed(self, store_id, message, code):
        """Leave the store DISCONNECTED (FAILED only leaves through a disconnect); drop a store made in this run."""
        self.call("disconnect_custom_key_store", "disconnect custom key store %s after its failed connect" % store_id,
                  CustomKeyStoreId=store_id)
        store = self.refresh(store_id)
        try:
            store = wait_for_state(self.client, store_id, ("DISCONNECTED",), self.params["wait_timeout"], initial=store)
        except (CloudHsmError, AWS_ERRORS):
            pass  # the failure below is what matters; the store may still be DISCONNECTING
        note = " The store was disconnected again."
        if self.created_id == store_id:
            try:
                self.client.delete_custom_key_store(aws_retry=True, CustomKeyStoreId=store_id)
                self.changed = False
                self.actions.append("deleted the store created in this run")
                note = " The store created in this run was deleted; nothing was left behind."
                store = None
            except AWS_ERRORS:
                note = " The store created in this run (%s) was disconnected but could not be deleted." % store_id
        self.fail(message + note, connection_error_code=code, key_store=normalize_store(store))

    def disconnect(self, store, why):
        state = store.get("ConnectionState")
        if state == "DISCONNECTED":
            return store
        if state in DISCONNECTABLE:
            self.act("disconnected" + why)
            if self.module.check_mode:
                return dict(store, ConnectionState="DISCONNECTED")
            self.call("disconnect_custom_key_store", "disconnect custom key store %s" % store["CustomKeyStoreId"],
                      CustomKeyStoreId=store["CustomKeyStoreId"])
            store = self.refresh(store["CustomKeyStoreId"])
        if self.module.check_mode:
            return dict(store, ConnectionState="DISCONNECTED")
        if self.params["wait"] or why:
            # An update needs DISCONNECTED, so this wait happens even with wait=false.
            store = self.wait_store(store["CustomKeyStoreId"], "DISCONNECTED", initial=store)
        return store

    def connect(self, store):
        state = store.get("ConnectionState")
        if state == "CONNECTED":
            return store
        if state == "FAILED":
            store = self.disconnect(store, " (a FAILED store must be disconnected before it connects again)")
        elif state == "DISCONNECTING" and not self.module.check_mode:
            store = self.wait_store(store["CustomKeyStoreId"], "DISCONNECTED", initial=store)
        if store.get("ConnectionState") in ("DISCONNECTED", "DISCONNECTING"):
            self.act("connected")
            if self.module.check_mode:
                return dict(store, ConnectionState="CONNECTED")
            self.call("connect_custom_key_store", "connect custom key store %s" % store["CustomKeyStoreId"],
                      CustomKeyStoreId=store["CustomKeyStoreId"])
            store = self.refresh(store["CustomKeyStoreId"])
        if self.params["wait"] and not self.module.check_mode:
            store = self.wait_store(store["CustomKeyStoreId"], "CONNECTED", initial=store)
        return store

    # --- present ---

    def create(self):
        params = self.params
        missing = [option for option in ("cluster_id", "trust_anchor", "kmsuser_password") if not params[option]]
        if missing:
            self.fail("Custom key store %s does not exist; creating it needs %s." % (params["name"], ", ".join(missing)))
        trust_anchor = self.trust_anchor()
        self.check_cluster(params["cluster_id"], "back a key store")
        self.act("created")
        if self.module.check_mode:
            store = {"CustomKeyStoreName": params["name"], "CloudHsmClusterId": params["cluster_id"],
                     "TrustAnchorCertificate": trust_anchor, "ConnectionState": "DISCONNECTED",
                     "CustomKeyStoreType": "AWS_CLOUDHSM"}
        else:
            refusals = {
                "CloudHsmClusterInUseException":
                    "Cluster %s (or a cluster that shares its backup history) already backs another key store in %s; a "
                    "cluster can back only one store. Use that store, or another cluster" % (params["cluster_id"], self.region),
                "IncorrectTrustAnchorException":
                    "trust_anchor is not the certificate cluster %s was initialized with (its customerCA.crt)"
                    % params["cluster_id"],
            }
            store_id = self.call(
                "create_custom_key_store", "create custom key store %s" % params["name"], refusals=refusals,
                CustomKeyStoreName=params["name"], CloudHsmClusterId=params["cluster_id"],
                TrustAnchorCertificate=trust_anchor, KeyStorePassword=params["kmsuser_password"],
                CustomKeyStoreType="AWS_CLOUDHSM")["CustomKeyStoreId"]
            self.created_id = store_id
            store = self.refresh(store_id)
        return store

    def trust_anchor(self):
        try:
            return load_pem(self.params["trust_anchor"], "trust_anchor")
        except CloudHsmError as e:
            self.fail(str(e))

    def update(self, store):
        """Rename, repoint and/or give KMS the password; disconnects first only when allowed."""
        params = self.params
        store_id = store["CustomKeyStoreId"]
        request = {}
        changes = []
        if params["trust_anchor"] and not same_pem(self.trust_anchor(), store.get("TrustAnchorCertificate")):
            self.fail("trust_anchor differs from the one of custom key store %s; the trust anchor cannot change after "
                      "creation. A cluster with another trust anchor needs a new key store." % store_id)
        if params["key_store_id"] and params["name"] and params["name"] != store.get("CustomKeyStoreName"):
            request["NewCustomKeyStoreName"] = params["name"]
            changes.append("name")
        if params["cluster_id"] and params["cluster_id"] != store.get("CloudHsmClusterId"):
            self.check_repoint(store, params["cluster_id"])
            request["CloudHsmClusterId"] = params["cluster_id"]
            changes.append("cluster_id")
        if params["kmsuser_password"] and params["update_password"] == "always":
            request["KeyStorePassword"] = params["kmsuser_password"]
            changes.append("kmsuser_password")
        if not request:
            return store
        needs_disconnect = "CloudHsmClusterId" in request or "KeyStorePassword" in request
        state = store.get("ConnectionState")
        if needs_disconnect and state != "DISCONNECTED":
            wanted_connected = params["connection_state"] == "connected"
            if state in ("CONNECTED", "CONNECTING") and wanted_connected and not params["allow_disconnect"]:
                self.fail(
                    "Changing %s of custom key store %s needs it DISCONNECTED, and it is %s; its KMS keys are unusable "
                    "while it is disconnected. Set allow_disconnect=true to let the module disconnect it (and connect it "
                    "again when connection_state=connected). Nothing was changed."
                    % (" and ".join(c for c in changes if c != "name"), store_id, state))
            store = self.disconnect(store, " to change %s" % " and ".join(c for c in changes if c != "name"))
        elif state in ("FAILED", "DISCONNECTING"):
            # A rename needs CONNECTED or DISCONNECTED; a FAILED store serves nothing, so disconnecting it costs nothing.
            store = self.disconnect(store, " to rename it")
        elif state == "CONNECTING":
            self.fail("Custom key store %s is CONNECTING; it can be renamed only while CONNECTED or DISCONNECTED. Run "
                      "again once the connect has finished." % store_id)
        self.act("updated " + ", ".join(changes))
        if self.module.check_mode:
            updated = dict(store)
            updated.update({"CustomKeyStoreName": request.get("NewCustomKeyStoreName", store.get("CustomKeyStoreName")),
                            "CloudHsmClusterId": request.get("CloudHsmClusterId", store.get("CloudHsmClusterId"))})
            return updated
        self.call("update_custom_key_store", "update custom key store %s" % store_id,
                  refusals={"CloudHsmClusterNotRelatedException": self.not_related_message(store, params["cluster_id"])},
                  CustomKeyStoreId=store_id, **request)
        return self.refresh(store_id)

    def check_repoint(self, store, cluster_id):
        """The new cluster must be usable and share the backup history of the current one.

        The cluster certificates decide while the current cluster exists. When it is gone, the new cluster must
        descend from it through backups; a relation that cannot be seen that way is left to KMS only when the store
        is already disconnected (then a refusal changes nothing).
        """
        self.check_cluster(cluster_id, "back key store %s" % store["CustomKeyStoreId"])
        current_id = store["CloudHsmClusterId"]
        current = self.cluster(current_id)
        target = self.cluster(cluster_id)
        if current is not None and cluster_certificate(current):
            if cluster_certificate(target) != cluster_certificate(current):
                self.fail(self.not_related_message(store, cluster_id) + " Nothing was changed.")
            return
        if store.get("ConnectionState") == "DISCONNECTED":
            return
        lineage = self.look_up("follow the backup history of cluster %s" % cluster_id, cluster_lineage,
                               self.regional_client, self.region, target)
        if current_id not in lineage:
            self.fail(
                "Cannot verify that cluster %s shares the backup history of cluster %s of custom key store %s: %s no "
                "longer exists and %s does not descend from a backup of it (its lineage: %s). The module does not "
                "disconnect the store for a repoint that KMS may refuse. If the clusters are related (for example both "
                "were created from the same backup), disconnect the store first (connection_state=disconnected) and run "
                "again; KMS then checks the relation itself. Nothing was changed."
                % (cluster_id, current_id, store["CustomKeyStoreId"], current_id, cluster_id, " <- ".join(lineage)))

    @staticmethod
    def not_related_message(store, cluster_id):
        return (
            "Cluster %s is not related to cluster %s of custom key store %s: it has another cluster certificate, so "
            "it shares no backup history. A store can move only to a cluster created from a backup of its cluster "
            "(or from the backup its cluster came from) in the same Region. For an unrelated cluster create a new key "
            "store; its KMS keys will be new keys." % (cluster_id, store.get("CloudHsmClusterId"), store["CustomKeyStoreId"])
        )

    def present(self):
        before = self.find()
        store = before
        if store is None:
            if self.params["key_store_id"]:
                self.fail("Custom key store %s does not exist." % self.params["key_store_id"])
            store = self.create()
        else:
            store = self.update(store)
        if self.params["connection_state"] == "connected":
            store = self.connect(store)
        else:
            store = self.disconnect(store, "")
        return before, store

    # --- absent ---

    def absent(self):
        store = self.find()
        if store is None:
            return None, None
        store_id = store["CustomKeyStoreId"]
        keys = self.look_up("list the KMS keys of custom key store %s" % store_id, keys_in_store, self.client, store_id)
        if keys:
            self.fail(
                "Custom key store %s still holds %d KMS key(s) (%s); it can be deleted only once they are deleted. "
                "Schedule their deletion (ScheduleKeyDeletion) and wait for the waiting period to end. Nothing was "
                "changed." % (store_id, len(keys), ", ".join(sorted(key["KeyId"] for key in keys))))
        self.disconnect(store, " to delete it")
        self.act("deleted")
        if not self.module.check_mode:
            self.call("delete_custom_key_store", "delete custom key store %s" % store_id, CustomKeyStoreId=store_id)
        return store, None


def _diff_view(store):
    if store is None:
        return {}
    return {
        "name": store.get("CustomKeyStoreName"),
        "cluster_id": store.get("CloudHsmClusterId"),
        "connection_state": store.get("ConnectionState"),
    }


def main():
    argument_spec = dict(
        name=dict(type="str", aliases=["custom_key_store_name"]),
        key_store_id=dict(type="str", aliases=["custom_key_store_id"]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        cluster_id=dict(type="str"),
        trust_anchor=dict(type="str"),
        kmsuser_password=dict(type="str", no_log=True),
        update_password=dict(type="str", choices=["always", "on_create"], default="on_create", no_log=False),
        connection_state=dict(type="str", choices=["connected", "disconnected"], default="connected"),
        allow_disconnect=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_one_of=[["name", "key_store_id"]],
        supports_check_mode=True,
    )
    params = module.params
    validate_options(module, {"cluster_id": "cluster"})
    password = params["kmsuser_password"]
    if password is not None and not (7 <= len(password) <= 32 and password.isascii() and password.isalnum()):
        module.fail_json(msg="kmsuser_password must be 7 to 32 letters and digits (the kmsuser password rules of KMS).")
    if params["name"] is not None and not 1 <= len(params["name"]) <= 256:
        module.fail_json(msg="name must be 1 to 256 characters.")

    task = KeyStoreTask(module)
    if params["state"] == "absent":
        before, after = task.absent()
    else:
        before, after = task.present()
    result = dict(changed=task.changed, actions=task.actions,
                  key_store=normalize_store(after if params["state"] == "present" else before))
    if module._diff:
        result["diff"] = {"before": _diff_view(before), "after": _diff_view(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
