# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_key
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fake_tools
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import hsm  # noqa: F401  pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import run_module

ALICE = dict(username="alice", role="crypto-user", password=fake_tools.ALICE_PW)


def run(env, capsys, check_mode=False, **kwargs):
    return run_module(cloudhsm_key.main, env, dict(ALICE, **kwargs), capsys, check_mode=check_mode)


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_generate_is_idempotent_by_label_and_id(hsm, capsys, sdk):
    args = dict(sdk=sdk, cluster="c1", label="payments-kek", key_id="IT-7", key_size=128, share_with=["admin"])
    check = run(hsm, capsys, check_mode=True, **args)
    assert check["changed"] is True and len(hsm.state()["clusters"]["c1"]["keys"]) == 7
    made = run(hsm, capsys, **args)
    assert made["changed"] is True
    key = made["key"]
    assert (key["label"], key["id"], key["length_bytes"], key["extractable"]) == ("payments-kek", "IT-7", 16, False)
    stored = hsm.state()["clusters"]["c1"]["keys"][str(int(key["key_reference"], 0))]
    assert stored["owner"] == "alice" and stored["shared"] == ["admin"] and stored["extractable"] is False
    again = run(hsm, capsys, **args)
    assert again["changed"] is False and again["key"]["key_reference"] == key["key_reference"]
    other_id = run(hsm, capsys, **dict(args, key_id="IT-8"))  # pylint: disable=repeated-keyword
    assert other_id["changed"] is True and other_id["key"]["key_reference"] != key["key_reference"]


def test_existing_key_with_other_size_is_kept_with_a_warning(hsm, capsys):
    run(hsm, capsys, label="kek")
    result = run(hsm, capsys, label="kek", key_size=128)
    assert result["changed"] is False and "length_bytes is 32, declared 16" in str(result["warnings"])


def test_delete_and_rerun(hsm, capsys):
    run(hsm, capsys, label="tmp-key")
    deleted = run(hsm, capsys, label="tmp-key", state="absent")
    assert deleted["changed"] is True and len(deleted["deleted"]) == 1
    assert run(hsm, capsys, label="tmp-key", state="absent")["changed"] is False


def test_bad_sizes_and_admin_login_on_sdk3(hsm, capsys):
    assert "not an AES size" in run(hsm, capsys, label="x", key_size=100)["msg"]
    assert "generic secret size" in run(hsm, capsys, label="x", key_type="generic-secret", key_size=12)["msg"]
    result = run_module(cloudhsm_key.main, hsm, dict(sdk="3", label="x", username="admin",
                                                     password=fake_tools.ADMIN_PW), capsys)
    assert result["failed"] is True and "set role=crypto-user" in result["msg"]


@pytest.mark.parametrize("args, message", [
    (dict(key_type="ec", key_size=256), "key_size does not apply to an EC key pair"),
    (dict(key_type="rsa", key_size=1024), "not an RSA modulus size"),
    (dict(public_label="pub"), "public_label applies to rsa and ec key pairs only"),
    (dict(share_with=["bob"], unshare_from=["BOB"]), "bob in both share_with and unshare_from"),
    (dict(share_with=["alice"]), "the key owner"),
])
def test_pair_and_share_options_are_checked_before_any_tool_runs(hsm, capsys, args, message):
    result = run(hsm, capsys, label="x", **args)
    assert result["failed"] is True and message in result["msg"]
    assert [value for kind, value in hsm.calls() if kind == "argv"] == []


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_generate_false_reports_a_missing_key_and_makes_none(hsm, capsys, sdk):
    result = run(hsm, capsys, sdk=sdk, cluster="c1", label="retired-kek", generate=False)
    assert result["changed"] is False and result["missing"] is True
    assert "it is not generated again" in str(result["warnings"])
    assert len(hsm.state()["clusters"]["c1"]["keys"]) == 7
    made = run(hsm, capsys, sdk=sdk, cluster="c1", label="retired-kek")
    assert made["changed"] is True and made["missing"] is False
    present = run(hsm, capsys, sdk=sdk, cluster="c1", label="retired-kek", generate=False)
    assert present["changed"] is False and present["missing"] is False
