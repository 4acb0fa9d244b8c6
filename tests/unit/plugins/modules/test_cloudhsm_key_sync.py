# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_key_sync
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fault_tools
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import (  # noqa: F401  pylint: disable=unused-import
    ADMIN_PW, CU_PW, dr, dr_set, hsm, run_module, tool_path)

ADMIN = dict(username="admin", password=ADMIN_PW)
ALICE = [dict(name="alice", password=CU_PW)]


def run(pair, capsys, **kwargs):
    check_mode = kwargs.pop("check_mode", False)
    diff = kwargs.pop("diff", False)
    args = dict(ADMIN, source=pair.source, destinations=[pair.clone])
    args.update(kwargs)
    return run_module(cloudhsm_key_sync.main, pair, args, capsys, check_mode=check_mode, diff=diff)


def ref(handle):
    return "0x%016x" % handle


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_check_mode_reports_drift_then_sync_then_rerun_is_no_change(dr_set, capsys, sdk):
    pair = dr_set(sdk)
    # SDK 3 names the destination by its HSM's IP, as the cluster map allows.
    destinations = [pair.clone] if sdk == "5" else [pair.ips[pair.clone]]
    drift = run(pair, capsys, destinations=destinations, check_mode=True, diff=True)
    assert drift["changed"] is True and drift["summary"]["synced"] == 7
    assert pair.keys(pair.clone) == {}
    assert "diff" in drift and drift["diff"][0]["before"] == "\n"

    synced = run(pair, capsys, destinations=destinations)
    assert synced["changed"] is True
    # drift: what the module read before the run (seven keys missing on the clone).
    assert synced["summary"] == {"synced": 7, "already_present": 0, "failed": 0, "purged": 0, "attribute_drift": 0,
                                 "aligned": 0, "drift": 7}
    assert pair.handles(pair.clone) == pair.handles(pair.source)

    again = run(pair, capsys, destinations=destinations)
    assert again["changed"] is False and again["summary"]["already_present"] == 7
    assert again["summary"]["drift"] == 0
    assert again["destinations"][0]["keys_held"] == again["source"]["keys_held"] == 7
    # One client process per module run.
    assert len(pair.calls.argvs()) == 3


def test_selection_by_label_and_handle(dr_set, capsys):
    pair = dr_set()
    k0 = pair.handles(pair.source)["k0"]
    result = run(pair, capsys, labels=["k1", "k3"], handles=["0x%x" % k0])
    assert result["summary"]["synced"] == 0 and result["source"]["selected"] == 0
    result = run(pair, capsys, labels=["k1", "k3"])
    assert [k["label"] for k in result["destinations"][0]["synced"]] == ["k1", "k3"]
    result = run(pair, capsys, handles=[ref(k0)])
    assert [k["label"] for k in result["destinations"][0]["synced"]] == ["k0"]
    assert sorted(pair.handles(pair.clone)) == ["k0", "k1", "k3"]


def with_zoe(pair):
    """zoe, a crypto user the clone lacks, owns the source's key zk; returns its handle."""
    pair.with_crypto_users("zoe")
    return pair.add_keys(pair.source, "zoe", ["zk"], size=16)[0]


def test_missing_owner_fails_up_front_with_users_first(dr_set, capsys):
    pair = dr_set()
    zk = with_zoe(pair)
    result = run(pair, capsys)
    assert result["failed"] is True
    assert "lacks the owner or share users" in result["msg"] and "zoe" in result["msg"]
    assert "Sync users first" in result["msg"]
    assert result["destinations"][0]["synced"] == []
    assert result["destinations"][0]["failed"] == [dict(key_reference=ref(zk), label="zk", id="", owner="zoe",
                                                        reason="users missing on the destination: zoe")]
    assert pair.keys(pair.clone) == {}


def test_unrelated_cluster_fails_with_the_clone_lineage_message(dr_set, capsys):
    pair = dr_set()
    result = run(pair, capsys, destinations=[pair.clone, pair.unrelated])
    assert result["failed"] is True
    assert "%s and %s are not clones of one backup" % (pair.source, pair.unrelated) in result["msg"]
    assert "masking key" in result["msg"]
    # The clone listed first was synced, and its results are kept.
    assert len(result["destinations"]) == 1 and len(result["destinations"][0]["synced"]) == 7
    assert pair.keys(pair.unrelated) == {} and len(pair.keys(pair.clone)) == 7
    # Seven copies to the clone, then one attempt at the unrelated cluster, not seven.
    assert len(pair.calls.commands("key", "replicate")) == 8


def test_unrelated_cluster_without_its_users_still_gets_the_lineage_message(dr_set, capsys):
    pair = dr_set()
    session = pair.login(pair.unrelated)
    pair.hsm.call("delete_user", hsm=pair.ips[pair.unrelated], session=session, role="CU", username="alice")
    assert "alice" not in pair.users(pair.unrelated)
    result = run(pair, capsys, destinations=[pair.unrelated])
    assert "are not clones of one backup" in result["msg"]


def test_wrong_password_fails_once_and_leaks_nothing(dr_set, capsys):
    pair = dr_set()
    result = run(pair, capsys, password="Wr0ng-Pa55word")
    assert result["failed"] is True and "not retried" in result["msg"]
    assert pair.state(pair.source).users["admin"]["failures"] == 1


def test_purge_keeps_the_only_copy(dr_set, capsys):
    pair = dr_set()
    lone = pair.add_keys(pair.clone, "alice", ["lone"], first_handle=90)[0]
    result = run(pair, capsys, username="alice", role="crypto-user", password=CU_PW, purge=True)
    assert result["summary"]["purged"] == 0
    assert result["destinations"][0]["kept"][0]["label"] == "lone"
    assert "no cluster of the DR set keeps another copy" in result["destinations"][0]["kept"][0]["reason"]
    assert result["destinations"][0]["extra"][0]["label"] == "lone" and result["destinations"][0]["drift"] == 8
    assert lone in pair.keys(pair.clone)


def retire_key_on_clone(pair):
    """The clone holds "retired" (owned by alice) that the source does not have; returns its handle."""
    return pair.add_keys(pair.clone, "alice", ["retired"], first_handle=90)[0]


def test_purge_as_admin_logs_in_as_the_key_owner(dr_set, capsys):
    pair = dr_set()
    retired = retire_key_on_clone(pair)
    args = dict(purge_labels=["retired"], delete_last_copies=True, owner_credentials=ALICE)
    plan = run(pair, capsys, check_mode=True, **args)
    assert [k["label"] for k in plan["destinations"][0]["purged"]] == ["retired"]
    assert [k["label"] for k in plan["destinations"][0]["last_copies"]] == ["retired"]
    assert retired in pair.keys(pair.clone)
    done = run(pair, capsys, **args)
    assert done["changed"] is True and [k["label"] for k in done["destinations"][0]["purged"]] == ["retired"]
    assert retired not in pair.keys(pair.clone)
    # The owner's password is a secret: never in the result.
    assert CU_PW not in repr(done)


def test_purge_without_the_owner_password_fails_before_any_change(dr_set, capsys):
    pair = dr_set()
    retired = retire_key_on_clone(pair)
    result = run(pair, capsys, purge_labels=["retired"], delete_last_copies=True)
    assert result["failed"] is True
    assert "only the owner of a key can delete it" in result["msg"] and "alice (owner of key" in result["msg"]
    assert list(pair.keys(pair.clone)) == [retired]
    assert pair.calls.commands("key", "replicate") == []


def test_check_mode_assumes_the_users_an_earlier_step_creates(dr_set, capsys):
    pair = dr_set()
    with_zoe(pair)
    result = run(pair, capsys, assume_users={pair.clone: ["zoe"]}, check_mode=True)
    assert "failed" not in result and "zk" in [k["label"] for k in result["destinations"][0]["synced"]]
    # The drift report still names the user the run would copy first.
    assert result["destinations"][0]["users_missing"] == ["zoe"]
    assert pair.keys(pair.clone) == {}


def test_sdk3_rejects_label_selection_and_purge(dr_set, capsys):
    pair = dr_set("3")
    result = run(pair, capsys, labels=["k1"], purge=True)
    assert result["failed"] is True and "labels, purge need SDK 5" in result["msg"]
    assert pair.keys(pair.clone) == {}


def test_source_in_destinations_is_refused(dr_set, capsys):
    pair = dr_set()
    result = run(pair, capsys, destinations=[pair.source])
    assert result["failed"] is True and "cannot be synced to itself" in result["msg"]


def test_failed_keys_are_summed_up_per_destination_and_reason(dr_set, capsys):
    pair = dr_set()
    # The clone made a key of its own under the handle of the source's k0: k0 cannot be synced; the others can.
    other = pair.add_keys(pair.clone, "alice", ["other"])[0]
    assert other == pair.handles(pair.source)["k0"]
    result = run(pair, capsys)
    assert result["failed"] is True and result["summary"]["synced"] == 6 and result["summary"]["failed"] == 1
    assert result["msg"].startswith("1 key(s) could not be synced: to %s, 1 key(s) (k0): " % pair.clone)
    assert "already holds reference %s with different attributes" % ref(other) in result["msg"]
    assert result["msg"].endswith("keys already synced are skipped; destinations[].failed lists every key with its "
                                  "reason.")
    assert result["destinations"][0]["failed"][0]["label"] == "k0"
    assert pair.keys(pair.clone)[other]["label"] == "other"


def rename_on_source(pair, label="k0-v2", shared=False):
    """The source's k0 relabelled (and shared with bob) after it was copied to the clone: attribute drift.
    Returns k0's handle."""
    pair.copy_keys()
    k0 = pair.handles(pair.source)["k0"]
    pair.as_owner(pair.source, "alice", "set_attribute", name="label", value=label, handle=k0)
    if shared:
        pair.with_crypto_users("bob").with_crypto_users("bob", cluster=pair.clone)
        pair.as_owner(pair.source, "alice", "share_key", users=["bob"], handle=k0)
    return k0


def test_attribute_drift_is_reported_and_left_by_default(dr_set, capsys):
    pair = dr_set()
    k0 = rename_on_source(pair)
    result = run(pair, capsys)
    assert result["changed"] is False and result["summary"]["attribute_drift"] == 1
    assert result["summary"]["aligned"] == 0 and result["destinations"][0]["aligned"] == []
    assert result["destinations"][0]["attribute_drift"][0]["differences"] == [
        dict(attribute="label", source="k0-v2", destination="k0")]
    assert pair.keys(pair.clone)[k0]["label"] == "k0"


def test_align_previews_in_check_mode_then_sets_the_label_as_the_owner_and_a_rerun_changes_nothing(dr_set, capsys):
    pair = dr_set()
    k0 = rename_on_source(pair)
    preview = run(pair, capsys, attribute_drift="align", owner_credentials=ALICE, check_mode=True)
    change = dict(attribute="label", before="k0", after="k0-v2")
    assert preview["changed"] is True
    assert [(e["key_reference"], e["label"], e["changes"]) for e in preview["destinations"][0]["aligned"]] == [
        (ref(k0), "k0", [change])]
    assert pair.keys(pair.clone)[k0]["label"] == "k0"

    aligned = run(pair, capsys, attribute_drift="align", owner_credentials=ALICE)
    assert aligned["changed"] is True and aligned["summary"]["aligned"] == 1
    assert aligned["destinations"][0]["aligned"] == preview["destinations"][0]["aligned"]
    assert pair.keys(pair.clone)[k0]["label"] == "k0-v2"

    again = run(pair, capsys, attribute_drift="align", owner_credentials=ALICE)
    assert again["changed"] is False and again["summary"]["attribute_drift"] == 0
    assert again["summary"]["aligned"] == 0


def test_align_leaves_shares_and_align_with_shares_changes_them(dr_set, capsys):
    pair = dr_set()
    k0 = rename_on_source(pair, shared=True)
    aligned = run(pair, capsys, attribute_drift="align", owner_credentials=ALICE)
    assert [e["attribute"] for e in aligned["destinations"][0]["not_aligned"]] == ["shared-users"]
    assert pair.keys(pair.clone)[k0]["shared_names"] == []
    shared = run(pair, capsys, attribute_drift="align_with_shares", owner_credentials=ALICE)
    assert shared["destinations"][0]["aligned"][0]["changes"] == [dict(attribute="shared-users", share="bob")]
    assert pair.keys(pair.clone)[k0]["shared_names"] == ["bob"]
    assert run(pair, capsys, attribute_drift="align_with_shares", owner_credentials=ALICE)["changed"] is False


def test_align_without_the_owner_password_fails_before_any_change(dr_set, capsys):
    pair = dr_set()
    k0 = rename_on_source(pair)
    result = run(pair, capsys, attribute_drift="align")
    assert result["failed"] is True and "no password was given for alice" in result["msg"]
    assert pair.keys(pair.clone)[k0]["label"] == "k0"


def test_align_is_refused_on_sdk3_before_any_change(dr_set, capsys):
    pair = dr_set("3")
    result = run(pair, capsys, attribute_drift="align")
    assert result["failed"] is True and "attribute_drift=align needs SDK 5" in result["msg"]
    assert pair.keys(pair.clone) == {}


def test_sdk3_sync_falls_back_to_handles_when_get_attribute_is_refused(dr_set, capsys):
    pair = dr_set("3")
    fault_tools.install(pair.settings.bin_dir, "refuse_get_attribute")
    synced = run(pair, capsys)
    assert synced["changed"] is True and synced["summary"]["synced"] == 7
    assert [k["owner"] for k in synced["destinations"][0]["synced"]] == ["alice"] * 7
    # Known by handle only: no attribute could be read.
    assert [k["label"] for k in synced["destinations"][0]["synced"]] == [None] * 7
    assert pair.handles(pair.clone) == pair.handles(pair.source)
    again = run(pair, capsys)
    assert again["changed"] is False and again["summary"]["already_present"] == 7 and again["summary"]["drift"] == 0
