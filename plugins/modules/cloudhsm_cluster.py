#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_cluster
version_added: 0.1.0
short_description: Create, initialize, modify and delete AWS CloudHSM clusters
description:
  - Creates an AWS CloudHSM cluster, or a clone of one from a backup with O(source_backup_id), and waits until it
    is ready for its first HSM.
  - Returns the cluster including C(certificates.cluster_csr) once the first HSM exists (see
    M(hsmops.cloudhsm.cloudhsm_hsm)), so that a playbook can sign the CSR and call this module again with
    O(signed_cert) and O(trust_anchor) to initialize (claim) the cluster.
  - Changes the backup retention and the HSM type in place; refuses changes that AWS cannot make in place
    (O(mode), O(subnet_ids), O(network_type), O(source_backup_id)) with a message naming the option.
  - With O(state=absent), deletes the cluster's HSMs first, waits for them to go, then deletes the cluster.
  - Activation (setting the first admin password) happens on the HSM, not through this API.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  state:
    description:
      - Whether the cluster should exist.
    type: str
    choices: [present, absent]
    default: present
  cluster_id:
    description:
      - The id of an existing cluster.
      - One of O(cluster_id) or O(name) is required.
    type: str
  name:
    description:
      - The name of the cluster, kept as its C(Name) tag. Identifies the cluster when O(cluster_id) is not given.
      - Two live clusters with the same name are an error that lists them.
    type: str
  hsm_type:
    description:
      - The HSM type. When creating, defaults to the type of the O(source_backup_id) backup, or V(hsm2m.medium).
      - Changing the type of an existing V(ACTIVE) cluster migrates it in place (ModifyCluster C(HsmType)). AWS
        migrates only from V(hsm1.medium) to V(hsm2m.medium), a cluster of at most 27 HSMs whose clients all used
        Client SDK 5.9 or later in the last 7 days; each HSM takes about 30 minutes, and the cluster is
        V(MODIFY_IN_PROGRESS) (limited-write mode) meanwhile. The module refuses, before any call, what AWS would
        refuse and it can see (state, direction, HSM count); AWS itself judges the client versions.
      - Setting V(hsm1.medium) on a migrated cluster rolls it back while its C(HsmTypeRollbackExpiration) (24 hours
        after the migration started) has not passed; after that the module refuses and names the deadline.
      - A rerun during the change makes no second ModifyCluster call, since the cluster already reports the new type.
        With O(wait=true) it waits for V(ACTIVE) (give O(wait_timeout) about 1800 seconds per HSM); with
        O(wait=false) it returns at once, and C(hsm_type_change) shows the progress HSM by HSM.
    type: str
  mode:
    description:
      - The cluster mode. Required when creating a cluster of any type except V(hsm1.medium), unless the mode can
        be taken from the O(source_backup_id) backup.
      - Cannot be changed after creation.
    type: str
    choices: [FIPS, NON_FIPS]
  subnet_ids:
    description:
      - The subnets of the cluster, one per availability zone (1 to 10). Required when creating.
      - Cannot be changed after creation.
    type: list
    elements: str
  network_type:
    description:
      - The network type. The API defaults to V(IPV4).
      - Cannot be changed after creation.
    type: str
    choices: [IPV4, DUALSTACK]
  source_backup_id:
    description:
      - Create the cluster from this backup (an id, or an ARN for a backup of another account). The backup must
        be in the cluster's region and V(READY).
      - A cluster created from a backup needs no initialization or activation. AWS makes it V(ACTIVE) with no HSM,
        so it takes all its HSMs at once (M(hsmops.cloudhsm.cloudhsm_hsm)); the module waits for V(ACTIVE), and
        also accepts V(UNINITIALIZED) should the cluster report that until its first HSM.
    type: str
  backup_retention_days:
    description:
      - How many days the service keeps the cluster's backups (7 to 379). The API default is 90.
    type: int
  signed_cert:
    description:
      - The cluster certificate (the cluster CSR signed by your issuing CA), as PEM text or the path of a PEM file.
      - Together with O(trust_anchor), initializes an V(UNINITIALIZED) cluster that has its first HSM.
      - For a cluster that is already initialized with the same certificate this is no change; a different
        certificate is an error.
    type: str
  trust_anchor:
    description:
      - The self-signed root certificate of your issuing CA, as PEM text or the path of a PEM file.
    type: str
notes:
  - Supports check mode (no call that changes anything is made) and diff mode.
  - With O(state=absent), the deletion of the cluster's HSMs is always waited for, because AWS refuses to delete a
    cluster that still has HSMs; O(wait) decides whether the deletion of the cluster itself is waited for.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_hsm
  - module: hsmops.cloudhsm.cloudhsm_cluster_info
  - module: hsmops.cloudhsm.cloudhsm_backup_copy
extends_documentation_fragment:
  - hsmops.cloudhsm.cloudhsm_wait
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create a cluster and wait until it is UNINITIALIZED
  hsmops.cloudhsm.cloudhsm_cluster:
    name: dr-primary
    mode: FIPS
    subnet_ids:
      - subnet-0e358c43
      - subnet-f1d6e798
    backup_retention_days: 30
    tags:
      Environment: production
  register: primary

- name: Initialize it once the first HSM exists and its CSR is signed
  hsmops.cloudhsm.cloudhsm_cluster:
    cluster_id: "{{ primary.cluster.cluster_id }}"
    signed_cert: "{{ playbook_dir }}/pki/{{ primary.cluster.cluster_id }}.crt"
    trust_anchor: "{{ playbook_dir }}/pki/customerCA.crt"

- name: Copy the primary's newest backup to us-west-2
  hsmops.cloudhsm.cloudhsm_backup_copy:
    cluster_id: "{{ primary.cluster.cluster_id }}"
    destination_regions:
      - us-west-2
  register: copies

- name: Create a clone there from the copy
  hsmops.cloudhsm.cloudhsm_cluster:
    name: dr-secondary
    region: us-west-2
    subnet_ids:
      - subnet-49a1bc00
    source_backup_id: "{{ copies.copies['us-west-2'].backup_id }}"

- name: Migrate a cluster from hsm1.medium to hsm2m.medium, about 30 minutes per HSM
  hsmops.cloudhsm.cloudhsm_cluster:
    cluster_id: cluster-igklspoyj5v
    hsm_type: hsm2m.medium
    wait_timeout: 7200
  register: migrated

- name: Show the rollback deadline
  ansible.builtin.debug:
    msg: "Rollback possible until {{ migrated.hsm_type_change.rollback_expiration }}"

- name: Roll it back while the window is open
  hsmops.cloudhsm.cloudhsm_cluster:
    cluster_id: cluster-igklspoyj5v
    hsm_type: hsm1.medium
    wait_timeout: 7200

- name: Delete the clone, its HSMs first
  hsmops.cloudhsm.cloudhsm_cluster:
    name: dr-secondary
    region: us-west-2
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster, as M(hsmops.cloudhsm.cloudhsm_cluster_info) returns it. Empty after deletion.
    - In check mode, for a cluster that does not exist yet, the cluster that would be created (no C(cluster_id)).
  returned: always
  type: dict
  contains:
    cluster_id:
      description: The cluster id.
      type: str
      sample: cluster-igklspoyj5v
    name:
      description: The value of the C(Name) tag.
      type: str
      sample: dr-primary
    state:
      description: The cluster state.
      type: str
      sample: UNINITIALIZED
    hsm_type:
      description: The HSM type.
      type: str
      sample: hsm2m.medium
    mode:
      description: The cluster mode.
      type: str
      sample: FIPS
    vpc_id:
      description: The VPC of the cluster.
      type: str
    subnet_mapping:
      description: The cluster's subnets keyed by availability zone.
      type: dict
    security_group:
      description: The security group of the cluster's ENIs.
      type: str
    backup_retention_policy:
      description: The backup retention policy.
      type: dict
      sample: {"type": "DAYS", "value": "90"}
    source_backup_id:
      description: The backup the cluster was created from.
      type: str
    certificates:
      description:
        - The cluster's certificates; C(cluster_csr) while the cluster is UNINITIALIZED and has an HSM,
          C(cluster_certificate) once initialized.
      type: dict
    hsms:
      description: The HSMs of the cluster (id, availability zone, subnet, ENI id and IP, state).
      type: list
      elements: dict
    tags:
      description: The cluster's tags.
      type: dict
    hsm_type_rollback_expiration:
      description:
        - Until when (UTC, C(YYYY-MM-DDTHH:MM:SSZ)) a cluster migrated to hsm2m.medium can be rolled back to
          hsm1.medium. Only for a cluster whose HSM type was changed in place.
      type: str
      sample: "2026-12-08T05:40:12Z"
hsm_type_change:
  description:
    - The in-place HSM type change this run asked for or found under way (migration or rollback), also when this
      run waited for one found under way to its end. Absent when the HSM type neither changes nor is changing.
  returned: when the HSM type changes or is changing
  type: dict
  contains:
    from_type:
      description: The HSM type the cluster leaves.
      type: str
      sample: hsm1.medium
    to_type:
      description: The HSM type the cluster goes to.
      type: str
      sample: hsm2m.medium
    rollback:
      description: Whether this is a rollback to hsm1.medium.
      type: bool
    state:
      description: The cluster state, V(MODIFY_IN_PROGRESS) or V(ROLLBACK_IN_PROGRESS) while the change runs.
      type: str
    hsms_total:
      description: The cluster's HSMs.
      type: int
    hsms_done:
      description: The HSMs that already run the new type.
      type: int
    expected_seconds_left:
      description: About 1800 seconds for every HSM still to change (the AWS estimate of 30 minutes per HSM).
      type: int
    rollback_expiration:
      description:
        - For a migration, until when (UTC, C(YYYY-MM-DDTHH:MM:SSZ)) the cluster can be rolled back, by running
          this module again with O(hsm_type=hsm1.medium). V(null) for a rollback.
      type: str
      sample: "2026-12-08T05:40:12Z"
"""

import datetime
import re

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import GONE_CLUSTER_STATES
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import HSM_TYPE_CHANGING_STATES
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import HSM_TYPE_MIGRATION
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import HSM_TYPE_ROLLBACK
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import INITIALIZED_CLUSTER_STATES
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import MAX_HSMS_FOR_MIGRATION
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ROLLBACK_WINDOW_SECONDS
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import SECONDS_PER_HSM_MIGRATION
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import StateWaiter
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import CloudHsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import apply_tags_locally
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import find_clusters_by_name
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_backup
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import hsm_type_progress
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import iso_time
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import load_pem
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import normalize_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import now_utc
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import parse_backup_reference
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import retention_days
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import rollback_deadline
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import same_pem
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_options
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_for_backup
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_for_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_for_hsms

DEFAULT_HSM_TYPE = "hsm2m.medium"
MIGRATION = HSM_TYPE_MIGRATION
ROLLBACK = HSM_TYPE_ROLLBACK
HSM_TYPE_PATTERN = re.compile(r"^(p|)hsm[0-9][a-z.]*\.[a-zA-Z]+$")
# States a cluster settles in after creation: UNINITIALIZED for a new cluster, ACTIVE for one from a backup (or
# UNINITIALIZED until its first HSM, should a cluster from a backup report that).
SETTLED_AFTER_CREATE = ("UNINITIALIZED", "INITIALIZED", "ACTIVE")
# Transitional states worth waiting out before changing anything.
TRANSITIONAL = {
    "CREATE_IN_PROGRESS": SETTLED_AFTER_CREATE,
    "INITIALIZE_IN_PROGRESS": ("INITIALIZED", "ACTIVE"),
    "UPDATE_IN_PROGRESS": ("ACTIVE",),
    "MODIFY_IN_PROGRESS": ("ACTIVE",),
    "ROLLBACK_IN_PROGRESS": ("ACTIVE",),
}


class ClusterTask(ControlPlaneTask):
    def __init__(self, module):
        super(ClusterTask, self).__init__(module)
        self.timeout = self.params["wait_timeout"]
        self.cluster = None  # the cluster as last seen (raw), reported when a run fails after finding or creating it

    def partial_results(self):
        return dict(cluster=normalize_cluster(self.cluster) if self.cluster else {})

    def seen(self, cluster):
        """Remember cluster as the one a failure reports; returns it."""
        self.cluster = cluster
        return cluster

    # --- finding the cluster ---

    def find(self):
        cluster_id, name = self.params["cluster_id"], self.params["name"]
        if cluster_id:
            cluster = self.look_up("look up cluster %s" % cluster_id, get_cluster, self.client, cluster_id)
            if cluster is not None and cluster.get("State") in GONE_CLUSTER_STATES and self.params["state"] == "present":
                self.fail(
                    "Cluster %s is %s; a deleted cluster cannot be brought back. Create a new one from one of its "
                    "backups (name and source_backup_id)." % (cluster_id, cluster["State"])
                )
            if cluster is None and self.params["state"] == "present":
                self.fail(
                    "Cluster %s does not exist in %s. A new cluster gets its id from AWS: give name (and no "
                    "cluster_id) to create one." % (cluster_id, self.region)
                )
            return self.seen(cluster)
        matches = self.look_up("look up the clusters named %r" % name, find_clusters_by_name, self.client, name)
        if len(matches) > 1:
            self.fail(
                "%d live clusters are named %r: %s. Give cluster_id to choose one, or rename the others."
                % (len(matches), name, ", ".join("%s (%s)" % (c["ClusterId"], c.get("State")) for c in matches))
            )
        return self.seen(matches[0] if matches else None)

    def wait_cluster(self, cluster_id, wanted, initial=None):
        return self.seen(self.wait("cluster %s" % cluster_id, wait_for_cluster, self.client, cluster_id, wanted,
                                   self.timeout, initial=initial))

    # --- desired state ---

    def desired_tags(self):
        tags, name = self.params["tags"], self.params["name"]
        if tags is None and name is None:
            return None, self.params["purge_tags"]
        if tags is None:
            # Only the Name tag is managed: leave the other tags alone.
            return {"Name": name}, False
        desired = dict(tags)
        if name is not None:
            desired["Name"] = name
        return desired, self.params["purge_tags"]

    def certificates(self):
        try:
            return load_pem(self.params["signed_cert"], "signed_cert"), load_pem(self.params["trust_anchor"], "trust_anchor")
        except CloudHsmError as e:
            self.fail(str(e))

    # --- present ---

    def source_backup(self):
        """The source backup (raw) or None; checks region, existence and readiness."""
        reference = self.params["source_backup_id"]
        if not reference:
            return None, None
        backup_id, region, account = parse_backup_reference(reference, "source_backup_id")
        if region and region != self.region:
            self.fail(
                "source_backup_id %s is in region %s but the cluster is to be created in %s. Copy the backup to %s "
                "first (hsmops.cloudhsm.cloudhsm_backup_copy) and use the copy's id." % (reference, region, self.region, self.region)
            )
        backup = self.look_up("describe backup %s" % backup_id, get_backup, self.client, backup_id)
        if backup is None:
            if account:
                # A backup shared from another account is not listed here; let CreateCluster judge it.
                return None, reference
            self.fail(
                "source_backup_id %s does not exist in %s. Check the id, or copy the backup to this region first "
                "(hsmops.cloudhsm.cloudhsm_backup_copy)." % (backup_id, self.region)
            )
        state = backup.get("BackupState")
        if state == "CREATE_IN_PROGRESS" and self.params["wait"] and not self.module.check_mode:
            backup = self.wait("backup %s" % backup_id, wait_for_backup, self.client, backup_id, ("READY",), self.timeout,
                               initial=backup)
            state = backup.get("BackupState")
        if state != "READY" and not (state == "CREATE_IN_PROGRESS" and self.module.check_mode):
            self.fail(
                "source_backup_id %s is in state %s; a cluster can only be created from a READY backup. %s"
                % (backup_id, state, "Restore it first (hsmops.cloudhsm.cloudhsm_backup state=restored)."
                   if state == "PENDING_DELETION" else "Wait for it to become READY (wait=true).")
            )
        return backup, reference

    def create(self):
        params = self.params
        if not params["subnet_ids"]:
            self.fail("Cluster %r does not exist; subnet_ids is required to create it." % (params["name"] or params["cluster_id"]))
        backup, reference = self.source_backup()
        hsm_type = params["hsm_type"] or (backup or {}).get("HsmType") or DEFAULT_HSM_TYPE
        mode = params["mode"] or (backup or {}).get("Mode")
        if backup and params["mode"] and backup.get("Mode") and backup["Mode"] != params["mode"]:
            self.fail(
                "mode=%s does not match the source backup %s, which is %s: a %s backup can only restore a %s cluster. "
                "Drop mode or set it to %s." % (params["mode"], backup["BackupId"], backup["Mode"], backup["Mode"], backup["Mode"], backup["Mode"])
            )
        if not mode and hsm_type != "hsm1.medium":
            self.fail("mode (FIPS or NON_FIPS) is required to create a cluster of hsm_type %s." % hsm_type)
        request = dict(HsmType=hsm_type, SubnetIds=params["subnet_ids"])
        if mode:
            request["Mode"] = mode
        if params["network_type"]:
            request["NetworkType"] = params["network_type"]
        if reference:
            request["SourceBackupId"] = reference
        if params["backup_retention_days"] is not None:
            request["BackupRetentionPolicy"] = {"Type": "DAYS", "Value": str(params["backup_retention_days"])}
        tags, _purge = self.desired_tags()
        if tags:
            request["TagList"] = ansible_dict_to_boto3_tag_list(tags)
        if self.module.check_mode:
            self.changed = True
            planned = dict((key, value) for key, value in request.items() if key not in ("SubnetIds",))
            planned["State"] = "CREATE_IN_PROGRESS"
            return self.seen(planned)
        cluster = self.seen(self.call("create_cluster", "create the cluster", **request)["Cluster"])
        if self.params["wait"]:
            cluster = self.wait_cluster(cluster["ClusterId"], SETTLED_AFTER_CREATE)
        signed_cert, trust_anchor = self.certificates()
        if signed_cert:
            cluster = self.initialize(cluster, signed_cert, trust_anchor)
        return cluster

    def refuse_in_place_changes(self, cluster):
        params = self.params
        cluster_id = cluster["ClusterId"]
        if params["mode"] and cluster.get("Mode") and params["mode"] != cluster["Mode"]:
            self.fail(
                "mode: cluster %s is %s and the mode cannot be changed after creation. Create a new cluster with "
                "mode=%s instead." % (cluster_id, cluster["Mode"], params["mode"])
            )
        if params["subnet_ids"] is not None:
            current = sorted((cluster.get("SubnetMapping") or {}).values())
            if sorted(set(params["subnet_ids"])) != current:
                self.fail(
                    "subnet_ids: cluster %s uses subnets %s and AWS cannot change a cluster's subnets in place. Create "
                    "a new cluster from a backup with the new subnets instead." % (cluster_id, ", ".join(current))
                )
        if params["network_type"] and cluster.get("NetworkType") and params["network_type"] != cluster["NetworkType"]:
            self.fail(
                "network_type: cluster %s is %s and AWS cannot change the network type in place. Create a new "
                "cluster from a backup with network_type=%s instead." % (cluster_id, cluster["NetworkType"], params["network_type"])
            )
        if params["source_backup_id"]:
            wanted, _region, _account = parse_backup_reference(params["source_backup_id"], "source_backup_id")
            current = cluster.get("SourceBackupId")
            current_id = parse_backup_reference(current)[0] if current else None
            if current_id != wanted:
                self.fail(
                    "source_backup_id: cluster %s was %s; a cluster cannot be re-created from backup %s in place. "
                    "Use another name to create a clone." % (cluster_id, "created from %s" % current if current else "not created from a backup", wanted)
                )

    def update(self, cluster):
        params = self.params
        cluster_id = cluster["ClusterId"]
        self.refuse_in_place_changes(cluster)
        signed_cert, trust_anchor = self.certificates()

        if cluster.get("State") in TRANSITIONAL and self.params["wait"] and not self.module.check_mode:
            cluster = self.wait_cluster(cluster_id, TRANSITIONAL[cluster["State"]], initial=cluster)

        modify = {}
        if params["backup_retention_days"] is not None and retention_days(cluster) != params["backup_retention_days"]:
            modify["BackupRetentionPolicy"] = {"Type": "DAYS", "Value": str(params["backup_retention_days"])}
        if params["hsm_type"] and params["hsm_type"] != cluster.get("HsmType"):
            self.check_hsm_type_change(cluster)
            modify["HsmType"] = params["hsm_type"]
        if modify:
            if self.module.check_mode:
                self.changed = True
                cluster = dict(cluster)
                cluster.update(modify)
                if "HsmType" in modify:
                    cluster.update(predicted_hsm_type_change(cluster, modify["HsmType"]))
            else:
                cluster = self.seen(self.call("modify_cluster", "modify cluster %s" % cluster_id, ClusterId=cluster_id,
                                              **modify)["Cluster"])
                if self.params["wait"] and cluster.get("State") in TRANSITIONAL:
                    cluster = self.wait_cluster(cluster_id, TRANSITIONAL[cluster["State"]])

        tags, purge = self.desired_tags()
        current_tags = boto3_tag_list_to_ansible_dict(cluster.get("TagList") or [])
        if self.reconcile_tags(cluster_id, current_tags, tags, purge):
            cluster = self.seen(apply_tags_locally(cluster, tags, purge))

        if signed_cert:
            cluster = self.initialize(cluster, signed_cert, trust_anchor)
        return cluster

    def check_hsm_type_change(self, cluster):
        """Refuse, before any call, an HSM type change that AWS would refuse, naming the fix."""
        cluster_id, current, wanted = cluster["ClusterId"], cluster.get("HsmType"), self.params["hsm_type"]
        if cluster.get("State") != "ACTIVE":
            self.fail(
                "hsm_type: cluster %s is %s and its HSM type can only be changed (%s to %s) while it is ACTIVE. "
                "Initialize and activate it first, or create it with the wanted type."
                % (cluster_id, cluster.get("State"), current, wanted)
            )
        if (current, wanted) == ROLLBACK:
            deadline = rollback_deadline(cluster)
            if deadline is None:
                self.fail(
                    "hsm_type: cluster %s is hsm2m.medium and has no HsmTypeRollbackExpiration: it was not migrated "
                    "from hsm1.medium, so it cannot be rolled back. Keep hsm_type=hsm2m.medium." % cluster_id
                )
            if deadline <= now_utc():
                self.fail(
                    "hsm_type: cluster %s cannot be rolled back to hsm1.medium: its rollback window closed at %s "
                    "(HsmTypeRollbackExpiration, 24 hours after the migration started). It stays hsm2m.medium; "
                    "keep hsm_type=hsm2m.medium." % (cluster_id, iso_time(deadline))
                )
            return
        if (current, wanted) != MIGRATION:
            self.fail(
                "hsm_type: cluster %s is %s and AWS changes the HSM type in place only from hsm1.medium to "
                "hsm2m.medium (and back within the 24 hour rollback window), not to %s. Create a new cluster of "
                "type %s from a backup instead." % (cluster_id, current, wanted, wanted)
            )
        hsms = [hsm for hsm in cluster.get("Hsms") or [] if hsm.get("State") != "DELETED"]
        if len(hsms) > MAX_HSMS_FOR_MIGRATION:
            self.fail(
                "hsm_type: cluster %s has %d HSMs; AWS migrates a cluster to hsm2m.medium only with %d HSMs or "
                "fewer. Remove %d HSM(s) (hsmops.cloudhsm.cloudhsm_hsm) first."
                % (cluster_id, len(hsms), MAX_HSMS_FOR_MIGRATION, len(hsms) - MAX_HSMS_FOR_MIGRATION)
            )

    def initialize(self, cluster, signed_cert, trust_anchor):
        cluster_id = cluster.get("ClusterId", "(new)")
        state = cluster.get("State")
        certificates = cluster.get("Certificates") or {}
        current = certificates.get("ClusterCertificate")
        if current or cluster.get("SourceBackupId") or state in INITIALIZED_CLUSTER_STATES:
            # Claimed already: initialized, or a clone that carries its source's certificate.
            if current and not same_pem(current, signed_cert):
                self.fail(
                    "Cluster %s is already initialized (state %s) with a different cluster certificate; a cluster is "
                    "initialized only once. Pass the certificate it was initialized with, or drop signed_cert."
                    % (cluster_id, state)
                )
            return cluster
        if state == "CREATE_IN_PROGRESS":
            if self.module.check_mode:
                return cluster
            self.fail(
                "Cluster %s is CREATE_IN_PROGRESS; it can be initialized once it is UNINITIALIZED and has its first "
                "HSM. Rerun with wait=true." % cluster_id
            )
        if state != "UNINITIALIZED":
            self.fail("Cluster %s is %s; only an UNINITIALIZED cluster can be initialized." % (cluster_id, state))
        if not certificates.get("ClusterCsr"):
            self.fail(
                "Cluster %s is UNINITIALIZED but has no CSR yet: a cluster gets its CSR with its first HSM. Create "
                "the HSM (hsmops.cloudhsm.cloudhsm_hsm), sign certificates.cluster_csr, then pass signed_cert and "
                "trust_anchor again." % cluster_id
            )
        if self.module.check_mode:
            self.changed = True
            return self.seen(dict(cluster, State="INITIALIZE_IN_PROGRESS"))
        refused = ("Cluster %s refused the certificates. signed_cert must be the cluster's current CSR signed by the CA "
                   "whose self-signed certificate is trust_anchor" % cluster_id)
        response = self.call("initialize_cluster", "initialize cluster %s" % cluster_id,
                             refusals={"CloudHsmInvalidRequestException": refused},
                             ClusterId=cluster_id, SignedCert=signed_cert, TrustAnchor=trust_anchor)
        cluster = self.seen(dict(cluster, State=response.get("State", "INITIALIZE_IN_PROGRESS"),
                                 StateMessage=response.get("StateMessage")))
        if self.params["wait"]:
            cluster = self.wait_cluster(cluster_id, ("INITIALIZED", "ACTIVE"))
        return cluster

    # --- absent ---

    def delete(self, cluster):
        cluster_id = cluster["ClusterId"]
        if cluster.get("State") in GONE_CLUSTER_STATES:
            if cluster.get("State") == "DELETE_IN_PROGRESS" and self.params["wait"] and not self.module.check_mode:
                self.wait_cluster(cluster_id, (StateWaiter.GONE, "DELETED"), initial=cluster)
            return {}
        self.changed = True
        if self.module.check_mode:
            return {}
        hsm_ids = [hsm["HsmId"] for hsm in cluster.get("Hsms") or [] if hsm.get("State") not in ("DELETED",)]
        for hsm in cluster.get("Hsms") or []:
            if hsm.get("State") in ("DELETE_IN_PROGRESS", "DELETED"):
                continue
            self.call("delete_hsm", "delete HSM %s of cluster %s" % (hsm["HsmId"], cluster_id),
                      ignore_codes=("CloudHsmResourceNotFoundException",), ClusterId=cluster_id, HsmId=hsm["HsmId"])
        if hsm_ids:
            # The cluster cannot be deleted while it has HSMs, so this wait happens even with wait=false.
            self.wait("the HSMs of cluster %s to be deleted" % cluster_id, wait_for_hsms, self.client, cluster_id,
                      hsm_ids, self.timeout, deleted=True)
        if self.call("delete_cluster", "delete cluster %s" % cluster_id,
                     ignore_codes=("CloudHsmResourceNotFoundException",), ClusterId=cluster_id) is None:
            return {}
        if self.params["wait"]:
            self.wait_cluster(cluster_id, (StateWaiter.GONE, "DELETED"))
        return {}


def predicted_hsm_type_change(cluster, hsm_type):
    """What ModifyCluster(HsmType) answers, for check mode: the in-progress state and the rollback deadline."""
    if hsm_type == ROLLBACK[1]:
        return {"State": "ROLLBACK_IN_PROGRESS"}
    return {
        "State": "MODIFY_IN_PROGRESS",
        "HsmTypeRollbackExpiration": now_utc() + datetime.timedelta(seconds=ROLLBACK_WINDOW_SECONDS),
    }


def hsm_type_change_view(before, after, wanted):
    """The HSM type change a run asked for or found under way: direction, progress HSM by HSM, rollback deadline."""
    if not after:
        return None
    in_progress = after.get("State") in HSM_TYPE_CHANGING_STATES
    found_under_way = bool(before) and before.get("State") in HSM_TYPE_CHANGING_STATES  # a rerun that waited
    if not in_progress and not found_under_way and not (wanted and before and before.get("HsmType") != wanted):
        return None
    target = after.get("HsmType")
    rollback = target == ROLLBACK[1]
    total, done = hsm_type_progress(after)
    if not in_progress:
        done = total
    deadline = rollback_deadline(after)
    return {
        "from_type": ROLLBACK[0] if rollback else MIGRATION[0],
        "to_type": target,
        "rollback": rollback,
        "state": after.get("State"),
        "hsms_total": total,
        "hsms_done": done,
        "expected_seconds_left": SECONDS_PER_HSM_MIGRATION * (total - done),
        "rollback_expiration": iso_time(deadline) if deadline and not rollback else None,
    }


def diff_view(cluster):
    if not cluster:
        return {}
    return {
        "state": cluster.get("State"),
        "hsm_type": cluster.get("HsmType"),
        "hsm_type_rollback_expiration": iso_time(rollback_deadline(cluster)) if rollback_deadline(cluster) else None,
        "mode": cluster.get("Mode"),
        "backup_retention_days": retention_days(cluster),
        "tags": boto3_tag_list_to_ansible_dict(cluster.get("TagList") or []),
        # A cluster from a backup carries its source's certificate: it is initialized whatever state it reports.
        "initialized": bool(cluster.get("SourceBackupId"))
        or cluster.get("State") not in (None, "CREATE_IN_PROGRESS", "UNINITIALIZED"),
    }


def main():
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        cluster_id=dict(type="str"),
        name=dict(type="str"),
        hsm_type=dict(type="str"),
        mode=dict(type="str", choices=["FIPS", "NON_FIPS"]),
        subnet_ids=dict(type="list", elements="str"),
        network_type=dict(type="str", choices=["IPV4", "DUALSTACK"]),
        source_backup_id=dict(type="str"),
        backup_retention_days=dict(type="int"),
        signed_cert=dict(type="str"),
        trust_anchor=dict(type="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        **wait_options()
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_one_of=[["cluster_id", "name"]],
        required_together=[["signed_cert", "trust_anchor"]],
        supports_check_mode=True,
    )
    params = module.params
    validate_options(module, {"cluster_id": "cluster", "subnet_ids": "subnet", "source_backup_id": "backup"})
    if params["hsm_type"] and not HSM_TYPE_PATTERN.match(params["hsm_type"]):
        module.fail_json(msg="hsm_type=%r is not an HSM type; use hsm2m.medium or hsm1.medium." % params["hsm_type"])
    days = params["backup_retention_days"]
    if days is not None and not 7 <= days <= 379:
        module.fail_json(msg="backup_retention_days=%d is out of range: AWS keeps backups for 7 to 379 days." % days)
    if params["subnet_ids"] is not None and not 1 <= len(params["subnet_ids"]) <= 10:
        module.fail_json(msg="subnet_ids must list 1 to 10 subnets (one per availability zone).")

    task = ClusterTask(module)
    before = task.find()
    if params["state"] == "absent":
        after = task.delete(before) if before else {}
        result_cluster = {}
    else:
        after = task.create() if before is None else task.update(before)
        result_cluster = normalize_cluster(after)

    result = dict(changed=task.changed, cluster=result_cluster)
    if params["state"] == "present":
        change = hsm_type_change_view(before, after, params["hsm_type"])
        if change:
            result["hsm_type_change"] = change
    if module._diff:
        result["diff"] = dict(before=diff_view(before), after=diff_view(after) if params["state"] == "present" else {})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
