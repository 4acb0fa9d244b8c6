#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_backup_info
version_added: 0.1.0
short_description: List AWS CloudHSM backups
description:
  - Lists the AWS CloudHSM backups of a region, filtered by ids, clusters, source backups (to find copies), states
    and the never-expires flag. Results are paginated through to the end.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  backup_ids:
    description:
      - Only return these backups.
    type: list
    elements: str
    default: []
  cluster_ids:
    description:
      - Only return backups of these clusters.
    type: list
    elements: str
    default: []
  source_backup_ids:
    description:
      - Only return copies of these backups (backups copied into this region from them).
    type: list
    elements: str
    default: []
  states:
    description:
      - Only return backups in one of these states.
    type: list
    elements: str
    default: []
    choices: [CREATE_IN_PROGRESS, READY, DELETED, PENDING_DELETION]
  never_expires:
    description:
      - Only return backups exempt from the retention policy (V(true)) or subject to it (V(false)).
    type: bool
  shared:
    description:
      - Return the backups other accounts share with this one instead of this account's backups.
    type: bool
    default: false
  sort_ascending:
    description:
      - Oldest first instead of newest first.
    type: bool
    default: false
notes:
  - Supports check mode; it never changes anything.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_backup
  - module: hsmops.cloudhsm.cloudhsm_backup_copy
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Look up the cluster
  hsmops.cloudhsm.cloudhsm_cluster_info:
    name: dr-primary
  register: primary

- name: The READY backups of the cluster, newest first
  hsmops.cloudhsm.cloudhsm_backup_info:
    cluster_ids:
      - "{{ primary.clusters[0].cluster_id }}"
    states:
      - READY
  register: ready

- name: The copies of the newest one in us-west-2
  hsmops.cloudhsm.cloudhsm_backup_info:
    region: us-west-2
    source_backup_ids:
      - "{{ ready.backups[0].backup_id }}"
  register: copies
"""

RETURN = r"""
backups:
  description: The backups found.
  returned: always
  type: list
  elements: dict
  contains:
    backup_id:
      description: The backup id.
      type: str
      sample: backup-ro5c4er4aac
    backup_arn:
      description: The backup ARN.
      type: str
    backup_state:
      description: The backup state.
      type: str
      sample: READY
    cluster_id:
      description: The cluster the backup was taken from.
      type: str
    create_timestamp:
      description: When the backup was taken (ISO 8601).
      type: str
    copy_timestamp:
      description: For a copy, when it was copied.
      type: str
      returned: for copies
    source_backup:
      description: For a copy, the backup it was copied from.
      type: str
      returned: for copies
    source_cluster:
      description: For a copy, the cluster of the source backup.
      type: str
      returned: for copies
    source_region:
      description: For a copy, the region it was copied from.
      type: str
      returned: for copies
    never_expires:
      description: Whether the backup is exempt from the retention policy.
      type: bool
    delete_timestamp:
      description: When a backup pending deletion will be deleted for good.
      type: str
      returned: for backups pending deletion
    hsm_type:
      description: The HSM type of the cluster the backup was taken from.
      type: str
    mode:
      description: The mode of the cluster the backup was taken from.
      type: str
    tags:
      description: The backup's tags.
      type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import BACKUP_STATES
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import describe_backups
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import normalize_backup
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options


def main():
    argument_spec = dict(
        backup_ids=dict(type="list", elements="str", default=[]),
        cluster_ids=dict(type="list", elements="str", default=[]),
        source_backup_ids=dict(type="list", elements="str", default=[]),
        states=dict(type="list", elements="str", default=[], choices=BACKUP_STATES),
        never_expires=dict(type="bool"),
        shared=dict(type="bool", default=False),
        sort_ascending=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    validate_options(module, {"backup_ids": "backup", "source_backup_ids": "backup", "cluster_ids": "cluster"})

    task = ControlPlaneTask(module)
    backups = task.look_up(
        "describe CloudHSM backups",
        describe_backups,
        task.client,
        backup_ids=params["backup_ids"],
        cluster_ids=params["cluster_ids"],
        source_backup_ids=params["source_backup_ids"],
        states=params["states"],
        never_expires=params["never_expires"],
        sort_ascending=params["sort_ascending"],
        shared=params["shared"] or None,
    )
    module.exit_json(changed=False, backups=[normalize_backup(backup) for backup in backups])


if __name__ == "__main__":
    main()
