#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_inventory_info
version_added: 0.3.0
short_description: Read the users and token keys every cluster holds, through the client
description:
  - Logs in once (as an admin) and reads, for each target cluster, its users (name and role) and its token keys
    (reference, label, id, class, type, owner, shared users, key check value), in one client session.
  - An inventory taken before a change (an HSM type migration, a client SDK change) and one taken after can be
    compared with C(==), since both lists are sorted and nothing in them depends on the session or the SDK's output
    order.
  - Never changes anything.
author:
  - hsmops.cloudhsm contributors (@hsmops)
extends_documentation_fragment:
  - hsmops.cloudhsm.hsm_client
  - hsmops.cloudhsm.hsm_client.login
  - hsmops.cloudhsm.hsm_client.clusters
notes:
  - Supports check mode; it never changes anything.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_user
  - module: hsmops.cloudhsm.cloudhsm_key_sync
"""

EXAMPLES = r"""
- name: Record what every cluster of the DR set holds
  hsmops.cloudhsm.cloudhsm_inventory_info:
    clusters: [cluster-abcdefghijk, cluster-lmnopqrstuv]
    username: admin
    password: "{{ hsm_admin_password }}"
  register: before
"""

RETURN = r"""
clusters:
  description: What each cluster holds, in the order of O(clusters).
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: The cluster as given in O(clusters).
      type: str
    users:
      description: The users, sorted by name, each with C(name) and C(role) (V(admin), V(crypto-user), ...).
      type: list
      elements: dict
    keys:
      description:
        - The token keys, sorted by reference, each with C(key_reference), C(label), C(id), C(class),
          C(key_type), C(owner), C(shared_users) and C(check_value).
      type: list
      elements: dict
    contents:
      description:
        - The users and keys as sorted one-line texts without key references, which may differ between clusters;
          equal for two clusters that hold the same users and keys.
      type: list
      elements: str
  sample: [{cluster: cluster-abcdefghijk, users: [{name: admin, role: admin}],
            keys: [{key_reference: "0x0000000000000010", label: demo-kek, id: "", class: secret-key,
                    key_type: aes, owner: payments_app, shared_users: [], check_value: "0x3ad7f1"}]}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import client_argument_spec
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import hsm_session


def inventory(name, view):
    """A cluster's users and token keys as plain sorted values (comparable across runs and SDKs)."""
    users = sorted(({"name": user.name, "role": user.role} for user in view.users), key=lambda u: u["name"])
    keys = []
    for key in view.keys:
        if key.token is False:
            continue
        keys.append({
            "key_reference": key.reference,
            "label": key.label,
            "id": key.key_id or "",
            "class": key.key_class,
            "key_type": key.key_type,
            "owner": key.owner,
            "shared_users": list(key.shared),
            "check_value": key.check_value,
        })
    keys.sort(key=lambda k: str(k["key_reference"]))
    # Key references may differ between clusters: what two clones must both hold is compared without them.
    key_lines = [
        "key %s %s %s owner %s shared %s kcv %s"
        % (k["label"], k["class"], k["key_type"], k["owner"], ",".join(k["shared_users"]) or "-", k["check_value"])
        for k in keys
    ]
    contents = sorted("user %s (%s)" % (u["name"], u["role"]) for u in users) + sorted(key_lines)
    return {"cluster": name, "users": users, "keys": keys, "contents": contents}


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(clusters=True),
        supports_check_mode=True,
    )
    targets = list(module.params["clusters"]) or None
    with hsm_session(module, targets) as (unused_driver, session):
        names = targets or session.targets() or [None]
        clusters = [inventory(name or "default", session.read_view(name, keys=True)) for name in names]
    module.exit_json(changed=False, clusters=clusters)


if __name__ == "__main__":
    main()
