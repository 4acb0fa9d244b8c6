#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_kms_key_store_info
version_added: 0.1.0
short_description: Describe AWS KMS custom key stores backed by AWS CloudHSM clusters
description:
  - Lists the KMS custom key stores of type V(AWS_CLOUDHSM) in the module's Region, or one store by id or name.
  - Optionally lists the KMS keys of each store with their key state, for example to report which keys are
    usable again after a store was repointed to a restored cluster.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  key_store_id:
    description:
      - Only the store with this id (V(cks-...)).
    type: str
    aliases: [custom_key_store_id]
  name:
    description:
      - Only the store with this name.
    type: str
    aliases: [custom_key_store_name]
  cluster_id:
    description:
      - Only stores whose cluster is this CloudHSM cluster.
    type: str
  include_keys:
    description:
      - Also return the KMS keys of each store (ListKeys and DescribeKey on every key of the Region).
    type: bool
    default: false
notes:
  - A store that does not exist gives an empty list, not an error.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_kms_key_store
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Every CloudHSM key store of the Region
  hsmops.cloudhsm.cloudhsm_kms_key_store_info:
    region: us-east-1
  register: stores

- name: The KMS keys of one store and whether they are usable
  hsmops.cloudhsm.cloudhsm_kms_key_store_info:
    region: us-east-1
    name: primary-keystore
    include_keys: true
  register: primary

- name: Show the keys that are usable
  ansible.builtin.debug:
    msg: "{{ primary.key_stores[0]['keys'] | selectattr('key_state', 'equalto', 'Enabled') | map(attribute='key_id') }}"
"""

RETURN = r"""
key_stores:
  description: The matching key stores, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    custom_key_store_id:
      description: The id of the store.
      type: str
      sample: cks-1234567890abcdef0
    custom_key_store_name:
      description: The name of the store.
      type: str
    cloud_hsm_cluster_id:
      description: The CloudHSM cluster of the store.
      type: str
    connection_state:
      description: V(CONNECTED), V(CONNECTING), V(FAILED), V(DISCONNECTED) or V(DISCONNECTING).
      type: str
    connection_error_code:
      description: Why the last connect failed (only while V(FAILED)), else null.
      type: str
    connection_error:
      description: What C(connection_error_code) means and how to fix it (only while V(FAILED)), else null.
      type: str
    trust_anchor_certificate:
      description: The trust anchor certificate of the cluster (PEM).
      type: str
    creation_date:
      description: When the store was created.
      type: str
    keys:
      description: The KMS keys of the store (only with O(include_keys=true)).
      type: list
      elements: dict
      contains:
        key_id:
          description: The key id.
          type: str
        arn:
          description: The key ARN.
          type: str
        key_state:
          description: V(Enabled), V(Disabled), V(PendingDeletion) or V(Unavailable) (store not connected).
          type: str
        cloud_hsm_cluster_id:
          description: The cluster that holds the key material.
          type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import connection_error_message
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import get_store
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import keys_in_store
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import kms_client
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import list_stores
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import normalize_key
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm_kms import normalize_store


def main():
    argument_spec = dict(
        key_store_id=dict(type="str", aliases=["custom_key_store_id"]),
        name=dict(type="str", aliases=["custom_key_store_name"]),
        cluster_id=dict(type="str"),
        include_keys=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, mutually_exclusive=[["key_store_id", "name"]],
                              supports_check_mode=True)
    params = module.params
    validate_options(module, {"cluster_id": "cluster"})
    task = ControlPlaneTask(module, client=kms_client(module))
    if params["key_store_id"] or params["name"]:
        store = task.look_up("describe custom key stores", get_store, task.client, store_id=params["key_store_id"],
                             name=params["name"])
        stores = [store] if store is not None else []
    else:
        stores = task.look_up("describe custom key stores", list_stores, task.client)
    stores = [s for s in stores if s.get("CustomKeyStoreType", "AWS_CLOUDHSM") == "AWS_CLOUDHSM"]
    if params["cluster_id"]:
        stores = [s for s in stores if s.get("CloudHsmClusterId") == params["cluster_id"]]

    results = []
    for store in stores:
        result = normalize_store(store)
        result["connection_error"] = connection_error_message(store) if store.get("ConnectionState") == "FAILED" else None
        if params["include_keys"]:
            keys = task.look_up("list the KMS keys of custom key store %s" % store["CustomKeyStoreId"], keys_in_store,
                                task.client, store["CustomKeyStoreId"])
            result["keys"] = [normalize_key(key) for key in keys]
        results.append(result)
    module.exit_json(changed=False, key_stores=results)


if __name__ == "__main__":
    main()
