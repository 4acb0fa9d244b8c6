# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import time

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_backup
from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_backup_info
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import api_calls  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws_env  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import client
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import fast_waits  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import initialized_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_subnets
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import mutating
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import run_module

DAY = 24 * 3600


def run(args, capsys, **kwargs):
    return run_module(cloudhsm_backup.main, args, capsys=capsys, **kwargs)


def info(args, capsys, **kwargs):
    return run_module(cloudhsm_backup_info.main, args, capsys=capsys, **kwargs)


def a_backup():
    _vpc, subnets = make_subnets()
    cluster_id = initialized_cluster(subnets)
    backups = client("cloudhsmv2").describe_backups(Filters={"clusterIds": [cluster_id]})["Backups"]
    return cluster_id, backups[0]["BackupId"]


def test_never_expires_and_tags_then_no_change(aws, capsys, api_calls):
    _cluster, backup_id = a_backup()
    args = {"backup_id": backup_id, "never_expires": True, "tags": {"Reason": "keep"}}
    result = run(args, capsys, diff=True)
    assert result["changed"] is True
    assert result["backup"]["never_expires"] is True
    assert result["backup"]["tags"] == {"Reason": "keep"}
    assert result["diff"]["before"]["never_expires"] is False
    del api_calls[:]
    again = run(args, capsys)
    assert again["changed"] is False
    assert mutating(api_calls) == []
    assert [name for _r, name in api_calls] == ["DescribeBackups"]


def test_delete_restore_cycle_with_check_mode(aws, capsys, api_calls):
    _cluster, backup_id = a_backup()
    del api_calls[:]
    planned = run({"backup_id": backup_id, "state": "absent"}, capsys, check_mode=True)
    assert planned["changed"] is True and planned["backup"]["backup_state"] == "PENDING_DELETION"
    assert mutating(api_calls) == []
    deleted = run({"backup_id": backup_id, "state": "absent"}, capsys)
    assert deleted["changed"] is True
    assert deleted["backup"]["backup_state"] == "PENDING_DELETION"
    assert "delete_timestamp" in deleted["backup"]
    assert run({"backup_id": backup_id, "state": "absent"}, capsys)["changed"] is False
    refused = run({"backup_id": backup_id, "never_expires": True}, capsys)
    assert refused["failed"] is True and "use state=restored" in refused["msg"]
    restored = run({"backup_id": backup_id, "state": "restored"}, capsys)
    assert restored["changed"] is True and restored["backup"]["backup_state"] == "READY"
    assert run({"backup_id": backup_id, "state": "restored"}, capsys)["changed"] is False


def test_unknown_backup_is_a_clear_error(aws, capsys):
    result = run({"backup_id": "backup-abcdefghijk", "state": "absent"}, capsys)
    assert result["failed"] is True
    assert "Backup backup-abcdefghijk does not exist in us-east-1" in result["msg"]


def _copies_of_different_ages(aws, monkeypatch, cluster_id, ages_in_days):
    """Backups of cluster_id taken ages_in_days ago, each copied to us-west-2; returns {age: copy id}."""
    from cloudhsm_sim.controlplane import state

    source = client("cloudhsmv2")
    copies = {}
    real_now = time.time()
    for age in ages_in_days:
        monkeypatch.setattr(state, "now", lambda age=age: real_now - age * DAY)
        backup_id = aws.take_backup(cluster_id)["BackupId"]
        source.describe_backups(Filters={"backupIds": [backup_id]})
        monkeypatch.setattr(state, "now", time.time)
        source.copy_backup_to_region(DestinationRegion="us-west-2", BackupId=backup_id)
        copy = client("cloudhsmv2", "us-west-2").describe_backups(Filters={"sourceBackupIds": [backup_id]})["Backups"][0]
        copies[age] = copy["BackupId"]
    return copies


def test_prune_old_copies_keeps_newest_and_check_mode_first(aws, capsys, api_calls, monkeypatch):
    cluster_id, _backup = a_backup()
    copies = _copies_of_different_ages(aws, monkeypatch, cluster_id, [60, 45, 40])
    args = {"region": "us-west-2", "prune_copies_of_cluster": cluster_id, "prune_older_than_days": 30}
    del api_calls[:]
    plan = run(args, capsys, check_mode=True)
    assert plan["changed"] is True
    assert [item["backup_id"] for item in plan["pruned"]] == [copies[60], copies[45]]
    assert plan["kept"] == [copies[40]]  # the newest copy, although older than 30 days
    assert mutating(api_calls) == []
    done = run(args, capsys)
    assert done["changed"] is True
    states = {b["BackupId"]: b["BackupState"] for b in client("cloudhsmv2", "us-west-2").describe_backups()["Backups"]}
    assert states == {copies[60]: "PENDING_DELETION", copies[45]: "PENDING_DELETION", copies[40]: "READY"}
    assert run(args, capsys)["changed"] is False


def test_prune_spares_never_expires_and_recent_copies(aws, capsys, monkeypatch):
    cluster_id, _backup = a_backup()
    copies = _copies_of_different_ages(aws, monkeypatch, cluster_id, [90, 50, 5])
    client("cloudhsmv2", "us-west-2").modify_backup_attributes(BackupId=copies[90], NeverExpires=True)
    result = run({"region": "us-west-2", "prune_copies_of_cluster": cluster_id, "prune_older_than_days": 30}, capsys)
    assert [item["backup_id"] for item in result["pruned"]] == [copies[50]]
    assert sorted(result["kept"]) == sorted([copies[90], copies[5]])


def test_backup_info_filters(aws, capsys, monkeypatch):
    cluster_id, first = a_backup()
    copies = _copies_of_different_ages(aws, monkeypatch, cluster_id, [10])
    every = info({}, capsys)["backups"]
    assert len(every) >= 2 and all("tags" in backup for backup in every)
    by_id = info({"backup_ids": [first]}, capsys)["backups"]
    assert [backup["backup_id"] for backup in by_id] == [first]
    by_cluster = info({"cluster_ids": [cluster_id], "states": ["READY"]}, capsys)["backups"]
    assert first in [backup["backup_id"] for backup in by_cluster]
    west = info({"region": "us-west-2", "source_backup_ids": [_source_of(copies[10])]}, capsys)["backups"]
    assert [backup["backup_id"] for backup in west] == [copies[10]]
    assert west[0]["source_region"] == "us-east-1"
    client("cloudhsmv2").modify_backup_attributes(BackupId=first, NeverExpires=True)
    assert [b["backup_id"] for b in info({"never_expires": True}, capsys)["backups"]] == [first]
    bad = info({"backup_ids": ["nope"]}, capsys)
    assert bad["failed"] is True and "not a valid backup identifier" in bad["msg"]


def test_backup_info_pages_through(aws, capsys):
    cluster_id, _first = a_backup()
    for _index in range(55):  # the API returns at most 50 backups a page
        aws.take_backup(cluster_id)
    assert len(info({"cluster_ids": [cluster_id]}, capsys)["backups"]) >= 56


def _source_of(copy_id):
    return client("cloudhsmv2", "us-west-2").describe_backups(Filters={"backupIds": [copy_id]})["Backups"][0]["SourceBackup"]
