# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_activate
from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_user
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fake_tools
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import hsm  # noqa: F401  pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import run_module

ADMIN = dict(username="admin", password=fake_tools.ADMIN_PW)
BOB = dict(name="bob", role="crypto-user", password="B0b-very-secret")


def run(env, capsys, check_mode=False, diff=False, **kwargs):
    return run_module(cloudhsm_user.main, env, dict(ADMIN, **kwargs), capsys, check_mode=check_mode, diff=diff)


@pytest.mark.parametrize("sdk, clusters", [("5", ["c1", "c2"]), ("3", ["0", "1"])])
def test_declared_users_check_mode_create_and_rerun(hsm, capsys, sdk, clusters):
    users = [BOB, dict(name="ops_admin", role="admin", password="0ps-very-secret")]
    drift = run(hsm, capsys, sdk=sdk, clusters=clusters, users=users, check_mode=True, diff=True)
    assert drift["changed"] is True and [c["created"] for c in drift["clusters"]] == [["bob", "ops_admin"]] * 2
    assert "bob" not in hsm.state()["clusters"]["c1"]["users"]
    assert "bob (crypto-user)" in drift["diff"][0]["after"] and "bob" not in drift["diff"][0]["before"]

    created = run(hsm, capsys, sdk=sdk, clusters=clusters, users=users)
    assert created["changed"] is True
    for name in ("c1", "c2"):
        assert hsm.state()["clusters"][name]["users"]["bob"]["password"] == "B0b-very-secret"
        assert hsm.state()["clusters"][name]["users"]["ops_admin"]["role"] == "CO"
    assert "c9" not in [c["cluster"] for c in created["clusters"]]

    again = run(hsm, capsys, sdk=sdk, clusters=clusters, users=users)
    assert again["changed"] is False

    always = run(hsm, capsys, sdk=sdk, clusters=clusters, users=[dict(BOB, password="An0ther-secret")],
                 update_password="always")
    assert always["changed"] is True and always["clusters"][0]["password_changed"] == ["bob"]
    assert hsm.state()["clusters"]["c2"]["users"]["bob"]["password"] == "An0ther-secret"


def test_last_admin_and_key_owner_are_refused_with_reasons(hsm, capsys):
    result = run(hsm, capsys, clusters=["c1"], users=[dict(name="admin", role="admin", state="absent"),
                                                      dict(name="alice", state="absent")])
    assert result["failed"] is True
    refused = dict((r["username"], r["reason"]) for r in result["clusters"][0]["refused"])
    assert "last admin" in refused["admin"] and "owns 7 key(s)" in refused["alice"]
    assert set(hsm.state()["clusters"]["c1"]["users"]) == {"admin", "alice", "app_user"}


def test_delete_user(hsm, capsys):
    run(hsm, capsys, clusters=["c2"], users=[BOB])
    result = run(hsm, capsys, clusters=["c2"], users=[dict(name="bob", state="absent")])
    assert result["changed"] is True and result["clusters"][0]["deleted"] == ["bob"]
    assert "bob" not in hsm.state()["clusters"]["c2"]["users"]


def test_create_without_password_fails_clearly(hsm, capsys):
    result = run(hsm, capsys, clusters=["c2"], users=[dict(name="nopw")])
    assert result["failed"] is True and "nopw a password is needed to create it" in result["msg"]


@pytest.mark.parametrize("sdk, source, target", [("5", "c1", "c2"), ("3", "0", "1")])
def test_replicate_users_then_rerun(hsm, capsys, sdk, source, target):
    state = hsm.state()
    state["clusters"]["c1"]["users"]["carol"] = dict(role="CU", password="c4rol-pw", id=9, failures=0)
    hsm.write(state)
    drift = run(hsm, capsys, sdk=sdk, replicate_from=source, clusters=[target], check_mode=True, diff=True)
    assert drift["clusters"][0]["replicated"] == ["carol"] and "carol" not in hsm.state()["clusters"]["c2"]["users"]
    assert "carol (crypto-user)" in drift["diff"][0]["after"] and "carol" not in drift["diff"][0]["before"]
    result = run(hsm, capsys, sdk=sdk, replicate_from=source, clusters=[target])
    assert result["changed"] is True and result["clusters"][0]["replicated"] == ["carol"]
    assert hsm.state()["clusters"]["c2"]["users"]["carol"]["password"] == "c4rol-pw"
    assert run(hsm, capsys, sdk=sdk, replicate_from=source, clusters=[target])["changed"] is False


def test_replicate_to_unrelated_cluster_fails_with_lineage(hsm, capsys):
    state = hsm.state()
    state["clusters"]["c1"]["users"]["carol"] = dict(role="CU", password="c4rol-pw", id=9, failures=0)
    hsm.write(state)
    result = run(hsm, capsys, replicate_from="c1", clusters=["c9"])
    assert result["failed"] is True and "not clones of one backup" in result["msg"]


@pytest.mark.parametrize("sdk, cluster", [("5", "c2"), ("3", "1")])
def test_activation_then_no_change(hsm, capsys, sdk, cluster):
    state = hsm.state()
    state["clusters"]["c2"]["users"]["admin"].update(role="PRECO", password="password")
    hsm.write(state)
    args = dict(sdk=sdk, clusters=[cluster], admin_password="N3w-admin-secret")
    check = run_module(cloudhsm_activate.main, hsm, args, capsys, check_mode=True)
    assert check["changed"] is True and hsm.state()["clusters"]["c2"]["users"]["admin"]["role"] == "PRECO"
    done = run_module(cloudhsm_activate.main, hsm, args, capsys)
    assert done["changed"] is True and done["clusters"][0]["activated"] is True
    assert hsm.state()["clusters"]["c2"]["users"]["admin"] == dict(role="CO", password="N3w-admin-secret", id=1,
                                                                   failures=0)
    again = run_module(cloudhsm_activate.main, hsm, args, capsys)
    assert again["changed"] is False and again["clusters"][0]["already_active"] is True


@pytest.mark.parametrize("password", ["Ab1-x", "Aa1-" * 9])
def test_password_outside_the_tools_limits_fails_before_any_tool_runs(hsm, capsys, password):
    users = [BOB, dict(name="short_or_long", password=password)]
    result = run(hsm, capsys, clusters=["c1", "c2"], users=users)
    assert result["failed"] is True
    assert ("the password of user short_or_long has %d characters; CloudHSM accepts 7 to 32" % len(password)
            in result["msg"])
    assert "Give it a password of 8 to 32 characters; nothing was changed." in result["msg"]
    assert password not in result["msg"]
    assert hsm.calls() == [] and "bob" not in hsm.state()["clusters"]["c1"]["users"]


def test_activation_with_a_password_the_tools_refuse_changes_nothing(hsm, capsys):
    state = hsm.state()
    state["clusters"]["c2"]["users"]["admin"].update(role="PRECO", password="password")
    hsm.write(state)
    result = run_module(cloudhsm_activate.main, hsm, dict(clusters=["c2"], admin_password="Sh0rt"), capsys)
    assert result["failed"] is True
    assert "the password of the first admin (admin_password) has 5 characters" in result["msg"]
    assert hsm.calls() == [] and hsm.state()["clusters"]["c2"]["users"]["admin"]["role"] == "PRECO"


def test_seven_character_password_creates_the_user_and_warns(hsm, capsys):
    result = run(hsm, capsys, clusters=["c1"], users=[dict(name="short7", password="Sh0rt-7")])
    assert result["changed"] is True and hsm.state()["clusters"]["c1"]["users"]["short7"]["password"] == "Sh0rt-7"
    # ansible-core 2.19 wraps each warning in a summary object: read them as text.
    warnings = str(result["warnings"])
    assert "the password of user short7 has 7 characters" in warnings and "Sh0rt-7" not in warnings


def add_to_c2(hsm, name, role="CU", keys=()):
    state = hsm.state()
    state["clusters"]["c2"]["users"][name] = dict(role=role, password="x-password-1", id=20 + len(name), failures=0)
    for handle, label in keys:
        state["clusters"]["c2"]["keys"][handle] = dict(label=label, id="", type="aes", size=32, kcv="0x0000aa",
                                                       owner=name, shared=[], extractable=False)
    hsm.write(state)


def test_purge_users_the_source_lacks_check_mode_then_real(hsm, capsys):
    add_to_c2(hsm, "gone")
    add_to_c2(hsm, "owner", keys=[("90", "owned")])
    plan = run(hsm, capsys, replicate_from="c1", clusters=["c2"], purge_users=["gone", "owner"], check_mode=True,
               diff=True)
    assert plan["failed"] is True and plan["clusters"][0]["deleted"] == ["gone"]
    assert "owns 1 key(s)" in plan["msg"] and "gone" in hsm.state()["clusters"]["c2"]["users"]
    # The owner's key is deleted by an earlier step (the key purge): in check mode that is assumed.
    plan = run(hsm, capsys, replicate_from="c1", clusters=["c2"], purge_users=["gone", "owner"], check_mode=True,
               assume_keys_deleted={"c2": ["0x000000000000005a"]})
    assert "failed" not in plan and sorted(plan["clusters"][0]["deleted"]) == ["gone", "owner"]
    done = run(hsm, capsys, replicate_from="c1", clusters=["c2"], purge_users=["gone"])
    assert done["changed"] is True and done["clusters"][0]["deleted"] == ["gone"]
    assert "gone" not in hsm.state()["clusters"]["c2"]["users"]
    assert run(hsm, capsys, replicate_from="c1", clusters=["c2"], purge_users=["gone"])["changed"] is False


def test_purge_all_deletes_the_users_the_source_lacks_but_never_a_built_in_one(hsm, capsys):
    add_to_c2(hsm, "carol")
    result = run(hsm, capsys, replicate_from="c1", clusters=["c2"], purge=True)
    assert result["changed"] is True and result["clusters"][0]["deleted"] == ["carol"]
    assert set(hsm.state()["clusters"]["c2"]["users"]) == {"admin", "alice", "app_user"}
