"""The HSM state model driven in-process through control-plane events (no tools, no HTTP)."""

import json
import os
import stat

import pytest

from cloudhsm_sim import events
from cloudhsm_sim.dataplane import STATE, HsmError, load, save
from cloudhsm_sim.dataplane.testing import HsmTestServer

PASSWORD = "Officer-Pass1"


@pytest.fixture(scope="module")
def server():
    with HsmTestServer() as running:
        yield running


@pytest.fixture
def hsm(server):
    STATE.on_reset()
    del server.activated[:]
    server.unreachable.clear()
    return server


def activate(hsm, ip):
    hsm.call("activate", hsm=ip, password=PASSWORD)
    return hsm.call("login", hsm=ip, role="CO", username="admin", password=PASSWORD)["session"]


def crypto_user(hsm, ip, admin, name="cu1"):
    hsm.call("create_user", hsm=ip, session=admin, role="CU", username=name, password=PASSWORD)
    return hsm.call("login", hsm=ip, role="CU", username=name, password=PASSWORD)["session"]


def test_new_cluster_has_only_the_pre_activation_users(hsm):
    cluster = hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1"])
    users = hsm.call("list_users", hsm="10.1.0.1")["users"]
    assert [(u["id"], u["name"], u["role"]) for u in users] == [(1, "admin", "PRECO"), (2, "app_user", "AU")]
    assert len(bytes.fromhex(cluster.masking_key)) == 32
    other = hsm.cluster("cluster-bbbbbbbbbbb", ["10.1.0.2"])
    assert other.masking_key != cluster.masking_key
    with pytest.raises(HsmError) as error:
        hsm.call("login", hsm="10.1.0.9", role="CO", username="admin", password="password")
    assert error.value.code == "no_such_hsm"


def test_passwords_are_salted_hashes(hsm):
    hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1"])
    admin = activate(hsm, "10.1.0.1")
    hsm.call("create_user", hsm="10.1.0.1", session=admin, role="CU", username="Alice", password=PASSWORD)
    hsm.call("create_user", hsm="10.1.0.1", session=admin, role="CU", username="bob", password=PASSWORD)
    users = STATE.clusters["cluster-aaaaaaaaaaa"].users
    assert "alice" in users  # user names are case-insensitive and kept in lower case
    dump = json.dumps(STATE.to_dict())
    assert PASSWORD not in dump
    assert users["alice"]["hash"] != users["bob"]["hash"] and users["alice"]["salt"] != users["bob"]["salt"]
    for bad in ("x" * 32 + "y", "short"):
        with pytest.raises(HsmError) as error:
            hsm.call("create_user", hsm="10.1.0.1", session=admin, role="CU", username="carol", password=bad)
        assert error.value.code == "invalid_password"
    with pytest.raises(HsmError):
        hsm.call("create_user", hsm="10.1.0.1", session=admin, role="CU", username="no.dots", password=PASSWORD)


def test_activation_needs_initialization_and_happens_once(hsm):
    hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1"], initialized=False)
    with pytest.raises(HsmError) as error:
        hsm.call("activate", hsm="10.1.0.1", password=PASSWORD)
    assert error.value.code == "not_initialized" and hsm.activated == []
    events.emit("cluster_initialized", account="1", region="us-east-1", cluster_id="cluster-aaaaaaaaaaa")
    hsm.call("activate", hsm="10.1.0.1", password=PASSWORD)
    assert hsm.activated == ["cluster-aaaaaaaaaaa"]
    with pytest.raises(HsmError) as error:
        hsm.call("activate", hsm="10.1.0.1", password=PASSWORD)
    assert error.value.code == "already_activated"


def test_lockout_and_unlock(hsm):
    hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1", "10.1.0.2"])
    admin = activate(hsm, "10.1.0.1")
    hsm.call("create_user", hsm="10.1.0.1", session=admin, role="CU", username="cu1", password=PASSWORD)
    for attempt in range(5):
        with pytest.raises(HsmError) as error:
            hsm.call("login", hsm="10.1.0.2", role="CU", username="cu1", password="wrong-password")
        assert error.value.code == "login_failed"
    with pytest.raises(HsmError) as error:
        hsm.call("login", hsm="10.1.0.1", role="CU", username="cu1", password=PASSWORD)
    assert error.value.code == "user_locked"
    hsm.call("change_password", hsm="10.1.0.1", session=admin, role="CU", username="cu1", password="New-Pass12")
    assert hsm.call("login", hsm="10.1.0.1", role="CU", username="cu1", password="New-Pass12")["session"]


def test_one_op_id_applies_once_per_cluster(hsm):
    hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1", "10.1.0.2"])
    admin = activate(hsm, "10.1.0.1")
    for ip in ("10.1.0.1", "10.1.0.2"):  # what a CMU global createUser does on a two-HSM cluster
        hsm.call("create_user", hsm=ip, session=admin, role="CU", username="cu1", password=PASSWORD, op_id="op-1")
    with pytest.raises(HsmError) as error:
        hsm.call(
            "create_user", hsm="10.1.0.2", session=admin, role="CU", username="cu1", password=PASSWORD, op_id="op-2"
        )
    assert error.value.code == "user_exists"


def test_keys_sealed_under_the_masking_key_and_owner_rules(hsm):
    cluster = hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1"])
    admin = activate(hsm, "10.1.0.1")
    cu1 = crypto_user(hsm, "10.1.0.1", admin, "cu1")
    cu2 = crypto_user(hsm, "10.1.0.1", admin, "cu2")
    key = hsm.call(
        "generate_key",
        hsm="10.1.0.1",
        session=cu1,
        key_type="aes",
        size=32,
        label="dr",
        extractable=False,
        share=["cu2"],
    )["key"]
    stored = cluster.keys[key["handle"]]
    assert key["attributes"]["extractable"] is False and key["attributes"]["never-extractable"] is True
    assert "sealed" not in key and len(bytes.fromhex(stored["sealed"])) == 12 + 32 + 16  # nonce, key, tag
    assert key["shared_names"] == ["cu2"]
    with pytest.raises(HsmError) as error:
        hsm.call("delete_key", hsm="10.1.0.1", session=cu2, handle=key["handle"])
    assert error.value.code == "key_access_denied"
    with pytest.raises(HsmError) as error:
        hsm.call("delete_user", hsm="10.1.0.1", session=admin, role="CU", username="cu1")
    assert error.value.code == "user_owns_keys"
    with pytest.raises(HsmError) as error:
        hsm.call("generate_key", hsm="10.1.0.1", session=admin, key_type="aes", size=32, label="x")
    assert error.value.code == "access_denied"  # only crypto users manage keys
    assert hsm.call("list_keys", hsm="10.1.0.1", session=cu2, filters={"label": "dr"})["total"] == 1
    hsm.call("delete_key", hsm="10.1.0.1", session=cu1, filters={"label": "dr"})
    assert cluster.keys == {}


def test_backup_copy_and_clone_share_the_masking_key(hsm):
    source = hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1"])
    admin = activate(hsm, "10.1.0.1")
    cu1 = crypto_user(hsm, "10.1.0.1", admin)
    handle = hsm.call("generate_key", hsm="10.1.0.1", session=cu1, key_type="aes", size=32, label="dr")["key"]["handle"]
    clone = hsm.clone("cluster-aaaaaaaaaaa", "cluster-ccccccccccc", ["10.2.0.1"], region="us-west-2")
    assert clone.masking_key == source.masking_key and clone.activated
    assert clone.keys[handle]["kcv"] == source.keys[handle]["kcv"]
    assert STATE.backups["backup-aaaaaaaaaaa"] == STATE.backups["backup-aaaaaaaaaaac"]
    # The clone starts where the backup was taken and then lives its own life.
    hsm.call("generate_key", hsm="10.1.0.1", session=cu1, key_type="aes", size=16, label="later")
    assert len(source.keys) == 2 and len(clone.keys) == 1
    dest = hsm.call("login", hsm="10.2.0.1", role="CU", username="cu1", password=PASSWORD)["session"]
    result = hsm.call(
        "sync_key", hsm="10.1.0.1", session=cu1, filters={"label": "later"}, dest_hsm="10.2.0.1", dest_session=dest
    )
    assert result["key"]["kcv"] == source.keys[handle + 1]["kcv"] == clone.keys[handle + 1]["kcv"]
    assert clone.next_handle > handle + 1
    with pytest.raises(HsmError) as error:
        hsm.call("sync_key", hsm="10.1.0.1", session=cu1, handle=handle + 1, dest_hsm="10.2.0.1", dest_session=dest)
    assert error.value.code == "key_exists"


def test_sync_refused_between_unrelated_clusters(hsm):
    hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1"])
    hsm.cluster("cluster-bbbbbbbbbbb", ["10.1.0.2"])
    admin_a, admin_b = activate(hsm, "10.1.0.1"), activate(hsm, "10.1.0.2")
    cu_a, cu_b = crypto_user(hsm, "10.1.0.1", admin_a), crypto_user(hsm, "10.1.0.2", admin_b)
    handle = hsm.call("generate_key", hsm="10.1.0.1", session=cu_a, key_type="aes", size=32, label="k")["key"]["handle"]
    with pytest.raises(HsmError) as error:
        hsm.call("sync_key", hsm="10.1.0.1", session=cu_a, handle=handle, dest_hsm="10.1.0.2", dest_session=cu_b)
    assert error.value.code == "masking_key_mismatch"
    hsm.call("create_user", hsm="10.1.0.1", session=admin_a, role="CU", username="cu9", password=PASSWORD)
    with pytest.raises(HsmError) as error:
        hsm.call(
            "sync_user", hsm="10.1.0.1", session=admin_a, username="cu9", dest_hsm="10.1.0.2", dest_session=admin_b
        )
    assert error.value.code == "masking_key_mismatch"
    assert "cu9" not in STATE.clusters["cluster-bbbbbbbbbbb"].users


def test_key_owner_must_exist_on_the_destination(hsm):
    hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1"])
    admin = activate(hsm, "10.1.0.1")
    hsm.clone("cluster-aaaaaaaaaaa", "cluster-ccccccccccc", ["10.2.0.1"])
    cu7 = crypto_user(hsm, "10.1.0.1", admin, "cu7")  # created after the backup: not on the clone
    handle = hsm.call("generate_key", hsm="10.1.0.1", session=cu7, key_type="aes", size=32, label="k")["key"]["handle"]
    dest_admin = hsm.call("login", hsm="10.2.0.1", role="CO", username="admin", password=PASSWORD)["session"]
    with pytest.raises(HsmError) as error:
        hsm.call("sync_key", hsm="10.1.0.1", session=admin, handle=handle, dest_hsm="10.2.0.1", dest_session=dest_admin)
    assert error.value.code == "missing_user" and error.value.details["users"] == ["cu7"]
    hsm.call("sync_user", hsm="10.1.0.1", session=admin, username="cu7", dest_hsm="10.2.0.1", dest_session=dest_admin)
    hsm.call("sync_key", hsm="10.1.0.1", session=admin, handle=handle, dest_hsm="10.2.0.1", dest_session=dest_admin)
    assert (
        STATE.clusters["cluster-ccccccccccc"].keys[handle]["owner"]
        == STATE.clusters["cluster-ccccccccccc"].users["cu7"]["id"]
    )


def test_unreachable_hsm_and_deleted_hsm(hsm):
    hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1", "10.1.0.2"])
    hsm.unreachable.add("10.1.0.2")
    with pytest.raises(HsmError) as error:
        hsm.call("list_users", hsm="10.1.0.2")
    assert error.value.code == "hsm_unreachable"
    info = hsm.call("cluster_info", hsm="10.1.0.1")
    assert [(h["ip"], h["reachable"]) for h in info["hsms"]] == [("10.1.0.1", True), ("10.1.0.2", False)]
    events.emit(
        "hsm_deleted",
        account="1",
        region="us-east-1",
        cluster_id="cluster-aaaaaaaaaaa",
        hsm_id=info["hsms"][1]["hsm_id"],
        eni_ip="10.1.0.2",
    )
    assert [h["ip"] for h in hsm.call("cluster_info", hsm="10.1.0.1")["hsms"]] == ["10.1.0.1"]
    events.emit("cluster_deleted", account="1", region="us-east-1", cluster_id="cluster-aaaaaaaaaaa")
    assert STATE.clusters == {} and STATE.hsms == {}


def test_save_and_load_round_trip(hsm, tmp_path):
    hsm.cluster("cluster-aaaaaaaaaaa", ["10.1.0.1"])
    admin = activate(hsm, "10.1.0.1")
    cu1 = crypto_user(hsm, "10.1.0.1", admin)
    hsm.call("generate_key", hsm="10.1.0.1", session=cu1, key_type="aes", size=32, label="persisted")
    hsm.backup("cluster-aaaaaaaaaaa", "backup-aaaaaaaaaaa")
    save(str(tmp_path))
    path = tmp_path / "dataplane.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = STATE.to_dict()
    events.emit("reset")
    assert STATE.clusters == {}
    assert load(str(tmp_path)) is True
    assert STATE.to_dict() == before
    with pytest.raises(HsmError):  # sessions do not survive a restart
        hsm.call("list_keys", hsm="10.1.0.1", session=cu1)
    again = hsm.call("login", hsm="10.1.0.1", role="CU", username="cu1", password=PASSWORD)["session"]
    assert hsm.call("list_keys", hsm="10.1.0.1", session=again)["keys"][0]["label"] == "persisted"
    assert load(str(tmp_path / "empty")) is False
