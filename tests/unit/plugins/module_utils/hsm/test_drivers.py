# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Both drivers against the fake tools, for what the simulator does not do (questions where none was asked before, a
locked account, tools that hang or never prompt) and what only a recording tool shows (one process per run, no retry,
no secret in argv). The operations themselves are in the contract suite (test_session_contract.py)."""

from __future__ import annotations

import time

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm import sdk5
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.driver import ClientSettings, detect_sdk, get_driver
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmError, LoginFailed
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import is_lineage_error
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import User, UserSpec
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.process import ToolError, ToolSession
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fake_tools

ADMIN_PW = fake_tools.ADMIN_PW
ALICE_PW = fake_tools.ALICE_PW
keys_for = fake_tools.keys_for


@pytest.fixture
def hsm(tmp_path, monkeypatch):
    env = fake_tools.Environment(tmp_path, monkeypatch, fake_tools.dr_state())
    env.settings = ClientSettings(bin_dir=env.bin_dir, timeout=20)
    return env


def assert_no_secret_in_argv(hsm):
    for kind, value in hsm.calls():
        if kind == "argv":
            assert not any(secret in " ".join(value) for secret in (ADMIN_PW, ALICE_PW))


# ----------------------------------------------------------------------------------------------------- SDK 5

def test_sdk5_reads_users_and_all_key_pages(hsm, monkeypatch):
    monkeypatch.setattr(sdk5, "PAGE_SIZE", 3)
    session = get_driver("5", hsm.settings).open(["c1", "c2"], secrets=[ADMIN_PW])
    try:
        session.login("admin", "admin", ADMIN_PW)
        view = session.read_view("c1", keys=True)
    finally:
        session.close()
    assert [u.name for u in view.users] == ["admin", "alice", "app_user"]
    assert [k.label for k in view.keys] == ["k%d" % i for i in range(7)]
    assert view.keys[0].owner == "alice" and view.keys[0].check_value == "0x000001"
    argvs = [value for kind, value in hsm.calls() if kind == "argv"]
    assert len(argvs) == 1 and argvs[0][1:] == ["interactive", "--cluster-id", "c1"]
    assert_no_secret_in_argv(hsm)


def test_sdk5_replicates_in_pipelined_batches_in_one_process(hsm, monkeypatch):
    monkeypatch.setattr(sdk5, "BATCH_SIZE", 3)
    session = get_driver("5", hsm.settings).open(["c1", "c2"])
    try:
        session.login("admin", "admin", ADMIN_PW)
        keys = session.read_view("c1", keys=True).keys
        results = session.replicate_keys(keys, "c1", "c2")
        again = session.replicate_keys(keys[:1], "c1", "c2")
    finally:
        session.close()
    assert all(r.ok for r in results) and len(results) == 7
    assert sorted(hsm.state()["clusters"]["c2"]["keys"]) == sorted(str(k["handle"]) for k in keys_for(7))
    assert not again[0].ok and again[0].message == "Key replicate failed on 1 of 1 connections"
    assert len([1 for kind, unused_value in hsm.calls() if kind == "argv"]) == 1


def test_sdk5_unrelated_cluster_error_is_classified(hsm):
    session = get_driver("5", hsm.settings).open(["c1", "c9"])
    try:
        session.login("admin", "admin", ADMIN_PW)
        key = session.read_view("c1", keys=True).keys[0]
        result = session.replicate_keys([key], "c1", "c9")[0]
    finally:
        session.close()
    assert not result.ok and is_lineage_error(result.message)


def test_sdk5_wrong_password_fails_once_without_retry_or_leak(hsm):
    session = get_driver("5", hsm.settings).open(["c1", "c2"], secrets=["wrong-Pa55"])
    with pytest.raises(LoginFailed) as caught:
        session.login("admin", "admin", "wrong-Pa55")
    session.close()
    assert "wrong-Pa55" not in str(caught.value) and "not retried" in str(caught.value)
    assert hsm.state()["clusters"]["c1"]["users"]["admin"]["failures"] == 1
    assert hsm.state()["clusters"]["c2"]["users"]["admin"]["failures"] == 0
    assert [value[0] for kind, value in hsm.calls() if kind == "command"] == ["login"]


def test_sdk5_locked_user_is_told_how_to_get_a_new_password(hsm):
    state = hsm.state()
    state["clusters"]["c1"]["users"]["alice"]["failures"] = 5
    hsm.write(state)
    session = get_driver("5", hsm.settings).open(["c1"], secrets=[ALICE_PW])
    with pytest.raises(LoginFailed) as caught:
        session.login("alice", "crypto-user", ALICE_PW)
    session.close()
    text = str(caught.value)
    assert "login as alice (crypto-user) on c1 was refused: Login failed: the user is locked out" in text
    assert "locked after 5 failed logins in a row" in text and "did not retry" in text
    assert "users=[{name: alice, role: crypto-user, password: NEW}] and update_password=always" in text
    assert "check the username" not in text and ALICE_PW not in text
    assert hsm.state()["clusters"]["c1"]["users"]["alice"]["failures"] == 5


def test_driver_selection(hsm, tmp_path):
    assert get_driver("5", hsm.settings).sdk == "5"
    assert get_driver("3", hsm.settings).sdk == "3"
    assert detect_sdk(hsm.settings) == "5"
    empty = ClientSettings(bin_dir=str(tmp_path / "nothing"))
    with pytest.raises(HsmError, match="found neither cloudhsm-cli nor cloudhsm_mgmt_util"):
        get_driver("auto", empty)
    with pytest.raises(HsmError, match="needs cloudhsm-cli"):
        get_driver("5", empty)


def test_tool_session_times_out_with_scrubbed_output(tmp_path):
    script = tmp_path / "silent"
    script.write_text("#!/bin/sh\necho 'hello s3cr3t'\nsleep 30\n")
    script.chmod(0o755)
    session = ToolSession([str(script)], timeout=0.5, secrets=["s3cr3t"])
    with pytest.raises(ToolError) as caught:
        session.read_until(lambda buffer: None)
    session.close(grace=0.1)
    assert "within 0.5s" in str(caught.value) and "hello ********" in str(caught.value)


# ----------------------------------------------------------------------------------------------------- SDK 3

def test_sdk3_one_cmu_session_reads_every_server(hsm):
    session = get_driver("3", hsm.settings).open()
    try:
        session.login("admin", "admin", ADMIN_PW)
        views = [session.read_view(str(i), keys=True) for i in range(3)]
    finally:
        session.close()
    assert [v.name for v in views] == ["server 0 (10.0.0.10)", "server 1 (10.0.1.10)", "server 2 (10.0.2.10)"]
    assert [k.reference for k in views[0].keys] == [str(h) for h in range(16, 23)]
    assert views[0].keys[0].owner == "alice" and views[1].keys == []
    argvs = [value for kind, value in hsm.calls() if kind == "argv"]
    assert len(argvs) == 1 and argvs[0][1].endswith("cloudhsm_mgmt_util.cfg")
    assert_no_secret_in_argv(hsm)


def test_sdk3_key_details_read_attributes_and_quorum_and_drop_session_keys(hsm):
    state = hsm.state()
    keys = state["clusters"]["c1"]["keys"]
    keys["16"].update(quorum=2, encrypt=True, extractable=True)
    keys["17"]["session"] = True
    hsm.write(state)
    session = get_driver("3", hsm.settings).open()
    try:
        session.login("admin", "admin", ADMIN_PW)
        plain = session.read_view("0", keys=True).keys
        detailed = session.read_view("0", keys=True, key_details=True).keys
    finally:
        session.close()
    assert plain[0].key_class is None and len(plain) == 7
    assert [k.reference for k in detailed] == [str(h) for h in [16] + list(range(18, 23))]
    first = detailed[0]
    assert (first.key_class, first.key_type, first.owner, first.quorum, first.token) == (
        "secret-key", "aes", "alice", (2, 2), True)
    assert first.attributes["encrypt"] is True and first.extractable is True and first.check_value == keys["16"]["kcv"]
    assert detailed[1].quorum == (0, 0) and detailed[1].attributes["encrypt"] is False


def test_sdk3_users_answer_caution_and_never_retry(hsm):
    session = get_driver("3", hsm.settings).open()
    try:
        session.login("admin", "admin", ADMIN_PW)
        assert session.create_user("1", UserSpec("bob"), "b0b-password").ok
        exists = session.create_user("1", UserSpec("bob"), "b0b-password")
        assert not exists.ok and "This user is already created" in exists.message
        owner = session.delete_user("0", User("alice", "CU"))
        assert not owner.ok and "owns keys" in owner.message
        assert session.change_password("1", UserSpec("bob"), "n3w-password").ok
    finally:
        session.close()
    state = hsm.state()["clusters"]
    assert state["c2"]["users"]["bob"]["password"] == "n3w-password" and "bob" not in state["c1"]["users"]
    answers = [value for kind, value in hsm.calls() if kind == "answer"]
    assert answers == ["A", "I"]
    assert_no_secret_in_argv(hsm)


def sdk3_sync_all_keys(hsm, source_keys, sync_key_asks=None):
    """Copy every key of server 0 to server 1 in one SDK 3 session; returns (results, keys on server 1 after)."""
    state = fake_tools.dr_state(source_keys=source_keys)
    if sync_key_asks:
        state["sync_key_asks"] = sync_key_asks
    hsm.write(state)
    session = get_driver("3", hsm.settings).open()
    try:
        session.login("admin", "admin", ADMIN_PW)
        results = session.replicate_keys(session.read_view("0", keys=True).keys, "0", "1")
        return results, session.read_view("1", keys=True).keys
    finally:
        session.close()


def test_sdk3_sync_keys_queues_lines_when_the_first_asked_nothing(hsm):
    results, after = sdk3_sync_all_keys(hsm, 250)
    assert len(results) == 250 and all(r.ok for r in results)
    assert len(after) == 250
    assert not [value for kind, value in hsm.calls() if kind == "answer"]


def test_sdk3_sync_keys_answers_one_by_one_when_the_tool_asks(hsm):
    results, after = sdk3_sync_all_keys(hsm, 3, sync_key_asks="always")
    assert [r.ok for r in results] == [True, True, True] and len(after) == 3
    assert [value for kind, value in hsm.calls() if kind == "answer"] == ["y", "y", "y"]


def test_sdk3_sync_keys_stops_when_a_queued_line_meets_a_question(hsm):
    with pytest.raises(HsmError, match=r"asked '\(y/n\)\?' after 'syncKey'.*Rerun"):
        sdk3_sync_all_keys(hsm, 4, sync_key_asks="after_first")


def test_sdk3_wrong_password_no_retry(hsm):
    session = get_driver("3", hsm.settings).open(secrets=["bad-pw-123"])
    with pytest.raises(LoginFailed) as caught:
        session.login("admin", "admin", "bad-pw-123")
    session.close()
    assert "bad-pw-123" not in str(caught.value) and "RET_USER_LOGIN_FAILURE" in str(caught.value)
    failures = [c["users"]["admin"]["failures"] for c in hsm.state()["clusters"].values()]
    assert failures == [1, 1, 1]
    assert [v for k, v in hsm.calls() if k == "command" and v != ["quit"]] == [["loginHSM", "CO"]]


def test_sdk3_tool_that_never_prompts_is_stopped(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "cloudhsm_mgmt_util.cfg").write_text('{"servers": [{"hostname": "10.0.0.1"}]}')
    tool = bin_dir / "cloudhsm_mgmt_util"
    tool.write_text("#!/bin/sh\necho 'Connecting to the server(s)'\nsleep 30 &\necho $! > %s/pid\nwait\n" % tmp_path)
    tool.chmod(0o755)
    with pytest.raises(ToolError, match="gave no complete answer"):
        get_driver("3", ClientSettings(bin_dir=str(bin_dir), timeout=0.5)).open()
    # The tool's own child (its sleep) went with it: gone, or a zombie waiting for init to reap it.
    pid = int((tmp_path / "pid").read_text())
    assert wait_until_dead(pid), "the tool's child process %d outlived it" % pid


def wait_until_dead(pid, seconds=3.0):
    stat = "/proc/%d/stat" % pid
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with open(stat) as handle:
                if handle.read().split(")")[-1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False
