# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_hsm_info
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import add_hsm
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws_env  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import create_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import describe_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import fast_waits  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_subnets
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import run_module


def run(args, capsys):
    return run_module(cloudhsm_hsm_info.main, args, capsys=capsys)


def test_lists_and_filters_hsms_across_clusters(aws, capsys):
    _vpc, subnets = make_subnets()
    one = create_cluster(subnets, name="one")["ClusterId"]
    two = create_cluster(subnets, name="two")["ClusterId"]
    zone = sorted(describe_cluster(one)["SubnetMapping"])[0]
    hsm_one = add_hsm(one, zone)["HsmId"]
    hsm_two = add_hsm(two, zone)["HsmId"]
    every = run({}, capsys)["hsms"]
    assert sorted(hsm["hsm_id"] for hsm in every) == sorted([hsm_one, hsm_two])
    assert all(hsm["eni_ip"] and hsm["state"] == "ACTIVE" for hsm in every)
    only_two = run({"cluster_ids": [two]}, capsys)["hsms"]
    assert [hsm["hsm_id"] for hsm in only_two] == [hsm_two]
    ip = only_two[0]["eni_ip"]
    assert [hsm["cluster_id"] for hsm in run({"eni_ips": [ip]}, capsys)["hsms"]] == [two]
    assert run({"states": ["DEGRADED"]}, capsys)["hsms"] == []
    assert run({"hsm_ids": [hsm_one]}, capsys)["hsms"][0]["cluster_id"] == one
