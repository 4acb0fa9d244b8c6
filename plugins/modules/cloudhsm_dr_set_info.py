#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_dr_set_info
version_added: 0.2.0
short_description: Find the clusters that are proven members of a CloudHSM DR set
description:
  - Finds the source cluster and the clones of a DR set (a source cluster and its clones in other regions) and
    proves that each clone belongs to the set before anything may change it.
  - The source is the cluster the settings declare, by C(source.cluster_id) or else by its C(Name) tag (which must
    then be unique among the live clusters of its region).
  - A clone is a member only when one of these holds. B(lineage) it shares an ancestor with the source - its
    C(SourceBackupId) names a backup in its region that was copied from a backup of the source (the copy's
    C(SourceCluster)) or is a backup of the source itself, followed back backup by backup (up to 5), so that after
    a fail-over swap the old source and the other clones still count. B(tag) it carries the tag
    C(hsmops.cloudhsm:dr-source) whose value is the source cluster's id (the collection writes it on the clones it
    creates or adopts). B(pinned) the settings name it by C(clones[].cluster_id).
  - A live cluster that only shares a clone's name, or two live clusters of one name, is reported as a problem;
    with O(fail_on_problems) (the default) the module fails and lists every problem at once. It never changes
    anything.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  source:
    description:
      - The source cluster, as C(cloudhsm_dr_source) declares it. Keys other than those below are ignored.
      - C(name) is the cluster's C(Name) tag, C(region) its region, C(cluster_id) (optional) pins it by id.
    type: dict
    required: true
  clones:
    description:
      - The clones, as C(cloudhsm_dr_clones) declares them (C(name), C(region), optional C(cluster_id)).
    type: list
    elements: dict
    required: true
  allow_missing_pins:
    description:
      - Treat a pinned cluster (C(cluster_id)) that no longer exists as missing instead of as a problem. For
        playbooks that run after clusters were deleted (teardown, pruning of copies).
    type: bool
    default: false
  refuse_limited_write:
    description:
      - Fail when a member's HSM type is changing (V(MODIFY_IN_PROGRESS) or V(ROLLBACK_IN_PROGRESS)), since its HSMs
        are then in limited-write mode and refuse user changes, token key creation or deletion, quorum operations, key
        attribute changes and mTLS registration. The message names the cluster, why, and about when it will be
        V(ACTIVE) again (AWS gives no end time; the estimate is 30 minutes for every HSM still to migrate).
      - Playbooks that change users, keys or HSMs set this, so that they stop before their first change rather
        than halfway. Independent of O(fail_on_problems).
    type: bool
    default: false
  fail_on_problems:
    description:
      - Fail when a problem is found (a cluster that only shares a name, two live clusters of one name, a pinned
        cluster that does not exist). With V(false) the problems are returned in RV(problems).
    type: bool
    default: true
notes:
  - Supports check mode; it never changes anything.
  - Reads one C(DescribeClusters) listing per region, and one C(DescribeBackups) per candidate clone that carries
    no ownership tag.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_cluster_info
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Look up the DR set
  hsmops.cloudhsm.cloudhsm_dr_set_info:
    source: "{{ cloudhsm_dr_source }}"
    clones: "{{ cloudhsm_dr_clones }}"
  register: dr_found

- name: Show how each member was proven
  ansible.builtin.debug:
    msg: "{{ dr_found.members | map(attribute='proof') | list }}"
"""

RETURN = r"""
source_cluster_id:
  description: The source cluster's id (the pinned one when the source no longer exists), or null.
  returned: always
  type: str
  sample: cluster-igklspoyj5v
members:
  description: The live clusters of the DR set, source first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name the settings give the cluster.
      type: str
    region:
      description: The cluster's region.
      type: str
    role:
      description: V(source) or V(clone).
      type: str
    cluster_id:
      description: The cluster id.
      type: str
    state:
      description: The cluster state.
      type: str
    hsm_ips:
      description: The ENI IPs of the cluster's ACTIVE HSMs.
      type: list
      elements: str
    proof:
      description:
        - Why the cluster is a member. V(declared) (the source, by name), V(pinned) (by id in the settings),
          V(tag) (the ownership tag names the source), V(lineage) (restored from a backup of the source).
      type: str
    lineage:
      description: The cluster's source backup and where it came from (empty keys when not read or unknown).
      type: dict
    cluster:
      description: The cluster as M(hsmops.cloudhsm.cloudhsm_cluster_info) returns it.
      type: dict
    limited_write:
      description:
        - While the cluster's HSM type changes (limited-write mode), what is changing and until about when; null
          otherwise.
      type: dict
      contains:
        state:
          description: V(MODIFY_IN_PROGRESS) or V(ROLLBACK_IN_PROGRESS).
          type: str
        hsm_type:
          description: The HSM type the cluster is changing to.
          type: str
        hsms_total:
          description: The cluster's HSMs.
          type: int
        hsms_done:
          description: The HSMs already on the new type.
          type: int
        expected_end:
          description: About when the cluster is ACTIVE again (UTC; 30 minutes per HSM still to change).
          type: str
        rollback_expiration:
          description:
            - During a migration, until when (UTC, C(YYYY-MM-DDTHH:MM:SSZ)) it can be rolled back; null during a
              rollback.
          type: str
missing:
  description: The settings' clones for which no cluster exists (name and region).
  returned: always
  type: list
  elements: dict
problems:
  description: Every problem found, one sentence each.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import GONE_CLUSTER_STATES
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import OWNERSHIP_TAG
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import CloudHsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import cluster_lineage
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import cluster_name
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import describe_clusters
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import limited_write
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import limited_write_message
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import normalize_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_id
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_region

# How many backups back a lineage is followed (a clone of a clone of a clone is three).
MAX_LINEAGE_HOPS = 5
EMPTY_LINEAGE = dict(source_backup_id=None, source_backup_found=False, origin_cluster_id=None, origin_region=None,
                     origin_backup_id=None)


def _label(cluster):
    return "%s (%s)" % (cluster["ClusterId"], cluster.get("State"))


class DrSetLookup(ControlPlaneTask):
    def __init__(self, module):
        super(DrSetLookup, self).__init__(module)
        self.listings = {}
        self.problems = []

    def partial_results(self):
        return dict(problems=self.problems)

    def clusters(self, region):
        """Every cluster of a region, read once."""
        if region not in self.listings:
            self.listings[region] = self.look_up("list the CloudHSM clusters of %s" % region, describe_clusters,
                                                 self.regional_client(region))
        return self.listings[region]

    def pinned(self, spec, what):
        """The live cluster a spec pins by id, or None (a problem unless allowed)."""
        cluster = next((c for c in self.clusters(spec["region"]) if c["ClusterId"] == spec["cluster_id"]), None)
        if cluster is None or cluster.get("State") in GONE_CLUSTER_STATES:
            if not self.module.params["allow_missing_pins"]:
                self.problems.append(
                    "%s pins cluster_id %s, which %s in %s. Remove cluster_id to create a new cluster named %r, or "
                    "correct the id." % (what, spec["cluster_id"], "does not exist" if cluster is None else
                                         "is " + cluster["State"], spec["region"], spec["name"]))
            return None
        return cluster

    def named(self, spec):
        return [c for c in self.clusters(spec["region"])
                if cluster_name(c) == spec["name"] and c.get("State") not in GONE_CLUSTER_STATES]

    def lineage(self, region, cluster):
        return self.look_up("read the source backup of cluster %s" % cluster["ClusterId"], cluster_lineage,
                            self.regional_client(region), cluster)

    def find_source(self, spec):
        if spec.get("cluster_id"):
            return self.pinned(spec, "cloudhsm_dr_source")
        matches = self.named(spec)
        if len(matches) > 1:
            self.problems.append(
                "cloudhsm_dr_source: %d live clusters are named %r in %s: %s. Pin the source with "
                "cloudhsm_dr_source.cluster_id, or rename the others." % (
                    len(matches), spec["name"], spec["region"], ", ".join(_label(c) for c in matches)))
            return None
        if matches:
            tags = boto3_tag_list_to_ansible_dict(matches[0].get("TagList") or [])
            owner = tags.get(OWNERSHIP_TAG)
            if owner and owner != matches[0]["ClusterId"]:
                self.problems.append(
                    "cloudhsm_dr_source: cluster %s named %r in %s is a clone of %s (tag %s), not a source. Pin the "
                    "source with cloudhsm_dr_source.cluster_id, or rename it." % (
                        matches[0]["ClusterId"], spec["name"], spec["region"], owner, OWNERSHIP_TAG))
                return None
        return matches[0] if matches else None

    def ancestry(self, region, cluster):
        """(the cluster's id and the ids of the clusters its data came from, nearest first; its first lineage hop).

        Followed backup by backup while the clusters can still be read, so that a clone of a promoted clone, or the
        old source after a fail-over swap, still shares an ancestor with the source.
        """
        ids, first = [cluster["ClusterId"]], None
        for unused_hop in range(MAX_LINEAGE_HOPS):
            lineage = self.lineage(region, cluster)
            first = first or lineage
            origin = lineage["origin_cluster_id"]
            if not origin or origin in ids:
                break
            ids.append(origin)
            region = lineage["origin_region"] or region
            cluster = next((c for c in self.clusters(region) if c["ClusterId"] == origin), None)
            if cluster is None:
                break
        return ids, first or dict(EMPTY_LINEAGE)

    def proof(self, spec, cluster, source_ancestry):
        """(proof or None, lineage) of a candidate clone."""
        tags = boto3_tag_list_to_ansible_dict(cluster.get("TagList") or [])
        ancestry, lineage = self.ancestry(spec["region"], cluster)
        if source_ancestry and set(ancestry) & set(source_ancestry):
            return "lineage", lineage
        if source_ancestry and tags.get(OWNERSHIP_TAG) == source_ancestry[0]:
            return "tag", lineage
        return None, lineage

    def refuse(self, spec, cluster, lineage, source_id):
        if lineage["origin_cluster_id"]:
            found = "it was restored from backup %s, which comes from cluster %s%s" % (
                lineage["source_backup_id"], lineage["origin_cluster_id"],
                " in " + lineage["origin_region"] if lineage["origin_region"] else "")
        elif lineage["source_backup_id"]:
            found = "its source backup %s cannot be read in %s" % (lineage["source_backup_id"], spec["region"])
        else:
            found = "it was not created from a backup"
        owner = boto3_tag_list_to_ansible_dict(cluster.get("TagList") or []).get(OWNERSHIP_TAG)
        self.problems.append(
            "cloudhsm_dr_clones: cluster %s in %s is named %r like a clone of the DR set but is not proven to belong "
            "to it: %s, and it carries %s. Nothing was changed. To create a new clone, give the clone another name "
            "in cloudhsm_dr_clones; if this cluster really is the clone, pin it with 'cluster_id: %s' in its entry."
            % (cluster["ClusterId"], spec["region"], spec["name"], found,
               "tag %s=%s" % (OWNERSHIP_TAG, owner) if owner else "no %s tag" % OWNERSHIP_TAG
               + ("" if source_id else " (and the source cluster does not exist)"),
               cluster["ClusterId"]))

    def run(self, source_spec, clone_specs):
        source = self.find_source(source_spec)
        source_id = source["ClusterId"] if source else source_spec.get("cluster_id")
        if source:
            source_ancestry = self.ancestry(source_spec["region"], source)[0]
        else:
            source_ancestry = [source_id] if source_id else []
        members = []
        if source:
            members.append(member(source_spec, "source", source, "pinned" if source_spec.get("cluster_id") else "declared",
                                  dict(EMPTY_LINEAGE)))
        missing = []
        for spec in clone_specs:
            if spec.get("cluster_id"):
                cluster = self.pinned(spec, "cloudhsm_dr_clones entry %r" % spec["name"])
                if cluster is not None:
                    members.append(member(spec, "clone", cluster, "pinned", self.lineage(spec["region"], cluster)))
                elif not self.named(spec):
                    missing.append(dict(name=spec["name"], region=spec["region"]))
                continue
            matches = self.named(spec)
            if not matches:
                missing.append(dict(name=spec["name"], region=spec["region"]))
                continue
            if len(matches) > 1:
                self.problems.append(
                    "cloudhsm_dr_clones: %d live clusters are named %r in %s: %s. Pin the clone with 'cluster_id' in "
                    "its entry of cloudhsm_dr_clones, or rename or delete the others." % (
                        len(matches), spec["name"], spec["region"], ", ".join(_label(c) for c in matches)))
                continue
            proof, lineage = self.proof(spec, matches[0], source_ancestry)
            if proof is None:
                self.refuse(spec, matches[0], lineage, source_id)
                continue
            members.append(member(spec, "clone", matches[0], proof, lineage))
        return source_id, members, missing


def member(spec, role, cluster, proof, lineage):
    normalized = normalize_cluster(cluster)
    return dict(
        name=spec["name"], region=spec["region"], role=role, cluster_id=cluster["ClusterId"],
        state=cluster.get("State"),
        hsm_ips=[hsm.get("eni_ip") for hsm in normalized["hsms"] if hsm.get("state") == "ACTIVE"],
        proof=proof, lineage=lineage, cluster=normalized, limited_write=limited_write(cluster),
    )


def check_spec(module, spec, what):
    """The name/region/cluster_id of a settings entry, validated."""
    if not isinstance(spec, dict):
        module.fail_json(msg="%s must be a mapping with name and region, got %r." % (what, type(spec).__name__))
    problems = []
    for key in ("name", "region"):
        if not isinstance(spec.get(key), str) or not spec.get(key):
            problems.append("%s needs %s." % (what, key))
    try:
        if spec.get("region"):
            validate_region(spec["region"], what + ".region")
        if spec.get("cluster_id"):
            validate_id("cluster", spec["cluster_id"], what + ".cluster_id")
    except CloudHsmError as e:
        problems.append(str(e))
    if problems:
        module.fail_json(msg=" ".join(problems))
    return dict(name=spec["name"], region=spec["region"], cluster_id=spec.get("cluster_id") or None)


def main():
    argument_spec = dict(
        source=dict(type="dict", required=True),
        clones=dict(type="list", elements="dict", required=True),
        allow_missing_pins=dict(type="bool", default=False),
        fail_on_problems=dict(type="bool", default=True),
        refuse_limited_write=dict(type="bool", default=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    source_spec = check_spec(module, module.params["source"], "cloudhsm_dr_source")
    clone_specs = [check_spec(module, spec, "cloudhsm_dr_clones[%d]" % index)
                   for index, spec in enumerate(module.params["clones"])]

    lookup = DrSetLookup(module)
    source_id, members, missing = lookup.run(source_spec, clone_specs)
    result = dict(changed=False, source_cluster_id=source_id, members=members, missing=missing, problems=lookup.problems)
    if lookup.problems and module.params["fail_on_problems"]:
        module.fail_json(msg="The DR set cannot be used as it stands (%d problem%s): %s" % (
            len(lookup.problems), "" if len(lookup.problems) == 1 else "s", " ".join(lookup.problems)), **result)
    changing = [m for m in members if m["limited_write"]]
    if changing and module.params["refuse_limited_write"]:
        module.fail_json(msg="The DR set is being migrated, so nothing was changed: %s" % " ".join(
            limited_write_message(m["limited_write"], m["region"]) for m in changing), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
