# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm import sdk3
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import (
    is_lineage_error, is_missing_user_error)
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import (
    ROLE_ADMIN, ROLE_APPLIANCE, ROLE_CRYPTO_USER, ROLE_UNACTIVATED_ADMIN)
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import transcripts as t


def after(transcript, marker):
    """The tool's answer: the transcript after its command line."""
    return transcript.split(marker, 1)[1]


@pytest.mark.parametrize("text, prompt", [
    (t.CMU_BANNER + "\naws-cloudhsm>", "aws-cloudhsm>"),
    (t.CMU_BANNER_E2E + "\naws-cloudhsm> ", "aws-cloudhsm>"),
    (t.CMU_BANNER_NO_CA.rstrip("\n"), "aws-cloudhsm>"),
    (t.CMU_CAUTION.rstrip("\n"), "(y/n)?"),
    (after(t.CMU_CREATE_USER_PARTIAL, "(y/n)?y").split("(R/I/A):")[0] + "(R/I/A):", "(R/I/A):"),
    (t.CMU_DELETE_USER_PARTIAL.split("(R/B/I):", maxsplit=1)[0] + "(R/B/I):", "(R/B/I):"),
    ("aws-cloudhsm>loginHSM CO admin -hpswd\nEnter password:", "password:"),
    ("Enter new password: ", "password:"),
    ("Re-enter new password: ", "password:"),
    (t.CMU_SERVER_MODE + "\nserver0>", "server0>"),
    ("Server is in 'E2' mode...\nserver 0>", "server 0>"),
])
def test_prompts_are_recognised(text, prompt):
    end, value = sdk3.match_prompt(text)
    assert end == len(text) and value == prompt


def test_output_without_prompt_waits():
    assert sdk3.match_prompt(t.CMU_BANNER) is None
    assert sdk3.match_prompt("Users on server 0(10.0.0.1):\n") is None


def test_list_users_two_servers_out_of_sync():
    users = sdk3.parse_list_users(t.CMU_LIST_USERS_TWO_SERVERS)
    assert sorted(users) == [0, 1]
    assert [(u.user_id, u.name, u.role) for u in users[0]] == [
        (1, "admin", ROLE_ADMIN), (2, "app_user", ROLE_APPLIANCE), (3, "crypto_user1", ROLE_CRYPTO_USER),
        (4, "crypto_user2", ROLE_CRYPTO_USER), (5, "officer1", ROLE_ADMIN), (6, "officer2", ROLE_ADMIN)]
    assert [u.name for u in users[1]] == ["admin", "app_user", "crypto_user1", "crypto_user2", "officer1"]


@pytest.mark.parametrize("text, role", [
    (t.CMU_LIST_USERS_PRECO, ROLE_UNACTIVATED_ADMIN),
    (t.CMU_LIST_USERS_ACTIVATED, ROLE_ADMIN),
])
def test_list_users_before_and_after_activation(text, role):
    users = sdk3.parse_list_users(text)
    assert [(u.user_id, u.name, u.role) for u in users[0]] == [(1, "admin", role), (2, "app_user", ROLE_APPLIANCE)]


@pytest.mark.parametrize("text, command, expected", [
    (t.CMU_LOGIN, "loginHSM", {0: True, 1: True}),
    (t.CMU_LOGIN_HPSWD, "loginHSM", {0: True, 1: True}),
    (t.CMU_LOGOUT, "logoutHSM", {0: True, 1: True}),
    (t.CMU_DELETE_USER, "deleteUser", {0: True}),
    (t.CMU_CHANGE_PSWD_PRECO, "changePswd", {0: True}),
    (t.CMU_ACTIVATION, "loginHSM", {0: True}),
    (t.CMU_CREATE_USER_PARTIAL, "createUser", {0: False}),
    (t.CMU_DELETE_USER_PARTIAL, "deleteUser", {0: False, 1: False}),
    (t.CMU_FIND_ALL_KEYS, "findAllKeys", {0: True, 1: True}),
])
def test_per_server_results(text, command, expected):
    assert sdk3.parse_server_results(text, command) == expected


@pytest.mark.parametrize("text, failed", [
    (t.CMU_CREATE_USER, False),
    (t.CMU_CHANGE_PSWD_PRECO, False),
    (t.CMU_LOGIN, False),
    (t.CMU_SYNC_USER, False),
    (t.CMU_ENABLE_E2E, False),
    (t.CMU_LOGIN_FAILED, True),
    (t.CMU_CREATE_USER_EXISTS, True),
    (t.CMU_CREATE_USER_PARTIAL, True),
    (t.CMU_DELETE_USER_PARTIAL, True),
])
def test_command_failure_detection(text, failed):
    assert bool(sdk3.command_failure(text)) is failed


def test_find_all_keys_marks_and_hash():
    keys = sdk3.parse_find_all_keys(t.CMU_FIND_ALL_KEYS)
    expected = [(8, "s"), (9, "s"), (17, None), (262162, "s"), (19, "o"), (31, "o")]
    assert keys == {0: expected, 1: expected}
    hashed = sdk3.parse_find_all_keys(t.CMU_FIND_ALL_KEYS_HASH)
    assert hashed == {0: [(8, "s"), (9, "s"), (11, None), (17, "s")]}


def test_find_all_keys_wrapped_over_lines():
    expected = [(8, "s"), (9, "s"), (17, None), (262162, "s"), (19, "o")]
    assert sdk3.parse_find_all_keys(t.CMU_FIND_ALL_KEYS_WRAPPED) == {0: expected, 1: expected}


def test_find_all_keys_wrapped_with_hash():
    assert sdk3.parse_find_all_keys(t.CMU_FIND_ALL_KEYS_WRAPPED_HASH) == {
        0: [(8, "s"), (9, "s"), (11, None), (17, "s")]}


def test_kmu_list_users():
    assert sdk3.parse_kmu_users(t.KMU_LIST_USERS) == {"admin": 1, "app_user": 2, "alice": 3, "bob": 4, "trent": 5}


def test_sync_outputs():
    assert "syncKey success" in t.CMU_SYNC
    assert sdk3.Sdk3Session._sync_result(t.CMU_SYNC, "syncKey").ok
    assert sdk3.Sdk3Session._sync_result(t.CMU_SYNC_USER, "syncUser").ok
    failed = sdk3.Sdk3Session._sync_result("syncKey failed: HSM Error: Masked object could not be unmasked: the "
                                           "clusters do not share a masking key\n", "syncKey")
    assert not failed.ok and is_lineage_error(failed.message)


@pytest.mark.parametrize("text, ok, message", [
    (t.KMU_LOGIN, True, "HSM Return: SUCCESS"),
    (t.KMU_LOGIN_ERROR_STATUS, True, "HSM Return: SUCCESS"),
    (t.KMU_LOGOUT, True, "HSM Return: SUCCESS"),
    (t.KMU_GEN_SYM_KEY, True, "HSM Return: SUCCESS"),
    (t.KMU_GEN_SYM_KEY_ATTEST, True, "HSM Return: SUCCESS"),
    (t.KMU_GEN_SYM_KEY_NEX, True, "HSM Return: SUCCESS"),
    (t.KMU_FIND_KEY, True, "HSM Return: SUCCESS"),
    (t.KMU_FIND_KEY_EMPTY, True, "HSM Return: SUCCESS"),
    (t.KMU_GET_ATTRIBUTE_ALL, True, "HSM Return: SUCCESS"),
    (t.KMU_DELETE_KEY, True, "HSM Return: SUCCESS"),
    (t.KMU_DELETE_KEY_BAD_HANDLE, False, "HSM Error: Invalid object handle is passed to this operation"),
    (t.KMU_DELETE_KEY_DENIED, False, "HSM Error: Key Access is denied."),
    ("\n\tCfm3LoginHSM returned: 0xa3 \n\n\tHSM Error: RET_USER_LOGIN_FAILURE\n", False,
     "HSM Error: RET_USER_LOGIN_FAILURE"),
    ("Cfm3LoginHSM returned: 0x40000049\n", False, "error 0x40000049"),
])
def test_kmu_status(text, ok, message):
    assert sdk3.parse_kmu_status(text)[:2] == (ok, message)


def test_kmu_node_status_both_forms():
    assert sdk3.parse_kmu_status(t.KMU_LOGIN)[2] == {
        0: ("0x00000000", "HSM Return: SUCCESS"), 1: ("0x00000000", "HSM Return: SUCCESS"),
        2: ("0x00000000", "HSM Return: SUCCESS")}
    assert sdk3.parse_kmu_status(t.KMU_GEN_SYM_KEY_NEX)[2] == {0: ("0x00000000", "HSM Return: SUCCESS")}
    assert sorted(sdk3.parse_kmu_status(t.KMU_DELETE_KEY_BAD_HANDLE)[2]) == [1, 2]


@pytest.mark.parametrize("text, handle", [
    (t.KMU_GEN_SYM_KEY, 6), (t.KMU_GEN_SYM_KEY_ATTEST, 9), (t.KMU_GEN_SYM_KEY_NEX, 6), (t.KMU_DELETE_KEY, None)])
def test_gen_sym_key_handle(text, handle):
    assert sdk3.parse_gen_sym_key(text) == handle


def test_find_key_handles_and_empty_forms():
    assert sdk3.parse_find_key(t.KMU_FIND_KEY) == [6, 7, 524296, 9, 262154, 262155, 262156, 262157, 262158, 262159,
                                                   262160, 262161, 262162]
    assert sdk3.parse_find_key(t.KMU_FIND_KEY_EMPTY) == []
    assert sdk3.parse_find_key("Total number of keys present: 0\n\tCfm3FindKey returned: 0x00 : HSM Return: "
                               "SUCCESS\n") == []


def test_find_key_wrapped_over_lines():
    handles = sdk3.parse_find_key(t.KMU_FIND_KEY_WRAPPED)
    assert len(handles) == 18
    assert handles[:3] == [6, 7, 8] and handles[-4:] == [524308, 524309, 524310, 524311]


def test_find_key_wrapped_with_a_lone_last_handle():
    assert sdk3.parse_find_key(t.KMU_FIND_KEY_WRAPPED_LONE) == [6, 7, 8, 9]


def test_kmu_prompt():
    assert sdk3.match_kmu_prompt("\tCfm3FindKey returned: 0x00 : HSM Return: SUCCESS\n\nCommand:  ") is not None
    assert sdk3.match_kmu_prompt("Enter password: ") is not None
    assert sdk3.match_kmu_prompt("Cluster Error Status\n") is None


def test_attribute_file_to_key():
    text = ("OBJ_ATTR_CLASS\n0x04\nOBJ_ATTR_KEY_TYPE\n0x15\nOBJ_ATTR_TOKEN\n0x01\nOBJ_ATTR_LABEL\n3DES_shared\n"
            "OBJ_ATTR_ID\nIT-02\nOBJ_ATTR_VALUE_LEN\n0x00000018\nOBJ_ATTR_KCV\n0x59a46e\nOBJ_ATTR_EXTRACTABLE\n0x00\n")
    key = sdk3.key_from_attributes("7", sdk3.parse_attribute_file(text), owner="alice")
    assert (key.label, key.key_id, key.key_type, key.length, key.check_value, key.extractable, key.owner) == (
        "3DES_shared", "IT-02", "3des", 24, "0x59a46e", False, "alice")


def test_config_servers_and_resolution(tmp_path):
    config = {"servers": [{"hostname": "10.0.2.9", "name": "10.0.2.9", "port": 2225},
                          {"hostname": "10.1.3.11", "name": "dr", "port": 2225}]}
    path = tmp_path / "SyncClusters.cfg"
    path.write_text(json.dumps(config))
    servers = sdk3.read_servers(str(path))
    assert servers == [(0, "10.0.2.9", "10.0.2.9"), (1, "10.1.3.11", "dr")]
    assert [sdk3.resolve_server(servers, w) for w in (0, "1", "10.0.2.9", "dr")] == [0, 1, 0, 1]
    with pytest.raises(HsmError, match="0=10.0.2.9, 1=10.1.3.11"):
        sdk3.resolve_server(servers, "10.9.9.9")


@pytest.mark.parametrize("content, found", [
    (None, "cannot read the cloudhsm_mgmt_util config {path} (client_config): No such file or directory"),
    ("servers: [not JSON", "the cloudhsm_mgmt_util config {path} is not JSON ("),
    ('["10.0.1.10"]', "the cloudhsm_mgmt_util config {path} lists no servers; it needs one server"),
    ('{"servers": []}', "the cloudhsm_mgmt_util config {path} lists no servers; it needs one server"),
    ('{"servers": [{"port": 2225}]}', "server 0 of the cloudhsm_mgmt_util config {path} has no hostname"),
])
def test_config_errors_name_the_file_the_problem_and_the_fix(tmp_path, content, found):
    path = tmp_path / "SyncClusters.cfg"
    if content is not None:
        path.write_text(content)
    with pytest.raises(HsmError) as caught:
        sdk3.read_servers(str(path))
    text = str(caught.value)
    assert found.format(path=path) in text
    assert "Write it with the hsmops.cloudhsm.cloudhsm_sync_config role" in text and "set client_config" in text


def test_server_out_of_range_names_the_config_and_the_fix():
    servers = [(0, "10.0.2.9", "10.0.2.9"), (1, "10.1.3.11", "10.1.3.11")]
    with pytest.raises(HsmError) as caught:
        sdk3.resolve_server(servers, "5", "/opt/cloudhsm/etc/SyncClusters.cfg")
    text = str(caught.value)
    assert "server '5' is not in the cloudhsm_mgmt_util config /opt/cloudhsm/etc/SyncClusters.cfg" in text
    assert "(it lists 0=10.0.2.9, 1=10.1.3.11)" in text and "Give an index or an ENI IP from that list" in text
    assert "run that role again" in text


@pytest.mark.parametrize("message, lineage, missing", [
    ("HSM Error: Masked object could not be unmasked: the clusters do not share a masking key", True, False),
    ("The source and destination clusters do not share a masking key: they must be clones", True, False),
    ("HSM Error: The key's owner or shared users do not exist on the destination", False, True),
    ("The key owner and every shared user must exist in the destination cluster", False, True),
    ("Key replicate failed on 1 of 3 connections", False, False),
    ("ExtractMaskedObject: 0x0 !\nInsertMaskedObject: 0x0 !\nsyncUser success", False, False),
])
def test_error_classification(message, lineage, missing):
    assert is_lineage_error(message) is lineage
    assert is_missing_user_error(message) is missing


def test_queued_answers_are_split_at_each_prompt():
    buffer = ("syncKey success\nserver0>syncKey failed: HSM Error: RET_KEY_NOT_FOUND on server 1(10.0.1.10)\n"
              "server0>syncKey success\nserver0>")
    answers = []
    while True:
        found = sdk3.match_next_prompt(buffer)
        if found is None:
            break
        end, prompt = found
        answers.append((buffer[:end], prompt))
        buffer = buffer[end:]
    assert [prompt for unused, prompt in answers] == ["server0>"] * 3
    assert "RET_KEY_NOT_FOUND on server 1(10.0.1.10)" in answers[1][0]
    assert buffer == ""


@pytest.mark.parametrize("text, prompt", [
    ("Do you want to continue(y/n)?", "(y/n)?"),
    ("Enter password: ", "password:"),
])
def test_a_question_among_queued_answers_is_found(text, prompt):
    assert sdk3.match_next_prompt(text)[1].lower() == prompt
    assert sdk3.is_question(prompt) and not sdk3.is_question("server0>")


def test_a_prompt_inside_a_line_is_not_taken_for_the_end_of_an_answer():
    assert sdk3.match_next_prompt("on server 0(10.0.0.10) -> server 1 done\n") is None


KMU_GET_KEY_INFO = """Command:  getKeyInfo -k 20
       Cfm3GetKey returned: 0x00 : HSM Return: SUCCESS
       Owned by user 3
       also, shared to following 2 user(s):
                4
                5
"""

CMU_GET_KEY_INFO_QUORUM = """Key Info on server 0(10.0.0.1):
        Token/Flash Key,
        Owned by user 3
         2 Users need to approve to use/manage this key
"""


def test_key_info_owner_shares_and_quorum():
    assert sdk3.parse_key_info(KMU_GET_KEY_INFO) == (3, [4, 5], 0)
    assert sdk3.parse_key_info(CMU_GET_KEY_INFO_QUORUM) == (3, [], 2)
    assert sdk3.parse_key_info("Cfm3GetKey returned: 0xa8 : HSM Error: Invalid object handle")[0] is None


def test_rsa_key_attributes_give_class_type_and_pair_link():
    def attributes(key_class):
        return {"OBJ_ATTR_CLASS": key_class, "OBJ_ATTR_KEY_TYPE": "0x00000000", "OBJ_ATTR_LABEL": "rsa_test",
                "OBJ_ATTR_ID": "", "OBJ_ATTR_TOKEN": "0x01", "OBJ_ATTR_SIGN": "0x01", "OBJ_ATTR_EXTRACTABLE": "0x00",
                "OBJ_ATTR_MODULUS": "0xc0ffee", "OBJ_ATTR_KCV": "0x29bbd1"}
    public = sdk3.key_from_attributes("6", attributes("0x00000002"))
    private = sdk3.key_from_attributes("7", attributes("0x00000003"))
    assert (public.key_class, private.key_class, private.key_type) == ("public-key", "private-key", "rsa")
    assert public.pair == private.pair and private.pair.startswith("rsa:")
    assert private.token is True and private.extractable is False and private.attributes["sign"] is True


def test_mofn_public_key_column_marks_quorum_users():
    rows = ("Users on server 0(10.0.0.1):\nNumber of users found:2\n\n"
            "    User Id             User Type       User Name            MofnPubKey    LoginFailureCnt         2FA\n"
            "         1              CO              admin                YES               0                    NO\n"
            "         3              CU              cu1                  NO                0                    NO\n")
    users = sdk3.parse_list_users(rows)[0]
    assert [(user.name, user.quorum) for user in users] == [("admin", True), ("cu1", False)]
    assert sdk3.ClusterView("s0", users).quorum_enabled is True
