# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Both drivers against the simulator's tools, for what only a recording of the tools' input shows (one process per
run, no retry, no secret in argv), a locked account, and faults the simulator does not produce (questions where none
was asked before, a refused command, tools that hang or never prompt). The operations themselves are in the contract
suite (test_session_contract.py)."""

from __future__ import annotations

import time

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm import sdk5
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.driver import ClientSettings, detect_sdk, get_driver
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmError, LoginFailed
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import is_lineage_error
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import User, UserSpec
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.process import ToolError, ToolSession
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fault_tools
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm.sim_tools import (  # noqa: F401  pylint: disable=unused-import
    ADMIN_PW, CU_PW, HsmRefusal, Recorder, dr, hsm, tool_path)


@pytest.fixture
def calls(monkeypatch):
    return Recorder(monkeypatch)


def sent(calls, *skip):
    """The lines written to the tools, but for the passwords ``skip`` and the final quit."""
    return [line for kind, line in calls.calls if kind == "line" and line not in skip + ("quit",)]


def assert_no_secret_in_argv(calls):
    assert calls.argvs() and not any(secret in calls.argv_text() for secret in (ADMIN_PW, CU_PW))


# ----------------------------------------------------------------------------------------------------- SDK 5

def test_sdk5_reads_users_and_all_key_pages(dr, calls, monkeypatch):
    pair = dr("5").dr_set()
    monkeypatch.setattr(sdk5, "PAGE_SIZE", 3)
    session = get_driver("5", pair.settings).open([pair.source, pair.clone], secrets=[ADMIN_PW])
    try:
        session.login("admin", "admin", ADMIN_PW)
        view = session.read_view(pair.source, keys=True)
    finally:
        session.close()
    assert sorted(u.name for u in view.users) == ["admin", "alice", "app_user"]
    assert [k.label for k in view.keys] == ["k%d" % i for i in range(7)]
    k0 = pair.keys(pair.source)[pair.handles(pair.source)["k0"]]
    assert view.keys[0].owner == "alice" and view.keys[0].check_value == k0["kcv"]
    assert len(calls.argvs()) == 1 and calls.argvs()[0][1:] == ["interactive", "--cluster-id", pair.source]
    assert len([line for line in sent(calls) if line.startswith("key list")]) == 3  # 7 keys, pages of 3
    assert_no_secret_in_argv(calls)


def test_sdk5_replicates_in_pipelined_batches_in_one_process(dr, calls, monkeypatch):
    pair = dr("5").dr_set()
    monkeypatch.setattr(sdk5, "BATCH_SIZE", 3)
    session = get_driver("5", pair.settings).open([pair.source, pair.clone])
    try:
        session.login("admin", "admin", ADMIN_PW)
        keys = session.read_view(pair.source, keys=True).keys
        results = session.replicate_keys(keys, pair.source, pair.clone)
        again = session.replicate_keys(keys[:1], pair.source, pair.clone)
    finally:
        session.close()
    assert all(r.ok for r in results) and len(results) == 7
    assert pair.handles(pair.clone) == pair.handles(pair.source)
    assert not again[0].ok and "Key replicate failed on 1 of 1 connections" in again[0].message
    assert len(calls.argvs()) == 1


def test_sdk5_unrelated_cluster_error_is_classified(dr):
    pair = dr("5").dr_set()
    session = get_driver("5", pair.settings).open([pair.source, pair.unrelated])
    try:
        session.login("admin", "admin", ADMIN_PW)
        key = session.read_view(pair.source, keys=True).keys[0]
        result = session.replicate_keys([key], pair.source, pair.unrelated)[0]
    finally:
        session.close()
    assert not result.ok and is_lineage_error(result.message)
    assert pair.keys(pair.unrelated) == {}


def test_sdk5_wrong_password_fails_once_without_retry_or_leak(dr, calls):
    pair = dr("5").dr_set(keys=0)
    session = get_driver("5", pair.settings).open([pair.source, pair.clone], secrets=["wrong-Pa55"])
    with pytest.raises(LoginFailed) as caught:
        session.login("admin", "admin", "wrong-Pa55")
    session.close()
    assert "wrong-Pa55" not in str(caught.value) and "not retried" in str(caught.value)
    assert pair.state(pair.source).users["admin"]["failures"] == 1
    assert pair.state(pair.clone).users["admin"]["failures"] == 0
    assert [line.split()[0] for line in sent(calls)] == ["login"]
    assert "wrong-Pa55" not in calls.argv_text()


def test_sdk5_locked_user_is_told_how_to_get_a_new_password(dr):
    pair = dr("5").dr_set(keys=0)
    for unused in range(5):
        with pytest.raises(HsmRefusal, match="wrong password"):
            pair.login(pair.source, "alice", "Not-her-pass1", "CU")
    session = get_driver("5", pair.settings).open([pair.source], secrets=[CU_PW])
    with pytest.raises(LoginFailed) as caught:
        session.login("alice", "crypto-user", CU_PW)
    session.close()
    text = str(caught.value)
    assert "login as alice (crypto-user) on %s was refused: Login failed: the user is locked out" % pair.source in text
    assert "locked after 5 failed logins in a row" in text and "did not retry" in text
    assert "users=[{name: alice, role: crypto-user, password: NEW}] and update_password=always" in text
    assert "check the username" not in text and CU_PW not in text
    assert pair.state(pair.source).users["alice"]["failures"] == 5


def test_driver_selection(dr, tmp_path):
    sdk5_pair, sdk3_pair = dr("5"), dr("3")
    assert get_driver("5", sdk5_pair.settings).sdk == "5" and detect_sdk(sdk5_pair.settings) == "5"
    assert get_driver("3", sdk3_pair.settings).sdk == "3" and detect_sdk(sdk3_pair.settings) == "3"
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

def test_sdk3_one_cmu_session_reads_every_server(dr, calls):
    pair = dr("3").dr_set()
    clusters = [pair.source, pair.clone, pair.unrelated]
    session = get_driver("3", pair.settings).open()
    try:
        session.login("admin", "admin", ADMIN_PW)
        views = [session.read_view(cluster, keys=True) for cluster in clusters]
    finally:
        session.close()
    assert [v.name for v in views] == clusters
    assert [k.reference for k in views[0].keys] == [str(h) for h in sorted(pair.keys(pair.source))]
    assert views[0].keys[0].owner == "alice" and views[1].keys == []
    assert len(calls.argvs()) == 1 and calls.argvs()[0][1].endswith("SyncClusters.cfg")
    assert_no_secret_in_argv(calls)


def test_sdk3_key_details_read_attributes_and_quorum_and_drop_session_keys(dr):
    pair = dr("3").activated().with_crypto_users("alice", "bob")
    ip = pair.ips[pair.source]
    alice = pair.login(pair.source, "alice", CU_PW, "CU")
    quorum = dict(share=["bob"], manage_quorum=2, use_quorum=2, extractable=True, attributes={"encrypt": True})
    made = [pair.hsm.call("generate_key", hsm=ip, session=alice, key_type="aes", size=32, label=label, **args)["key"]
            for label, args in (("quorum", quorum), ("session", dict(session_key=True)),
                                ("plain", dict(attributes={"encrypt": False})))]
    session = get_driver("3", pair.settings).open()
    try:
        session.login("admin", "admin", ADMIN_PW)
        plain = session.read_view(pair.source, keys=True).keys
        detailed = session.read_view(pair.source, keys=True, key_details=True).keys
    finally:
        session.close()
        pair.hsm.call("logout", session=alice)
    # The session key of alice's open session is not the admin's to see, nor ever reported.
    assert plain[0].key_class is None and [k.reference for k in plain] == [str(made[0]["handle"]), str(made[2]["handle"])]
    assert [k.reference for k in detailed] == [str(made[0]["handle"]), str(made[2]["handle"])]
    first = detailed[0]
    assert (first.key_class, first.key_type, first.owner, first.quorum, first.token) == (
        "secret-key", "aes", "alice", (2, 2), True)
    assert first.attributes["encrypt"] is True and first.extractable is True and first.check_value == made[0]["kcv"]
    assert detailed[1].quorum == (0, 0) and detailed[1].attributes["encrypt"] is False


def test_sdk3_users_answer_caution_and_never_retry(dr, calls):
    pair = dr("3").dr_set()
    session = get_driver("3", pair.settings).open()
    try:
        session.login("admin", "admin", ADMIN_PW)
        assert session.create_user(pair.clone, UserSpec("bob"), "b0b-password").ok
        exists = session.create_user(pair.clone, UserSpec("bob"), "b0b-password")
        assert not exists.ok and "This user is already created" in exists.message
        owner = session.delete_user(pair.source, User("alice", "CU"))
        assert not owner.ok and "owns keys" in owner.message
        assert session.change_password(pair.clone, UserSpec("bob"), "n3w-password").ok
    finally:
        session.close()
    assert pair.password_works(pair.clone, "bob", "n3w-password") and "bob" not in pair.users(pair.source)
    assert "alice" in pair.users(pair.source)
    assert [line for line in sent(calls) if line in ("R", "I", "A", "B")] == ["A", "I"]
    assert_no_secret_in_argv(calls)


def sdk3_sync_all_keys(pair, source_keys, fault=None):
    """Copy every key of the source to the clone in one SDK 3 session; returns (results, keys on the clone after)."""
    pair.dr_set(keys=source_keys)
    if fault:
        fault_tools.install(pair.settings.bin_dir, fault)
    session = get_driver("3", pair.settings).open()
    try:
        session.login("admin", "admin", ADMIN_PW)
        results = session.replicate_keys(session.read_view(pair.source, keys=True).keys, pair.source, pair.clone)
        return results, session.read_view(pair.clone, keys=True).keys
    finally:
        session.close()


def test_sdk3_sync_keys_queues_lines_when_the_first_asked_nothing(dr, calls):
    results, after = sdk3_sync_all_keys(dr("3"), 250)
    assert len(results) == 250 and all(r.ok for r in results)
    assert len(after) == 250
    assert len([line for line in sent(calls) if line.startswith("syncKey")]) == 250
    assert "y" not in sent(calls)


def test_sdk3_sync_keys_answers_one_by_one_when_the_tool_asks(dr, calls):
    results, after = sdk3_sync_all_keys(dr("3"), 3, fault="sync_key_asks")
    assert [r.ok for r in results] == [True, True, True] and len(after) == 3
    assert [line for line in sent(calls) if line == "y"] == ["y", "y", "y"]


def test_sdk3_sync_keys_stops_when_a_queued_line_meets_a_question(dr):
    with pytest.raises(HsmError, match=r"asked '\(y/n\)\?' after 'syncKey'.*Rerun"):
        sdk3_sync_all_keys(dr("3"), 4, fault="sync_key_asks_after_first")


def test_sdk3_wrong_password_no_retry(dr, calls):
    pair = dr("3").dr_set(keys=0)
    session = get_driver("3", pair.settings).open(secrets=["bad-pw-123"])
    with pytest.raises(LoginFailed) as caught:
        session.login("admin", "admin", "bad-pw-123")
    session.close()
    assert "bad-pw-123" not in str(caught.value) and "RET_USER_LOGIN_FAILURE" in str(caught.value)
    clusters = [pair.source, pair.clone, pair.unrelated]
    assert [pair.state(c).users["admin"]["failures"] for c in clusters] == [1, 1, 1]
    assert [line.split()[:2] for line in sent(calls, "bad-pw-123")] == [["loginHSM", "CO"]]


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
