# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_key
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import (  # noqa: F401  pylint: disable=unused-import
    ADMIN_PW, CU_PW, dr, dr_set, hsm, run_module, tool_path)

ALICE = dict(username="alice", role="crypto-user", password=CU_PW)


def run(pair, capsys, check_mode=False, **kwargs):
    args = dict(ALICE, cluster=pair.source, **kwargs)
    return run_module(cloudhsm_key.main, pair, args, capsys, check_mode=check_mode)


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_generate_is_idempotent_by_label_and_id(dr_set, capsys, sdk):
    pair = dr_set(sdk)
    pair.with_crypto_users("bob")
    args = dict(label="payments-kek", key_id="IT-7", key_size=128, share_with=["bob"])
    check = run(pair, capsys, check_mode=True, **args)
    assert check["changed"] is True and len(pair.keys(pair.source)) == 7
    made = run(pair, capsys, **args)
    assert made["changed"] is True
    key = made["key"]
    assert (key["label"], key["id"], key["length_bytes"], key["extractable"]) == ("payments-kek", "IT-7", 16, False)
    stored = pair.keys(pair.source)[int(key["key_reference"], 0)]
    assert (stored["owner_name"], stored["shared_names"], stored["extractable"]) == ("alice", ["bob"], False)
    again = run(pair, capsys, **args)
    assert again["changed"] is False and again["key"]["key_reference"] == key["key_reference"]
    other_id = run(pair, capsys, **dict(args, key_id="IT-8"))  # pylint: disable=repeated-keyword
    assert other_id["changed"] is True and other_id["key"]["key_reference"] != key["key_reference"]
    assert len(pair.keys(pair.source)) == 9


def test_existing_key_with_other_size_is_kept_with_a_warning(dr_set, capsys):
    pair = dr_set()
    run(pair, capsys, label="kek")
    result = run(pair, capsys, label="kek", key_size=128)
    assert result["changed"] is False and "length_bytes is 32, declared 16" in str(result["warnings"])


def test_delete_and_rerun(dr_set, capsys):
    pair = dr_set()
    made = run(pair, capsys, label="tmp-key")
    assert int(made["key"]["key_reference"], 0) in pair.keys(pair.source)
    deleted = run(pair, capsys, label="tmp-key", state="absent")
    assert deleted["changed"] is True and len(deleted["deleted"]) == 1
    assert int(made["key"]["key_reference"], 0) not in pair.keys(pair.source)
    assert run(pair, capsys, label="tmp-key", state="absent")["changed"] is False


def test_bad_sizes_and_admin_login_on_sdk3(dr_set, capsys):
    pair = dr_set()
    assert "not an AES size" in run(pair, capsys, label="x", key_size=100)["msg"]
    assert "generic secret size" in run(pair, capsys, label="x", key_type="generic-secret", key_size=12)["msg"]
    sdk3 = dr_set("3")
    result = run_module(cloudhsm_key.main, sdk3, dict(label="x", username="admin", password=ADMIN_PW), capsys)
    assert result["failed"] is True and "set role=crypto-user" in result["msg"]
    assert len(pair.keys(pair.source)) == 7 and len(sdk3.keys(sdk3.source)) == 7


@pytest.mark.parametrize("args, message", [
    (dict(key_type="ec", key_size=256), "key_size does not apply to an EC key pair"),
    (dict(key_type="rsa", key_size=1024), "not an RSA modulus size"),
    (dict(public_label="pub"), "public_label applies to rsa and ec key pairs only"),
    (dict(share_with=["bob"], unshare_from=["BOB"]), "bob in both share_with and unshare_from"),
    (dict(share_with=["alice"]), "the key owner"),
])
def test_pair_and_share_options_are_checked_before_any_tool_runs(dr_set, capsys, args, message):
    pair = dr_set()
    result = run(pair, capsys, label="x", **args)
    assert result["failed"] is True and message in result["msg"]
    assert pair.calls.argvs() == []


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_generate_false_reports_a_missing_key_and_makes_none(dr_set, capsys, sdk):
    pair = dr_set(sdk)
    result = run(pair, capsys, label="retired-kek", generate=False)
    assert result["changed"] is False and result["missing"] is True
    assert "it is not generated again" in str(result["warnings"])
    assert len(pair.keys(pair.source)) == 7
    made = run(pair, capsys, label="retired-kek")
    assert made["changed"] is True and made["missing"] is False
    present = run(pair, capsys, label="retired-kek", generate=False)
    assert present["changed"] is False and present["missing"] is False
