#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_cluster_info
version_added: 0.1.0
short_description: List AWS CloudHSM clusters
description:
  - Lists the AWS CloudHSM clusters of a region, optionally filtered by cluster id, state, VPC and name.
  - Filters on ids, states and VPCs are applied by the API; the O(name) filter is applied to the C(Name) tag.
  - Results are paginated through to the end.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  cluster_ids:
    description:
      - Only return the clusters with these ids.
    type: list
    elements: str
    default: []
  states:
    description:
      - Only return clusters in one of these states.
    type: list
    elements: str
    default: []
    choices:
      - CREATE_IN_PROGRESS
      - UNINITIALIZED
      - INITIALIZE_IN_PROGRESS
      - INITIALIZED
      - ACTIVE
      - UPDATE_IN_PROGRESS
      - MODIFY_IN_PROGRESS
      - ROLLBACK_IN_PROGRESS
      - DELETE_IN_PROGRESS
      - DELETED
      - DEGRADED
  vpc_ids:
    description:
      - Only return clusters in these VPCs.
    type: list
    elements: str
    default: []
  name:
    description:
      - Only return clusters whose C(Name) tag is this value.
    type: str
notes:
  - Supports check mode; it never changes anything.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_cluster
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: List every cluster of the region
  hsmops.cloudhsm.cloudhsm_cluster_info:
  register: all_clusters

- name: Find the active clusters named dr-primary
  hsmops.cloudhsm.cloudhsm_cluster_info:
    name: dr-primary
    states:
      - ACTIVE
  register: primary

- name: Show the ENI IPs of their HSMs
  ansible.builtin.debug:
    msg: "{{ primary.clusters | map(attribute='hsms') | flatten | map(attribute='eni_ip') | list }}"

- name: Look up the clusters of one VPC by id
  hsmops.cloudhsm.cloudhsm_cluster_info:
    cluster_ids: "{{ all_clusters.clusters | selectattr('vpc_id', 'eq', primary.clusters[0].vpc_id) | map(attribute='cluster_id') | list }}"
"""

RETURN = r"""
clusters:
  description: The clusters found, in the order the API returned them.
  returned: always
  type: list
  elements: dict
  contains:
    cluster_id:
      description: The cluster id.
      type: str
      sample: cluster-igklspoyj5v
    name:
      description: The value of the C(Name) tag, if any.
      type: str
      sample: dr-primary
    state:
      description: The cluster state.
      type: str
      sample: ACTIVE
    state_message:
      description: A description of the state, when the API gives one.
      type: str
      returned: when available
    hsm_type:
      description: The HSM type of the cluster.
      type: str
      sample: hsm2m.medium
    mode:
      description: The cluster mode, V(FIPS) or V(NON_FIPS).
      type: str
      returned: when available
      sample: FIPS
    network_type:
      description: The network type, V(IPV4) or V(DUALSTACK).
      type: str
      returned: when available
    vpc_id:
      description: The VPC of the cluster.
      type: str
      sample: vpc-50ae0636
    security_group:
      description: The security group of the cluster's ENIs.
      type: str
      returned: when available
    subnet_mapping:
      description: The cluster's subnets, keyed by availability zone.
      type: dict
      sample: {"us-east-1a": "subnet-0e358c43"}
    source_backup_id:
      description: The backup the cluster was created from.
      type: str
      returned: for clusters created from a backup
    backup_policy:
      description: The backup policy.
      type: str
      sample: DEFAULT
    backup_retention_policy:
      description: How long the service keeps the cluster's backups.
      type: dict
      sample: {"type": "DAYS", "value": "90"}
    create_timestamp:
      description: When the cluster was created (ISO 8601).
      type: str
    certificates:
      description:
        - The cluster's certificates.
        - C(cluster_csr) exists while the cluster is UNINITIALIZED and has an HSM.
        - C(cluster_certificate) exists once the cluster has been initialized.
      type: dict
      sample: {"cluster_csr": "-----BEGIN CERTIFICATE REQUEST-----..."}
    hsms:
      description: The HSMs of the cluster.
      type: list
      elements: dict
      sample: [{"hsm_id": "hsm-ted36yp5b2x", "availability_zone": "us-east-1a", "subnet_id": "subnet-0e358c43",
                "eni_id": "eni-5d7ade72", "eni_ip": "10.0.1.12", "state": "ACTIVE", "cluster_id": "cluster-igklspoyj5v"}]
    tags:
      description: The cluster's tags.
      type: dict
      sample: {"Name": "dr-primary"}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import CLUSTER_STATES
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import cluster_name
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import describe_clusters
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import normalize_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options


def main():
    argument_spec = dict(
        cluster_ids=dict(type="list", elements="str", default=[]),
        states=dict(type="list", elements="str", default=[], choices=CLUSTER_STATES),
        vpc_ids=dict(type="list", elements="str", default=[]),
        name=dict(type="str"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    validate_options(module, {"cluster_ids": "cluster", "vpc_ids": "vpc"})

    task = ControlPlaneTask(module)
    clusters = task.look_up("describe CloudHSM clusters", describe_clusters, task.client, cluster_ids=params["cluster_ids"],
                            states=params["states"], vpc_ids=params["vpc_ids"])

    if params["name"] is not None:
        clusters = [cluster for cluster in clusters if cluster_name(cluster) == params["name"]]

    module.exit_json(changed=False, clusters=[normalize_cluster(cluster) for cluster in clusters])


if __name__ == "__main__":
    main()
