#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_backup_copy
version_added: 0.1.0
short_description: Copy an AWS CloudHSM backup to other regions
description:
  - Copies a backup of the module's region (O(region)) to one or more destination regions, where a cluster can
    be created from it with M(hsmops.cloudhsm.cloudhsm_cluster) O(hsmops.cloudhsm.cloudhsm_cluster#module:source_backup_id).
  - The source is a given backup, or the newest V(READY) backup of a cluster.
  - Idempotent, although the copy API returns no id for the new backup, by first looking in each destination for
    a copy of the source (DescribeBackups with the C(sourceBackupIds) filter); only regions without one get a copy.
    A copy that is pending deletion does not count.
  - Waits until every copy is V(READY) and returns, per region, the destination backup id and state.
  - Copies have no retention policy; remove old ones with M(hsmops.cloudhsm.cloudhsm_backup) O(hsmops.cloudhsm.cloudhsm_backup#module:prune_older_than_days).
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  backup_id:
    description:
      - The backup to copy (an id, or an ARN of a backup in the module's region).
      - One of O(backup_id) or O(cluster_id) is required.
    type: str
  cluster_id:
    description:
      - Copy the newest V(READY) backup of this cluster.
    type: str
  destination_regions:
    description:
      - The regions to copy the backup to. Each must differ from the source region and be in the same partition
        (backups cannot move between standard and GovCloud regions).
    type: list
    elements: str
    required: true
  tags:
    description:
      - Tags for the copies. They are given to new copies and added to existing ones (other tags are kept).
    type: dict
notes:
  - Supports check mode (no call that changes anything is made).
  - Without O(wait), the destination backup id of a copy made in this run may still be unknown (null).
seealso:
  - module: hsmops.cloudhsm.cloudhsm_backup
  - module: hsmops.cloudhsm.cloudhsm_backup_info
  - module: hsmops.cloudhsm.cloudhsm_cluster
extends_documentation_fragment:
  - hsmops.cloudhsm.cloudhsm_wait
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Look up the primary cluster
  hsmops.cloudhsm.cloudhsm_cluster_info:
    region: us-east-1
    name: dr-primary
  register: primary

- name: Copy its newest backup to two regions
  hsmops.cloudhsm.cloudhsm_backup_copy:
    region: us-east-1
    cluster_id: "{{ primary.clusters[0].cluster_id }}"
    destination_regions:
      - us-west-2
      - eu-west-1
    tags:
      Purpose: disaster-recovery
  register: copies

- name: Create a clone from the copy in us-west-2
  hsmops.cloudhsm.cloudhsm_cluster:
    region: us-west-2
    name: dr-secondary
    subnet_ids:
      - subnet-49a1bc00
    source_backup_id: "{{ copies.copies['us-west-2'].backup_id }}"
"""

RETURN = r"""
source_backup_id:
  description: The backup that was copied.
  returned: always
  type: str
  sample: backup-4kuraxsqetz
source_region:
  description: The region of the source backup.
  returned: always
  type: str
  sample: us-east-1
source_cluster_id:
  description: The cluster the source backup belongs to.
  returned: always
  type: str
  sample: cluster-kzlczlspnho
copies:
  description: Per destination region, the copy of the source backup there.
  returned: always
  type: dict
  contains:
    backup_id:
      description: The id of the copy in the destination region (null when not known yet, or in check mode).
      type: str
      sample: backup-ro5c4er4aac
    state:
      description: The state of the copy.
      type: str
      sample: READY
    copied:
      description: Whether this run copied (or in check mode would copy) the backup to this region.
      type: bool
  sample: {"us-west-2": {"backup_id": "backup-ro5c4er4aac", "state": "READY", "copied": true}}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import CloudHsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import StateWaiter
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import backup_state
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import describe_backups
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_backup
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import newest
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import parse_backup_reference
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import partition_of_region
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_options
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_region
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_for_backup

# Copies in these states are the copy of the source in their region; others are on their way out.
LIVE_COPY_STATES = ("CREATE_IN_PROGRESS", "READY")


class CopyTask(ControlPlaneTask):
    def __init__(self, module):
        super(CopyTask, self).__init__(module)
        self.source_backup = None
        self.copies = {}  # region -> the copy's result, filled in as each copy is started or found

    def partial_results(self):
        return dict(source_backup_id=(self.source_backup or {}).get("BackupId"), source_region=self.region,
                    source_cluster_id=(self.source_backup or {}).get("ClusterId"), copies=self.copies)

    def wait_ready(self, backup, label):
        return self.wait("backup %s" % backup["BackupId"], wait_for_backup, self.client, backup["BackupId"], ("READY",),
                         self.params["wait_timeout"], label=label, initial=backup)

    def source(self):
        """The source backup (raw), READY or failing with the reason."""
        if self.params["backup_id"]:
            backup_id, arn_region, _account = parse_backup_reference(self.params["backup_id"], "backup_id")
            if arn_region and arn_region != self.region:
                self.fail("backup_id %s is in %s; run this module with region=%s to copy it."
                          % (self.params["backup_id"], arn_region, arn_region))
            backup = self.look_up("describe backup %s" % backup_id, get_backup, self.client, backup_id)
            if backup is None:
                self.fail("Backup %s does not exist in %s. Check the id and the region." % (backup_id, self.region))
        else:
            cluster_id = self.params["cluster_id"]
            backups = self.look_up("describe the backups of cluster %s" % cluster_id, describe_backups, self.client,
                                   cluster_ids=[cluster_id], states=["READY", "CREATE_IN_PROGRESS"])
            backup = newest([b for b in backups if b.get("BackupState") == "READY"]) or newest(backups)
            if backup is None:
                cluster = self.look_up("describe cluster %s" % cluster_id, get_cluster, self.client, cluster_id)
                if cluster is None:
                    self.fail("Cluster %s does not exist in %s. Check the id and the region." % (cluster_id, self.region))
                self.fail(
                    "Cluster %s (state %s) has no READY backup to copy. AWS takes a backup when a cluster is activated "
                    "and when an HSM is added to or removed from an active cluster." % (cluster_id, cluster.get("State"))
                )
        self.source_backup = backup
        state = backup.get("BackupState")
        label = "source backup %s in %s" % (backup["BackupId"], self.region)
        if state == "CREATE_IN_PROGRESS" and self.params["wait"] and not self.module.check_mode:
            return self.wait_ready(backup, label)
        if state != "READY" and not (state == "CREATE_IN_PROGRESS" and self.module.check_mode):
            fix = {
                "CREATE_IN_PROGRESS": "Rerun with wait=true to wait for it.",
                "PENDING_DELETION": "Restore it first (hsmops.cloudhsm.cloudhsm_backup state=restored).",
            }.get(state, "Copy another backup.")
            self.fail("%s is %s; only a READY backup can be copied. %s" % (label[0].upper() + label[1:], state, fix))
        return backup

    def check_destinations(self):
        regions = []
        source_partition = partition_of_region(self.region)
        for region in self.params["destination_regions"]:
            try:
                validate_region(region, "destination_regions")
            except CloudHsmError as e:
                self.fail(str(e))
            if region == self.region:
                self.fail("destination_regions: %s is the source region; a backup is copied to a different region. "
                          "Remove %s from destination_regions." % (region, region))
            if partition_of_region(region) != source_partition:
                self.fail(
                    "destination_regions: %s is in partition %s and the source region %s in %s; backups cannot be copied "
                    "between standard and GovCloud (restricted) regions. GovCloud backups can be copied between "
                    "us-gov-east-1 and us-gov-west-1." % (region, partition_of_region(region), self.region, source_partition)
                )
            if region not in regions:
                regions.append(region)
        return regions

    def find_copy(self, client, source_id):
        copies = describe_backups(client, source_backup_ids=[source_id])
        live = [backup for backup in copies if backup.get("BackupState") in LIVE_COPY_STATES]
        ready = [backup for backup in live if backup.get("BackupState") == "READY"]
        return newest(ready) or newest(live)

    def copy_to(self, region, source):
        source_id = source["BackupId"]
        client = self.regional_client(region)
        existing = self.look_up("look for copies of %s in %s" % (source_id, region), self.find_copy, client, source_id)
        copied = existing is None
        if existing is not None:
            current_tags = boto3_tag_list_to_ansible_dict(existing.get("TagList") or [])
            self.reconcile_tags(existing["BackupId"], current_tags, self.params["tags"], False, client=client)
            backup = existing
        else:
            if self.module.check_mode:
                self.changed = True
                return self.record_copy(region, None, True)
            request = dict(DestinationRegion=region, BackupId=source_id)
            if self.params["tags"]:
                request["TagList"] = ansible_dict_to_boto3_tag_list(self.params["tags"])
            refused = "AWS refused to copy backup %s from %s to %s" % (source_id, self.region, region)
            self.call("copy_backup_to_region", "copy backup %s to %s" % (source_id, region),
                      refusals={"CloudHsmInvalidRequestException": refused}, **request)
            backup = None
        self.record_copy(region, backup, copied)
        return {"client": client, "backup": backup, "copied": copied}

    def record_copy(self, region, backup, copied):
        """Record the copy in region (None while CopyBackupToRegion's copy is not yet listed); returns its result."""
        self.copies[region] = {"backup_id": (backup or {}).get("BackupId"), "state": (backup or {}).get("BackupState"),
                               "copied": copied}
        return self.copies[region]

    def settle(self, region, source_id, entry):
        """Wait (when asked) for the copy in region to be READY; returns the per-region result."""
        client, backup = entry["client"], entry["backup"]
        label = "copy of backup %s in %s" % (source_id, region)
        if self.params["wait"] and not self.module.check_mode and (backup is None or backup.get("BackupState") != "READY"):
            def fetch():
                copy = self.find_copy(client, source_id)
                self.record_copy(region, copy, entry["copied"])  # what a failed wait reports
                return copy

            waiter = StateWaiter(self.params["wait_timeout"])
            backup = self.wait("the %s" % label, waiter.wait, fetch, backup_state, label, ("READY",),
                               failed=("DELETED", "PENDING_DELETION"), fail_when_gone=False, initial=backup)
        elif backup is None and not self.module.check_mode:
            backup = self.look_up("look for the %s" % label, self.find_copy, client, source_id)
        return self.record_copy(region, backup, entry["copied"])


def main():
    argument_spec = dict(
        backup_id=dict(type="str"),
        cluster_id=dict(type="str"),
        destination_regions=dict(type="list", elements="str", required=True),
        tags=dict(type="dict"),
        **wait_options()
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[["backup_id", "cluster_id"]],
        required_one_of=[["backup_id", "cluster_id"]],
        supports_check_mode=True,
    )
    params = module.params
    validate_options(module, {"backup_id": "backup", "cluster_id": "cluster"})
    if not params["destination_regions"]:
        module.fail_json(msg="destination_regions must name at least one region.")

    task = CopyTask(module)
    regions = task.check_destinations()
    source = task.source()
    entries = {}
    for region in regions:
        entries[region] = task.copy_to(region, source)
    copies = {}
    for region in regions:
        entry = entries[region]
        copies[region] = entry if "client" not in entry else task.settle(region, source["BackupId"], entry)

    module.exit_json(
        changed=task.changed,
        source_backup_id=source["BackupId"],
        source_region=task.region,
        source_cluster_id=source.get("ClusterId"),
        copies=copies,
    )


if __name__ == "__main__":
    main()
