# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The wait options of the control-plane modules (botocore has no cloudhsmv2 waiters; module_utils polls).
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait for every change to reach its final state before returning.
      - Polls with backoff (first after 2 seconds, then up to every 15 seconds) and stops at O(wait_timeout) with a
        message naming the resource, the state it was in and the state awaited.
      - A resource that reaches a state it cannot leave by itself (a V(DEGRADED) HSM, a deleted cluster or backup)
        ends the wait at once with an error.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for each transition when O(wait=true).
      - Real clusters and HSMs take several minutes per transition.
    type: int
    default: 1800
"""
