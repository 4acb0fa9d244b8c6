# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_hsm
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import add_hsm
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import api_calls  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws_env  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import client
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import create_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import describe_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import fast_waits  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import initialized_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_subnets
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import mutating
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import restored_uninitialized  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import run_module


def run(args, capsys, **kwargs):
    return run_module(cloudhsm_hsm.main, args, capsys=capsys, **kwargs)


def zones_of(cluster_id):
    return sorted(describe_cluster(cluster_id)["SubnetMapping"])


def live(cluster_id):
    return [hsm for hsm in describe_cluster(cluster_id)["Hsms"] if hsm["State"] != "DELETE_IN_PROGRESS"]


def test_first_hsm_is_created_waited_for_and_rerun_is_no_change(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    zone = zones_of(cluster_id)[0]
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "availability_zones": [zone]}, capsys)
    assert result["changed"] is True
    assert len(result["hsms"]) == 1
    hsm = result["hsms"][0]
    assert hsm["state"] == "ACTIVE"
    assert hsm["availability_zone"] == zone
    assert hsm["eni_ip"].startswith("10.0.")
    assert hsm["eni_id"].startswith("eni-")
    assert result["created"] == [{"hsm_id": hsm["hsm_id"], "availability_zone": zone}]
    del api_calls[:]
    again = run({"cluster_id": cluster_id, "availability_zones": [zone]}, capsys)
    assert again["changed"] is False
    assert [name for _r, name in api_calls] == ["DescribeClusters"]


def test_more_than_one_before_activation_creates_first_then_fails(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    zones = zones_of(cluster_id)
    result = run({"cluster_id": cluster_id, "availability_zones": zones}, capsys)
    assert result["failed"] is True
    assert result["changed"] is True
    assert "not yet ACTIVE takes exactly one HSM" in result["msg"]
    assert "The other 1 HSM(s) can be added after it is initialized" in result["msg"]
    assert len(live(cluster_id)) == 1
    # rerun: still one HSM, still the explanation, nothing created
    again = run({"cluster_id": cluster_id, "availability_zones": zones}, capsys)
    assert again["failed"] is True and again["changed"] is False
    assert "(it has one)" in again["msg"]
    assert len(live(cluster_id)) == 1


def test_create_one_option_warns_instead(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    result = run({"cluster_id": cluster_id, "count": 2, "before_activation": "create_one"}, capsys)
    assert result.get("failed") is not True
    assert result["changed"] is True
    assert "exactly one HSM" in json.dumps(result["warnings"])
    assert "deprecations" not in result
    assert len(live(cluster_id)) == 1


def test_active_cluster_grows_by_count_spread_over_zones(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets)
    result = run({"cluster_id": cluster_id, "count": 3}, capsys)
    assert result["changed"] is True
    assert len(result["hsms"]) == 3
    assert all(hsm["state"] == "ACTIVE" for hsm in result["hsms"])
    per_zone = sorted(sum(1 for hsm in result["hsms"] if hsm["availability_zone"] == zone) for zone in zones_of(cluster_id))
    assert per_zone == [1, 2]
    assert run({"cluster_id": cluster_id, "count": 3}, capsys)["changed"] is False


def test_shrinking_the_list_removes_the_surplus_and_waits(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets)
    zones = zones_of(cluster_id)
    run({"cluster_id": cluster_id, "availability_zones": [zones[0], zones[1], zones[1]]}, capsys)
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "availability_zones": [zones[0], zones[1]]}, capsys, diff=True)
    assert result["changed"] is True
    assert len(result["deleted"]) == 1 and result["deleted"][0]["availability_zone"] == zones[1]
    assert result["diff"]["before"]["availability_zones"] == sorted([zones[0], zones[1], zones[1]])
    assert result["diff"]["after"]["availability_zones"] == sorted(zones[:2])
    assert [name for _r, name in mutating(api_calls)] == ["DeleteHsm"]
    assert sorted(hsm["AvailabilityZone"] for hsm in describe_cluster(cluster_id)["Hsms"]) == sorted(zones[:2])


def test_check_mode_plans_without_calls(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets)
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "count": 3}, capsys, check_mode=True, diff=True)
    assert result["changed"] is True
    assert len(result["created"]) == 2
    assert mutating(api_calls) == []
    assert len(result["diff"]["after"]["availability_zones"]) == 3
    assert len(live(cluster_id)) == 1


def test_remove_by_eni_ip_then_absent_again_is_no_change(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets)
    extra = add_hsm(cluster_id, zones_of(cluster_id)[1])
    ip = [hsm for hsm in describe_cluster(cluster_id)["Hsms"] if hsm["HsmId"] == extra["HsmId"]][0]["EniIp"]
    result = run({"cluster_id": cluster_id, "state": "absent", "eni_ip": ip}, capsys)
    assert result["changed"] is True
    assert result["deleted"][0]["hsm_id"] == extra["HsmId"]
    assert [hsm["hsm_id"] for hsm in result["hsms"]] != [] and extra["HsmId"] not in [h["hsm_id"] for h in result["hsms"]]
    assert run({"cluster_id": cluster_id, "state": "absent", "eni_ip": ip}, capsys)["changed"] is False


def test_unknown_zone_and_unknown_cluster_are_clear_errors(aws, capsys, api_calls):
    _vpc, subnets = make_subnets(count=1)
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "availability_zones": ["us-east-1f"]}, capsys)
    assert result["failed"] is True
    assert "us-east-1f has no subnet in cluster %s" % cluster_id in result["msg"]
    missing = run({"cluster_id": "cluster-abcdefghijk", "count": 1}, capsys)
    assert "cluster-abcdefghijk does not exist" in missing["msg"]
    assert mutating(api_calls) == []


def test_degraded_hsm_fails_fast_while_waiting(aws, capsys):
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets)
    aws.transitions.set_seconds({"hsm_create": 3600})
    zone = zones_of(cluster_id)[1]
    hsm_id = add_hsm(cluster_id, zone)["HsmId"]
    aws.degrade_hsm(hsm_id, "HSM creation failed. Please delete this HSM and try again.")
    result = run({"cluster_id": cluster_id, "count": 2}, capsys)
    assert result["failed"] is True
    assert "HSM %s of cluster %s is DEGRADED" % (hsm_id, cluster_id) in result["msg"]
    assert "state=absent, hsm_id=%s" % hsm_id in result["msg"]


def _clone(subnets):
    source_id = initialized_cluster(subnets)
    backup_id = client("cloudhsmv2").describe_backups(Filters={"clusterIds": [source_id]})["Backups"][0]["BackupId"]
    return create_cluster(subnets, name="clone", SourceBackupId=backup_id)["ClusterId"]


def test_clone_gets_all_its_hsms_at_once(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    clone_id = _clone(subnets)
    assert describe_cluster(clone_id)["State"] == "ACTIVE" and describe_cluster(clone_id)["Hsms"] == []
    del api_calls[:]
    result = run({"cluster_id": clone_id, "count": 2}, capsys)
    assert result["changed"] is True
    assert result["cluster_state"] == "ACTIVE"
    assert sorted(hsm["availability_zone"] for hsm in result["hsms"]) == zones_of(clone_id)
    # Both HSMs are asked for before any wait: an ACTIVE cluster from a backup takes every zone at once.
    names = [name for _region, name in api_calls]
    assert names[:3] == ["DescribeClusters", "CreateHsm", "CreateHsm"], names
    del api_calls[:]
    assert run({"cluster_id": clone_id, "count": 2}, capsys)["changed"] is False
    assert mutating(api_calls) == []


def test_clone_in_check_mode_plans_all_its_hsms(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    clone_id = _clone(subnets)
    del api_calls[:]
    result = run({"cluster_id": clone_id, "count": 2}, capsys, check_mode=True)
    assert result["changed"] is True and "failed" not in result
    assert len(result["created"]) == 2
    assert mutating(api_calls) == []


def test_clone_reporting_uninitialized_gets_its_first_hsm_then_the_rest(restored_uninitialized, capsys, api_calls):
    """The older shape: a cluster from a backup that is UNINITIALIZED until its first HSM is ACTIVE."""
    _vpc, subnets = make_subnets()
    clone_id = _clone(subnets)
    assert describe_cluster(clone_id)["State"] == "UNINITIALIZED"
    del api_calls[:]
    result = run({"cluster_id": clone_id, "count": 2}, capsys)
    assert result["changed"] is True and "failed" not in result
    assert result["cluster_state"] == "ACTIVE"
    assert len(result["hsms"]) == 2
    names = [name for _region, name in api_calls]
    first, second = [index for index, name in enumerate(names) if name == "CreateHsm"]
    assert "DescribeClusters" in names[first:second]  # the second waits for the first HSM and the cluster
    del api_calls[:]
    assert run({"cluster_id": clone_id, "count": 2}, capsys)["changed"] is False
    assert mutating(api_calls) == []


def test_clone_reporting_uninitialized_in_check_mode_plans_all_its_hsms(restored_uninitialized, capsys, api_calls):
    _vpc, subnets = make_subnets()
    clone_id = _clone(subnets)
    del api_calls[:]
    result = run({"cluster_id": clone_id, "count": 2}, capsys, check_mode=True)
    assert result["changed"] is True and "failed" not in result
    assert len(result["created"]) == 2
    assert mutating(api_calls) == []


def test_without_wait_the_new_hsm_is_returned_in_progress(aws, capsys, api_calls):
    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    zone = zones_of(cluster_id)[0]
    aws.transitions.set_seconds({"hsm_create": 3600})
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "availability_zones": [zone], "wait": False}, capsys)
    assert result["changed"] is True
    assert [hsm["state"] for hsm in result["hsms"]] == ["CREATE_IN_PROGRESS"]
    assert [name for _r, name in api_calls] == ["DescribeClusters", "CreateHsm"]


def test_with_wait_an_hsm_already_being_created_is_waited_for(aws, capsys, api_calls, fast_waits, monkeypatch):
    """An HSM created without waiting (or by a stopped run) is waited for by the next task, not created again."""
    from cloudhsm_sim.controlplane import state  # pylint: disable=import-outside-toplevel

    _vpc, subnets = make_subnets()
    cluster_id = create_cluster(subnets, name="primary")["ClusterId"]
    zone = zones_of(cluster_id)[0]
    aws.transitions.set_seconds({"hsm_create": 30})
    started = run({"cluster_id": cluster_id, "availability_zones": [zone], "wait": False}, capsys)
    assert [hsm["state"] for hsm in started["hsms"]] == ["CREATE_IN_PROGRESS"]
    # The service's clock runs with the waiter's (fake) sleeps.
    begin = state.now()
    monkeypatch.setattr(state, "now", lambda: begin + sum(fast_waits))
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "availability_zones": [zone], "wait_timeout": 120}, capsys)
    assert result["changed"] is False
    assert [hsm["state"] for hsm in result["hsms"]] == ["ACTIVE"]
    assert 30 <= sum(fast_waits) < 30 * 1.15 + 1
    assert set(name for _r, name in api_calls) == {"DescribeClusters"}
