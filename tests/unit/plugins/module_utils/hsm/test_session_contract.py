# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The session contract: the same cases against both drivers, driving the simulator's own client tools (sim_tools).

Each case gets a fresh simulated source cluster and, where it needs them, a clone of it or an unrelated cluster.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm import sdk3
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.driver import ClientSettings, get_driver
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmError, LoginFailed
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import is_lineage_error
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmDriver, HsmSession
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import User, UserSpec
from ansible_collections.hsmops.cloudhsm.plugins.modules import cloudhsm_user
from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm.sim_tools import (  # noqa: F401  pylint: disable=unused-import
    ADMIN_PW, CU_PW, NEW_PW, DrPair, hsm, testing, tool_path)


@pytest.fixture(params=["3", "5"], ids=["sdk3", "sdk5"])
def pair(request, hsm, tmp_path, tool_path):  # pylint: disable=redefined-outer-name,unused-argument
    return DrPair(request.param, hsm, str(tmp_path / "contract"))


def run_module(main, args, capsys):
    """The module's result; no password may show in it."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    out = capsys.readouterr().out
    assert ADMIN_PW not in out and CU_PW not in out
    return json.loads(out)


def names(users):
    return sorted(user.name for user in users)


# ------------------------------------------------------------------------------------------------- the interface

def test_driver_and_session_implement_the_whole_interface(pair):
    driver = get_driver(pair.sdk, pair.settings)
    session = driver.open([pair.source], keys=False)
    try:
        assert isinstance(driver, HsmDriver) and driver.sdk == pair.sdk
        assert isinstance(session, HsmSession)
        assert not getattr(type(session), "__abstractmethods__", None)
        assert session.targets() == [pair.source]
        assert session.same_cluster(pair.source, pair.source)
    finally:
        session.close()


def test_activate_sets_the_first_admin_password_once(pair):
    session = pair.open([pair.source], username=None)
    try:
        assert not session.read_view(pair.source).activated
        first = session.activate(pair.source, ADMIN_PW, default_password="password")
        again = session.activate(pair.source, ADMIN_PW, default_password="password")
    finally:
        session.close()
    assert first.ok, first.message
    assert not again.ok and again.data == "already_active"
    session = pair.open([pair.source])
    try:
        view = session.read_view(pair.source)
    finally:
        session.close()
    assert view.activated and view.name == pair.source
    assert [user.role for user in view.users if user.name == "admin"] == ["admin"]


def test_a_refused_login_raises_without_the_password(pair):
    pair.activated()
    with pytest.raises(LoginFailed) as refused:
        pair.open([pair.source], password="Wrong-Pass9").close()
    assert "Wrong-Pass9" not in str(refused.value)
    assert "admin" in str(refused.value)


def test_users_are_created_changed_and_deleted(pair):
    pair.activated()
    session = pair.open([pair.source])
    try:
        created = [session.create_user(pair.source, UserSpec("alice", "crypto-user"), CU_PW),
                   session.create_user(pair.source, UserSpec("carol", "crypto-user"), CU_PW),
                   session.create_user(pair.source, UserSpec("bob", "admin"), ADMIN_PW)]
        twice = session.create_user(pair.source, UserSpec("alice", "crypto-user"), CU_PW)
        changed = session.change_password(pair.source, UserSpec("carol", "crypto-user"), NEW_PW)
        after = session.read_view(pair.source)
        bob = after.user("bob")
        deleted = session.delete_user(pair.source, bob)
        final = session.read_view(pair.source)
    finally:
        session.close()
    assert all(result.ok for result in created), created
    assert not twice.ok
    assert changed.ok, changed.message
    assert {"alice", "bob", "carol"} <= set(names(after.users))
    assert after.user("alice").role == "crypto-user" and bob.role == "admin"
    assert deleted.ok, deleted.message
    assert final.user("bob") is None and final.user("alice") is not None
    # The changed password is the one that logs in now.
    pair.open([pair.source], username="carol", role="crypto-user", password=NEW_PW).close()
    with pytest.raises(LoginFailed):
        pair.open([pair.source], username="carol", role="crypto-user", password=CU_PW).close()


def test_keys_are_generated_found_shared_and_deleted(pair):
    pair.activated().with_crypto_users("alice", "carol")
    session = pair.open([pair.source], username="alice", role="crypto-user", password=CU_PW, keys=True)
    try:
        key = session.generate_key(pair.source, dict(label="contract-aes", key_type="aes", length_bytes=32,
                                                     key_id="CT-1", extractable=False))
        with pytest.raises(HsmError) as unknown:
            session.generate_key(pair.source, dict(label="contract-x", key_type="aes", length_bytes=16,
                                                   share_with=["nobody"]))
        wrong_id = session.find_keys(pair.source, "contract-aes", "other")
        public, private = session.generate_key_pair(pair.source, dict(key_type="rsa", label="contract-rsa",
                                                                      modulus_bits=2048, extractable=False))
        found = session.find_keys(pair.source, "contract-aes")
        privates = session.find_keys(pair.source, "contract-rsa", key_class="private-key")
        shared = session.share_key(pair.source, key, "carol")
        after_share = session.find_keys(pair.source, "contract-aes")
        doomed = session.generate_key(pair.source, dict(label="contract-doomed", key_type="aes", length_bytes=16))
        deleted = session.delete_key(pair.source, doomed)
        deleted_again = session.delete_key(pair.source, doomed)
        gone = session.find_keys(pair.source, "contract-doomed")
    finally:
        session.close()
    assert (key.label, key.key_id, key.key_type, key.length, key.extractable, key.owner) == (
        "contract-aes", "CT-1", "aes", 32, False, "alice")
    assert "nobody" in str(unknown.value)
    assert wrong_id == []
    assert public.key_class == "public-key" and private.key_class == "private-key"
    assert public.pair and public.pair == private.pair
    assert [k.reference for k in found] == [key.reference]
    assert [k.reference for k in privates] == [private.reference]
    assert shared.ok, shared.message
    assert list(after_share[0].shared) == ["carol"]
    assert deleted.ok, deleted.message
    assert not deleted_again.ok
    assert gone == []


def test_key_listing_matches_the_capability_flag(pair):
    pair.activated().with_crypto_users("alice")
    keys_session = pair.open([pair.source], username="alice", role="crypto-user", password=CU_PW, keys=True)
    try:
        keys_session.generate_key(pair.source, dict(label="contract-aes", key_type="aes", length_bytes=32))
        keys_session.generate_key_pair(pair.source, dict(key_type="ec", label="contract-ec", curve="secp384r1"))
    finally:
        keys_session.close()
    session = pair.open([pair.source])
    try:
        listed = session.read_view(pair.source, keys=True).keys
        detailed = session.read_view(pair.source, keys=True, key_details=True).keys
    finally:
        session.close()
    owners = sorted(set(key.owner for key in listed))
    assert owners == ["alice"] and len(listed) == 3  # the AES key and both keys of the pair
    assert sorted(key.label for key in detailed) == ["contract-aes", "contract-ec", "contract-ec"]
    labels_listed = sorted(str(key.label) for key in listed)
    if session.selects_keys_by_attribute:
        assert labels_listed == ["contract-aes", "contract-ec", "contract-ec"]
    else:
        assert labels_listed == ["None"] * 3  # handles, owners and shares only


def test_mtls_follows_the_capability_flag(pair):
    pair.activated()
    session = pair.open([pair.source])
    try:
        if session.manages_mtls:
            assert session.list_trust_anchors(pair.source) == [] or session.list_trust_anchors(pair.source)
            assert session.get_mtls_enforcement(pair.source) == "none"
        else:
            for call in (lambda: session.list_trust_anchors(pair.source),
                         lambda: session.get_mtls_enforcement(pair.source),
                         lambda: session.set_mtls_enforcement(pair.source, "none")):
                with pytest.raises(HsmError) as refused:
                    call()
                assert "SDK 5" in str(refused.value)
    finally:
        session.close()


# ------------------------------------------------------------------------------------------------- replication

def test_users_and_keys_replicate_to_the_clone_once(pair):
    pair.activated().with_crypto_users("alice")
    pair.with_keys("contract-old")
    pair.with_clone()
    pair.with_keys("contract-new")  # after the backup: only the source holds it
    session = pair.open([pair.source, pair.clone])
    try:
        assert session.targets() == [pair.source, pair.clone]
        assert session.same_cluster(pair.source, pair.source) and not session.same_cluster(pair.source, pair.clone)
        assert session.create_user(pair.source, UserSpec("dave", "crypto-user"), CU_PW).ok
        source_view = session.read_view(pair.source, keys=True)
        clone_before = session.read_view(pair.clone, keys=True)
        dave = source_view.user("dave")
        users = session.replicate_users([dave], pair.source, pair.clone)
        users_again = session.replicate_users([dave], pair.source, pair.clone)
        missing = [key for key in source_view.keys
                   if key.reference not in set(k.reference for k in clone_before.keys)]
        keys = session.replicate_keys(missing, pair.source, pair.clone)
        keys_again = session.replicate_keys(missing[:1], pair.source, pair.clone)
        clone_after = session.read_view(pair.clone, keys=True)
    finally:
        session.close()
    assert clone_before.name == pair.clone and clone_before.user("dave") is None
    assert "alice" in names(clone_before.users)  # the clone came from a backup holding alice
    assert [r.ok for r in users] == [True], users
    assert not users_again[0].ok
    assert len(missing) == 1 and all(r.ok for r in keys), keys
    assert not keys_again[0].ok
    assert clone_after.user("dave") is not None
    assert set(k.reference for k in missing) <= set(k.reference for k in clone_after.keys)


def test_a_cluster_of_another_lineage_is_told_apart(pair):
    pair.activated()
    pair.hsm.cluster(pair.unrelated, [pair.ips[pair.unrelated]], hsm_type=pair.hsm_type)
    pair.configure([pair.source, pair.unrelated])
    session = pair.open([pair.unrelated], username=None)
    try:
        assert session.activate(pair.unrelated, ADMIN_PW, default_password="password").ok
    finally:
        session.close()
    session = pair.open([pair.source, pair.unrelated])
    try:
        admin = session.read_view(pair.source).user("admin")
        result = session.replicate_users([admin], pair.source, pair.unrelated)[0]
    finally:
        session.close()
    assert not result.ok and is_lineage_error(result.message), result.message


def test_a_cluster_missing_from_the_configuration_is_named(pair):
    pair.activated()
    with pytest.raises(HsmError) as missing:
        session = pair.open(["cluster-notconfigured"])
        try:
            session.read_view("cluster-notconfigured")
        finally:
            session.close()
    assert "cluster-notconfigured" in str(missing.value)


# ------------------------------------------------------------------------------------------------- no clusters given

def test_omitted_clusters_reach_the_single_cluster_configuration(pair, tmp_path, capsys):
    """cloudhsm_user documents `clusters` as optional for a single-cluster configuration: a session opened without
    targets works on the one configured cluster (SDK 5 used to fail with list(None))."""
    pair.activated().with_crypto_users("dave")
    root = testing.tool_root(pair.sdk, str(tmp_path / "single"), pair.hsm.endpoint)
    # As roles/cloudhsm_client configures a host for one cluster: SDK 3 by an HSM's IP, SDK 5 by the cluster id.
    command = (["configure", "-a", pair.ips[pair.source]] if pair.sdk == "3"
               else ["configure-cli", "--cluster-id", pair.source, "--region", "us-east-1"])
    result = testing.run_tool(root, command[0], command[1:], endpoint=pair.hsm.endpoint)
    assert result.returncode == 0, result.stdout + result.stderr
    settings = ClientSettings(bin_dir=os.path.join(root, "bin"), timeout=30)
    # The module as a playbook runs it, clusters left out.
    args = dict(sdk=pair.sdk, client_bin_dir=settings.bin_dir, timeout=30, username="admin", password=ADMIN_PW,
                users=[dict(name="erin", role="crypto-user", password=CU_PW)])
    first, again = run_module(cloudhsm_user.main, args, capsys), run_module(cloudhsm_user.main, args, capsys)
    assert first.get("failed") is not True, first
    assert first["changed"] and [report["created"] for report in first["clusters"]] == [["erin"]]
    assert not again["changed"] and len(again["clusters"]) == 1
    for targets in (None, []):
        session = get_driver(pair.sdk, settings).open(targets, secrets=[ADMIN_PW])
        try:
            session.login("admin", "admin", ADMIN_PW, targets=session.targets())
            assert len(session.targets()) == 1
            view = session.read_view(session.targets()[0])
        finally:
            session.close()
        assert {"admin", "dave", "erin"} <= set(names(view.users))
    # A cluster id names the one cluster of that configuration too.
    session = get_driver(pair.sdk, settings).open([pair.source], secrets=[ADMIN_PW])
    try:
        session.login("admin", "admin", ADMIN_PW, targets=session.targets())
        assert "dave" in names(session.read_view(pair.source).users)
    finally:
        session.close()


def test_a_user_read_from_a_cluster_is_deleted_there(pair):
    pair.activated().with_crypto_users("dave").with_clone()
    session = pair.open([pair.source, pair.clone])
    try:
        view = session.read_view(pair.clone)
        dave = view.user("dave")
        assert isinstance(dave, User)
        assert session.delete_user(pair.clone, dave).ok
        assert session.read_view(pair.clone).user("dave") is None
    finally:
        session.close()


# ------------------------------------------------------------------------------------------------- the SDK 3 map

def test_sdk3_cluster_ids_resolve_through_the_cluster_map(tmp_path):
    config = tmp_path / "SyncClusters.cfg"
    config.write_text(json.dumps({"servers": [{"hostname": "10.9.0.1"}, {"hostname": "10.9.0.2"}]}))
    servers = sdk3.read_servers(str(config))
    assert sdk3.read_cluster_map(str(config)) is None
    with pytest.raises(HsmError) as unmapped:
        sdk3.resolve_target(servers, None, "cluster-abcdefghijk", str(config))
    assert "no cluster map" in str(unmapped.value) and "cloudhsm_sync_config" in str(unmapped.value)
    (tmp_path / "SyncClusters.clusters.json").write_text(json.dumps({"clusters": [
        {"cluster_id": "cluster-abcdefghijk", "hostname": "10.9.0.1"},
        {"cluster_id": "cluster-bcdefghijkl", "hostname": "10.9.0.2"}]}))
    cluster_map = sdk3.read_cluster_map(str(config))
    assert [sdk3.resolve_target(servers, cluster_map, name, str(config))
            for name in ("cluster-bcdefghijkl", "cluster-abcdefghijk", "1", "10.9.0.1")] == [1, 0, 1, 0]
    with pytest.raises(HsmError) as unknown:
        sdk3.resolve_target(servers, cluster_map, "cluster-cdefghijklm", str(config))
    assert "cluster-cdefghijklm" in str(unknown.value) and "cluster-abcdefghijk, cluster-bcdefghijkl" in str(unknown.value)
    (tmp_path / "SyncClusters.clusters.json").write_text("{not json")
    with pytest.raises(HsmError, match="SyncClusters.clusters.json is not JSON"):
        sdk3.read_cluster_map(str(config))


def test_sdk3_a_single_server_without_a_map_serves_the_cluster_named(tmp_path):
    config = tmp_path / "cloudhsm_mgmt_util.cfg"
    config.write_text(json.dumps({"servers": [{"hostname": "10.9.0.1"}]}))
    servers = sdk3.read_servers(str(config))
    assert sdk3.resolve_target(servers, None, "cluster-abcdefghijk", str(config)) == 0
