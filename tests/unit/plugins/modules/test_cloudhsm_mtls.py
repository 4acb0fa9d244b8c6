# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_mtls
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fake_tools
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import hsm  # noqa: F401  pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import run_module

ADMIN = dict(username="admin", password=fake_tools.ADMIN_PW)


def pem(tag):
    """A PEM block whose body is distinct per tag (the module compares certificates by the DER they encode)."""
    body = base64.b64encode(("certificate %s" % tag).encode() * 3).decode()
    return "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % body


def run(env, capsys, check_mode=False, diff=False, **kwargs):
    return run_module(cloudhsm_mtls.main, env, dict(ADMIN, **kwargs), capsys, check_mode=check_mode, diff=diff)


def test_register_and_enforce_check_mode_then_apply_then_idempotent(hsm, capsys):
    args = dict(clusters=["c1", "c2"], trust_anchors=[pem("a")], enforcement="client-and-server")
    preview = run(hsm, capsys, check_mode=True, diff=True, **args)
    assert preview["changed"] is True
    assert [c["registered"] for c in preview["clusters"]] == [1, 1]
    assert [c["enforcement"] for c in preview["clusters"]] == ["client-and-server"] * 2
    assert "anchors" not in hsm.state()["clusters"]["c1"]
    applied = run(hsm, capsys, **args)
    assert applied["changed"] is True
    for name in ("c1", "c2"):
        cluster = hsm.state()["clusters"][name]
        assert list(cluster["anchors"].values()) == [pem("a")] and cluster["mtls"] == "client-and-server"
    again = run(hsm, capsys, **args)
    assert again["changed"] is False
    assert again["clusters"][0]["trust_anchors"][0]["reference"] == "0x01"


def test_rotation_purges_the_old_anchor_after_registering_the_new(hsm, capsys):
    run(hsm, capsys, clusters=["c1"], trust_anchors=[pem("old")], enforcement="client-and-server")
    rotated = run(hsm, capsys, clusters=["c1"], trust_anchors=[pem("new")], purge_trust_anchors=True)
    assert rotated["changed"] is True and rotated["clusters"][0]["deregistered"] == ["0x01"]
    assert list(hsm.state()["clusters"]["c1"]["anchors"].values()) == [pem("new")]
    assert hsm.state()["clusters"]["c1"]["mtls"] == "client-and-server"


def test_impossible_plans_change_nothing(hsm, capsys):
    run(hsm, capsys, clusters=["c1"], trust_anchors=[pem("a"), pem("b")])
    too_many = run(hsm, capsys, clusters=["c1", "c2"], trust_anchors=[pem("c")])
    assert too_many["failed"] is True and "at most 2" in too_many["msg"]
    assert "anchors" not in hsm.state()["clusters"]["c2"]  # c2's plan was fine, but nothing ran
    no_anchor = run(hsm, capsys, clusters=["c2"], enforcement="client-and-server")
    assert no_anchor["failed"] is True and "needs at least one trust anchor" in no_anchor["msg"]
    not_pem = run(hsm, capsys, clusters=["c2"], trust_anchors=["/etc/ca.crt"])
    assert not_pem["failed"] is True and "trust_anchors[0] is not a PEM certificate" in not_pem["msg"]


def test_sdk3_says_mtls_needs_sdk5(hsm, capsys):
    result = run(hsm, capsys, sdk="3", clusters=["0"], trust_anchors=[pem("a")])
    assert result["failed"] is True
    assert "only Client SDK 5" in result["msg"] and "hsm2m.medium" in result["msg"]
