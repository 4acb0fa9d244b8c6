#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_hsm
version_added: 0.1.0
short_description: Manage the HSMs of an AWS CloudHSM cluster
description:
  - Makes a cluster hold the desired HSMs, given as a list of availability zones (one HSM per entry; a zone may
    repeat) or as a count spread across the cluster's subnets.
  - Existing HSMs are matched by availability zone and ENI, not by id, so an HSM that AWS replaced is not
    duplicated. HSMs being deleted do not count.
  - A cluster that is not yet V(ACTIVE) (uninitialized, or initialized but not activated) takes exactly one HSM.
    Asking for more creates the first and fails with a message explaining that the rest can be added after
    activation, or, with O(before_activation=create_one), creates the first and warns.
  - A cluster created from a backup is V(ACTIVE) before it has any HSM, so all its HSMs are created at once (one
    CreateHsm call per HSM, then one wait for all). Should such a cluster report V(UNINITIALIZED) instead, its first
    HSM is created, and the rest in the same run once that HSM and the cluster are V(ACTIVE) (with O(wait=true)).
  - With O(wait=true), HSMs the cluster already holds that are still being created (by an earlier task with
    O(wait=false), or a run that was stopped) are waited for as well, so the task returns with every HSM V(ACTIVE).
  - Removes HSMs by O(hsm_id), O(eni_id) or O(eni_ip) with O(state=absent), or by shrinking
    O(availability_zones) or O(count).
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  cluster_id:
    description:
      - The id of the cluster.
    type: str
    required: true
  state:
    description:
      - With V(present), the cluster holds the HSMs of O(availability_zones) or O(count).
      - With V(absent), the HSM named by O(hsm_id), O(eni_id) or O(eni_ip) is deleted.
    type: str
    choices: [present, absent]
    default: present
  availability_zones:
    description:
      - The availability zones of the desired HSMs, one entry per HSM. Each zone must have a subnet in the cluster.
      - Mutually exclusive with O(count).
    type: list
    elements: str
  count:
    description:
      - The number of HSMs, spread evenly across the availability zones of the cluster's subnets.
      - V(0) deletes every HSM of the cluster.
      - Mutually exclusive with O(availability_zones).
    type: int
  hsm_id:
    description:
      - The HSM to delete with O(state=absent).
    type: str
  eni_id:
    description:
      - The ENI id of the HSM to delete with O(state=absent).
    type: str
  eni_ip:
    description:
      - The ENI IP address of the HSM to delete with O(state=absent).
    type: str
  before_activation:
    description:
      - What to do when more than one HSM is wanted in a cluster that is not yet V(ACTIVE).
      - V(fail) creates the first HSM and then fails with a message saying that the others can be added after
        activation.
      - V(create_one) creates the first HSM and warns instead.
    type: str
    choices: [fail, create_one]
    default: fail
notes:
  - Supports check mode (no call that changes anything is made) and diff mode.
  - Deletions are always waited for before the module returns when O(wait=true).
seealso:
  - module: hsmops.cloudhsm.cloudhsm_cluster
  - module: hsmops.cloudhsm.cloudhsm_hsm_info
extends_documentation_fragment:
  - hsmops.cloudhsm.cloudhsm_wait
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Look up the cluster
  hsmops.cloudhsm.cloudhsm_cluster_info:
    name: dr-primary
  register: primary

- name: Create the first HSM of the new cluster (its CSR appears with it)
  hsmops.cloudhsm.cloudhsm_hsm:
    cluster_id: "{{ primary.clusters[0].cluster_id }}"
    availability_zones:
      - "{{ primary.clusters[0].subnet_mapping.keys() | sort | first }}"
  register: first_hsm

- name: After activation, run one HSM in every zone of the cluster
  hsmops.cloudhsm.cloudhsm_hsm:
    cluster_id: "{{ primary.clusters[0].cluster_id }}"
    availability_zones: "{{ primary.clusters[0].subnet_mapping.keys() | sort }}"
  register: hsms

- name: Or three HSMs spread over the cluster's subnets
  hsmops.cloudhsm.cloudhsm_hsm:
    cluster_id: "{{ primary.clusters[0].cluster_id }}"
    count: 3
  register: hsms

- name: Remove the last HSM by its ENI IP
  hsmops.cloudhsm.cloudhsm_hsm:
    cluster_id: "{{ primary.clusters[0].cluster_id }}"
    state: absent
    eni_ip: "{{ hsms.hsms[-1].eni_ip }}"
"""

RETURN = r"""
cluster_id:
  description: The cluster.
  returned: always
  type: str
  sample: cluster-igklspoyj5v
cluster_state:
  description: The state of the cluster when the module finished.
  returned: always
  type: str
  sample: UNINITIALIZED
hsms:
  description: The HSMs of the cluster (those not being deleted) when the module finished.
  returned: always
  type: list
  elements: dict
  contains:
    hsm_id:
      description: The HSM id.
      type: str
      sample: hsm-ted36yp5b2x
    availability_zone:
      description: The availability zone.
      type: str
      sample: us-east-1a
    subnet_id:
      description: The subnet of the HSM's ENI.
      type: str
    eni_id:
      description: The id of the HSM's ENI.
      type: str
      sample: eni-5d7ade72
    eni_ip:
      description: The IP address of the HSM's ENI, what clients connect to.
      type: str
      sample: 10.0.1.12
    state:
      description: The HSM state.
      type: str
      sample: ACTIVE
created:
  description: The HSMs created (in check mode, the availability zones they would be created in).
  returned: always
  type: list
  elements: dict
  sample: [{"hsm_id": "hsm-ted36yp5b2x", "availability_zone": "us-east-1a"}]
deleted:
  description: The HSMs deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"hsm_id": "hsm-lgavqitns2a", "availability_zone": "us-east-1b", "eni_ip": "10.0.2.7"}]
"""

from collections import Counter

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import find_hsm
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import live_hsms
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import normalize_hsm
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_options
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_for_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_for_hsms
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import warn

# Cluster states in which HSMs can be added or removed.
READY_FOR_HSMS = ("UNINITIALIZED", "INITIALIZED", "ACTIVE")
SETTLING = ("CREATE_IN_PROGRESS", "INITIALIZE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "MODIFY_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS")


def spread(zones, existing, count):
    """The availability zones of count HSMs spread over zones, keeping the existing ones where possible."""
    zones = sorted(zones)
    held = Counter(dict((zone, existing.get(zone, 0)) for zone in zones))
    total = sum(held.values())
    # grow: add to the zone with the fewest; shrink: take from the zone with the most
    while total < count:
        zone = min(zones, key=lambda z: (held[z], z))
        held[zone] += 1
        total += 1
    while total > count:
        zone = max(zones, key=lambda z: (held[z], z))
        held[zone] -= 1
        total -= 1
    return held


class HsmTask(ControlPlaneTask):
    def __init__(self, module):
        super(HsmTask, self).__init__(module)
        self.cluster_id = self.params["cluster_id"]
        self.created = []
        self.deleted = []
        self.new_hsms = []  # raw HSMs as CreateHsm returned them
        self.deleted_ids = set()

    def partial_results(self):
        return dict(created=self.created, deleted=self.deleted)

    def describe(self):
        cluster = self.look_up("describe cluster %s" % self.cluster_id, get_cluster, self.client, self.cluster_id)
        if cluster is None or cluster.get("State") in ("DELETE_IN_PROGRESS", "DELETED"):
            self.fail(
                "Cluster %s %s in %s; HSMs need a live cluster. Create it with hsmops.cloudhsm.cloudhsm_cluster."
                % (self.cluster_id, "is %s" % cluster["State"] if cluster else "does not exist", self.region)
            )
        return cluster

    def wait_cluster_ready(self, cluster):
        state = cluster.get("State")
        if state in READY_FOR_HSMS:
            return cluster
        if state in SETTLING and self.params["wait"] and not self.module.check_mode:
            return self.wait("cluster %s" % self.cluster_id, wait_for_cluster, self.client, self.cluster_id,
                             READY_FOR_HSMS, self.params["wait_timeout"], initial=cluster)
        if self.module.check_mode and state in SETTLING:
            return cluster
        self.fail(
            "Cluster %s is %s; HSMs can be added or removed when it is %s. %s"
            % (self.cluster_id, state, ", ".join(READY_FOR_HSMS),
               "Rerun with wait=true to wait for it." if state in SETTLING else "")
        )

    # --- changes ---

    def create(self, zone):
        if self.module.check_mode:
            self.changed = True
            self.created.append({"availability_zone": zone})
            return None
        hsm = self.call("create_hsm", "create an HSM in %s for cluster %s" % (zone, self.cluster_id),
                        refusals={"CloudHsmInvalidRequestException": "Cluster %s refused a new HSM in %s" % (self.cluster_id, zone)},
                        ClusterId=self.cluster_id, AvailabilityZone=zone)["Hsm"]
        self.created.append({"hsm_id": hsm["HsmId"], "availability_zone": hsm.get("AvailabilityZone", zone)})
        self.new_hsms.append(hsm)
        return hsm["HsmId"]

    def delete(self, hsm):
        self.changed = True
        self.deleted.append(dict((key, hsm.get(value)) for key, value in
                                 (("hsm_id", "HsmId"), ("availability_zone", "AvailabilityZone"), ("eni_ip", "EniIp"))))
        if self.module.check_mode:
            return
        self.deleted_ids.add(hsm["HsmId"])
        self.call("delete_hsm", "delete HSM %s of cluster %s" % (hsm["HsmId"], self.cluster_id),
                  ignore_codes=("CloudHsmResourceNotFoundException",), ClusterId=self.cluster_id, HsmId=hsm["HsmId"])

    def wait_hsms(self, hsm_ids, deleted, cluster):
        if not hsm_ids or self.module.check_mode or not self.params["wait"]:
            return cluster
        return self.wait("the HSMs of cluster %s" % self.cluster_id, wait_for_hsms, self.client, self.cluster_id,
                         hsm_ids, self.params["wait_timeout"], deleted=deleted)

    # --- planning ---

    def desired_zones(self, cluster, hsms):
        zones = sorted((cluster.get("SubnetMapping") or {}).keys())
        if self.params["availability_zones"] is not None:
            unknown = sorted(set(self.params["availability_zones"]) - set(zones))
            if unknown:
                verb = "has" if len(unknown) == 1 else "have"
                self.fail(
                    "availability_zones: %s %s no subnet in cluster %s, whose subnets are in %s. Use those zones, or "
                    "create a cluster with a subnet there." % (", ".join(unknown), verb, self.cluster_id, ", ".join(zones) or "no zone")
                )
            return Counter(self.params["availability_zones"])
        existing = Counter(hsm.get("AvailabilityZone") for hsm in hsms)
        return spread(zones, existing, self.params["count"])

    def present(self, cluster):
        cluster = self.wait_cluster_ready(cluster)
        hsms = live_hsms(cluster)
        wanted = self.desired_zones(cluster, hsms)
        by_zone = {}
        for hsm in hsms:
            by_zone.setdefault(hsm.get("AvailabilityZone"), []).append(hsm)

        # removals first: degraded HSMs go before healthy ones, newest (by list order) last kept
        removals = []
        for zone, zone_hsms in by_zone.items():
            surplus = len(zone_hsms) - wanted.get(zone, 0)
            if surplus > 0:
                ordered = sorted(zone_hsms, key=lambda h: (h.get("State") != "DEGRADED", h.get("State") == "ACTIVE"))
                removals.extend(ordered[:surplus])
        additions = []
        for zone in sorted(wanted):
            additions.extend([zone] * max(0, wanted[zone] - len(by_zone.get(zone, []))))

        kept = [hsm for hsm in hsms if hsm not in removals]
        # With wait, HSMs still being created (by an earlier task, or a run that was stopped) are waited for too.
        pending = [hsm["HsmId"] for hsm in kept if hsm.get("State") == "CREATE_IN_PROGRESS"]
        degraded = [hsm for hsm in kept if hsm.get("State") == "DEGRADED"]
        if degraded:
            self.fail(
                "HSM %s of cluster %s is DEGRADED (%s) and will not recover by itself. Delete it (state=absent, hsm_id=%s) "
                "and rerun to replace it." % (degraded[0]["HsmId"], self.cluster_id, degraded[0].get("StateMessage") or "no message",
                                              degraded[0]["HsmId"])
            )

        for hsm in removals:
            self.delete(hsm)
        cluster = self.wait_hsms([hsm["HsmId"] for hsm in removals], True, cluster)

        if not additions:
            return self.wait_hsms(pending, False, cluster)
        if cluster.get("State") != "ACTIVE":
            total_wanted = len(kept) + len(additions)
            if kept:
                self.refuse_more(cluster, total_wanted, "it has one")
                return self.wait_hsms(pending, False, cluster)
            new_id = self.create(additions[0])
            cluster = self.wait_hsms([new_id] if new_id else [], False, cluster)
            if total_wanted == 1:
                return cluster
            # A cluster from a backup that reports UNINITIALIZED (not how AWS makes one, which is ACTIVE at once)
            # turns ACTIVE with its first HSM; any other cluster must be initialized and activated first.
            restored_in_check_mode = self.module.check_mode and cluster.get("SourceBackupId")
            if not restored_in_check_mode and (cluster.get("State") != "ACTIVE" or self.module.check_mode):
                self.refuse_more(cluster, total_wanted, "%s was created" % new_id if new_id else "one would be created")
                return cluster
            additions = additions[1:]
        new_ids = [self.create(zone) for zone in additions]
        return self.wait_hsms(pending + [hsm_id for hsm_id in new_ids if hsm_id], False, cluster)

    def refuse_more(self, cluster, total_wanted, note):
        msg = (
            "Cluster %s is %s: a cluster that is not yet ACTIVE takes exactly one HSM (%s). The other %d HSM(s) can be "
            "added after it is initialized (hsmops.cloudhsm.cloudhsm_cluster with signed_cert) and activated; rerun "
            "this task then." % (self.cluster_id, cluster.get("State"), note, total_wanted - 1)
        )
        if self.params["before_activation"] == "create_one":
            warn(self.module, msg)
            return
        self.fail(msg, hsms=self.result_hsms(cluster))

    def result_hsms(self, cluster):
        """The live HSMs, including changes not yet visible in cluster when nothing was waited for."""
        hsms = [hsm for hsm in live_hsms(cluster) if hsm.get("HsmId") not in self.deleted_ids]
        known = set(hsm.get("HsmId") for hsm in hsms)
        hsms.extend(hsm for hsm in self.new_hsms if hsm.get("HsmId") not in known)
        return [normalize_hsm(hsm) for hsm in hsms]

    def absent(self, cluster):
        hsm = find_hsm(cluster, self.params["hsm_id"], self.params["eni_id"], self.params["eni_ip"])
        if hsm is None or hsm.get("State") in ("DELETED",):
            return cluster
        if hsm.get("State") != "DELETE_IN_PROGRESS":
            self.delete(hsm)
        return self.wait_hsms([hsm["HsmId"]], True, cluster)


def main():
    argument_spec = dict(
        cluster_id=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        availability_zones=dict(type="list", elements="str"),
        count=dict(type="int"),
        hsm_id=dict(type="str"),
        eni_id=dict(type="str"),
        eni_ip=dict(type="str"),
        before_activation=dict(type="str", choices=["fail", "create_one"], default="fail"),
        **wait_options()
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[["availability_zones", "count"], ["hsm_id", "eni_id", "eni_ip"]],
        required_if=[
            ["state", "present", ["availability_zones", "count"], True],
            ["state", "absent", ["hsm_id", "eni_id", "eni_ip"], True],
        ],
        supports_check_mode=True,
    )
    params = module.params
    validate_options(module, {"cluster_id": "cluster", "hsm_id": "hsm", "eni_id": "eni", "eni_ip": "ip",
                              "availability_zones": "availability_zone"})
    if params["count"] is not None and not 0 <= params["count"] <= 28:
        module.fail_json(msg="count=%d is out of range: a cluster holds 0 to 28 HSMs." % params["count"])
    if params["state"] == "absent" and (params["availability_zones"] is not None or params["count"] is not None):
        module.fail_json(msg="state=absent removes one HSM named by hsm_id, eni_id or eni_ip; to shrink, use state=present "
                             "with fewer availability_zones or a lower count.")

    task = HsmTask(module)
    before = task.describe()
    after = task.present(before) if params["state"] == "present" else task.absent(before)

    hsms = task.result_hsms(after)
    result = dict(changed=task.changed, cluster_id=task.cluster_id, cluster_state=after.get("State"), hsms=hsms,
                  created=task.created, deleted=task.deleted)
    if module._diff:
        before_zones = sorted(hsm.get("AvailabilityZone") for hsm in live_hsms(before))
        if module.check_mode:
            after_zones = before_zones + [item["availability_zone"] for item in task.created]
            for item in task.deleted:
                after_zones.remove(item["availability_zone"])
        else:
            after_zones = [hsm["availability_zone"] for hsm in hsms]
        result["diff"] = dict(before={"availability_zones": before_zones}, after={"availability_zones": sorted(after_zones)})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
