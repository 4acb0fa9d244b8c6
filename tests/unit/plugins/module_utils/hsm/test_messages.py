# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The messages that tell a user what went wrong and what to do: login refusals, password rules, key-sync failures."""

from __future__ import annotations

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import (
    failure_summary, login_failed_message, password_problem, password_warning)


def test_login_refused_for_a_wrong_password_points_at_the_credentials():
    text = login_failed_message("admin", "admin", "cluster-a", "Login failed: incorrect username, role or password")
    assert text.startswith("login as admin (admin) on cluster-a was refused: Login failed: incorrect")
    assert "not retried" in text and "check the username, role and password" in text
    assert "5 failed logins in a row lock the account" in text


@pytest.mark.parametrize("detail", ["Unable to connect to the cluster", "HSM Error: Server is not reachable",
                                    "HSM Error: Connection to the HSM failed"])
def test_login_to_hsms_that_do_not_answer_points_at_the_hsms_not_the_password(detail):
    text = login_failed_message("admin", "admin", "cluster-a", detail)
    assert text.startswith("login as admin (admin) on cluster-a failed: %s. " % detail)
    assert "No HSM that the client configuration lists for cluster-a answered" in text
    assert "if an HSM was replaced, update the client configuration" in text and "cloudhsm_sync_config" in text
    assert "check the username" not in text


@pytest.mark.parametrize("password, length", [("Ab1-x", 5), ("Aa1-" * 9, 36), ("", 0)])
def test_passwords_outside_the_tools_limits_are_named_with_the_rule(password, length):
    text = password_problem("user bob", password)
    assert "the password of user bob has %d characters" % length in text
    assert "CloudHSM accepts 7 to 32 (8 to 32 on current clusters)" in text
    assert "Give it a password of 8 to 32 characters; nothing was changed." in text
    assert not password or password not in text


@pytest.mark.parametrize("password", [None, "Abc-123", "A" * 32])
def test_passwords_within_the_limits_pass(password):
    assert password_problem("user bob", password) is None


def test_seven_character_password_passes_with_a_warning_that_names_the_current_rule():
    text = password_warning("user bob", "Abc-123")
    assert text.startswith("the password of user bob has 7 characters: clusters that follow the current CloudHSM "
                           "rule (8 to 32) refuse it")
    assert "Use 8 or more characters." in text and "Abc-123" not in text


@pytest.mark.parametrize("password", [None, "Abc-1234", "A" * 32, "Ab1-x"])
def test_no_warning_for_passwords_the_current_rule_accepts_or_that_already_fail(password):
    assert password_warning("user bob", password) is None


def failed(label, reason):
    return dict(key_reference="0x1", label=label, id="", owner="alice", reason=reason)


def test_failure_summary_names_each_destination_and_the_reason_of_each_key():
    reports = [
        dict(cluster="cluster-b", failed=[failed("k%d" % n, "Unable to connect to the cluster") for n in range(7)]
             + [failed("dup", "k9 on cluster-b already holds reference 0x1 with different attributes (x); delete "
                              "the unwanted version on one cluster, then sync again.")]),
        dict(cluster="cluster-c", failed=[]),
        dict(cluster="cluster-d", failed=[failed("k0", "Key replicate failed on 1 of 2 connections")]),
    ]
    text = failure_summary(reports)
    assert text.startswith("to cluster-b, 7 key(s) (k0, k1, k2, k3, k4 and 2 more): Unable to connect to the "
                           "cluster (the HSMs of cluster-b did not answer")
    assert ("; to cluster-b, 1 key(s) (dup): k9 on cluster-b already holds reference 0x1 with different attributes "
            "(x); delete the unwanted version on one cluster, then sync again.") in text
    assert "to cluster-d, 1 key(s) (k0): Key replicate failed on 1 of 2 connections" in text
    assert "cluster-c" not in text


def test_failure_summary_stays_short_but_names_every_destination():
    reports = [dict(cluster="cluster-%d" % n, failed=[failed("k%d-%d" % (n, m), "reason %d" % m) for m in range(4)])
               for n in range(4)]
    text = failure_summary(reports, max_clauses=10)
    assert text.count("; to cluster-") == 9
    assert text.endswith("6 more groups of keys with other reasons, to cluster-2, cluster-3")
