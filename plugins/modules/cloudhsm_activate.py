#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_activate
version_added: 0.1.0
short_description: Activate an initialized AWS CloudHSM cluster by setting its first admin password
description:
  - A freshly initialized cluster has one unactivated admin (SDK 3 PRECO user). Activation sets its password, which
    turns it into an admin (crypto officer) and moves the cluster to C(ACTIVE).
  - SDK 5 runs C(cloudhsm-cli cluster activate); SDK 3 logs in as the PRECO user with O(preco_password) and runs
    C(changePswd PRECO).
  - A cluster that is already activated is no change. The module reads the user list first, so it never tries
    the default password on an active cluster.
author:
  - hsmops.cloudhsm contributors (@hsmops)
extends_documentation_fragment:
  - hsmops.cloudhsm.hsm_client
options:
  clusters:
    description:
      - The clusters to activate, by cluster id (both SDKs). Omit with a single-cluster client configuration.
      - SDK 3 finds each cluster's server as M(hsmops.cloudhsm.cloudhsm_user) does (the cluster map next to
        O(client_config); a configuration of one server without a map serves the one cluster named).
    type: list
    elements: str
    default: []
  admin_password:
    description:
      - The password to set for the first admin (user C(admin)), which then logs in with it.
      - 7 to 32 characters (current clusters want 8 to 32); a password outside 7 to 32 fails the module before
        any cluster is changed. A 7-character one is used with a warning.
    type: str
    required: true
  preco_password:
    description:
      - SDK 3 only. The default password of the PRECO user (the cluster's C(PreCoPassword)).
      - When omitted, C(password), the default on AWS. (It has no default value in the argument spec, as every
        value of a C(no_log) option is masked in the module's messages, and that word appears in them.)
    type: str
"""

EXAMPLES = r"""
- name: Activate the new cluster
  hsmops.cloudhsm.cloudhsm_activate:
    clusters: [cluster-abcdefghijk]
    admin_password: "{{ hsm_admin_password }}"
"""

RETURN = r"""
clusters:
  description: One entry per cluster.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: The cluster id (SDK 3, the server when the cluster was not named by its id).
      type: str
    activated:
      description: True when this run activated it (would, in check mode).
      type: bool
    already_active:
      description: True when it was active before.
      type: bool
  sample: [{cluster: cluster-abcdefghijk, activated: true, already_active: false}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import client_argument_spec
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import fail
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import hsm_session
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import password_problem, password_warning


# The PRECO user's password on a new AWS cluster (public, so not a secret).
PRECO_DEFAULT = "password"


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(
            login=False,
            admin_password=dict(type="str", required=True, no_log=True),
            clusters=dict(type="list", elements="str", default=[]),
            preco_password=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    problem = password_problem("the first admin (admin_password)", module.params["admin_password"])
    if problem:
        fail(module, problem)
    warning = password_warning("the first admin (admin_password)", module.params["admin_password"])
    if warning:
        module.warn(warning)
    reports, errors = [], []
    with hsm_session(module, module.params["clusters"] or None, login=False) as (unused_driver, session):
        for target in session.targets():
            view = session.read_view(target)
            report = dict(cluster=view.name, activated=False, already_active=view.activated)
            if not view.activated and not module.check_mode:
                outcome = session.activate(target, module.params["admin_password"],
                                           default_password=module.params["preco_password"] or PRECO_DEFAULT)
                if outcome.data == "already_active":
                    report["already_active"] = True
                elif outcome.ok:
                    report["activated"] = True
                else:
                    errors.append("activating %s failed: %s" % (view.name, outcome.message))
            elif not view.activated:
                report["activated"] = True
            reports.append(report)
    result = dict(changed=any(r["activated"] for r in reports), clusters=reports)
    if errors:
        fail(module, "; ".join(errors), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
