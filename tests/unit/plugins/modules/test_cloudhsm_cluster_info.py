# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_cluster_info
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws_env  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import create_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import fast_waits  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_subnets
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import run_module


def run(args, capsys, **kwargs):
    return run_module(cloudhsm_cluster_info.main, args, capsys=capsys, **kwargs)


def test_empty_region_lists_nothing(aws, capsys):
    result = run({}, capsys)
    assert result["changed"] is False
    assert result["clusters"] == []


def test_lists_clusters_snake_cased_with_tags_as_dict(aws, capsys):
    vpc_id, subnets = make_subnets()
    created = create_cluster(subnets, name="dr-primary", tags={"Cost Center": "12345"})
    result = run({}, capsys)
    assert len(result["clusters"]) == 1
    cluster = result["clusters"][0]
    assert cluster["cluster_id"] == created["ClusterId"]
    assert cluster["tags"] == {"Name": "dr-primary", "Cost Center": "12345"}
    assert cluster["name"] == "dr-primary"
    assert cluster["hsm_type"] == "hsm2m.medium"
    assert cluster["vpc_id"] == vpc_id
    assert sorted(cluster["subnet_mapping"].values()) == sorted(subnets)
    # availability zone keys are data: not rewritten by the snake_case conversion
    assert all(key.startswith("us-east-1") for key in cluster["subnet_mapping"])
    assert "tag_list" not in cluster
    assert isinstance(cluster["create_timestamp"], str)
    assert cluster["hsms"] == []


def test_filters_by_name_tag(aws, capsys):
    _vpc, subnets = make_subnets()
    wanted = create_cluster(subnets, name="alpha")
    create_cluster(subnets, name="beta")
    create_cluster(subnets)
    result = run({"name": "alpha"}, capsys)
    assert [cluster["cluster_id"] for cluster in result["clusters"]] == [wanted["ClusterId"]]


def test_filters_by_cluster_ids(aws, capsys):
    _vpc, subnets = make_subnets()
    first = create_cluster(subnets, name="one")
    create_cluster(subnets, name="two")
    result = run({"cluster_ids": [first["ClusterId"]]}, capsys)
    assert [cluster["cluster_id"] for cluster in result["clusters"]] == [first["ClusterId"]]


def test_filters_by_vpc_ids(aws, capsys):
    _vpc_a, subnets_a = make_subnets()
    vpc_b, subnets_b = make_subnets()
    create_cluster(subnets_a, name="in-a")
    in_b = create_cluster(subnets_b, name="in-b")
    result = run({"vpc_ids": [vpc_b]}, capsys)
    assert [cluster["cluster_id"] for cluster in result["clusters"]] == [in_b["ClusterId"]]


def test_filters_by_states(aws, capsys):
    _vpc, subnets = make_subnets()
    create_cluster(subnets, name="one")
    state = run({}, capsys)["clusters"][0]["state"]
    other = "DEGRADED" if state != "DEGRADED" else "ACTIVE"
    assert len(run({"states": [state]}, capsys)["clusters"]) == 1
    assert run({"states": [other]}, capsys)["clusters"] == []


def test_pages_through_every_cluster(aws, capsys):
    # the API returns at most 25 clusters a page
    _vpc, subnets = make_subnets()
    created = set(create_cluster(subnets, name="c%02d" % index)["ClusterId"] for index in range(27))
    result = run({}, capsys)
    assert set(cluster["cluster_id"] for cluster in result["clusters"]) == created


def test_invalid_cluster_id_is_refused_before_any_call(aws, capsys):
    result = run({"cluster_ids": ["cluster-NOPE!"]}, capsys)
    assert result["failed"] is True
    assert "cluster_ids='cluster-NOPE!' is not a valid cluster identifier" in result["msg"]


def test_invalid_state_is_refused(aws, capsys):
    result = run({"states": ["RUNNING"]}, capsys)
    assert result["failed"] is True
    assert "states" in result["msg"] and "RUNNING" in result["msg"]


def test_check_mode_lists_the_same(aws, capsys):
    _vpc, subnets = make_subnets()
    create_cluster(subnets, name="alpha")
    result = run({"name": "alpha"}, capsys, check_mode=True)
    assert result["changed"] is False
    assert len(result["clusters"]) == 1
