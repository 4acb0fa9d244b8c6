# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_inventory_info
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import (  # noqa: F401  pylint: disable=unused-import
    ADMIN_PW, dr, dr_set, hsm, run_module, tool_path)

ADMIN = dict(username="admin", password=ADMIN_PW)


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_reads_users_and_keys_of_every_cluster_and_changes_nothing(dr_set, capsys, sdk):
    pair = dr_set(sdk)
    clusters = [pair.source, pair.clone]
    before = [(pair.users(c), pair.keys(c)) for c in clusters]
    result = run_module(cloudhsm_inventory_info.main, pair, dict(ADMIN, clusters=clusters), capsys, check_mode=True)
    assert result["changed"] is False
    assert [c["cluster"] for c in result["clusters"]] == clusters
    source, clone = result["clusters"]
    assert [u["name"] for u in source["users"]] == ["admin", "alice", "app_user"]
    assert len(source["keys"]) == 7 and clone["keys"] == []
    assert {k["owner"] for k in source["keys"]} == {"alice"}
    assert [k["key_reference"] for k in source["keys"]] == sorted(k["key_reference"] for k in source["keys"])
    assert source["contents"] != clone["contents"]
    assert any(line.startswith("key ") and "owner alice" in line for line in source["contents"])
    assert [(pair.users(c), pair.keys(c)) for c in clusters] == before
