"""Asymmetric key pairs, shared keys, changed attributes, quorum values and session keys in the HSM model."""

import pytest

from cloudhsm_sim.dataplane import STATE, HsmError
from cloudhsm_sim.dataplane.testing import HsmTestServer

PASSWORD = "Officer-Pass1"
IP = "10.1.0.1"


@pytest.fixture(scope="module")
def server():
    with HsmTestServer() as running:
        yield running


@pytest.fixture
def hsm(server):
    STATE.on_reset()
    del server.activated[:]
    server.unreachable.clear()
    server.cluster("cluster-aaaaaaaaaaa", [IP])
    return server


def login(hsm, name, role="CU", ip=IP):
    return hsm.call("login", hsm=ip, role=role, username=name, password=PASSWORD)["session"]


@pytest.fixture
def users(hsm):
    """(admin session, {crypto user name: session}) on an activated cluster with cu1 and cu2."""
    hsm.call("activate", hsm=IP, password=PASSWORD)
    admin = login(hsm, "admin", "CO")
    for name in ("cu1", "cu2"):
        hsm.call("create_user", hsm=IP, session=admin, role="CU", username=name, password=PASSWORD)
    return admin, {name: login(hsm, name) for name in ("cu1", "cu2")}


@pytest.mark.parametrize(
    "shape, attribute, length",
    [
        ({"key_type": "rsa", "modulus_bits": 2048}, "modulus", 256),
        ({"key_type": "rsa", "modulus_bits": 3072}, "modulus", 384),
        ({"key_type": "rsa", "modulus_bits": 4096}, "modulus", 512),
        ({"key_type": "ec", "curve": "secp256r1"}, "ec-point", 65),
        ({"key_type": "ec", "curve": "secp384r1"}, "ec-point", 97),
        ({"key_type": "ec", "curve": "secp521r1"}, "ec-point", 133),
        ({"key_type": "ec", "curve": "secp256k1"}, "ec-point", 65),
    ],
)
def test_key_pair_is_a_linked_public_and_private_key(hsm, users, shape, attribute, length):
    unused_admin, cu = users
    made = hsm.call(
        "generate_key_pair", hsm=IP, session=cu["cu1"], public_label="pub", private_label="priv", **shape
    )
    public, private = made["public_key"], made["private_key"]
    assert (public["class"], private["class"]) == ("public-key", "private-key")
    assert public["pair"] == private["handle"] and private["pair"] == public["handle"]
    assert public["attributes"][attribute] == private["attributes"][attribute]
    assert len(bytes.fromhex(public["attributes"][attribute][2:])) == length
    assert public["kcv"] == private["kcv"]
    assert public["attributes"]["sensitive"] is False and private["attributes"]["sensitive"] is True
    assert private["attributes"]["sign"] is True and public["attributes"]["verify"] is True
    assert public["attributes"]["token"] is True and public["owner_name"] == private["owner_name"] == "cu1"


def test_bad_pair_shapes_are_refused(hsm, users):
    cu1 = users[1]["cu1"]
    for shape, code in (
        ({"key_type": "rsa", "modulus_bits": 1024}, "invalid_key_size"),
        ({"key_type": "ec", "curve": "brainpool"}, "invalid_key_type"),
        ({"key_type": "dsa"}, "invalid_key_type"),
    ):
        with pytest.raises(HsmError) as error:
            hsm.call("generate_key_pair", hsm=IP, session=cu1, public_label="p", private_label="q", **shape)
        assert error.value.code == code
    assert STATE.clusters["cluster-aaaaaaaaaaa"].keys == {}


def test_public_keys_are_visible_to_every_user(hsm, users):
    unused_admin, cu = users
    made = hsm.call("generate_key_pair", hsm=IP, session=cu["cu1"], key_type="ec", curve="secp384r1",
                    public_label="ec-pub", private_label="ec-priv")
    seen = hsm.call("list_keys", hsm=IP, session=cu["cu2"])["keys"]
    assert [k["handle"] for k in seen] == [made["public_key"]["handle"]]
    user_ids = {u["name"]: u["id"] for u in hsm.call("list_users", hsm=IP)["users"]}
    listing = hsm.call("find_all_keys", hsm=IP, session=cu["cu1"], user_id=user_ids["cu2"])["keys"]
    assert listing == [[made["public_key"]["handle"], None]]
    owned = hsm.call("find_all_keys", hsm=IP, session=cu["cu1"], user_id=user_ids["cu1"])["keys"]
    assert owned == [[made["public_key"]["handle"], "o"], [made["private_key"]["handle"], "o"]]


def test_share_and_unshare(hsm, users):
    unused_admin, cu = users
    key = hsm.call("generate_key", hsm=IP, session=cu["cu1"], key_type="aes", size=32, label="k")["key"]
    shared = hsm.call("share_key", hsm=IP, session=cu["cu1"], handle=key["handle"], users=["cu2"])["key"]
    assert shared["shared_names"] == ["cu2"]
    assert [k["handle"] for k in hsm.call("list_keys", hsm=IP, session=cu["cu2"])["keys"]] == [key["handle"]]
    with pytest.raises(HsmError) as error:
        hsm.call("share_key", hsm=IP, session=cu["cu1"], handle=key["handle"], users=["cu2"])
    assert error.value.code == "already_shared"
    with pytest.raises(HsmError) as error:  # only the owner shares
        hsm.call("share_key", hsm=IP, session=cu["cu2"], handle=key["handle"], users=["cu1"])
    assert error.value.code == "key_access_denied"
    with pytest.raises(HsmError) as error:  # never with an admin
        hsm.call("share_key", hsm=IP, session=cu["cu1"], handle=key["handle"], users=["admin"])
    assert error.value.code == "invalid_share"
    hsm.call("share_key", hsm=IP, session=cu["cu1"], handle=key["handle"], users=["cu2"], share=False)
    assert STATE.clusters["cluster-aaaaaaaaaaa"].keys[key["handle"]]["shared"] == []


def test_set_attribute_changes_label_and_usage_flags(hsm, users):
    cu1 = users[1]["cu1"]
    key = hsm.call("generate_key", hsm=IP, session=cu1, key_type="aes", size=16, label="before")["key"]
    hsm.call("set_attribute", hsm=IP, session=cu1, handle=key["handle"], name="label", value="after")
    changed = hsm.call("set_attribute", hsm=IP, session=cu1, filters={"label": "after"}, name="encrypt", value=True)
    assert changed["key"]["label"] == "after" and changed["key"]["attributes"]["encrypt"] is True
    assert hsm.call("list_keys", hsm=IP, session=cu1, filters={"label": "before"})["keys"] == []
    with pytest.raises(HsmError) as error:
        hsm.call("set_attribute", hsm=IP, session=cu1, handle=key["handle"], name="extractable", value=True)
    assert error.value.code == "invalid_attribute"


def test_quorum_values_are_bounded_by_the_key_users(hsm, users):
    cu1 = users[1]["cu1"]
    key = hsm.call("generate_key", hsm=IP, session=cu1, key_type="aes", size=16, label="q", share=["cu2"],
                   manage_quorum=2, use_quorum=1)["key"]
    assert key["quorum"] == [2, 1]
    with pytest.raises(HsmError) as error:
        hsm.call("generate_key", hsm=IP, session=cu1, key_type="aes", size=16, label="q2", manage_quorum=2)
    assert error.value.code == "invalid_quorum"


def test_backups_and_clones_carry_pairs_shares_and_changes_but_not_session_keys(hsm, users):
    unused_admin, cu = users
    made = hsm.call("generate_key_pair", hsm=IP, session=cu["cu1"], key_type="rsa", modulus_bits=2048,
                    public_label="rsa-pub", private_label="rsa-priv", share=["cu2"])
    hsm.call("set_attribute", hsm=IP, session=cu["cu1"], handle=made["private_key"]["handle"], name="label",
             value="rsa-priv-renamed")
    session_key = hsm.call("generate_key", hsm=IP, session=cu["cu1"], key_type="aes", size=16, label="temp",
                           session_key=True)["key"]
    source = STATE.clusters["cluster-aaaaaaaaaaa"]
    clone = hsm.clone("cluster-aaaaaaaaaaa", "cluster-ccccccccccc", ["10.2.0.1"])
    private = clone.keys[made["private_key"]["handle"]]
    assert private["label"] == "rsa-priv-renamed" and private["pair"] == made["public_key"]["handle"]
    assert private["shared"] == source.keys[made["private_key"]["handle"]]["shared"] != []
    assert private["modulus"] == source.keys[made["public_key"]["handle"]]["modulus"]
    assert session_key["handle"] not in clone.keys and session_key["handle"] in source.keys
    assert clone.masking_key == source.masking_key


def test_session_keys_end_with_their_session(hsm, users):
    unused_admin, cu = users
    temp = hsm.call("generate_key", hsm=IP, session=cu["cu1"], key_type="aes", size=16, label="temp",
                    session_key=True)["key"]
    kept = hsm.call("generate_key", hsm=IP, session=cu["cu1"], key_type="aes", size=16, label="kept")["key"]
    assert temp["attributes"]["token"] is False and temp["session"] is True
    hsm.call("logout", session=cu["cu1"])
    assert sorted(STATE.clusters["cluster-aaaaaaaaaaa"].keys) == [kept["handle"]]


def test_user_quorum_blocks_user_management_and_travels_with_backups(hsm, users):
    admin, unused_cu = users
    with pytest.raises(HsmError) as error:  # no admin registered a quorum key yet
        hsm.call("set_user_quorum", hsm=IP, session=admin, value=2)
    assert error.value.code == "invalid_quorum"
    hsm.call("create_user", hsm=IP, session=admin, role="CO", username="officer2", password=PASSWORD)
    officer2 = login(hsm, "officer2", "CO")
    for session in (admin, officer2):
        hsm.call("register_quorum_key", hsm=IP, session=session)
    hsm.call("set_user_quorum", hsm=IP, session=admin, value=2)
    for op, args in (
        ("create_user", dict(role="CU", username="cu3", password=PASSWORD)),
        ("delete_user", dict(role="CU", username="cu2")),
    ):
        with pytest.raises(HsmError) as error:
            hsm.call(op, hsm=IP, session=admin, **args)
        assert error.value.code == "quorum_required"
        assert error.value.message == "Quorum approval is required for this operation"
    source = STATE.clusters["cluster-aaaaaaaaaaa"]
    assert sorted(source.users) == ["admin", "app_user", "cu1", "cu2", "officer2"]
    clone = hsm.clone("cluster-aaaaaaaaaaa", "cluster-ccccccccccc", ["10.2.0.1"])
    assert clone.user_quorum == 2
    hsm.call("set_user_quorum", hsm=IP, session=admin, value=1)
    hsm.call("create_user", hsm=IP, session=admin, role="CU", username="cu3", password=PASSWORD)
    dest = login(hsm, "admin", "CO", ip="10.2.0.1")
    with pytest.raises(HsmError) as error:  # the clone still has quorum
        hsm.call("sync_user", hsm=IP, session=admin, username="cu3", dest_hsm="10.2.0.1", dest_session=dest)
    assert error.value.code == "quorum_required" and "cu3" not in clone.users
