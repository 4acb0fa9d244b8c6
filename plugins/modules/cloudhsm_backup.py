#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_backup
version_added: 0.1.0
short_description: Manage AWS CloudHSM backups, and prune old cross-region copies
description:
  - Sets the attributes of a backup (O(never_expires), tags), deletes it (it stays restorable for 7 days in
    V(PENDING_DELETION)) or restores it.
  - Prunes copies. Backups copied into another region have no retention policy, so they stay until deleted. With
    O(prune_copies_of_cluster) and O(prune_older_than_days), deletes the copies in the module's region that came
    from that source cluster and were taken more than that many days ago, never touching the newest copy, nor a
    copy marked never to expire. Run it in check mode first to see what would go.
  - AWS creates backups itself (on activation, when HSMs are added or removed, and daily); there is no API to
    create one.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  backup_id:
    description:
      - The backup to manage.
      - One of O(backup_id) or O(prune_copies_of_cluster) is required.
    type: str
  state:
    description:
      - V(present) keeps the backup and sets its attributes.
      - V(absent) deletes it (PENDING_DELETION; restorable for 7 days). A backup already pending deletion or
        deleted is no change.
      - V(restored) brings a backup in PENDING_DELETION back to V(READY).
      - Ignored when pruning.
    type: str
    choices: [present, absent, restored]
    default: present
  never_expires:
    description:
      - Whether the backup is exempt from its cluster's retention policy.
    type: bool
  prune_copies_of_cluster:
    description:
      - Prune the copies, in the module's region, of backups of this (source) cluster.
    type: str
  prune_older_than_days:
    description:
      - With O(prune_copies_of_cluster), the age in days (by the time the backup was taken) beyond which copies are
        deleted. The newest copy is always kept.
    type: int
notes:
  - Supports check mode (no call that changes anything is made) and diff mode.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_backup_copy
  - module: hsmops.cloudhsm.cloudhsm_backup_info
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Look up the READY backups of the cluster named dr-primary
  hsmops.cloudhsm.cloudhsm_cluster_info:
    name: dr-primary
  register: primary

- name: List its backups, newest first
  hsmops.cloudhsm.cloudhsm_backup_info:
    cluster_ids:
      - "{{ primary.clusters[0].cluster_id }}"
    states:
      - READY
  register: ready

- name: Keep the newest backup forever
  hsmops.cloudhsm.cloudhsm_backup:
    backup_id: "{{ ready.backups[0].backup_id }}"
    never_expires: true
    tags:
      Reason: pre-migration

- name: Delete the oldest backup (restorable for 7 days)
  hsmops.cloudhsm.cloudhsm_backup:
    backup_id: "{{ ready.backups[-1].backup_id }}"
    state: absent

- name: Bring it back
  hsmops.cloudhsm.cloudhsm_backup:
    backup_id: "{{ ready.backups[-1].backup_id }}"
    state: restored

- name: See which copies in us-west-2 older than 30 days would be pruned
  hsmops.cloudhsm.cloudhsm_backup:
    region: us-west-2
    prune_copies_of_cluster: "{{ primary.clusters[0].cluster_id }}"
    prune_older_than_days: 30
  check_mode: true
  register: prune_plan

- name: Prune them
  hsmops.cloudhsm.cloudhsm_backup:
    region: us-west-2
    prune_copies_of_cluster: "{{ primary.clusters[0].cluster_id }}"
    prune_older_than_days: 30
"""

RETURN = r"""
backup:
  description: The backup after the change (not returned when pruning).
  returned: when O(backup_id) is given
  type: dict
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
    never_expires:
      description: Whether the backup is exempt from the retention policy.
      type: bool
    delete_timestamp:
      description: When a backup pending deletion will be deleted for good.
      type: str
      returned: when the backup is pending deletion
    source_backup:
      description: For a copy, the backup it was copied from.
      type: str
      returned: for copies
    source_region:
      description: For a copy, the region it was copied from.
      type: str
      returned: for copies
    tags:
      description: The backup's tags.
      type: dict
pruned:
  description: The copies deleted by pruning (or that would be, in check mode), oldest first.
  returned: when pruning
  type: list
  elements: dict
  sample: [{"backup_id": "backup-4kuraxsqetz", "create_timestamp": "2026-09-01T00:00:00+00:00", "source_backup": "backup-rtq2dwi2gq6"}]
kept:
  description: The copies pruning left in place (newer than the limit, the newest, or marked never to expire).
  returned: when pruning
  type: list
  elements: str
  sample: ["backup-ro5c4er4aac"]
"""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import apply_tags_locally
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import describe_backups
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_backup
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import normalize_backup
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options


def _timestamp(value):
    """A backup timestamp as an aware datetime (boto3 gives datetimes; tolerate epoch numbers)."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    return datetime.datetime.fromtimestamp(float(value), tz=datetime.timezone.utc)


class BackupTask(ControlPlaneTask):
    def __init__(self, module):
        super(BackupTask, self).__init__(module)
        self.backup = None  # the backup as last seen (raw)
        self.pruned = []  # copies deleted so far, as the result lists them
        self.kept = []

    def partial_results(self):
        if self.params["prune_copies_of_cluster"]:
            return dict(pruned=self.pruned, kept=self.kept)
        return dict(backup=normalize_backup(self.backup) if self.backup else {})

    def seen(self, backup):
        """Remember backup as the one a failure reports; returns it."""
        self.backup = backup
        return backup

    def manage(self):
        backup_id = self.params["backup_id"]
        backup = self.seen(self.look_up("describe backup %s" % backup_id, get_backup, self.client, backup_id))
        if backup is None:
            self.fail("Backup %s does not exist in %s. Check the id and the region." % (backup_id, self.region))
        before = backup
        state = backup.get("BackupState")
        wanted = self.params["state"]

        if wanted == "absent":
            if state in ("PENDING_DELETION", "DELETED"):
                return before, backup
            if state != "READY":
                self.fail("Backup %s is %s; only a READY backup can be deleted. Wait for it to be READY." % (backup_id, state))
            if self.module.check_mode:
                self.changed = True
                return before, dict(backup, BackupState="PENDING_DELETION")
            backup = self.call("delete_backup", "delete backup %s" % backup_id, BackupId=backup_id)["Backup"]
            return before, backup

        if state == "PENDING_DELETION":
            if wanted == "present":
                self.fail(
                    "Backup %s is PENDING_DELETION; use state=restored to bring it back (possible for 7 days after "
                    "deletion), then set its attributes." % backup_id
                )
            if self.module.check_mode:
                self.changed = True
                backup = dict(backup, BackupState="READY")
                backup.pop("DeleteTimestamp", None)
            else:
                backup = self.seen(self.call("restore_backup", "restore backup %s" % backup_id, BackupId=backup_id)["Backup"])
        elif state == "DELETED":
            self.fail("Backup %s is DELETED: it was deleted more than 7 days ago and can no longer be restored." % backup_id)

        never_expires = self.params["never_expires"]
        if never_expires is not None and bool(backup.get("NeverExpires")) != never_expires:
            if self.module.check_mode:
                self.changed = True
                backup = dict(backup, NeverExpires=never_expires)
            else:
                backup = self.seen(self.call("modify_backup_attributes", "set never_expires on backup %s" % backup_id,
                                             BackupId=backup_id, NeverExpires=never_expires)["Backup"])

        current_tags = boto3_tag_list_to_ansible_dict(backup.get("TagList") or before.get("TagList") or [])
        self.reconcile_tags(backup_id, current_tags, self.params["tags"], self.params["purge_tags"])
        backup = apply_tags_locally(dict(backup, TagList=backup.get("TagList") or before.get("TagList") or []),
                                    self.params["tags"], self.params["purge_tags"])
        return before, backup

    def prune(self):
        cluster_id = self.params["prune_copies_of_cluster"]
        days = self.params["prune_older_than_days"]
        backups = self.look_up("describe the backups of %s" % self.region, describe_backups, self.client)
        copies = [
            backup for backup in backups
            if backup.get("SourceCluster") == cluster_id and backup.get("BackupState") in ("READY", "CREATE_IN_PROGRESS")
        ]
        copies.sort(key=lambda backup: _timestamp(backup["CreateTimestamp"]))
        limit = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
        newest = copies[-1] if copies else None
        to_prune = []
        for backup in copies:
            too_old = _timestamp(backup["CreateTimestamp"]) < limit
            if backup is newest or not too_old or backup.get("NeverExpires") or backup.get("BackupState") != "READY":
                self.kept.append(backup["BackupId"])
                continue
            to_prune.append(backup)
        for backup in to_prune:
            self.changed = True
            if not self.module.check_mode:
                # ignored: a copy deleted meanwhile
                self.call("delete_backup", "delete copy %s" % backup["BackupId"],
                          ignore_codes=("CloudHsmResourceNotFoundException",), BackupId=backup["BackupId"])
            self.pruned.append({
                "backup_id": backup["BackupId"],
                "create_timestamp": normalize_backup(backup)["create_timestamp"],
                "source_backup": backup.get("SourceBackup"),
                "source_region": backup.get("SourceRegion"),
            })
        return self.pruned, self.kept


def diff_view(backup):
    return {
        "backup_state": backup.get("BackupState"),
        "never_expires": bool(backup.get("NeverExpires")),
        "tags": boto3_tag_list_to_ansible_dict(backup.get("TagList") or []),
    }


def main():
    argument_spec = dict(
        backup_id=dict(type="str"),
        state=dict(type="str", choices=["present", "absent", "restored"], default="present"),
        never_expires=dict(type="bool"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        prune_copies_of_cluster=dict(type="str"),
        prune_older_than_days=dict(type="int"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_one_of=[["backup_id", "prune_copies_of_cluster"]],
        mutually_exclusive=[["backup_id", "prune_copies_of_cluster"]],
        required_together=[["prune_copies_of_cluster", "prune_older_than_days"]],
        supports_check_mode=True,
    )
    params = module.params
    validate_options(module, {"backup_id": "backup", "prune_copies_of_cluster": "cluster"})
    if params["backup_id"] and params["backup_id"].startswith("arn:"):
        module.fail_json(msg="backup_id must be a backup id (backup-...), not an ARN.")
    if params["prune_older_than_days"] is not None and params["prune_older_than_days"] < 0:
        module.fail_json(msg="prune_older_than_days must be 0 or more.")

    task = BackupTask(module)
    if params["prune_copies_of_cluster"]:
        pruned, kept = task.prune()
        module.exit_json(changed=task.changed, pruned=pruned, kept=kept)

    before, after = task.manage()
    result = dict(changed=task.changed, backup=normalize_backup(after))
    if module._diff:
        result["diff"] = dict(before=diff_view(before), after=diff_view(after))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
