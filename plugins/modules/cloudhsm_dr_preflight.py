#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_dr_preflight
version_added: 0.2.0
short_description: Check the settings of a CloudHSM DR set before anything is changed
description:
  - Checks the settings of a DR set (a source cluster and its clones in other regions) against what AWS accepts and
    reports every problem at once, before a playbook changes anything.
  - Regions are region names that botocore lists for AWS CloudHSM, all in the partition of the source's region
    (backups are only copied within a partition); a name that is close to a known region is suggested.
  - Availability zones belong to their cluster's region; the clone list names each region once, not the source's.
  - Cluster names are unique in the DR set, and so are pinned cluster ids.
  - The client SDK fits the HSM type (SDK 3 only works with C(hsm1.medium)); passwords are 7 to 32 characters.
  - Subnets (when given) exist in their cluster's region, lie in one VPC, and each listed availability zone has one
    of them. Read with C(DescribeSubnets), only in regions that passed the region check.
  - With O(mtls), each cluster of the DR set that exists and enforces mutual TLS (mTLS) - as its tag
    C(hsmops.cloudhsm:mtls-enforcement) records, which the collection writes when it sets or verifies the
    enforcement - must have a client certificate in the settings (C(cloudhsm_dr_mtls)); a client without one cannot
    connect to its HSMs, so the run stops here before anything is changed.
  - The role C(hsmops.cloudhsm.cloudhsm_dr_settings) runs this module after validating the variables' types.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  source:
    description: The source cluster as C(cloudhsm_dr_source) declares it (C(name), C(region), C(availability_zones), C(subnet_ids), C(cluster_id)).
    type: dict
    required: true
  clones:
    description: The clones as C(cloudhsm_dr_clones) declares them (same keys as O(source)).
    type: list
    elements: dict
    required: true
  sdk:
    description: The client SDK generation.
    type: int
    choices: [3, 5]
    default: 5
  hsm_type:
    description: The HSM type of new clusters; by default C(hsm1.medium) with SDK 3 and C(hsm2m.medium) with SDK 5.
    type: str
  passwords:
    description:
      - Passwords to check for length, keyed by what they belong to (for example C(cloudhsm_dr_admin_password) or
        C(cloudhsm_dr_users[payments_app])). Only the keys appear in problems, never the values.
    type: dict
    default: {}
  check_subnets:
    description: Read the subnets to check them.
    type: bool
    default: true
  mtls:
    description:
      - What the settings say about mutual TLS. Omit to skip the mTLS check (playbooks that make only AWS calls).
    type: dict
    suboptions:
      configured:
        description: Whether C(cloudhsm_dr_mtls) is set.
        type: bool
        default: false
      certified:
        description: The names of the clusters the settings give a client certificate and key for.
        type: list
        elements: str
        default: []
notes:
  - Supports check mode; it never changes anything.
  - AWS's API does not return a cluster's mTLS enforcement (only C(cloudhsm-cli cluster mtls get-enforcement) on
    the HSM does), so a cluster whose enforcement was set outside the collection carries no tag; a client without a
    certificate then fails at its first login with an error that names mTLS.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_dr_set_info
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Check the DR settings
  hsmops.cloudhsm.cloudhsm_dr_preflight:
    source: "{{ cloudhsm_dr_source }}"
    clones: "{{ cloudhsm_dr_clones }}"
    sdk: "{{ cloudhsm_dr_sdk | default(5) }}"
    passwords:
      cloudhsm_dr_admin_password: "{{ cloudhsm_dr_admin_password }}"
    mtls:
      configured: "{{ cloudhsm_dr_mtls is defined }}"
      certified: [payments-primary, payments-dr-west]
"""

RETURN = r"""
problems:
  description: Every problem found, one sentence each (empty when the settings are usable).
  returned: always
  type: list
  elements: str
partition:
  description: The AWS partition of the source's region.
  returned: always
  type: str
  sample: aws
"""

import difflib
import re

try:
    import botocore.session
except ImportError:
    pass  # AnsibleAWSModule reports the missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ID_PATTERNS
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import MTLS_ENFORCEMENT_TAG
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import find_clusters_by_name
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.driver import session_class

HSM_TYPES = ("hsm1.medium", "hsm2m.medium")
# The HSM types each client SDK reaches, the default first (SDK 3 reaches hsm1.medium only).
SDK_HSM_TYPES = {3: ("hsm1.medium",), 5: ("hsm2m.medium", "hsm1.medium")}
PASSWORD_LENGTH = (7, 32)
# EC2's answers to DescribeSubnets for a subnet id that does not exist or is malformed.
UNKNOWN_SUBNET_CODES = ("InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed", "InvalidSubnet")
EC2_RETRY = AWSRetry.jittered_backoff()


def partition_regions():
    """{partition: set of regions botocore lists for cloudhsmv2}."""
    session = botocore.session.get_session()
    return dict((partition, set(session.get_available_regions("cloudhsmv2", partition_name=partition)))
                for partition in session.get_available_partitions())


class Preflight(ControlPlaneTask):
    def __init__(self, module):
        super(Preflight, self).__init__(module)
        self.problems = []
        self.regions = partition_regions()
        self.partition = None

    def partial_results(self):
        return dict(problems=self.problems, partition=self.partition)

    def problem(self, text):
        self.problems.append(text)

    def members(self):
        params = self.module.params
        members = [("cloudhsm_dr_source", params["source"])]
        members += [("cloudhsm_dr_clones[%d]" % index, clone) for index, clone in enumerate(params["clones"])]
        return [(what, spec) for what, spec in members if isinstance(spec, dict)]

    def check_region(self, what, region):
        """True when the region is usable (then its subnets may be read)."""
        if not isinstance(region, str) or not region:
            self.problem("%s.region is missing." % what)
            return False
        partition = next((name for name, regions in self.regions.items() if region in regions), None)
        if partition is None:
            known = sorted(set().union(*self.regions.values()))
            close = difflib.get_close_matches(region, known, n=1)
            self.problem("%s.region %r is not a region where AWS CloudHSM is offered (botocore's list%s)." % (
                what, region, "; did you mean %r?" % close[0] if close else ""))
            return False
        if self.partition is None:
            self.partition = partition
        elif partition != self.partition:
            self.problem("%s.region %r is in partition %s but the source's region is in %s: backups cannot be copied "
                         "between partitions." % (what, region, partition, self.partition))
            return False
        return True

    def check_zones(self, what, spec):
        region, zones = spec.get("region"), spec.get("availability_zones") or []
        if not zones:
            self.problem("%s.availability_zones is empty: list one zone per HSM." % what)
        for zone in zones:
            if not (isinstance(zone, str) and isinstance(region, str) and zone.startswith(region)
                    and ID_PATTERNS["availability_zone"].match(zone) and len(zone) == len(region) + 1):
                self.problem("%s.availability_zones: %r is not an availability zone of %s (a zone is its region's "
                             "name and one letter)." % (what, zone, region))

    def check_subnets(self, what, spec):
        subnet_ids = spec.get("subnet_ids") or []
        if not subnet_ids:
            return
        bad = [subnet for subnet in subnet_ids if not (isinstance(subnet, str) and ID_PATTERNS["subnet"].match(subnet))]
        if bad:
            self.problem("%s.subnet_ids: %s %s not subnet ids (subnet- and 8 to 17 hexadecimal digits)." % (
                what, ", ".join(repr(s) for s in bad), "is" if len(bad) == 1 else "are"))
            return
        if not self.module.params["check_subnets"]:
            return
        client = self.module.client("ec2", region=spec["region"], retry_decorator=EC2_RETRY)
        found = []
        for subnet_id in subnet_ids:
            answer = self.call("describe_subnets", "describe subnet %s in %s" % (subnet_id, spec["region"]), client=client,
                               ignore_codes=UNKNOWN_SUBNET_CODES, SubnetIds=[subnet_id])
            if answer is None:
                self.problem("%s.subnet_ids: %s does not exist in %s." % (what, subnet_id, spec["region"]))
                continue
            found += answer["Subnets"]
        vpcs = sorted(set(subnet["VpcId"] for subnet in found))
        if len(vpcs) > 1:
            self.problem("%s.subnet_ids are in %d VPCs (%s); a cluster's subnets must all be in one VPC." % (
                what, len(vpcs), ", ".join(vpcs)))
        zones_with_subnet = set(subnet["AvailabilityZone"] for subnet in found)
        for zone in spec.get("availability_zones") or []:
            if found and zone not in zones_with_subnet:
                self.problem("%s: availability zone %s has none of the subnets %s (they are in %s); an HSM needs a "
                             "subnet of the cluster in its zone." % (what, zone, ", ".join(subnet_ids),
                                                                     ", ".join(sorted(zones_with_subnet))))

    def check_set(self):
        params = self.module.params
        members = self.members()
        names, ids = {}, {}
        for what, spec in members:
            names.setdefault(spec.get("name"), []).append(what)
            if spec.get("cluster_id"):
                ids.setdefault(spec["cluster_id"], []).append(what)
            if spec.get("cluster_id") and not ID_PATTERNS["cluster"].match(str(spec["cluster_id"])):
                self.problem("%s.cluster_id %r is not a cluster id (cluster- and 11 to 16 characters)." % (what, spec["cluster_id"]))
        for name, whats in names.items():
            if len(whats) > 1:
                self.problem("The name %r is given to %s: each cluster of the DR set needs its own name." % (name, " and ".join(whats)))
        for cluster_id, whats in ids.items():
            if len(whats) > 1:
                self.problem("cluster_id %s is pinned by %s: each cluster of the DR set is a different cluster." % (cluster_id, " and ".join(whats)))
        source_region = params["source"].get("region")
        clone_regions = [clone.get("region") for clone in params["clones"] if isinstance(clone, dict)]
        for region in sorted(set(r for r in clone_regions if clone_regions.count(r) > 1)):
            self.problem("cloudhsm_dr_clones names region %s %d times: one clone per region." % (region, clone_regions.count(region)))
        if source_region in clone_regions:
            self.problem("cloudhsm_dr_clones has a clone in %s, the source's region: clones go to other regions." % source_region)
        if not params["clones"]:
            self.problem("cloudhsm_dr_clones is empty: list at least one clone.")

        reachable = SDK_HSM_TYPES[params["sdk"]]
        hsm_type = params["hsm_type"] or reachable[0]
        if hsm_type not in HSM_TYPES:
            self.problem("cloudhsm_dr_hsm_type %r is not an HSM type: use %s." % (hsm_type, " or ".join(HSM_TYPES)))
        elif hsm_type not in reachable:
            self.problem("cloudhsm_dr_sdk %s cannot use %s HSMs (SDK %s supports %s only): use "
                         "cloudhsm_dr_sdk: 5, or cloudhsm_dr_hsm_type: %s." % (
                             params["sdk"], hsm_type, params["sdk"], " and ".join(reachable), reachable[0]))
        for what, password in sorted(params["passwords"].items()):
            if password is None:
                continue
            if not PASSWORD_LENGTH[0] <= len(str(password)) <= PASSWORD_LENGTH[1]:
                self.problem("%s is %d characters long; CloudHSM passwords have %d to %d." % (
                    what, len(str(password)), PASSWORD_LENGTH[0], PASSWORD_LENGTH[1]))

        # The source first, so that the partition is the source's.
        usable = []
        for what, spec in members:
            if not isinstance(spec.get("name"), str) or not spec.get("name") or not re.match(r"^\S", spec["name"]):
                self.problem("%s.name is missing." % what)
            if self.check_region(what, spec.get("region")):
                usable.append((what, spec))
            self.check_zones(what, spec)
        for what, spec in usable:
            self.check_subnets(what, spec)
        if params["mtls"] is not None and not self.problems:
            self.check_mtls(usable)

    def check_mtls(self, members):
        """Each existing member that enforces mTLS (by the collection's tag) needs a client certificate."""
        certified = set(self.module.params["mtls"].get("certified") or [])
        configured = self.module.params["mtls"].get("configured")
        if configured and not session_class(self.module.params["sdk"]).manages_mtls:
            self.problem("cloudhsm_dr_mtls (mutual TLS) needs cloudhsm_dr_sdk: 5 (hsm2m.medium clusters); SDK %s has "
                         "no client certificates." % self.module.params["sdk"])
            return
        if configured:
            # Every cluster of the set is named in the client configuration with its certificate.
            missing = [spec["name"] for _what, spec in self.members() if spec.get("name") not in certified]
            if missing:
                self.problem(
                    "cloudhsm_dr_mtls (mutual TLS) gives no client certificate and key for %s: set certificate (or "
                    "certificate_src) and private_key (or private_key_src) in cloudhsm_dr_mtls, or an entry with that "
                    "name under cloudhsm_dr_mtls.clusters." % ", ".join(missing))
            return
        lacking = []
        for what, spec in members:
            client = self.regional_client(spec["region"])
            what_read = "describe the clusters in %s" % spec["region"]
            if spec.get("cluster_id"):
                found = [c for c in [self.look_up(what_read, get_cluster, client, spec["cluster_id"])] if c]
            else:
                found = self.look_up(what_read, find_clusters_by_name, client, spec["name"])
            for cluster in found:
                tags = dict((t.get("Key"), t.get("Value")) for t in cluster.get("TagList") or [])
                if tags.get(MTLS_ENFORCEMENT_TAG) == "client-and-server":
                    lacking.append("%s %s (%s)" % (what, spec["name"], cluster["ClusterId"]))
        if lacking:
            self.problem(
                "Mutual TLS (mTLS) is enforced on %s (tag %s: client-and-server) but %s: a client without a "
                "certificate signed by one of the cluster's trust anchors cannot connect to its HSMs. Set "
                "cloudhsm_dr_mtls with trust_anchors and the client certificate and key (certificate or "
                "certificate_src, private_key or private_key_src, or an entry per cluster name under "
                "cloudhsm_dr_mtls.clusters)." % (
                    ", ".join(lacking), MTLS_ENFORCEMENT_TAG, "cloudhsm_dr_mtls is not set"))


def main():
    argument_spec = dict(
        source=dict(type="dict", required=True),
        clones=dict(type="list", elements="dict", required=True),
        sdk=dict(type="int", choices=[3, 5], default=5),
        hsm_type=dict(type="str"),
        passwords=dict(type="dict", default={}, no_log=True),
        check_subnets=dict(type="bool", default=True),
        mtls=dict(type="dict", options=dict(
            configured=dict(type="bool", default=False),
            certified=dict(type="list", elements="str", default=[]),
        )),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    preflight = Preflight(module)
    preflight.check_set()
    result = dict(changed=False, problems=preflight.problems, partition=preflight.partition)
    if preflight.problems:
        module.fail_json(msg="The DR settings have %d problem%s; nothing was changed: %s" % (
            len(preflight.problems), "" if len(preflight.problems) == 1 else "s", " ".join(preflight.problems)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
