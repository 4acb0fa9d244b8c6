#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_key_sync
version_added: 0.1.0
short_description: Replicate AWS CloudHSM keys from a source cluster to its clones
description:
  - Makes every destination cluster hold every selected key of the source cluster, in one client session
    (SDK 5 C(key replicate) pipelined in batches, SDK 3 C(syncKey) in one C(cloudhsm_mgmt_util) run).
  - Keys are compared by their stable attributes (type, label, id, key check value) where the tool shows them, so a
    key that is already on a destination is left alone whatever its handle. SDK 3 C(cloudhsm_mgmt_util) shows no
    attributes; there keys are compared by handle and owner (C(syncKey) keeps the handle).
  - Fails before changing anything when a destination lacks the owner or a share user of a key to copy (sync users
    first with M(hsmops.cloudhsm.cloudhsm_user)), and stops at the first copy a destination refuses because it is
    not a clone of the source (created from a backup of it, or both from a common backup).
  - When a destination lacks users, the module first tells an unrelated cluster from a clone by replicating the
    logged-in admin to it (a clone refuses that copy as already present; an unrelated cluster refuses it with a
    masking-key error), so the message names the real problem. Check mode skips that probe.
  - A key pair is copied whole (SDK 5 C(key replicate) for the private and the public object, SDK 3 C(syncKey)
    for each handle) and reported as one entry; when one object of a pair cannot be copied, the other waits too.
    Selecting either object of a pair selects both.
  - A key shared with other crypto users arrives with its shares; the owner and every share user must exist on the
    destination first (the module fails before any change, naming them, when one does not).
  - Session keys (C(token=false)) are never counted, copied or purged.
  - Keys both clusters hold whose label, id, shared users, key quorum values or attributes (encrypt, decrypt, wrap,
    unwrap, sign, verify, derive, extractable, sensitive, modifiable, trusted, wrap-with-trusted, private,
    destroyable) differ are reported under RV(destinations[].attribute_drift), each attribute with both values; the
    same key material under the same reference with another label counts as such drift, not as a key to copy.
    Nothing is changed unless O(attribute_drift) asks for it.
  - SDK 3 reads each key's attributes (C(getAttribute)) and quorum value (C(getKeyInfo)) on every cluster, which
    tells a key pair's objects apart, finds labels that changed and leaves session keys out. Where the HSM
    refuses C(getAttribute) to the logged-in user, keys are compared by handle and owner, and the objects of a key
    pair are reported one by one.
  - A key to copy or delete that carries a key quorum value fails the module before any change, naming the keys and
    the approval workflow (AWS does not document whether C(key replicate) needs those approvals).
  - In check mode nothing is copied or deleted and the result is the drift report.
  - The module fails when any key could not be copied or deleted; the result still lists every destination.
author:
  - hsmops.cloudhsm contributors (@hsmops)
extends_documentation_fragment:
  - hsmops.cloudhsm.hsm_client
  - hsmops.cloudhsm.hsm_client.login
options:
  source:
    description:
      - The cluster holding the keys.
      - The cluster id (both SDKs). SDK 5, of the multi-cluster C(cloudhsm-cli.cfg); SDK 3, of the cluster map that
        the hsmops.cloudhsm.cloudhsm_sync_config role writes next to O(client_config) (C(SyncClusters.clusters.json)).
      - SDK 3 also takes a server of O(client_config), by index (its position in C(servers)) or by ENI IP.
    type: str
    required: true
  destinations:
    description:
      - The clusters to copy the keys to, named as O(source) is.
    type: list
    elements: str
    required: true
  owner:
    description:
      - Only keys owned by this crypto user.
    type: str
  labels:
    description:
      - Only keys with one of these labels. SDK 5 only.
    type: list
    elements: str
  ids:
    description:
      - Only keys with one of these ids. SDK 5 only.
    type: list
    elements: str
  handles:
    description:
      - Only keys with one of these key references (SDK 5 C(0x...) references or decimal SDK 3 handles).
    type: list
    elements: str
  filter:
    description:
      - "Only keys whose attributes have these values, for example C({key-type: aes, extractable: false}).
        Attribute names are those of C(cloudhsm-cli key list --verbose). SDK 5 only."
    type: dict
  purge:
    description:
      - Also delete every destination key in the selection that the source does not hold, from every destination.
      - The last-copy guard looks at the source and every destination together. A key is deleted while another
        copy of its material (type, length and key check value) stays on one of them; when every remaining copy is
        to be deleted, the key would leave the DR set, so those copies are kept (reported under
        RV(destinations[].kept)) unless O(delete_last_copies) is set. A key of unknown material is never deleted.
      - Only a key's owner can delete it, so each key is deleted in a session logged in as its owner, with the
        password of O(owner_credentials). SDK 5 only.
    type: bool
    default: false
  purge_labels:
    description:
      - Delete from every destination the keys with these labels that the source does not hold (retired keys);
        the same guard and owner logins as O(purge). SDK 5 only.
    type: list
    elements: str
    default: []
  delete_last_copies:
    description:
      - Let O(purge) and O(purge_labels) delete the last copies of a key in the DR set. Pin a backup that holds
        the key first (M(hsmops.cloudhsm.cloudhsm_backup) with O(hsmops.cloudhsm.cloudhsm_backup#module:never_expires=true));
        RV(destinations[].last_copies) lists the keys that went.
    type: bool
    default: false
  owner_credentials:
    description:
      - Names and passwords of crypto users that own keys to purge.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The crypto user.
        type: str
        required: true
      password:
        description: Its password.
        type: str
        required: true
  attribute_drift:
    description:
      - What to do with keys both clusters hold whose copies differ (RV(destinations[].attribute_drift)).
      - V(report) changes nothing.
      - V(align) sets the label and the usage flags (encrypt, decrypt, wrap, unwrap, sign, verify, derive,
        trusted, wrap-with-trusted) of the clone's copy to the source's values with C(key set-attribute), logged in
        as the key's owner (its password from O(owner_credentials), or the login when it is a crypto user). Shares
        are not changed. Attributes fixed when a key is made (extractable, sensitive, private, modifiable,
        destroyable, key quorum values), the id, and every attribute of a copy that is not modifiable are left as
        they are and listed under RV(destinations[].not_aligned).
      - V(align_with_shares) does what V(align) does and also shares the clone's copy with the source's shared users
        it lacks and stops sharing it with users the source's copy is not shared with (C(key share),
        C(key unshare)). Removing a share takes a user's access to the key away on that clone, so choose this only
        when the source's shares are the ones wanted.
      - Check mode lists under RV(destinations[].aligned) exactly the changes the run would make.
      - SDK 5 only (C(cloudhsm_mgmt_util) has no documented way to set attributes on one clone).
    type: str
    choices: [report, align, align_with_shares]
    default: report
  assume_users:
    description:
      - Destination -> user names taken as present there, for check mode after a step that would create them
        (for example M(hsmops.cloudhsm.cloudhsm_user) with O(hsmops.cloudhsm.cloudhsm_user#module:replicate_from)
        in check mode), so that the drift report is the plan of the real run.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Copy every key of the primary cluster to its clone (SDK 5)
  hsmops.cloudhsm.cloudhsm_key_sync:
    source: cluster-abcdefghijk
    destinations: [cluster-bcdefghijkl]
    username: admin
    password: "{{ hsm_admin_password }}"

- name: Report drift only
  hsmops.cloudhsm.cloudhsm_key_sync:
    source: cluster-abcdefghijk
    destinations: [cluster-bcdefghijkl, cluster-cdefghijklm]
    labels: [payments-kek]
    username: admin
    password: "{{ hsm_admin_password }}"
  check_mode: true
  register: drift

- name: Copy keys and set the clone's labels and usage flags to the source's (shares are only reported)
  hsmops.cloudhsm.cloudhsm_key_sync:
    source: cluster-abcdefghijk
    destinations: [cluster-bcdefghijkl]
    attribute_drift: align
    owner_credentials:
      - name: payments_app
        password: "{{ payments_app_password }}"
    username: admin
    password: "{{ hsm_admin_password }}"

- name: SDK 3, the clusters of a SyncClusters.cfg written by the cloudhsm_sync_config role
  hsmops.cloudhsm.cloudhsm_key_sync:
    sdk: '3'
    client_config: /opt/cloudhsm/etc/SyncClusters.cfg
    source: cluster-abcdefghijk
    destinations: [cluster-bcdefghijkl]
    owner: app_crypto_user
    username: admin
    password: "{{ hsm_co_password }}"
"""

RETURN = r"""
source:
  description: The source cluster and how many keys it selected.
  returned: always
  type: dict
  sample: {cluster: cluster-abcdefghijk, selected: 120, keys_held: 120, users_held: 4}
destinations:
  description: What happened on each destination, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: The destination.
      type: str
    synced:
      description:
        - Keys copied (in check mode, keys that would be copied). A key pair is one entry with the private key's
          fields, its C(pair) link and C(objects), both objects with their C(class); the same holds for
          RV(destinations[].already_present), RV(destinations[].purged) and RV(destinations[].extra).
      type: list
      elements: dict
    already_present:
      description: Selected source keys the destination already held.
      type: list
      elements: dict
    failed:
      description: Keys that could not be copied, each with a C(reason).
      type: list
      elements: dict
    purged:
      description: Destination keys deleted by O(purge) (would be deleted, in check mode).
      type: list
      elements: dict
    kept:
      description: Destination keys O(purge) left in place, each with a C(reason).
      type: list
      elements: dict
    last_copies:
      description: Keys of RV(destinations[].purged) whose last copy in the DR set went.
      type: list
      elements: dict
    extra:
      description: Destination keys in the selection that the source does not hold (whether purged or not).
      type: list
      elements: dict
    differing:
      description: Source keys whose reference the destination holds with other key material, each with a C(reason).
      type: list
      elements: dict
    attribute_drift:
      description:
        - Keys both clusters hold whose copies differ, as the source holds them, with
          C(destination_key_reference) and C(differences) (each C(attribute) with its C(source) and C(destination)
          value). Reported only; nothing is changed.
      type: list
      elements: dict
      sample: [{key_reference: "0x0000000000000010", label: payments-kek-v2, id: "", owner: payments_app,
                destination_key_reference: "0x0000000000000010",
                differences: [{attribute: label, source: payments-kek-v2, destination: payments-kek}]}]
    aligned:
      description:
        - Copies whose attributes O(attribute_drift) changed (in check mode, would change), as the clone held them,
          with C(changes), each an C(attribute) with its C(before) and C(after) value, or C(attribute=shared-users)
          with the user to C(share) or C(unshare). Empty with O(attribute_drift=report).
      type: list
      elements: dict
      sample: [{key_reference: "0x0000000000000010", label: payments-kek, id: "", owner: payments_app,
                changes: [{attribute: label, before: payments-kek, after: payments-kek-v2}]}]
    not_aligned:
      description:
        - Differences O(attribute_drift) leaves as they are, each with the key, the C(attribute) and the C(reason)
          (fixed when the key was made, a copy that is not modifiable, or shares with O(attribute_drift=align)).
      type: list
      elements: dict
    keys_held:
      description: How many keys the destination holds, as read before the run.
      type: int
    users_held:
      description: How many admins and crypto users the destination has, as read before the run.
      type: int
    users_missing:
      description: Admins and crypto users of the source the destination lacks, as read (O(assume_users) included).
      type: list
      elements: str
    users_extra:
      description: Admins and crypto users of the destination the source lacks.
      type: list
      elements: str
    drift:
      description: How many users and keys (a key pair counting once) differ from the source, as read before the run.
      type: int
summary:
  description: Counts over all destinations.
  returned: always
  type: dict
  sample: {synced: 3, already_present: 117, failed: 0, purged: 0, attribute_drift: 1, aligned: 0, drift: 4}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import client_argument_spec
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import fail
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import hsm_session
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.key_sync import KeySync


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(
            source=dict(type="str", required=True),
            destinations=dict(type="list", elements="str", required=True),
            owner=dict(type="str"),
            labels=dict(type="list", elements="str"),
            ids=dict(type="list", elements="str"),
            handles=dict(type="list", elements="str"),
            filter=dict(type="dict"),
            purge=dict(type="bool", default=False),
            purge_labels=dict(type="list", elements="str", default=[]),
            delete_last_copies=dict(type="bool", default=False),
            owner_credentials=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                password=dict(type="str", required=True, no_log=True),
            )),
            assume_users=dict(type="dict", default={}),
            attribute_drift=dict(type="str", default="report", choices=["report", "align", "align_with_shares"]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["source"] in params["destinations"]:
        fail(module, "source %s is also listed in destinations; a cluster cannot be synced to itself." % params["source"])
    with hsm_session(module, [params["source"]] + params["destinations"]) as (driver, session):
        outcome = KeySync(module, driver, session).run()
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
