# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_key_sync
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fake_tools
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import hsm  # noqa: F401  pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import run_module

ADMIN = dict(username="admin", password=fake_tools.ADMIN_PW)


def run(env, capsys, **kwargs):
    check_mode = kwargs.pop("check_mode", False)
    diff = kwargs.pop("diff", False)
    return run_module(cloudhsm_key_sync.main, env, dict(ADMIN, **kwargs), capsys, check_mode=check_mode, diff=diff)


@pytest.mark.parametrize("sdk, source, destinations", [("5", "c1", ["c2"]), ("3", "0", ["10.0.1.10"])])
def test_check_mode_reports_drift_then_sync_then_rerun_is_no_change(hsm, capsys, sdk, source, destinations):
    drift = run(hsm, capsys, sdk=sdk, source=source, destinations=destinations, check_mode=True, diff=True)
    assert drift["changed"] is True and drift["summary"]["synced"] == 7
    assert hsm.state()["clusters"]["c2"]["keys"] == {}
    assert "diff" in drift and drift["diff"][0]["before"] == "\n"

    synced = run(hsm, capsys, sdk=sdk, source=source, destinations=destinations)
    assert synced["changed"] is True
    # drift: what the module read before the run (seven keys missing on c2).
    assert synced["summary"] == {"synced": 7, "already_present": 0, "failed": 0, "purged": 0, "attribute_drift": 0,
                                 "aligned": 0, "drift": 7}
    assert sorted(hsm.state()["clusters"]["c2"]["keys"]) == sorted(hsm.state()["clusters"]["c1"]["keys"])

    again = run(hsm, capsys, sdk=sdk, source=source, destinations=destinations)
    assert again["changed"] is False and again["summary"]["already_present"] == 7
    assert again["summary"]["drift"] == 0
    assert again["destinations"][0]["keys_held"] == again["source"]["keys_held"] == 7
    # One client process per module run.
    assert len([1 for kind, unused_value in hsm.calls() if kind == "argv"]) == 3


def test_selection_by_label_and_handle(hsm, capsys):
    result = run(hsm, capsys, source="c1", destinations=["c2"], labels=["k1", "k3"], handles=["0x10"])
    assert result["summary"]["synced"] == 0 and result["source"]["selected"] == 0
    result = run(hsm, capsys, source="c1", destinations=["c2"], labels=["k1", "k3"])
    assert [k["label"] for k in result["destinations"][0]["synced"]] == ["k1", "k3"]
    result = run(hsm, capsys, source="c1", destinations=["c2"], handles=["0x0000000000000010"])
    assert [k["label"] for k in result["destinations"][0]["synced"]] == ["k0"]


def test_missing_owner_fails_up_front_with_users_first(hsm, capsys):
    state = hsm.state()
    state["clusters"]["c1"]["users"]["zoe"] = dict(role="CU", password="z0e-password", id=7, failures=0)
    state["clusters"]["c1"]["keys"]["40"] = dict(label="zk", id="", type="aes", size=16, kcv="0xabcdef",
                                                 owner="zoe", shared=[], extractable=False)
    hsm.write(state)
    result = run(hsm, capsys, source="c1", destinations=["c2"])
    assert result["failed"] is True
    assert "lacks the owner or share users" in result["msg"] and "zoe" in result["msg"]
    assert "Sync users first" in result["msg"]
    assert result["destinations"][0]["synced"] == []
    assert result["destinations"][0]["failed"] == [dict(key_reference="0x0000000000000028", label="zk", id="",
                                                        owner="zoe", reason="users missing on the destination: zoe")]
    assert hsm.state()["clusters"]["c2"]["keys"] == {}


def test_unrelated_cluster_fails_with_the_clone_lineage_message(hsm, capsys):
    result = run(hsm, capsys, source="c1", destinations=["c2", "c9"])
    assert result["failed"] is True
    assert "c1 and c9 are not clones of one backup" in result["msg"] and "masking key" in result["msg"]
    # The clone listed first was synced, and its results are kept.
    assert len(result["destinations"]) == 1 and len(result["destinations"][0]["synced"]) == 7
    assert hsm.state()["clusters"]["c9"]["keys"] == {}
    # Seven copies to the clone, then one attempt at the unrelated cluster, not seven.
    assert len([1 for kind, value in hsm.calls() if kind == "command" and value == ["key", "replicate"]]) == 8


def test_unrelated_cluster_without_its_users_still_gets_the_lineage_message(hsm, capsys):
    state = hsm.state()
    del state["clusters"]["c9"]["users"]["alice"]
    hsm.write(state)
    result = run(hsm, capsys, source="c1", destinations=["c9"])
    assert "are not clones of one backup" in result["msg"]


def test_wrong_password_fails_once_and_leaks_nothing(hsm, capsys):
    result = run_module(cloudhsm_key_sync.main, hsm, dict(username="admin", password="Wr0ng-Pa55word",
                                                          source="c1", destinations=["c2"]), capsys)
    assert result["failed"] is True and "not retried" in result["msg"]
    assert hsm.state()["clusters"]["c1"]["users"]["admin"]["failures"] == 1


def test_purge_keeps_the_only_copy(hsm, capsys):
    state = hsm.state()
    lone = dict(label="lone", id="", type="aes", size=32, kcv="0x0000aa", owner="alice", shared=[],
                extractable=False)
    state["clusters"]["c2"]["keys"]["90"] = lone
    hsm.write(state)
    result = run_module(cloudhsm_key_sync.main, hsm, dict(username="alice", role="crypto-user",
                                                          password=fake_tools.ALICE_PW, source="c1",
                                                          destinations=["c2"], purge=True), capsys)
    assert result["summary"]["purged"] == 0
    assert result["destinations"][0]["kept"][0]["label"] == "lone"
    assert "no cluster of the DR set keeps another copy" in result["destinations"][0]["kept"][0]["reason"]
    assert result["destinations"][0]["extra"][0]["label"] == "lone" and result["destinations"][0]["drift"] == 8
    assert "90" in hsm.state()["clusters"]["c2"]["keys"]


def retire_key_on_clone(hsm):
    """c2 holds "retired" (owned by alice) that the source c1 no longer has."""
    state = hsm.state()
    state["clusters"]["c2"]["keys"]["90"] = dict(label="retired", id="", type="aes", size=32, kcv="0x0000aa",
                                                 owner="alice", shared=[], extractable=False)
    hsm.write(state)


def test_purge_as_admin_logs_in_as_the_key_owner(hsm, capsys):
    retire_key_on_clone(hsm)
    plan = run(hsm, capsys, source="c1", destinations=["c2"], purge_labels=["retired"], delete_last_copies=True,
               owner_credentials=[dict(name="alice", password=fake_tools.ALICE_PW)], check_mode=True)
    assert [k["label"] for k in plan["destinations"][0]["purged"]] == ["retired"]
    assert [k["label"] for k in plan["destinations"][0]["last_copies"]] == ["retired"]
    assert "90" in hsm.state()["clusters"]["c2"]["keys"]
    done = run(hsm, capsys, source="c1", destinations=["c2"], purge_labels=["retired"], delete_last_copies=True,
               owner_credentials=[dict(name="alice", password=fake_tools.ALICE_PW)])
    assert done["changed"] is True and [k["label"] for k in done["destinations"][0]["purged"]] == ["retired"]
    assert "90" not in hsm.state()["clusters"]["c2"]["keys"]
    # The owner's password is a secret: never in the result.
    assert fake_tools.ALICE_PW not in repr(done)


def test_purge_without_the_owner_password_fails_before_any_change(hsm, capsys):
    retire_key_on_clone(hsm)
    result = run(hsm, capsys, source="c1", destinations=["c2"], purge_labels=["retired"], delete_last_copies=True)
    assert result["failed"] is True
    assert "only the owner of a key can delete it" in result["msg"] and "alice (owner of key" in result["msg"]
    assert "90" in hsm.state()["clusters"]["c2"]["keys"]
    assert hsm.state()["clusters"]["c2"]["keys"] and not any(
        kind == "command" and value[:2] == ["key", "replicate"] for kind, value in hsm.calls())


def test_check_mode_assumes_the_users_an_earlier_step_creates(hsm, capsys):
    state = hsm.state()
    state["clusters"]["c1"]["users"]["zoe"] = dict(role="CU", password="z0e-password", id=7, failures=0)
    state["clusters"]["c1"]["keys"]["40"] = dict(label="zk", id="", type="aes", size=16, kcv="0xabcdef",
                                                 owner="zoe", shared=[], extractable=False)
    hsm.write(state)
    result = run(hsm, capsys, source="c1", destinations=["c2"], assume_users={"c2": ["zoe"]}, check_mode=True)
    assert "failed" not in result and "zk" in [k["label"] for k in result["destinations"][0]["synced"]]
    # The drift report still names the user the run would copy first.
    assert result["destinations"][0]["users_missing"] == ["zoe"]


def test_sdk3_rejects_label_selection_and_purge(hsm, capsys):
    result = run(hsm, capsys, sdk="3", source="0", destinations=["1"], labels=["k1"], purge=True)
    assert result["failed"] is True and "labels, purge need SDK 5" in result["msg"]


def test_source_in_destinations_is_refused(hsm, capsys):
    result = run(hsm, capsys, source="c1", destinations=["c1"])
    assert result["failed"] is True and "cannot be synced to itself" in result["msg"]


def test_failed_keys_are_summed_up_per_destination_and_reason(hsm, capsys):
    state = hsm.state()
    # c2 holds another key under the handle of the source's k0: that key cannot be synced; the others can.
    state["clusters"]["c2"]["keys"]["16"] = dict(label="other", id="", type="aes", size=32, kcv="0x00beef",
                                                 owner="alice", shared=[], extractable=False)
    hsm.write(state)
    result = run(hsm, capsys, source="c1", destinations=["c2"])
    assert result["failed"] is True and result["summary"]["synced"] == 6 and result["summary"]["failed"] == 1
    assert result["msg"].startswith("1 key(s) could not be synced: to c2, 1 key(s) (k0): ")
    assert "already holds reference 0x0000000000000010 with different attributes" in result["msg"]
    assert result["msg"].endswith("keys already synced are skipped; destinations[].failed lists every key with its "
                                  "reason.")
    assert result["destinations"][0]["failed"][0]["label"] == "k0"


def rename_on_source(hsm, handle="16", label="k0-v2", shared=None):
    """The source's key ``handle`` relabelled (and shared) after it was copied to c2: attribute drift."""
    state = hsm.state()
    state["clusters"]["c2"]["keys"] = dict(state["clusters"]["c1"]["keys"])
    state["clusters"]["c1"]["keys"][handle] = dict(state["clusters"]["c1"]["keys"][handle], label=label)
    if shared is not None:
        state["clusters"]["c1"]["users"]["bob"] = dict(role="CU", password="b0b-password", id=9, failures=0)
        state["clusters"]["c2"]["users"]["bob"] = dict(role="CU", password="b0b-password", id=9, failures=0)
        state["clusters"]["c1"]["keys"][handle]["shared"] = shared
    hsm.write(state)


ALICE = [dict(name="alice", password=fake_tools.ALICE_PW)]


def test_attribute_drift_is_reported_and_left_by_default(hsm, capsys):
    rename_on_source(hsm)
    result = run(hsm, capsys, source="c1", destinations=["c2"])
    assert result["changed"] is False and result["summary"]["attribute_drift"] == 1
    assert result["summary"]["aligned"] == 0 and result["destinations"][0]["aligned"] == []
    assert result["destinations"][0]["attribute_drift"][0]["differences"] == [
        dict(attribute="label", source="k0-v2", destination="k0")]
    assert hsm.state()["clusters"]["c2"]["keys"]["16"]["label"] == "k0"


def test_align_previews_in_check_mode_then_sets_the_label_as_the_owner_and_a_rerun_changes_nothing(hsm, capsys):
    rename_on_source(hsm)
    preview = run(hsm, capsys, source="c1", destinations=["c2"], attribute_drift="align", owner_credentials=ALICE,
                  check_mode=True)
    change = dict(attribute="label", before="k0", after="k0-v2")
    assert preview["changed"] is True
    assert [(e["key_reference"], e["label"], e["changes"]) for e in preview["destinations"][0]["aligned"]] == [
        ("0x0000000000000010", "k0", [change])]
    assert hsm.state()["clusters"]["c2"]["keys"]["16"]["label"] == "k0"

    aligned = run(hsm, capsys, source="c1", destinations=["c2"], attribute_drift="align", owner_credentials=ALICE)
    assert aligned["changed"] is True and aligned["summary"]["aligned"] == 1
    assert aligned["destinations"][0]["aligned"] == preview["destinations"][0]["aligned"]
    assert hsm.state()["clusters"]["c2"]["keys"]["16"]["label"] == "k0-v2"

    again = run(hsm, capsys, source="c1", destinations=["c2"], attribute_drift="align", owner_credentials=ALICE)
    assert again["changed"] is False and again["summary"]["attribute_drift"] == 0
    assert again["summary"]["aligned"] == 0


def test_align_leaves_shares_and_align_with_shares_changes_them(hsm, capsys):
    rename_on_source(hsm, shared=["bob"])
    aligned = run(hsm, capsys, source="c1", destinations=["c2"], attribute_drift="align", owner_credentials=ALICE)
    assert [e["attribute"] for e in aligned["destinations"][0]["not_aligned"]] == ["shared-users"]
    assert hsm.state()["clusters"]["c2"]["keys"]["16"]["shared"] == []
    shared = run(hsm, capsys, source="c1", destinations=["c2"], attribute_drift="align_with_shares",
                 owner_credentials=ALICE)
    assert shared["destinations"][0]["aligned"][0]["changes"] == [dict(attribute="shared-users", share="bob")]
    assert hsm.state()["clusters"]["c2"]["keys"]["16"]["shared"] == ["bob"]
    assert run(hsm, capsys, source="c1", destinations=["c2"], attribute_drift="align_with_shares",
               owner_credentials=ALICE)["changed"] is False


def test_align_without_the_owner_password_fails_before_any_change(hsm, capsys):
    rename_on_source(hsm)
    result = run(hsm, capsys, source="c1", destinations=["c2"], attribute_drift="align")
    assert result["failed"] is True and "no password was given for alice" in result["msg"]
    assert hsm.state()["clusters"]["c2"]["keys"]["16"]["label"] == "k0"


def test_align_is_refused_on_sdk3_before_any_change(hsm, capsys):
    result = run(hsm, capsys, sdk="3", source="0", destinations=["10.0.1.10"], attribute_drift="align")
    assert result["failed"] is True and "attribute_drift=align needs SDK 5" in result["msg"]
    assert hsm.state()["clusters"]["c2"]["keys"] == {}


def test_sdk3_sync_falls_back_to_handles_when_get_attribute_is_refused(hsm, capsys):
    state = hsm.state()
    state["get_attribute_refused"] = True
    hsm.write(state)
    synced = run(hsm, capsys, sdk="3", source="0", destinations=["10.0.1.10"])
    assert synced["changed"] is True and synced["summary"]["synced"] == 7
    assert [k["owner"] for k in synced["destinations"][0]["synced"]] == ["alice"] * 7
    assert sorted(hsm.state()["clusters"]["c2"]["keys"]) == sorted(hsm.state()["clusters"]["c1"]["keys"])
    again = run(hsm, capsys, sdk="3", source="0", destinations=["10.0.1.10"])
    assert again["changed"] is False and again["summary"]["already_present"] == 7 and again["summary"]["drift"] == 0
