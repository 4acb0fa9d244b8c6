# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_dr_set_info
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import api_calls  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws_env  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import client
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import create_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import fast_waits  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import initialized_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_subnets
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import mutating
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import run_module

DR_REGION = "us-west-2"
TAG = "hsmops.cloudhsm:dr-source"


def run(args, capsys):
    return run_module(cloudhsm_dr_set_info.main, args, capsys=capsys)


def clone_of(source_id, name, region=DR_REGION, tags=None):
    """A clone as clone_cluster makes it: the source's newest backup copied to region, a cluster from the copy."""
    primary = client("cloudhsmv2")
    backup_id = primary.describe_backups(Filters={"clusterIds": [source_id]})["Backups"][-1]["BackupId"]
    primary.copy_backup_to_region(DestinationRegion=region, BackupId=backup_id)
    dr = client("cloudhsmv2", region)
    copy = [b for b in dr.describe_backups()["Backups"] if b.get("SourceBackup") == backup_id][-1]
    _vpc, subnets = make_subnets(region)
    return create_cluster(subnets, name=name, region=region, tags=tags, SourceBackupId=copy["BackupId"])["ClusterId"]


def settings(clone_name="dr-clone", clone_id=None, source_id=None):
    clone = {"name": clone_name, "region": DR_REGION, "subnet_ids": ["subnet-0123456789abcdef0"]}
    source = {"name": "primary", "region": "us-east-1", "availability_zones": ["us-east-1a"]}
    if clone_id:
        clone["cluster_id"] = clone_id
    if source_id:
        source["cluster_id"] = source_id
    return {"source": source, "clones": [clone]}


def test_a_clone_restored_from_a_copy_of_the_source_is_proven_by_lineage(aws, capsys):
    _vpc, subnets = make_subnets()
    source_id = initialized_cluster(subnets)
    clone_id = clone_of(source_id, "dr-clone")
    result = run(settings(), capsys)
    assert result["problems"] == []
    assert [(m["role"], m["cluster_id"], m["proof"]) for m in result["members"]] == [
        ("source", source_id, "declared"), ("clone", clone_id, "lineage")]
    assert result["members"][1]["lineage"]["origin_cluster_id"] == source_id
    assert result["members"][1]["lineage"]["origin_region"] == "us-east-1"
    assert result["missing"] == []


def test_a_cluster_that_only_shares_the_name_is_refused_without_a_mutating_call(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    initialized_cluster(subnets)
    _vpc, dr_subnets = make_subnets(DR_REGION)
    other = create_cluster(dr_subnets, name="dr-clone", region=DR_REGION, tags={"owner": "other-team"})["ClusterId"]
    del api_calls[:]
    result = run(settings(), capsys)
    assert result["failed"]
    assert "cluster %s in %s is named 'dr-clone'" % (other, DR_REGION) in result["msg"]
    assert "it was not created from a backup" in result["msg"]
    assert "'cluster_id: %s'" % other in result["msg"]
    assert mutating(api_calls) == []


def test_a_clone_of_another_source_is_refused_and_names_that_source(aws, capsys):
    _vpc, subnets = make_subnets()
    initialized_cluster(subnets)
    stranger = initialized_cluster(subnets, name="someone-else")
    other = clone_of(stranger, "dr-clone")
    result = run(settings(), capsys)
    assert result["failed"]
    assert "which comes from cluster %s in us-east-1" % stranger in result["msg"]
    assert other in result["msg"]


def test_the_ownership_tag_proves_a_clone_whose_backup_is_gone(aws, capsys):
    _vpc, subnets = make_subnets()
    source_id = initialized_cluster(subnets)
    _vpc, dr_subnets = make_subnets(DR_REGION)
    tagged = create_cluster(dr_subnets, name="dr-clone", region=DR_REGION, tags={TAG: source_id})["ClusterId"]
    result = run(settings(), capsys)
    assert [(m["cluster_id"], m["proof"]) for m in result["members"][1:]] == [(tagged, "tag")]


def test_a_pinned_clone_is_a_member_and_a_missing_pin_a_problem(aws, capsys):
    _vpc, subnets = make_subnets()
    initialized_cluster(subnets)
    _vpc, dr_subnets = make_subnets(DR_REGION)
    other = create_cluster(dr_subnets, name="anything", region=DR_REGION)["ClusterId"]
    result = run(settings(clone_id=other), capsys)
    assert [(m["cluster_id"], m["proof"]) for m in result["members"][1:]] == [(other, "pinned")]
    result = run(settings(clone_id="cluster-aaaaaaaaaaa"), capsys)
    assert result["failed"] and "pins cluster_id cluster-aaaaaaaaaaa, which does not exist" in result["msg"]
    result = run(dict(settings(clone_id="cluster-aaaaaaaaaaa"), allow_missing_pins=True), capsys)
    assert result["problems"] == [] and result["missing"] == [{"name": "dr-clone", "region": DR_REGION}]


def test_two_live_clusters_of_one_name_are_refused_even_when_one_is_proven(aws, capsys):
    _vpc, subnets = make_subnets()
    source_id = initialized_cluster(subnets)
    clone_id = clone_of(source_id, "dr-clone")
    _vpc, dr_subnets = make_subnets(DR_REGION)
    other = create_cluster(dr_subnets, name="dr-clone", region=DR_REGION)["ClusterId"]
    result = run(settings(), capsys)
    assert result["failed"]
    assert "2 live clusters are named 'dr-clone' in %s" % DR_REGION in result["msg"]
    assert clone_id in result["msg"] and other in result["msg"]


def test_after_a_fail_over_swap_the_old_source_shares_the_lineage(aws, capsys):
    _vpc, subnets = make_subnets()
    old_source = initialized_cluster(subnets)
    promoted = clone_of(old_source, "dr-clone")
    swapped = {"source": {"name": "dr-clone", "region": DR_REGION},
               "clones": [{"name": "primary", "region": "us-east-1"}]}
    result = run(swapped, capsys)
    assert result["problems"] == []
    assert [(m["cluster_id"], m["proof"]) for m in result["members"]] == [(promoted, "declared"), (old_source, "lineage")]


def test_a_source_that_is_gone_can_be_pinned_and_its_clones_still_proven(aws, capsys):
    _vpc, subnets = make_subnets()
    source_id = initialized_cluster(subnets)
    clone_id = clone_of(source_id, "dr-clone", tags={TAG: source_id})
    result = run(dict(settings(source_id="cluster-aaaaaaaaaaa"), allow_missing_pins=True), capsys)
    assert result["failed"]  # the clone does not lead to the pinned id
    result = run(dict(settings(source_id=source_id)), capsys)
    assert [(m["cluster_id"], m["proof"]) for m in result["members"]] == [(source_id, "pinned"), (clone_id, "lineage")]


def test_a_member_in_limited_write_mode_is_refused_on_request_saying_until_when(aws, capsys, api_calls):
    from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import add_hsm
    from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import describe_cluster
    from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import sign_csr

    _vpc, subnets = make_subnets()
    source_id = create_cluster(subnets, name="primary", HsmType="hsm1.medium")["ClusterId"]
    add_hsm(source_id, sorted(describe_cluster(source_id)["SubnetMapping"])[0])
    signed, anchor = sign_csr(describe_cluster(source_id)["Certificates"]["ClusterCsr"])
    client("cloudhsmv2").initialize_cluster(ClusterId=source_id, SignedCert=signed, TrustAnchor=anchor)
    describe_cluster(source_id)
    aws.activate_cluster(source_id)
    clone_id = clone_of(source_id, "dr-clone")
    assert run(dict(settings(), refuse_limited_write=True), capsys)["members"][0]["limited_write"] is None
    aws.transitions.set_seconds({"cluster_modify": 60})
    client("cloudhsmv2").modify_cluster(ClusterId=source_id, HsmType="hsm2m.medium")
    del api_calls[:]
    seen = run(settings(), capsys)  # an info lookup still answers
    view = seen["members"][0]["limited_write"]
    assert (view["state"], view["hsm_type"], view["hsms_total"], view["hsms_done"]) == (
        "MODIFY_IN_PROGRESS", "hsm2m.medium", 1, 0)
    assert view["expected_end"].endswith("Z") and view["rollback_expiration"] > view["expected_end"]
    assert seen["members"][1]["cluster_id"] == clone_id and seen["members"][1]["limited_write"] is None
    refused = run(dict(settings(), refuse_limited_write=True), capsys)
    assert refused["failed"] is True
    assert "Cluster %s in us-east-1 is MODIFY_IN_PROGRESS" % source_id in refused["msg"]
    assert "limited-write mode" in refused["msg"] and "expected around %s" % view["expected_end"][:14] in refused["msg"]
    assert mutating(api_calls) == []
