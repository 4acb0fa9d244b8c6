#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_hsm_info
version_added: 0.1.0
short_description: List the HSMs of AWS CloudHSM clusters
description:
  - Lists the HSMs of the clusters of a region (or of the given clusters), with their ENI ids and IP addresses,
    filtered by HSM id, ENI IP and state.
author:
  - hsmops.cloudhsm contributors (@hsmops)
options:
  cluster_ids:
    description:
      - Only the HSMs of these clusters.
    type: list
    elements: str
    default: []
  hsm_ids:
    description:
      - Only these HSMs.
    type: list
    elements: str
    default: []
  eni_ips:
    description:
      - Only the HSMs with these ENI IP addresses.
    type: list
    elements: str
    default: []
  states:
    description:
      - Only HSMs in one of these states.
    type: list
    elements: str
    default: []
    choices: [CREATE_IN_PROGRESS, ACTIVE, DEGRADED, DELETE_IN_PROGRESS, DELETED]
notes:
  - Supports check mode; it never changes anything.
seealso:
  - module: hsmops.cloudhsm.cloudhsm_hsm
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

- name: The ACTIVE HSMs of the cluster
  hsmops.cloudhsm.cloudhsm_hsm_info:
    cluster_ids:
      - "{{ primary.clusters[0].cluster_id }}"
    states:
      - ACTIVE
  register: active

- name: Their IP addresses
  ansible.builtin.debug:
    msg: "{{ active.hsms | map(attribute='eni_ip') | list }}"
"""

RETURN = r"""
hsms:
  description: The HSMs found, cluster by cluster.
  returned: always
  type: list
  elements: dict
  contains:
    hsm_id:
      description: The HSM id.
      type: str
      sample: hsm-ted36yp5b2x
    cluster_id:
      description: The cluster of the HSM.
      type: str
      sample: cluster-igklspoyj5v
    availability_zone:
      description: The availability zone.
      type: str
    subnet_id:
      description: The subnet of the HSM's ENI.
      type: str
    eni_id:
      description: The id of the HSM's ENI.
      type: str
    eni_ip:
      description: The IP address of the HSM's ENI.
      type: str
      sample: 10.0.1.12
    state:
      description: The HSM state.
      type: str
      sample: ACTIVE
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import HSM_STATES
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import describe_clusters
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import normalize_hsm
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import validate_options


def main():
    argument_spec = dict(
        cluster_ids=dict(type="list", elements="str", default=[]),
        hsm_ids=dict(type="list", elements="str", default=[]),
        eni_ips=dict(type="list", elements="str", default=[]),
        states=dict(type="list", elements="str", default=[], choices=HSM_STATES),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    validate_options(module, {"cluster_ids": "cluster", "hsm_ids": "hsm", "eni_ips": "ip"})

    task = ControlPlaneTask(module)
    clusters = task.look_up("describe CloudHSM clusters", describe_clusters, task.client, cluster_ids=params["cluster_ids"])
    hsms = []
    for cluster in clusters:
        for hsm in cluster.get("Hsms") or []:
            if params["hsm_ids"] and hsm.get("HsmId") not in params["hsm_ids"]:
                continue
            if params["eni_ips"] and hsm.get("EniIp") not in params["eni_ips"]:
                continue
            if params["states"] and hsm.get("State") not in params["states"]:
                continue
            hsms.append(normalize_hsm(hsm))
    module.exit_json(changed=False, hsms=hsms)


if __name__ == "__main__":
    main()
