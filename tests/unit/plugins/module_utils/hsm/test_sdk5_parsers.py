# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import shlex

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm import sdk5
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import ROLE_ADMIN, ROLE_APPLIANCE
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import transcripts as t


def only(text):
    envelopes = sdk5.parse_envelopes(text)
    assert len(envelopes) == 1, envelopes
    return envelopes[0]


@pytest.mark.parametrize("text, data", [
    (t.CLI_ACTIVATE, "Cluster activation successful"),
    (t.CLI_LOGOUT, "Logout successful"),
    (t.CLI_LOGIN, {"username": "admin1", "role": "admin"}),
    (t.CLI_USER_CREATE, {"username": "alice", "role": "crypto-user"}),
    (t.CLI_USER_CHANGE_PASSWORD, {"username": "bob", "role": "crypto-user"}),
    (t.CLI_USER_DELETE, {"username": "alice", "role": "crypto-user"}),
    (t.CLI_SINGLE_COMMAND, {"username": "alice", "role": "crypto-user"}),
    (t.CLI_KEY_DELETE, {"message": "Key deleted successfully"}),
])
def test_success_envelopes_after_prompts_and_password_questions(text, data):
    assert only(text) == (0, data)


@pytest.mark.parametrize("text, message", [
    (t.CLI_QUORUM_ERROR, "Quorum approval is required for this operation"),
    (t.CLI_FILTER_ERROR, "Key selection criteria matched 48 keys. Refine selection criteria to select a single key."),
    (t.CLI_KEY_REPLICATE_CONFLICT, "Key replicate failed on 1 of 3 connections"),
    (t.CLI_KEY_REPLICATE_DESYNC, "The selected key is not synchronized throughout the cluster"),
])
def test_failure_envelopes_carry_the_message_in_data(text, message):
    assert only(text) == (1, message)


def test_concatenated_envelopes_are_split_in_order():
    code_a, data_a = only(t.CLI_REPLICATE_ERRORS.split("}\n{", maxsplit=1)[0] + "}")
    envelopes = sdk5.parse_envelopes(t.CLI_REPLICATE_ERRORS)
    assert [e[0] for e in envelopes] == [1, 1]
    assert data_a == envelopes[0][1] == "Specified user is inconsistent across the cluster"
    assert envelopes[1][1] == "User replicate failed on 1 of 3 connections"
    stream = t.CLI_LOGIN + t.CLI_USER_LIST + t.CLI_LOGOUT
    assert [e[0] for e in sdk5.parse_envelopes(stream)] == [0, 0, 0]


def test_log_lines_with_braces_and_prompts_are_skipped():
    noise = ('Error writing to log file. Falling back to standard error.\n'
             '[cloudhsm_provider::hsm1::connection::connection_pool] Adding HSM connection to connection pool: '
             'HsmConnection { hsm_info: HSM { IP: "10.4.12.221", Port: 2223 } }\n'
             'aws-cloudhsm > ')
    assert sdk5.parse_envelopes(noise + '{"error_code": 0, "data": "Logout successful"}') == [
        (0, "Logout successful")]


def test_incomplete_envelope_waits_for_more_output():
    assert sdk5.match_envelope(t.CLI_USER_LIST[:200]) is None
    assert sdk5.match_envelope(t.CLI_USER_LIST) is not None


def test_one_line_envelope_before_a_pretty_one_is_not_swallowed():
    # The first line-starting '}' belongs to the second envelope: decoding up to it fails, and the brace count splits.
    stream = '{"error_code": 0, "data": "one"}\naws-cloudhsm > {\n  "error_code": 1,\n  "data": "two"\n}\n'
    assert sdk5.parse_envelopes(stream) == [(0, "one"), (1, "two")]


def test_envelope_published_without_indentation_is_still_found_whole():
    # Its first line-starting '}' closes a nested object: that prefix does not decode, and the brace count takes over.
    stream = '{\n"error_code": 0,\n"data": {\n"username": "alice"\n}\n}\naws-cloudhsm > '
    matcher = sdk5.EnvelopeMatcher()
    assert matcher(stream[:30]) is None
    assert matcher(stream) == (stream.index("}\n}") + 3, (0, {"username": "alice"}))


def test_matcher_fed_in_pieces_finds_each_envelope_once():
    stream = t.CLI_LOGIN + t.CLI_USER_LIST + t.CLI_KEY_DELETE
    expected = sdk5.parse_envelopes(stream)
    found, buffer, matcher = [], "", sdk5.EnvelopeMatcher()
    for start in range(0, len(stream), 7):
        buffer += stream[start:start + 7]
        match = matcher(buffer)
        while match is not None:
            found.append(match[1])
            buffer, matcher = buffer[match[0]:], sdk5.EnvelopeMatcher()
            match = matcher(buffer)
    assert found == expected and len(found) == 3


def test_user_list_roles_and_string_locked():
    code, data = only(t.CLI_USER_LIST)
    users = sdk5.parse_users(data)
    assert [(u.name, u.role, u.locked, u.coverage) for u in users] == [
        ("admin", ROLE_ADMIN, False, "full"), ("test_user", ROLE_ADMIN, False, "full"),
        ("app_user", ROLE_APPLIANCE, False, "full")]


def test_user_replicate_output():
    code, data = only(t.CLI_USER_REPLICATE)
    assert code == 0 and data["message"] == "Successfully replicated user"
    assert data["user"]["username"] == "example-admin"


def test_key_generate_output_to_key():
    code, data = only(t.CLI_KEY_GENERATE_AES)
    key = sdk5.parse_key(data["key"])
    assert (key.reference, key.label, key.key_id, key.check_value, key.key_type, key.length) == (
        "0x00000000002e06bf", "example-aes", "", "0x9b94bd", "aes", 24)
    assert key.owner == "cu1" and key.shared == () and key.extractable is True
    assert key.identity == ("attributes", "aes", "example-aes", "", "0x9b94bd")


def test_key_replicate_output_with_doc_elision():
    code, data = only(t.CLI_KEY_REPLICATE)
    key = sdk5.parse_key(data["key"])
    assert code == 0 and data["message"] == "Successfully replicated key"
    assert (key.reference, key.label, key.key_id, key.check_value, key.owner) == (
        "0x0000000000300006", "example-key", "", "0x5e118e", "crypto-user-1")


def test_key_list_pages_and_tokens():
    code, data = only(t.CLI_KEY_LIST_PAGE)
    keys, token = sdk5.parse_key_list(data)
    assert [k.label for k in keys] == ["test_label_1", "test_label_2"]
    assert keys[0].check_value is None and keys[0].identity[0] == "reference"
    assert token == "10"
    code, data = only(t.CLI_KEY_LIST_FILTER_VERBOSE)
    keys, token = sdk5.parse_key_list(data)
    assert token is None and len(keys) == 1
    assert keys[0].owner == "cu1" and keys[0].key_id == "" and keys[0].length == 16


def test_inconsistent_attributes_are_not_trusted_for_identity():
    entry = {"key-reference": "0x1", "attributes": {"label": "x", "check-value": "inconsistent", "id": "0x4954",
                                                    "key-type": "aes"},
             "key-info": {"key-owners": [{"username": "CU1"}], "cluster-coverage": "inconsistent"}}
    key = sdk5.parse_key(entry)
    assert key.check_value is None and key.identity == ("reference", "0x1", "x", "cu1")
    assert key.key_id == "IT" and key.coverage == "inconsistent"


def test_verbose_entry_shape():
    import json
    key = sdk5.parse_key(json.loads(t.CLI_KEY_VERBOSE_ENTRY))
    assert (key.label, key.check_value, key.length, key.owner) == (
        "98a6688d1d964ed7b45b9cec5c4b1909", "0xb28a46", 32, "cu1")


def test_hsm_info_with_the_documented_missing_comma():
    code, data = only(t.CLI_HSM_INFO)
    assert code == 0
    assert data["hsms"][0]["fips-state"].startswith("2 [FIPS mode")


def test_command_line_quotes_values_and_skips_unset_options():
    line = sdk5.command_line("login", username="o'brien", role="admin", password="--role p w$\"x", cluster_id=None)
    assert line == "login '--username=o'\"'\"'brien' --role=admin '--password=--role p w$\"x'"
    assert shlex.split(line) == ["login", "--username=o'brien", "--role=admin", '--password=--role p w$"x']
    line = sdk5.command_line("key", "list", filter=sdk5.filter_words({"label": "a b", "key-reference": "0x1"}),
                             verbose=True, starting_token=None)
    assert line == "key list --filter key-reference=0x1 'attr.label=a b' --verbose"


def _pair_entry(reference, key_class, modulus, token=True, shared=(), quorum=(0, 0)):
    return {
        "key-reference": reference,
        "key-info": {"key-owners": [{"username": "cu1", "key-coverage": "full"}],
                     "shared-users": [{"username": name, "key-coverage": "full"} for name in shared],
                     "key-quorum-values": {"manage-key-quorum-value": quorum[0], "use-key-quorum-value": quorum[1]},
                     "cluster-coverage": "full"},
        "attributes": {"key-type": "rsa", "label": "signing", "id": "0x", "check-value": "0x29bbd1",
                       "class": key_class, "token": token, "encrypt": False, "decrypt": False, "sign": True,
                       "verify": False, "extractable": False, "modulus": modulus, "modulus-size-bits": 2048,
                       "public-exponent": "0x010001", "key-length-bytes": 256},
    }


def test_key_pair_members_share_one_pair_link():
    public = sdk5.parse_key(_pair_entry("0x06", "public-key", "0xC0FFEE"))
    private = sdk5.parse_key(_pair_entry("0x07", "private-key", "0xc0ffee", shared=["cu2"], quorum=(2, 1)))
    other = sdk5.parse_key(_pair_entry("0x08", "private-key", "0xc0ffef"))
    assert public.pair == private.pair != other.pair and public.pair.startswith("rsa:")
    assert (private.key_class, private.shared, private.quorum, private.token) == ("private-key", ("cu2",), (2, 1), True)
    assert private.attributes["sign"] is True and private.attributes["decrypt"] is False
    assert "modulus" not in private.attributes  # the pair link stands for it
    described = private.to_dict()
    assert described["pair"] == public.pair and described["quorum_values"] == [2, 1]


def test_secret_keys_have_no_pair_link_and_inconsistent_values_none():
    entry = _pair_entry("0x09", "private-key", "inconsistent")
    assert sdk5.parse_key(entry).pair is None
    secret = dict(entry, attributes=dict(entry["attributes"], **{"key-type": "aes", "class": "secret-key"}))
    assert sdk5.parse_key(secret).pair is None


def test_key_listing_leaves_session_keys_out():
    class Listing(sdk5.Sdk5Session):
        def __init__(self):  # pylint: disable=super-init-not-called
            self.lines = []

        def _target_option(self, target):
            return None

        def run(self, line, secret=None):
            self.lines.append(line)
            return 0, {"matched_keys": [_pair_entry("0x06", "private-key", "0x01"),
                                        _pair_entry("0x0a", "secret-key", "0x02", token=False)],
                       "total_key_count": 2, "returned_key_count": 2}

    assert [key.reference for key in Listing().list_keys(None)] == ["0x06"]


def test_user_with_a_quorum_key_marks_the_cluster_quorum_enabled():
    users = sdk5.parse_users({"users": [
        {"username": "admin", "role": "admin", "locked": "false", "mfa": [],
         "quorum": [{"strategy": "token-sign", "status": "enabled"}], "cluster-coverage": "full"},
        {"username": "cu1", "role": "crypto-user", "locked": "false", "mfa": [], "quorum": [],
         "cluster-coverage": "full"}]})
    assert [user.quorum for user in users] == [True, False]
    assert sdk5.ClusterView("c", users).quorum_enabled is True
    assert sdk5.ClusterView("c", users[1:]).quorum_enabled is False
