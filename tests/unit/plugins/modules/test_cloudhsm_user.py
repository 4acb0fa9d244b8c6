# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_activate
from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_user
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import (  # noqa: F401  pylint: disable=unused-import
    ADMIN_PW, dr, dr_set, hsm, run_module, tool_path)

ADMIN = dict(username="admin", password=ADMIN_PW)
BOB = dict(name="bob", role="crypto-user", password="B0b-very-secret")


def run(pair, capsys, check_mode=False, diff=False, **kwargs):
    return run_module(cloudhsm_user.main, pair, dict(ADMIN, **kwargs), capsys, check_mode=check_mode, diff=diff)


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_declared_users_check_mode_create_and_rerun(dr_set, capsys, sdk):
    pair = dr_set(sdk)
    clusters = [pair.source, pair.clone]
    users = [BOB, dict(name="ops_admin", role="admin", password="0ps-very-secret")]
    drift = run(pair, capsys, clusters=clusters, users=users, check_mode=True, diff=True)
    assert drift["changed"] is True and [c["created"] for c in drift["clusters"]] == [["bob", "ops_admin"]] * 2
    assert "bob" not in pair.users(pair.source)
    assert "bob (crypto-user)" in drift["diff"][0]["after"] and "bob" not in drift["diff"][0]["before"]

    created = run(pair, capsys, clusters=clusters, users=users)
    assert created["changed"] is True
    for name in clusters:
        assert pair.password_works(name, "bob", "B0b-very-secret")
        assert pair.users(name)["ops_admin"] == "CO"
    assert pair.unrelated not in [c["cluster"] for c in created["clusters"]]

    again = run(pair, capsys, clusters=clusters, users=users)
    assert again["changed"] is False

    always = run(pair, capsys, clusters=clusters, users=[dict(BOB, password="An0ther-secret")],
                 update_password="always")
    assert always["changed"] is True and always["clusters"][0]["password_changed"] == ["bob"]
    assert pair.password_works(pair.clone, "bob", "An0ther-secret")


def test_last_admin_and_key_owner_are_refused_with_reasons(dr_set, capsys):
    pair = dr_set()
    result = run(pair, capsys, clusters=[pair.source], users=[dict(name="admin", role="admin", state="absent"),
                                                              dict(name="alice", state="absent")])
    assert result["failed"] is True
    refused = dict((r["username"], r["reason"]) for r in result["clusters"][0]["refused"])
    assert "last admin" in refused["admin"] and "owns 7 key(s)" in refused["alice"]
    assert set(pair.users(pair.source)) == {"admin", "alice", "app_user"}


def test_delete_user(dr_set, capsys):
    pair = dr_set()
    run(pair, capsys, clusters=[pair.clone], users=[BOB])
    assert "bob" in pair.users(pair.clone)
    result = run(pair, capsys, clusters=[pair.clone], users=[dict(name="bob", state="absent")])
    assert result["changed"] is True and result["clusters"][0]["deleted"] == ["bob"]
    assert "bob" not in pair.users(pair.clone)


def test_create_without_password_fails_clearly(dr_set, capsys):
    pair = dr_set()
    result = run(pair, capsys, clusters=[pair.clone], users=[dict(name="nopw")])
    assert result["failed"] is True and "nopw a password is needed to create it" in result["msg"]
    assert "nopw" not in pair.users(pair.clone)


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_replicate_users_then_rerun(dr_set, capsys, sdk):
    pair = dr_set(sdk)
    pair.with_crypto_users("carol")
    args = dict(replicate_from=pair.source, clusters=[pair.clone])
    drift = run(pair, capsys, check_mode=True, diff=True, **args)
    assert drift["clusters"][0]["replicated"] == ["carol"] and "carol" not in pair.users(pair.clone)
    assert "carol (crypto-user)" in drift["diff"][0]["after"] and "carol" not in drift["diff"][0]["before"]
    result = run(pair, capsys, **args)
    assert result["changed"] is True and result["clusters"][0]["replicated"] == ["carol"]
    assert pair.password_works(pair.clone, "carol", "Crypto-Pass1")
    assert run(pair, capsys, **args)["changed"] is False


def test_replicate_to_unrelated_cluster_fails_with_lineage(dr_set, capsys):
    pair = dr_set()
    pair.with_crypto_users("carol")
    result = run(pair, capsys, replicate_from=pair.source, clusters=[pair.unrelated])
    assert result["failed"] is True and "not clones of one backup" in result["msg"]
    assert "carol" not in pair.users(pair.unrelated)


@pytest.mark.parametrize("sdk", ["5", "3"])
def test_activation_then_no_change(dr_set, capsys, sdk):
    pair = dr_set(sdk, build=False)  # the source cluster, initialized and not activated
    args = dict(clusters=[pair.source], admin_password="N3w-admin-secret")
    check = run_module(cloudhsm_activate.main, pair, args, capsys, check_mode=True)
    assert check["changed"] is True and pair.users(pair.source)["admin"] == "PRECO"
    done = run_module(cloudhsm_activate.main, pair, args, capsys)
    assert done["changed"] is True and done["clusters"][0]["activated"] is True
    assert pair.users(pair.source)["admin"] == "CO"
    assert pair.password_works(pair.source, "admin", "N3w-admin-secret", role="CO")
    again = run_module(cloudhsm_activate.main, pair, args, capsys)
    assert again["changed"] is False and again["clusters"][0]["already_active"] is True


@pytest.mark.parametrize("password", ["Ab1-x", "Aa1-" * 9])
def test_password_outside_the_tools_limits_fails_before_any_tool_runs(dr_set, capsys, password):
    pair = dr_set()
    users = [BOB, dict(name="short_or_long", password=password)]
    result = run(pair, capsys, clusters=[pair.source, pair.clone], users=users)
    assert result["failed"] is True
    assert ("the password of user short_or_long has %d characters; CloudHSM accepts 7 to 32" % len(password)
            in result["msg"])
    assert "Give it a password of 8 to 32 characters; nothing was changed." in result["msg"]
    assert password not in result["msg"]
    assert pair.calls.calls == [] and "bob" not in pair.users(pair.source)


def test_activation_with_a_password_the_tools_refuse_changes_nothing(dr_set, capsys):
    pair = dr_set(build=False)
    result = run_module(cloudhsm_activate.main, pair, dict(clusters=[pair.source], admin_password="Sh0rt"), capsys)
    assert result["failed"] is True
    assert "the password of the first admin (admin_password) has 5 characters" in result["msg"]
    assert pair.calls.calls == [] and pair.users(pair.source)["admin"] == "PRECO"


def test_seven_character_password_creates_the_user_and_warns(dr_set, capsys):
    pair = dr_set()
    result = run(pair, capsys, clusters=[pair.source], users=[dict(name="short7", password="Sh0rt-7")])
    assert result["changed"] is True and pair.password_works(pair.source, "short7", "Sh0rt-7")
    # ansible-core 2.19 wraps each warning in a summary object: read them as text.
    warnings = str(result["warnings"])
    assert "the password of user short7 has 7 characters" in warnings and "Sh0rt-7" not in warnings


def test_purge_users_the_source_lacks_check_mode_then_real(dr_set, capsys):
    pair = dr_set()
    pair.with_crypto_users("gone", "owner", cluster=pair.clone)
    handle = pair.add_keys(pair.clone, "owner", ["owned"])[0]
    args = dict(replicate_from=pair.source, clusters=[pair.clone])
    plan = run(pair, capsys, purge_users=["gone", "owner"], check_mode=True, diff=True, **args)
    assert plan["failed"] is True and plan["clusters"][0]["deleted"] == ["gone"]
    assert "owns 1 key(s)" in plan["msg"] and "gone" in pair.users(pair.clone)
    # The owner's key is deleted by an earlier step (the key purge): in check mode that is assumed.
    plan = run(pair, capsys, purge_users=["gone", "owner"], check_mode=True,
               assume_keys_deleted={pair.clone: ["0x%016x" % handle]}, **args)
    assert "failed" not in plan and sorted(plan["clusters"][0]["deleted"]) == ["gone", "owner"]
    done = run(pair, capsys, purge_users=["gone"], **args)
    assert done["changed"] is True and done["clusters"][0]["deleted"] == ["gone"]
    assert "gone" not in pair.users(pair.clone) and "owner" in pair.users(pair.clone)
    assert run(pair, capsys, purge_users=["gone"], **args)["changed"] is False


def test_purge_all_deletes_the_users_the_source_lacks_but_never_a_built_in_one(dr_set, capsys):
    pair = dr_set()
    pair.with_crypto_users("carol", cluster=pair.clone)
    result = run(pair, capsys, replicate_from=pair.source, clusters=[pair.clone], purge=True)
    assert result["changed"] is True and result["clusters"][0]["deleted"] == ["carol"]
    assert set(pair.users(pair.clone)) == {"admin", "alice", "app_user"}
