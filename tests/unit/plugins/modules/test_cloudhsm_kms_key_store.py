# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cloudhsm_kms_key_store and cloudhsm_kms_key_store_info against moto with the simulator's cloudhsmv2 and KMS
custom key store extensions and its HSMs (kmsuser, backing keys)."""

from __future__ import annotations

import time

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils import cloudhsm
from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_cluster
from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_kms_key_store
from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_kms_key_store_info
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import add_hsm
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import aws_env  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import client
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import create_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import describe_cluster
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import fast_waits  # noqa: F401 pylint: disable=unused-import
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_ca
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import make_subnets
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import run_module
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.modules.cloudhsm_aws_fixtures import sign_csr

KMSUSER_PASSWORD = "kmsPswd123"
ADMIN_PASSWORD = "adminPswd1"
KMS_MUTATING = frozenset(["CreateCustomKeyStore", "ConnectCustomKeyStore", "DisconnectCustomKeyStore",
                          "UpdateCustomKeyStore", "DeleteCustomKeyStore", "CreateKey"])


@pytest.fixture
def kms(aws, monkeypatch):  # noqa: F811 pylint: disable=redefined-outer-name
    """The KMS custom key store extension and the HSMs on top of the ``aws`` fixture."""
    from cloudhsm_sim import dataplane
    from cloudhsm_sim import kms as sim_kms

    dataplane.subscribe()
    dataplane.reset()
    sim_kms.install()
    sim_kms.reset_delays()
    yield sim_kms
    sim_kms.reset_delays()
    dataplane.reset()


@pytest.fixture
def kms_calls(monkeypatch):
    """Every mutating KMS operation the code under test calls."""
    from botocore.client import BaseClient

    calls = []
    original = BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if self.meta.service_model.service_name == "kms" and operation_name in KMS_MUTATING:
            calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


class Lab:
    """Clusters for key stores: ACTIVE, HSMs in two zones, kmsuser through the simulated HSMs."""

    def __init__(self):
        self.ca = make_ca()
        self.vpcs = 0

    @staticmethod
    def hsm_call(op, **args):
        from cloudhsm_sim import dataplane

        return dataplane.STATE.call(op, args)

    def cluster(self, hsms=2, kmsuser=True):
        _vpc, subnets = make_subnets()
        cluster_id = create_cluster(subnets, name="kms")["ClusterId"]
        zones = sorted(describe_cluster(cluster_id)["SubnetMapping"])
        first = add_hsm(cluster_id, zones[0])
        csr = describe_cluster(cluster_id)["Certificates"]["ClusterCsr"]
        signed, anchor = sign_csr(csr, self.ca)
        client("cloudhsmv2").initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=anchor)
        describe_cluster(cluster_id)
        self.anchor = anchor
        self.hsm_call("activate", hsm=first["EniIp"], password=ADMIN_PASSWORD)
        for zone in zones[1:hsms]:
            add_hsm(cluster_id, zone)
        if kmsuser:
            session = self.hsm_call("login", hsm=first["EniIp"], role="CO", username="admin",
                                    password=ADMIN_PASSWORD)["session"]
            self.hsm_call("create_user", hsm=first["EniIp"], session=session, role="CU", username="kmsuser",
                          password=KMSUSER_PASSWORD)
        describe_cluster(cluster_id)
        return cluster_id, first["EniIp"]

    @staticmethod
    def restore(cluster_id, hsms=2):
        from cloudhsm_sim import controlplane

        backup = controlplane.take_backup(cluster_id)
        _vpc, subnets = make_subnets()
        restored = create_cluster(subnets, SourceBackupId=backup["BackupId"])["ClusterId"]
        zones = sorted(describe_cluster(restored)["SubnetMapping"])
        for zone in zones[:hsms]:
            add_hsm(restored, zone)
        describe_cluster(restored)
        return restored


@pytest.fixture
def lab(kms):  # pylint: disable=redefined-outer-name
    return Lab()


def run(args, capsys, **kwargs):
    return run_module(cloudhsm_kms_key_store.main, args, capsys=capsys, **kwargs)


def run_info(args, capsys):
    return run_module(cloudhsm_kms_key_store_info.main, args, capsys=capsys)


def store_args(lab, cluster_id, **extra):  # pylint: disable=redefined-outer-name
    args = {"name": "primary-keystore", "cluster_id": cluster_id, "trust_anchor": lab.anchor,
            "kmsuser_password": KMSUSER_PASSWORD}
    args.update(extra)
    return args


def stores():
    return client("kms").describe_custom_key_stores()["CustomKeyStores"]


def test_create_connect_rerun_and_check_mode(lab, capsys, kms_calls):
    cluster_id, _ip = lab.cluster()
    planned = run(store_args(lab, cluster_id), capsys, check_mode=True, diff=True)
    assert planned["changed"] is True and planned["actions"] == ["created", "connected"]
    assert planned["diff"] == {"before": {}, "after": {"name": "primary-keystore", "cluster_id": cluster_id,
                                                       "connection_state": "CONNECTED"}}
    assert kms_calls == [] and stores() == []

    result = run(store_args(lab, cluster_id), capsys, diff=True)
    assert result["changed"] is True, result
    assert result["actions"] == ["created", "connected"]
    store = result["key_store"]
    assert store["connection_state"] == "CONNECTED" and store["cloud_hsm_cluster_id"] == cluster_id
    assert store["custom_key_store_id"].startswith("cks-") and store["connection_error_code"] is None
    assert kms_calls == ["CreateCustomKeyStore", "ConnectCustomKeyStore"]
    assert KMSUSER_PASSWORD not in str(result)

    del kms_calls[:]
    again = run(store_args(lab, cluster_id), capsys, diff=True)
    assert again["changed"] is False and again["actions"] == [] and kms_calls == []
    assert again["diff"]["before"] == again["diff"]["after"]
    # A trust anchor given as a file path is read and compared too.
    assert again["key_store"]["custom_key_store_id"] == store["custom_key_store_id"]


def test_trust_anchor_from_a_file_and_immutable(lab, capsys, tmp_path):
    cluster_id, _ip = lab.cluster()
    anchor_file = tmp_path / "customerCA.crt"
    anchor_file.write_text(lab.anchor)
    assert run(store_args(lab, cluster_id, trust_anchor=str(anchor_file)), capsys)["changed"] is True
    other = make_ca("Another CA")[1]
    from cryptography.hazmat.primitives.serialization import Encoding

    refused = run(store_args(lab, cluster_id, trust_anchor=other.public_bytes(Encoding.PEM).decode()), capsys)
    assert refused["failed"] and "cannot change after creation" in refused["msg"]


def test_create_refused_before_any_change(lab, capsys, kms_calls):
    one_hsm, _ip = lab.cluster(hsms=1)
    result = run(store_args(lab, one_hsm), capsys)
    assert result["failed"] and "needs at least two ACTIVE HSMs in different Availability Zones" in result["msg"]
    assert "Nothing was changed" in result["msg"]
    missing = run({"name": "x", "cluster_id": "cluster-aaaaaaaaaaa", "trust_anchor": lab.anchor,
                   "kmsuser_password": KMSUSER_PASSWORD}, capsys)
    assert missing["failed"] and "does not exist in us-east-1" in missing["msg"]
    incomplete = run({"name": "x", "cluster_id": one_hsm}, capsys)
    assert incomplete["failed"] and "needs trust_anchor, kmsuser_password" in incomplete["msg"]
    bad_password = run(store_args(lab, one_hsm, kmsuser_password="has space"), capsys)
    assert bad_password["failed"] and "letters and digits" in bad_password["msg"]
    assert "has space" not in str(bad_password)
    assert kms_calls == [] and stores() == []


@pytest.mark.parametrize("problem, code, words", [
    ("wrong_password", "INVALID_CREDENTIALS", "update_password=always"),
    ("missing", "USER_NOT_FOUND", "create the crypto user kmsuser"),
    ("logged_in", "USER_LOGGED_IN", "log kmsuser out"),
])
def test_failed_connect_leaves_nothing_behind(lab, capsys, problem, code, words):
    cluster_id, ip = lab.cluster(kmsuser=problem != "missing")
    if problem == "logged_in":
        lab.hsm_call("login", hsm=ip, role="CU", username="kmsuser", password=KMSUSER_PASSWORD)
    password = "wrongPassword1" if problem == "wrong_password" else KMSUSER_PASSWORD
    result = run(store_args(lab, cluster_id, kmsuser_password=password), capsys)
    assert result["failed"] is True
    assert result["connection_error_code"] == code
    assert "ConnectionErrorCode %s" % code in result["msg"] and words in result["msg"]
    assert "nothing was left behind" in result["msg"]
    assert result["changed"] is False and stores() == []


def test_failed_connect_of_an_existing_store_disconnects_it_again(lab, capsys):
    cluster_id, ip = lab.cluster()
    assert run(store_args(lab, cluster_id, connection_state="disconnected"), capsys)["changed"] is True
    lab.hsm_call("login", hsm=ip, role="CU", username="kmsuser", password=KMSUSER_PASSWORD)
    result = run(store_args(lab, cluster_id), capsys)
    assert result["failed"] and result["connection_error_code"] == "USER_LOGGED_IN"
    assert "disconnected again" in result["msg"]
    assert [s["ConnectionState"] for s in stores()] == ["DISCONNECTED"]


def test_repoint_to_a_restored_cluster(lab, capsys, kms_calls):
    cluster_id, _ip = lab.cluster()
    first = run(store_args(lab, cluster_id), capsys)["key_store"]
    kms_client = client("kms")
    key_id = kms_client.create_key(Origin="AWS_CLOUDHSM",
                                   CustomKeyStoreId=first["custom_key_store_id"])["KeyMetadata"]["KeyId"]
    blob = kms_client.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    restored = Lab.restore(cluster_id)
    unrelated, _ip2 = lab.cluster()
    del kms_calls[:]

    refused = run({"name": "primary-keystore", "cluster_id": restored}, capsys)
    assert refused["failed"] and "allow_disconnect=true" in refused["msg"] and "Nothing was changed" in refused["msg"]
    not_related = run({"name": "primary-keystore", "cluster_id": unrelated, "allow_disconnect": True}, capsys)
    assert not_related["failed"] and "is not related to cluster %s" % cluster_id in not_related["msg"]
    assert kms_calls == [] and stores()[0]["ConnectionState"] == "CONNECTED"

    planned = run({"name": "primary-keystore", "cluster_id": restored, "allow_disconnect": True}, capsys,
                  check_mode=True)
    assert planned["actions"] == ["disconnected to change cluster_id", "updated cluster_id", "connected"]
    assert kms_calls == []

    moved = run({"name": "primary-keystore", "cluster_id": restored, "allow_disconnect": True}, capsys, diff=True)
    assert moved["changed"] is True
    assert moved["actions"] == ["disconnected to change cluster_id", "updated cluster_id", "connected"]
    assert moved["diff"]["before"]["cluster_id"] == cluster_id and moved["diff"]["after"]["cluster_id"] == restored
    assert moved["key_store"]["connection_state"] == "CONNECTED"
    assert kms_calls == ["DisconnectCustomKeyStore", "UpdateCustomKeyStore", "ConnectCustomKeyStore"]
    assert kms_client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"

    info = run_info({"name": "primary-keystore", "include_keys": True}, capsys)
    keys = info["key_stores"][0]["keys"]
    assert [(k["key_id"], k["key_state"], k["cloud_hsm_cluster_id"]) for k in keys] == [(key_id, "Enabled", restored)]
    again = run({"name": "primary-keystore", "cluster_id": restored, "allow_disconnect": True}, capsys)
    assert again["changed"] is False


def test_repoint_after_the_cluster_is_gone(lab, capsys, kms_calls):
    cluster_id, _ip = lab.cluster()
    run(store_args(lab, cluster_id), capsys)
    restored = Lab.restore(cluster_id)
    unrelated, _ip2 = lab.cluster()
    run_module(cloudhsm_cluster.main, {"cluster_id": cluster_id, "state": "absent"}, capsys=capsys)  # the loss
    assert describe_cluster(cluster_id) is None
    del kms_calls[:]
    unverified = run({"name": "primary-keystore", "cluster_id": unrelated, "allow_disconnect": True}, capsys)
    assert unverified["failed"] and "does not descend from a backup of it" in unverified["msg"]
    assert "lineage: %s" % unrelated in unverified["msg"] and kms_calls == []
    moved = run({"name": "primary-keystore", "cluster_id": restored, "allow_disconnect": True}, capsys)
    assert moved["changed"] and moved["key_store"]["cloud_hsm_cluster_id"] == restored
    assert moved["key_store"]["connection_state"] == "CONNECTED"


def test_rename_and_password_update(lab, capsys, kms_calls):
    cluster_id, _ip = lab.cluster()
    store_id = run(store_args(lab, cluster_id), capsys)["key_store"]["custom_key_store_id"]
    del kms_calls[:]
    renamed = run({"key_store_id": store_id, "name": "renamed"}, capsys)
    assert renamed["actions"] == ["updated name"] and renamed["key_store"]["custom_key_store_name"] == "renamed"
    assert kms_calls == ["UpdateCustomKeyStore"]  # a rename needs no disconnect

    refused = run({"key_store_id": store_id, "kmsuser_password": KMSUSER_PASSWORD, "update_password": "always"},
                  capsys)
    assert refused["failed"] and "allow_disconnect" in refused["msg"]
    # KMS rotated the password when it connected, so the old one is refused at the next connect.
    stale = run({"key_store_id": store_id, "kmsuser_password": KMSUSER_PASSWORD, "update_password": "always",
                 "allow_disconnect": True}, capsys)
    assert stale["failed"] and stale["connection_error_code"] == "INVALID_CREDENTIALS"
    assert stores()[0]["ConnectionState"] == "DISCONNECTED"


def test_connection_state_and_waits(lab, kms, capsys, monkeypatch):  # pylint: disable=redefined-outer-name
    cluster_id, _ip = lab.cluster()
    store_id = run(store_args(lab, cluster_id, connection_state="disconnected"), capsys)["key_store"]["custom_key_store_id"]
    assert stores()[0]["ConnectionState"] == "DISCONNECTED"
    kms.set_delays(connect=0.6)
    sleeps = []

    def short_sleep(seconds):
        sleeps.append(seconds)
        time.sleep(0.25)

    monkeypatch.setattr(cloudhsm, "_sleep", short_sleep)
    monkeypatch.setattr(cloudhsm, "_clock", time.monotonic)
    connected = run({"key_store_id": store_id}, capsys)
    assert connected["key_store"]["connection_state"] == "CONNECTED" and connected["actions"] == ["connected"]
    assert sleeps[:2] == [2.0, 3.0]  # polled with backoff until CONNECTED

    disconnected = run({"key_store_id": store_id, "connection_state": "disconnected"}, capsys)
    assert disconnected["actions"] == ["disconnected"]
    kms.set_delays(connect=60)
    no_wait = run({"key_store_id": store_id, "wait": False}, capsys)
    assert no_wait["key_store"]["connection_state"] == "CONNECTING"
    timed_out = run({"key_store_id": store_id, "wait_timeout": 1}, capsys)
    assert timed_out["failed"] and "Timed out after 1s" in timed_out["msg"] and "CONNECTING" in timed_out["msg"]


def test_delete(lab, capsys, kms_calls):
    cluster_id, _ip = lab.cluster()
    store_id = run(store_args(lab, cluster_id), capsys)["key_store"]["custom_key_store_id"]
    key_id = client("kms").create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"]["KeyId"]
    del kms_calls[:]
    refused = run({"name": "primary-keystore", "state": "absent"}, capsys)
    assert refused["failed"] and key_id in refused["msg"] and "Nothing was changed" in refused["msg"]
    assert kms_calls == [] and stores()[0]["ConnectionState"] == "CONNECTED"

    from moto.kms.models import kms_backends

    kms_backends["123456789012"]["us-east-1"].delete_key(key_id)
    planned = run({"name": "primary-keystore", "state": "absent"}, capsys, check_mode=True)
    assert planned["changed"] and planned["actions"] == ["disconnected to delete it", "deleted"] and kms_calls == []
    deleted = run({"name": "primary-keystore", "state": "absent"}, capsys, diff=True)
    assert deleted["changed"] and deleted["diff"]["after"] == {} and stores() == []
    assert kms_calls == ["DisconnectCustomKeyStore", "DeleteCustomKeyStore"]
    assert run({"name": "primary-keystore", "state": "absent"}, capsys)["changed"] is False


def test_info_lists_and_explains_failures(lab, capsys):
    first, _ip = lab.cluster()
    second, _ip2 = lab.cluster(kmsuser=False)
    run(store_args(lab, first, name="one"), capsys)
    run(store_args(lab, second, name="two", connection_state="disconnected"), capsys)
    client("kms").connect_custom_key_store(CustomKeyStoreId=stores()[1]["CustomKeyStoreId"])
    everything = run_info({}, capsys)
    assert [s["custom_key_store_name"] for s in everything["key_stores"]] == ["one", "two"]
    failed = everything["key_stores"][1]
    assert failed["connection_state"] == "FAILED" and failed["connection_error_code"] == "USER_NOT_FOUND"
    assert "create the crypto user kmsuser" in failed["connection_error"]
    assert everything["key_stores"][0]["connection_error"] is None and "keys" not in everything["key_stores"][0]
    by_cluster = run_info({"cluster_id": second}, capsys)
    assert [s["custom_key_store_name"] for s in by_cluster["key_stores"]] == ["two"]
    assert run_info({"name": "absent-store"}, capsys)["key_stores"] == []


def test_disconnected_wanted_needs_no_permission_and_failed_store_renames(lab, capsys):
    cluster_id, ip = lab.cluster()
    run(store_args(lab, cluster_id), capsys)
    restored = Lab.restore(cluster_id)
    parked = run({"name": "primary-keystore", "cluster_id": restored, "connection_state": "disconnected"}, capsys)
    assert parked["changed"] and parked["actions"] == ["disconnected to change cluster_id", "updated cluster_id"]
    assert parked["key_store"]["connection_state"] == "DISCONNECTED"
    assert parked["key_store"]["cloud_hsm_cluster_id"] == restored

    store_id = parked["key_store"]["custom_key_store_id"]
    client("kms").update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword="wrongPassword1")
    client("kms").connect_custom_key_store(CustomKeyStoreId=store_id)
    assert stores()[0]["ConnectionState"] == "FAILED"
    renamed = run({"key_store_id": store_id, "name": "renamed", "connection_state": "disconnected"}, capsys)
    assert renamed["actions"] == ["disconnected to rename it", "updated name"]
    assert renamed["key_store"]["custom_key_store_name"] == "renamed"
    assert renamed["key_store"]["connection_state"] == "DISCONNECTED"
