#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_user
version_added: 0.1.0
short_description: Manage AWS CloudHSM users on one or more clusters
description:
  - Makes the declared HSM users (admins and crypto users) present or absent on every target cluster, in one client
    session, or replicates users from a source cluster to its clones (SDK 5 C(user replicate), SDK 3 C(syncUser)).
  - Never deletes the last admin of a cluster or a user that owns keys unless O(force=true); the refusal says why.
    A role cannot change in place; with O(force=true) the user is deleted and created again.
  - Log in as an admin (SDK 3 crypto officer). Activating a new cluster is done by
    M(hsmops.cloudhsm.cloudhsm_activate).
  - When users are to be created, deleted or replicated on a cluster with quorum (M of N) authentication for user
    management (an admin registered a quorum key; for replication, on the source or the target), the module fails
    before any change on any cluster, since the tools ask for M approvals interactively. The message names the clusters,
    the changes due and the approval workflow (SDK 5 C(quorum token-sign generate --service user) and
    C(--approval), SDK 3 C(getToken)/C(approveToken)).
  - Check mode reports what would change and changes nothing.
author:
  - hsmops.cloudhsm contributors (@hsmops)
extends_documentation_fragment:
  - hsmops.cloudhsm.hsm_client
  - hsmops.cloudhsm.hsm_client.login
  - hsmops.cloudhsm.hsm_client.clusters
options:
  users:
    description:
      - The declared users. With O(replicate_from), only their names count, as the users to replicate (all
        users of the source when empty).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name (case-insensitive, up to 31 letters, digits and underscores).
        type: str
        required: true
      role:
        description: Role of the user.
        type: str
        choices: [admin, crypto-user]
        default: crypto-user
      password:
        description:
          - Password of the user; needed to create it, and with O(update_password=always).
          - 7 to 32 characters (current clusters want 8 to 32); a password outside 7 to 32 fails the module before
            any cluster is changed. A 7-character one is used with a warning.
        type: str
      state:
        description: Whether the user exists.
        type: str
        choices: [present, absent]
        default: present
  update_password:
    description:
      - V(on_create) sets passwords only for new users. V(always) also resets the password of existing users
        (the HSM cannot tell whether it differs, so this always reports a change).
    type: str
    choices: [on_create, always]
    default: on_create
  force:
    description:
      - Delete the last admin or a key owner when asked to, and recreate users whose role differs.
    type: bool
    default: false
  replicate_from:
    description:
      - Copy users from this cluster (named like O(clusters)) to every cluster of O(clusters) that lacks them.
      - The clusters must be clones of one backup.
    type: str
  purge:
    description:
      - With O(replicate_from), also delete from the other clusters every user the source lacks.
      - Never deletes the user this module logs in as (O(username)), a built-in user, the last admin, or a user
        that owns keys on that cluster (other than the keys of O(assume_keys_deleted)); such users are reported
        as failures and kept.
    type: bool
    default: false
  purge_users:
    description:
      - With O(replicate_from), delete these users from the other clusters when the source lacks them (the same
        safeguards as O(purge)).
    type: list
    elements: str
    default: []
  assume_keys_deleted:
    description:
      - Cluster name -> key references that an earlier step deletes there; their owners count as owning no keys.
        Lets check mode predict a purge that follows a key purge.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Admins and crypto users on both clusters of a DR pair (SDK 5)
  hsmops.cloudhsm.cloudhsm_user:
    clusters: [cluster-abcdefghijk, cluster-bcdefghijkl]
    username: admin
    password: "{{ hsm_admin_password }}"
    users:
      - name: app_user1
        role: crypto-user
        password: "{{ app_user1_password }}"
      - name: retired_user
        state: absent

- name: Copy every user of the primary to its clone
  hsmops.cloudhsm.cloudhsm_user:
    replicate_from: cluster-abcdefghijk
    clusters: [cluster-bcdefghijkl]
    username: admin
    password: "{{ hsm_admin_password }}"

- name: SDK 3, sync users from server 0 to server 1 of a SyncClusters.cfg
  hsmops.cloudhsm.cloudhsm_user:
    sdk: '3'
    client_config: /opt/cloudhsm/etc/SyncClusters.cfg
    replicate_from: '0'
    clusters: ['1']
    username: admin
    password: "{{ hsm_co_password }}"
"""

RETURN = r"""
clusters:
  description: What happened on each cluster.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: The cluster id (SDK 3, the server when the cluster was not named by its id).
      type: str
    created:
      description: Users created (would be, in check mode).
      type: list
      elements: str
    deleted:
      description: Users deleted (would be, in check mode), also by O(purge) and O(purge_users).
      type: list
      elements: str
    extra:
      description: With O(replicate_from), admins and crypto users of the cluster that the source lacks.
      type: list
      elements: str
    password_changed:
      description: Users whose password was set.
      type: list
      elements: str
    replicated:
      description: With O(replicate_from), users copied.
      type: list
      elements: str
    refused:
      description: Declared changes refused for safety, each with a C(reason).
      type: list
      elements: dict
    failed:
      description: Users the tool failed on, each with a C(reason).
      type: list
      elements: dict
  sample: [{cluster: cluster-abcdefghijk, created: [app_user1], deleted: [], password_changed: [], refused: [],
            failed: []}]
source:
  description: With O(replicate_from), the source cluster.
  returned: when O(replicate_from) is set
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import client_argument_spec
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import fail
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import hsm_session
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import password_problem, password_warning
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.user_sync import UserSync


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(
            clusters=True,
            users=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                role=dict(type="str", choices=["admin", "crypto-user"], default="crypto-user"),
                password=dict(type="str", no_log=True),
                state=dict(type="str", choices=["present", "absent"], default="present"),
            )),
            update_password=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
            force=dict(type="bool", default=False),
            replicate_from=dict(type="str"),
            purge=dict(type="bool", default=False),
            purge_users=dict(type="list", elements="str", default=[]),
            assume_keys_deleted=dict(type="dict", default={}, no_log=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    targets = list(params["clusters"])
    if params["replicate_from"]:
        if not targets:
            module.fail_json(msg="replicate_from needs clusters: the clusters to copy users to.")
        targets = [params["replicate_from"]] + [t for t in targets if t != params["replicate_from"]]
    elif not params["users"]:
        module.fail_json(msg="nothing to do: give users (declared users) or replicate_from.")
    # A password the tools would refuse fails here, before any cluster is touched.
    problems = [password_problem("user %s" % user["name"], user.get("password"))
                for user in params["users"] if user["state"] == "present"]
    if any(problems):
        fail(module, " ".join(problem for problem in problems if problem))
    for user in params["users"]:
        warning = user["state"] == "present" and password_warning("user %s" % user["name"], user.get("password"))
        if warning:
            module.warn(warning)
    with hsm_session(module, targets or None) as (driver, session):
        result = UserSync(module, driver, session).run()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
