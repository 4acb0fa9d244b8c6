# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_inventory_info
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fake_tools
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import hsm  # noqa: F401  pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import run_module

ADMIN = dict(username="admin", password=fake_tools.ADMIN_PW)


def run(env, capsys, check_mode=False, **kwargs):
    return run_module(cloudhsm_inventory_info.main, env, dict(ADMIN, **kwargs), capsys, check_mode=check_mode)


@pytest.mark.parametrize("sdk, clusters", [("5", ["c1", "c2"]), ("3", ["0", "1"])])
def test_reads_users_and_keys_of_every_cluster_and_changes_nothing(hsm, capsys, sdk, clusters):
    state_before = hsm.state()
    result = run(hsm, capsys, sdk=sdk, clusters=clusters, check_mode=True)
    assert result["changed"] is False
    assert [c["cluster"] for c in result["clusters"]] == clusters
    source, clone = result["clusters"]
    assert [u["name"] for u in source["users"]] == ["admin", "alice", "app_user"]
    assert len(source["keys"]) == 7 and clone["keys"] == []
    assert {k["owner"] for k in source["keys"]} == {"alice"}
    assert [k["key_reference"] for k in source["keys"]] == sorted(k["key_reference"] for k in source["keys"])
    assert source["contents"] != clone["contents"]
    assert any(line.startswith("key ") and "owner alice" in line for line in source["contents"])
    assert hsm.state() == state_before
