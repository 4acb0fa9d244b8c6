# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # Options shared by the data-plane modules (they run where the CloudHSM client tools are installed).
    DOCUMENTATION = r"""
options:
  sdk:
    description:
      - Which AWS CloudHSM Client SDK drives the HSMs.
      - V(5) runs C(cloudhsm-cli) (interactive mode, JSON output); V(3) runs C(cloudhsm_mgmt_util) over the
        O(client_config) file (for example a C(SyncClusters.cfg) listing the HSMs of several clusters) and
        C(key_mgmt_util) for key generation.
      - V(auto) uses SDK 5 when C(cloudhsm-cli) is in O(client_bin_dir), else SDK 3.
    type: str
    choices: ['5', '3', auto]
    default: '5'
  client_bin_dir:
    description:
      - Directory holding the client tools.
      - Configuration files are looked up in the sibling C(etc) directory (C(/opt/cloudhsm/etc) by default).
    type: path
    default: /opt/cloudhsm/bin
  client_config:
    description:
      - SDK 3 only. The C(cloudhsm_mgmt_util) configuration whose C(servers) the module works on.
      - Defaults to C(cloudhsm_mgmt_util.cfg) in the C(etc) directory next to O(client_bin_dir).
      - SDK 5 ignores it; C(cloudhsm-cli) reads its own C(cloudhsm-cli.cfg).
    type: path
  timeout:
    description:
      - Seconds to wait for each answer of a client tool before giving up.
    type: float
    default: 60
notes:
  - These modules run on the host where the CloudHSM client is installed and configured; they need no AWS
    credentials and no boto3.
  - Passwords reach the client tools only on their standard input. They are never put on a command line, in
    results, in warnings or in error messages.
"""

    # The login of the modules that log in (all but cloudhsm_activate).
    LOGIN = r"""
options:
  username:
    description:
      - The HSM user the module logs in as.
      - An admin (SDK 3 crypto officer) for user management and key replication; key generation and deletion
        need the crypto user that owns the keys.
    type: str
    required: true
  password:
    description:
      - Password of O(username). Sent to the tool on its standard input, never on a command line.
      - A refused login is never retried, so a wrong password costs one failed attempt, not a lockout.
    type: str
    required: true
  role:
    description:
      - Role of O(username).
    type: str
    choices: [admin, crypto-user]
    default: admin
"""

    # The clusters of the modules that work on several at once (cloudhsm_user, cloudhsm_mtls,
    # cloudhsm_inventory_info): both drivers take cluster ids, so the option reads the same in each.
    CLUSTERS = r"""
options:
  clusters:
    description:
      - The clusters to work on, by cluster id under both SDKs, in this order.
      - Omit with a single-cluster client configuration (SDK 3, every server of O(client_config)).
      - SDK 5 finds each cluster in the multi-cluster C(cloudhsm-cli.cfg). SDK 3 finds each cluster's server in the
        cluster map that the hsmops.cloudhsm.cloudhsm_sync_config role writes next to O(client_config)
        (C(SyncClusters.clusters.json)); a configuration of one server without a map serves the one cluster named.
        A server index or ENI IP of O(client_config) is accepted too.
    type: list
    elements: str
    default: []
"""
