# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import functools
import json
import os

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_mtls
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.hsm_module_helpers import (  # noqa: F401  pylint: disable=unused-import
    ADMIN_PW, dr, dr_set, hsm, run_module, tool_path)

ADMIN = dict(username="admin", password=ADMIN_PW)
CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"hsm client CA")])
NOW = datetime.datetime.now(datetime.timezone.utc)


def certificate(subject, key, serial):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(CA_NAME).public_key(key.public_key())
            .serial_number(serial).not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=30)).sign(CA_KEY, hashes.SHA256()))


@functools.lru_cache(maxsize=None)
def pem(tag):
    """A trust anchor distinct per tag; all of one CA key, so the client certificate stays accepted across
    them (ECDSA signs at random: one certificate per tag is made once)."""
    serial = int.from_bytes(tag.encode(), "big")
    return certificate(CA_NAME, CA_KEY, serial).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def mtls(dr_set, tmp_path):  # pylint: disable=redefined-outer-name
    """A DR set whose cloudhsm-cli presents a client certificate of the CA for every cluster."""
    pair = dr_set()
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"client")]), client_key, 7)
    cert_path, key_path = str(tmp_path / "client.crt"), str(tmp_path / "client.key")
    with open(cert_path, "wb") as handle:
        handle.write(client.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(client_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    config_path = os.path.join(pair.root, "etc", "cloudhsm-cli.cfg")
    with open(config_path) as handle:
        config = json.load(handle)
    for entry in config["clusters"]:
        entry["cluster"].update(client_cert_hsm_tls_file=cert_path, client_key_hsm_tls_file=key_path)
    with open(config_path, "w") as handle:
        json.dump(config, handle)
    return pair


def anchors(pair, cluster):
    return sorted(pair.state(cluster).trust_anchors.values())


def run(pair, capsys, check_mode=False, diff=False, **kwargs):
    return run_module(cloudhsm_mtls.main, pair, dict(ADMIN, **kwargs), capsys, check_mode=check_mode, diff=diff)


def test_register_and_enforce_check_mode_then_apply_then_idempotent(mtls, capsys):
    pair = mtls
    args = dict(clusters=[pair.source, pair.clone], trust_anchors=[pem("a")], enforcement="client-and-server")
    preview = run(pair, capsys, check_mode=True, diff=True, **args)
    assert preview["changed"] is True
    assert [c["registered"] for c in preview["clusters"]] == [1, 1]
    assert [c["enforcement"] for c in preview["clusters"]] == ["client-and-server"] * 2
    assert anchors(pair, pair.source) == []
    applied = run(pair, capsys, **args)
    assert applied["changed"] is True
    for name in (pair.source, pair.clone):
        assert anchors(pair, name) == [pem("a")] and pair.state(name).mtls_enforcement == "client-and-server"
    again = run(pair, capsys, **args)
    assert again["changed"] is False
    assert again["clusters"][0]["trust_anchors"][0]["reference"] == "0x01"


def test_rotation_purges_the_old_anchor_after_registering_the_new(mtls, capsys):
    pair = mtls
    run(pair, capsys, clusters=[pair.source], trust_anchors=[pem("old")], enforcement="client-and-server")
    rotated = run(pair, capsys, clusters=[pair.source], trust_anchors=[pem("new")], purge_trust_anchors=True)
    assert rotated["changed"] is True and rotated["clusters"][0]["deregistered"] == ["0x01"]
    assert anchors(pair, pair.source) == [pem("new")]
    assert pair.state(pair.source).mtls_enforcement == "client-and-server"


def test_impossible_plans_change_nothing(mtls, capsys):
    pair = mtls
    run(pair, capsys, clusters=[pair.source], trust_anchors=[pem("a"), pem("b")])
    assert len(anchors(pair, pair.source)) == 2
    too_many = run(pair, capsys, clusters=[pair.source, pair.clone], trust_anchors=[pem("c")])
    assert too_many["failed"] is True and "at most 2" in too_many["msg"]
    assert anchors(pair, pair.clone) == []  # the clone's plan was fine, but nothing ran
    no_anchor = run(pair, capsys, clusters=[pair.clone], enforcement="client-and-server")
    assert no_anchor["failed"] is True and "needs at least one trust anchor" in no_anchor["msg"]
    not_pem = run(pair, capsys, clusters=[pair.clone], trust_anchors=["/etc/ca.crt"])
    assert not_pem["failed"] is True and "trust_anchors[0] is not a PEM certificate" in not_pem["msg"]
    assert anchors(pair, pair.clone) == [] and pair.state(pair.clone).mtls_enforcement == "none"


def test_sdk3_says_mtls_needs_sdk5(dr_set, capsys):
    pair = dr_set("3")
    result = run(pair, capsys, clusters=[pair.source], trust_anchors=[pem("a")])
    assert result["failed"] is True
    assert "only Client SDK 5" in result["msg"] and "hsm2m.medium" in result["msg"]
