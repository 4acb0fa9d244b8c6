# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_backup_copy
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

DESTINATIONS = ["us-west-2", "eu-west-1"]


def run(args, capsys, **kwargs):
    return run_module(cloudhsm_backup_copy.main, args, capsys=capsys, **kwargs)


def backups_in(region, **filters):
    params = {"Filters": filters} if filters else {}
    return client("cloudhsmv2", region).describe_backups(**params)["Backups"]


def source_cluster(aws):
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets)
    return cluster_id, backups_in("us-east-1", clusterIds=[cluster_id])[0]["BackupId"]


def test_copies_newest_backup_of_a_cluster_to_two_regions_once(aws, capsys, api_calls):
    cluster_id, _first = source_cluster(aws)
    newest = aws.take_backup(cluster_id)["BackupId"]
    del api_calls[:]
    result = run({"cluster_id": cluster_id, "destination_regions": DESTINATIONS, "tags": {"Purpose": "dr"}}, capsys)
    assert result["changed"] is True
    assert result["source_backup_id"] == newest
    assert result["source_cluster_id"] == cluster_id
    for region in DESTINATIONS:
        copy = result["copies"][region]
        assert copy["copied"] is True
        assert copy["state"] == "READY"
        actual = backups_in(region, sourceBackupIds=[newest])
        assert [backup["BackupId"] for backup in actual] == [copy["backup_id"]]
        assert actual[0]["TagList"] == [{"Key": "Purpose", "Value": "dr"}]
    assert sorted(r for r, name in mutating(api_calls)) == ["us-east-1", "us-east-1"]
    del api_calls[:]
    again = run({"cluster_id": cluster_id, "destination_regions": DESTINATIONS, "tags": {"Purpose": "dr"}}, capsys)
    assert again["changed"] is False
    assert all(not copy["copied"] for copy in again["copies"].values())
    assert again["copies"]["us-west-2"]["backup_id"] == result["copies"]["us-west-2"]["backup_id"]
    assert mutating(api_calls) == []


def test_check_mode_copies_nothing(aws, capsys, api_calls):
    _cluster_id, backup_id = source_cluster(aws)
    del api_calls[:]
    result = run({"backup_id": backup_id, "destination_regions": ["us-west-2"]}, capsys, check_mode=True)
    assert result["changed"] is True
    assert result["copies"]["us-west-2"] == {"backup_id": None, "state": None, "copied": True}
    assert mutating(api_calls) == []
    assert backups_in("us-west-2") == []


def test_same_region_govcloud_and_unknown_region_are_refused(aws, capsys, api_calls):
    _cluster_id, backup_id = source_cluster(aws)
    del api_calls[:]
    same = run({"backup_id": backup_id, "destination_regions": ["us-east-1"]}, capsys)
    assert same["failed"] is True
    assert "us-east-1 is the source region" in same["msg"]
    gov = run({"backup_id": backup_id, "destination_regions": ["us-gov-west-1"]}, capsys)
    assert gov["failed"] is True
    assert "between standard and GovCloud" in gov["msg"]
    unknown = run({"backup_id": backup_id, "destination_regions": ["us-north-9"]}, capsys)
    assert unknown["failed"] is True
    assert "'us-north-9' is not a region where AWS CloudHSM is offered" in unknown["msg"]
    assert mutating(api_calls) == []


def test_unknown_backup_and_cluster_ids(aws, capsys):
    missing = run({"backup_id": "backup-abcdefghijk", "destination_regions": ["us-west-2"]}, capsys)
    assert missing["failed"] is True
    assert "Backup backup-abcdefghijk does not exist in us-east-1" in missing["msg"]
    no_cluster = run({"cluster_id": "cluster-abcdefghijk", "destination_regions": ["us-west-2"]}, capsys)
    assert "Cluster cluster-abcdefghijk does not exist in us-east-1" in no_cluster["msg"]
    _vpc, subnets = make_subnets()
    fresh = create_cluster(subnets, name="fresh")["ClusterId"]
    no_backup = run({"cluster_id": fresh, "destination_regions": ["us-west-2"]}, capsys)
    assert "has no READY backup to copy" in no_backup["msg"]


def test_source_not_ready_fails_without_wait_and_is_waited_for_with_wait(aws, capsys):
    cluster_id, _first = source_cluster(aws)
    aws.transitions.set_seconds({"backup_create": 3600})
    pending = aws.take_backup(cluster_id)["BackupId"]
    result = run({"backup_id": pending, "destination_regions": ["us-west-2"], "wait": False}, capsys)
    assert result["failed"] is True
    assert "Source backup %s in us-east-1 is CREATE_IN_PROGRESS; only a READY backup can be copied" % pending in result["msg"]
    timed = run({"backup_id": pending, "destination_regions": ["us-west-2"], "wait_timeout": 20}, capsys)
    assert timed["failed"] is True
    assert "waiting for source backup %s in us-east-1 to reach READY" % pending in timed["msg"]
    assert backups_in("us-west-2") == []


def test_pending_deletion_source_names_the_fix(aws, capsys):
    _cluster_id, backup_id = source_cluster(aws)
    client("cloudhsmv2").delete_backup(BackupId=backup_id)
    result = run({"backup_id": backup_id, "destination_regions": ["us-west-2"]}, capsys)
    assert result["failed"] is True
    assert "PENDING_DELETION" in result["msg"] and "state=restored" in result["msg"]


def test_waits_for_copies_to_be_ready(aws, capsys, fast_waits):
    _cluster_id, backup_id = source_cluster(aws)
    aws.transitions.set_seconds({"backup_copy": 3600})
    result = run({"backup_id": backup_id, "destination_regions": ["us-west-2"], "wait_timeout": 10}, capsys)
    assert result["failed"] is True
    assert "waiting for copy of backup %s in us-west-2 to reach READY; it is still in state CREATE_IN_PROGRESS" % backup_id in result["msg"]
    # The copy was started: the failure says so and names it, so a rerun (or a person) can pick it up.
    assert result["changed"] is True
    assert result["source_backup_id"] == backup_id
    copy = result["copies"]["us-west-2"]
    assert copy["copied"] is True and copy["state"] == "CREATE_IN_PROGRESS" and copy["backup_id"].startswith("backup-")
    assert sum(fast_waits) <= 10
