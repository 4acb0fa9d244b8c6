# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import random

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import (
    ClusterView, Key, User, UserSpec, apply_key_plan, apply_user_plan, group_pairs, key_differences,
    normalize_reference, pair_link, plan_alignment, plan_key_sync, plan_user_purge, plan_user_replication, plan_users,
    select_keys, with_pair_partners)


def users(*pairs):
    return [User(name, role) for name, role in pairs]


BASE = users(("admin", "CO"), ("app_user", "AU"), ("alice", "CU"), ("bob", "crypto-user"))


def key(ref, label, kcv, owner="alice", shared=(), key_id="", key_type="aes", length=32):
    return Key(ref, label=label, key_id=key_id, check_value=kcv, key_type=key_type, length=length, owner=owner,
               shared=shared)


# ------------------------------------------------------------------------------------------------------ users

def test_create_missing_and_leave_existing():
    view = ClusterView("c1", BASE)
    plan = plan_users([UserSpec("alice", "crypto-user"), UserSpec("Carol", "admin")], view)
    assert [s.name for s in plan.create] == ["carol"]
    assert not plan.delete and not plan.change_password and not plan.refused


def test_update_password_always_changes_existing_only():
    view = ClusterView("c1", BASE)
    plan = plan_users([UserSpec("alice"), UserSpec("dave")], view, update_password="always")
    assert [s.name for s in plan.change_password] == ["alice"]
    assert [s.name for s in plan.create] == ["dave"]


def test_last_admin_is_kept_unless_forced():
    view = ClusterView("c1", BASE)
    plan = plan_users([UserSpec("admin", "admin", "absent")], view)
    assert not plan.delete
    assert "last admin" in plan.refused[0][1] and "force=true" in plan.refused[0][1]
    assert [u.name for u in plan_users([UserSpec("admin", "admin", "absent")], view, force=True).delete] == ["admin"]


def test_admin_may_go_when_another_is_declared_in_the_same_run():
    view = ClusterView("c1", BASE)
    plan = plan_users([UserSpec("newadmin", "admin"), UserSpec("admin", "admin", "absent")], view)
    assert [u.name for u in plan.delete] == ["admin"] and not plan.refused


def test_key_owner_is_kept_unless_forced():
    view = ClusterView("c1", BASE, [key("1", "k1", "0xaa"), key("2", "k2", "0xbb")])
    plan = plan_users([UserSpec("alice", state="absent"), UserSpec("bob", state="absent")], view)
    assert [u.name for u in plan.delete] == ["bob"]
    assert plan.refused[0][0] == "alice" and "owns 2 key(s)" in plan.refused[0][1]


def test_role_change_is_refused_without_force_and_recreated_with_it():
    view = ClusterView("c1", BASE)
    plan = plan_users([UserSpec("bob", "admin")], view)
    assert "cannot change in place" in plan.refused[0][1] and not plan.changes
    forced = plan_users([UserSpec("bob", "admin")], view, force=True)
    assert [u.name for u in forced.delete] == ["bob"] and [s.role for s in forced.create] == ["admin"]


def test_builtin_users_are_never_touched():
    view = ClusterView("c1", BASE)
    plan = plan_users([UserSpec("app_user", "crypto-user"), UserSpec("app_user", state="absent")], view, force=True)
    assert not plan.changes and len(plan.refused) == 2


NAMES = ["admin", "alice", "bob", "carol", "dave", "erin"]


@pytest.mark.parametrize("seed", range(200))
def test_property_applying_a_user_plan_then_replanning_is_empty(seed):
    rng = random.Random(seed)
    actual = [User("admin", "admin"), User("app_user", "AU")]
    actual += [User(n, rng.choice(["admin", "crypto-user"])) for n in NAMES[1:] if rng.random() < 0.5]
    keys = [key(str(i), "k%d" % i, "0x%06x" % i, owner=u.name) for i, u in enumerate(actual)
            if u.role == "crypto-user" and rng.random() < 0.3]
    view = ClusterView("c", actual, keys)
    specs, seen = [], set()
    for unused_round in range(rng.randint(0, 6)):
        name = rng.choice(NAMES)
        if name in seen:
            continue
        seen.add(name)
        specs.append(UserSpec(name, rng.choice(["admin", "crypto-user"]), rng.choice(["present", "absent"])))
    force = rng.random() < 0.5
    plan = plan_users(specs, view, force=force)
    after = apply_user_plan(view, plan)
    again = plan_users(specs, after, force=force)
    assert not again.changes
    # Whatever was refused stays refused, and nothing else is.
    assert sorted(r[0] for r in again.refused) == sorted(r[0] for r in plan.refused)
    # Never lose the last admin or a key owner without force.
    if not force:
        assert any(u.role == "admin" for u in after.users)
        assert set(k.owner for k in keys) <= set(u.name for u in after.users)


def test_user_replication_plan():
    source = ClusterView("src", BASE + users(("carol", "CU"), ("dave", "CO")))
    dest = ClusterView("dst", users(("admin", "CO"), ("app_user", "AU"), ("alice", "CU"), ("dave", "CU")))
    todo, conflicts = plan_user_replication(source, dest)
    assert [u.name for u in todo] == ["bob", "carol"]
    assert conflicts[0][0] == "dave" and "admin on src but crypto-user on dst" in conflicts[0][1]
    todo = plan_user_replication(source, dest, names=["CAROL"])[0]
    assert [u.name for u in todo] == ["carol"]
    dest.users.extend(todo)
    assert plan_user_replication(source, dest, names=["carol"]) == ([], [])


# ------------------------------------------------------------------------------------------------------- keys

def test_keys_match_by_attributes_not_by_handle():
    src = [key("0x10", "a", "0x000001"), key("0x11", "b", "0x000002")]
    dest_keys = [key("0x99", "a", "0x000001")]  # same key, other reference
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), dest_keys)])
    assert [k.label for k in plan.already_present] == ["a"]
    assert [k.label for k in plan.replicate] == ["b"]


def test_same_reference_with_other_attributes_is_a_conflict():
    src = [key("0x10", "a", "0x000001")]
    dest_keys = [key("0x10", "other", "0x0000ff")]
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), dest_keys)])
    assert not plan.replicate and "already holds reference 0x10" in plan.conflicts[0][1]


def test_missing_owner_or_share_users_block_replication():
    src = [key("1", "a", "0x01", owner="alice", shared=("carol",)), key("2", "b", "0x02", owner="zed")]
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), [])])
    assert not plan.replicate
    assert sorted(plan.missing_users) == ["carol", "zed"]
    assert plan.missing_users["zed"] == ["key 2 label 'b'"]
    assert [(k.reference, names) for k, names in plan.blocked] == [("1", ["carol"]), ("2", ["zed"])]


def test_purge_is_off_by_default_and_the_guard_sees_the_whole_set():
    src = [key("1", "a", "0x01"), key("8", "kept-on-source", "0x88")]
    extra_only_here = key("5", "x", "0x55")
    extra_everywhere = key("6", "y", "0x66")
    copy_of_source_material = key("9", "renamed", "0x88")
    unknown = Key("7", label="z", owner="alice")
    d1 = (ClusterView("d1", BASE), [key("1", "a", "0x01"), extra_only_here, extra_everywhere, unknown,
                                    copy_of_source_material])
    d2 = (ClusterView("d2", BASE), [key("1", "a", "0x01"), extra_everywhere])
    plans = plan_key_sync(src, [d1, d2])
    assert not any(p.purge or p.kept for p in plans)
    assert sorted(k.label for k in plans[0].extra) == ["renamed", "x", "y", "z"]
    assert [k.label for k in plans[1].extra] == ["y"]
    plans = plan_key_sync(src, [d1, d2], purge=True)
    # y is on both clones only: both copies are candidates, so it would leave the set and stays on both.
    # "renamed" holds the material the source keeps under another label, so it may go.
    assert [k.label for k in plans[0].purge] == ["renamed"]
    assert sorted(pair[0].label for pair in plans[0].kept) == ["x", "y", "z"]
    assert [pair[0].label for pair in plans[1].kept] == ["y"] and not plans[1].purge
    assert "no cluster of the DR set keeps another copy" in plans[1].kept[0][1]
    # With delete_last_copies, y goes from every clone at once, marked as the last copies.
    plans = plan_key_sync(src, [d1, d2], purge=True, delete_last_copies=True)
    assert sorted(k.label for k in plans[0].purge) == ["renamed", "x", "y"]
    assert [k.label for k in plans[1].purge] == ["y"] and [k.label for k in plans[1].last_copies] == ["y"]
    assert [pair[0].label for pair in plans[0].kept] == ["z"]


def test_purge_labels_delete_only_the_retired_keys_from_every_clone():
    src = [key("1", "a", "0x01")]
    retired = key("6", "retired", "0x66")
    other = key("5", "other", "0x55")
    d1 = (ClusterView("d1", BASE), [key("1", "a", "0x01"), retired, other])
    d2 = (ClusterView("d2", BASE), [key("1", "a", "0x01"), retired])
    plans = plan_key_sync(src, [d1, d2], purge_labels=["retired"], delete_last_copies=True)
    assert [k.label for k in plans[0].purge] == ["retired"] and [k.label for k in plans[1].purge] == ["retired"]
    assert not plans[0].kept and [k.label for k in plans[0].extra] == ["retired", "other"]


def test_assumed_users_unblock_keys_in_check_mode():
    src = [key("1", "a", "0x01", owner="newcu")]
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), [])])
    assert plan.missing_users == {"newcu": ["key 1 label 'a'"]}
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), [])], assumed_users={"d": ["NEWCU"]})
    assert [k.label for k in plan.replicate] == ["a"] and not plan.missing_users


def test_user_purge_spares_the_login_key_owners_and_the_last_admin():
    source = ClusterView("s", [User("admin", "admin"), User("alice", "crypto-user")])
    dest = ClusterView("d", [User("admin", "admin"), User("alice", "crypto-user"), User("gone", "crypto-user"),
                             User("owner", "crypto-user"), User("oldadmin", "admin"), User("app", "appliance")],
                       [key("0x9", "k", "0x09", owner="owner")])
    remove, refused = plan_user_purge(source, dest, purge=True, protected=["oldadmin"])
    assert [u.name for u in remove] == ["gone"]
    assert sorted(name for name, unused in refused) == ["oldadmin", "owner"]
    # The owner's keys are deleted by an earlier step: it may go too.
    remove, refused = plan_user_purge(source, dest, names=["owner"], keys_leaving=["0x9"])
    assert [u.name for u in remove] == ["owner"] and not refused
    assert plan_user_purge(source, dest) == ([], [])


def test_duplicates_are_counted():
    src = [key("1", "a", "0x01"), key("2", "a", "0x01")]
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), [key("1", "a", "0x01")])])
    assert len(plan.already_present) == 1 and [k.reference for k in plan.replicate] == ["2"]


def test_reference_identity_when_attributes_are_unknown():
    src = [Key("262162", owner="alice"), Key("19", owner="bob")]
    dest = [Key("262162", owner="alice")]
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), dest)])
    assert [k.reference for k in plan.replicate] == ["19"]


def test_selection():
    keys = [key("0x0000000000000010", "a", "0x01", key_id="IT-1"), key("0x11", "b", "0x02", owner="bob"),
            key("0x12", "c", "0x03", key_type="generic-secret")]
    assert [k.label for k in select_keys(keys, owner="BOB")] == ["b"]
    assert [k.label for k in select_keys(keys, labels=["a", "c"])] == ["a", "c"]
    assert [k.label for k in select_keys(keys, ids=["IT-1"])] == ["a"]
    assert [k.label for k in select_keys(keys, references=["16", "0x12"])] == ["a", "c"]
    assert [k.label for k in select_keys(keys, attributes={"key-type": "generic-secret"})] == ["c"]
    assert normalize_reference("0x0000000000300006") == normalize_reference("3145734")


@pytest.mark.parametrize("seed", range(200))
def test_property_applying_key_plans_then_replanning_is_empty(seed):
    rng = random.Random(seed)
    pool = [key("0x%x" % i, "k%d" % (i % 7), "0x%06x" % i, owner=rng.choice(["alice", "bob"])) for i in range(30)]
    source = rng.sample(pool, rng.randint(0, 20))
    destinations = []
    for name in ("d1", "d2", "d3"):
        held = rng.sample(pool, rng.randint(0, 15))
        destinations.append((ClusterView(name, BASE), held))
    purge = rng.random() < 0.5
    plans = plan_key_sync(source, destinations, purge=purge)
    applied = [(view, apply_key_plan(keys, plan)) for (view, keys), plan in zip(destinations, plans)]
    again = plan_key_sync(source, applied, purge=purge)
    for plan in again:
        assert not plan.replicate and not plan.purge
    # Every source key now sits on every destination, and no key material vanished from all clusters.
    for view, keys in applied:
        identities = set(k.identity for k in keys)
        assert all(k.identity in identities for k in source)
    before = set(k.material for k in source) | set(k.material for pair in destinations for k in pair[1])
    after = set(k.material for k in source) | set(k.material for pair in applied for k in pair[1])
    assert before == after


# ------------------------------------------------------------------------------------- pairs, shares, drift, quorum

RSA_LINK = pair_link("rsa", "c0ffee")


def pair(private_ref, public_ref, label, owner="alice", shared=(), link=RSA_LINK, kcv="0x0a0b0c"):
    private = Key(private_ref, label=label, check_value=kcv, key_type="rsa", key_class="private-key", length=256,
                  owner=owner, shared=shared, token=True, pair=link, attributes={"sign": True})
    public = Key(public_ref, label=label + "-pub", check_value=kcv, key_type="rsa", key_class="public-key",
                 length=256, owner=owner, shared=shared, token=True, pair=link, attributes={"verify": True})
    return [public, private]


def test_a_pair_is_copied_whole_and_reported_as_one_entry():
    src = pair("0x20", "0x21", "tls")
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), [])])
    assert sorted(k.reference for k in plan.replicate) == ["0x20", "0x21"]
    [entry] = group_pairs(plan.replicate)
    assert [k.key_class for k in entry] == ["private-key", "public-key"]


def test_half_a_pair_on_the_clone_gets_its_partner():
    src = pair("0x20", "0x21", "tls")
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), [src[0]])])
    assert [k.reference for k in plan.replicate] == ["0x20"]


def test_a_pair_waits_whole_when_one_object_conflicts():
    src = pair("0x20", "0x21", "tls")
    clash = key("0x21", "someone-else", "0x0000ff")
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), [clash])])
    assert not plan.replicate
    assert sorted(k.reference for k, unused in plan.conflicts) == ["0x20", "0x21"]
    assert "other object of its key pair" in dict((k.reference, r) for k, r in plan.conflicts)["0x20"]


def test_selection_takes_the_partner_of_a_selected_pair_object_and_never_a_session_key():
    keys = pair("0x20", "0x21", "tls") + [key("0x30", "tls", "0x03"),
                                          Key("0x31", label="tls", check_value="0x04", token=False)]
    chosen = with_pair_partners(select_keys(keys, labels=["tls"]), keys)
    assert sorted(k.reference for k in chosen) == ["0x20", "0x21", "0x30"]


def test_share_users_block_until_replicated_and_then_travel_with_the_key():
    src = [key("1", "shared", "0x01", owner="alice", shared=("carol",))]
    [blocked] = plan_key_sync(src, [(ClusterView("d", BASE), [])])
    assert blocked.missing_users == {"carol": ["key 1 label 'shared'"]} and not blocked.replicate
    [ready] = plan_key_sync(src, [(ClusterView("d", BASE + users(("carol", "CU"))), [])])
    assert [k.reference for k in ready.replicate] == ["1"]


def test_session_keys_are_never_counted_copied_or_purged():
    session_key = Key("0x40", label="tmp", check_value="0x40", key_type="aes", owner="alice", token=False)
    on_clone = Key("0x41", label="tmp2", check_value="0x41", key_type="aes", owner="alice", token=False)
    [plan] = plan_key_sync([session_key], [(ClusterView("d", BASE), [on_clone])], purge=True)
    assert not (plan.replicate or plan.already_present or plan.extra or plan.purge or plan.kept)


def test_a_label_changed_after_cloning_is_drift_not_a_copy_or_a_conflict():
    src = [key("0x10", "renamed", "0x000001")]
    clone = [key("0x10", "original", "0x000001")]
    [plan] = plan_key_sync(src, [(ClusterView("d", BASE), clone)], purge=True)
    assert not (plan.replicate or plan.conflicts or plan.extra or plan.purge)
    [(source_key, clone_key, differences)] = plan.differing
    assert clone_key is clone[0] and differences == [("label", "renamed", "original")]


def test_attribute_and_share_differences_of_matched_keys_are_drift():
    mine = Key("1", label="k", check_value="0x01", key_type="aes", owner="alice", shared=("bob",), quorum=(0, 0),
               attributes={"decrypt": True, "wrap": False})
    theirs = Key("9", label="k", check_value="0x01", key_type="aes", owner="alice", shared=(), quorum=(0, 0),
                 attributes={"decrypt": False})
    assert key_differences(mine, theirs) == [("shared-users", ["bob"], []), ("decrypt", True, False)]
    [plan] = plan_key_sync([mine], [(ClusterView("d", BASE), [theirs])])
    assert plan.already_present == [mine] and len(plan.differing) == 1 and not plan.replicate


def _drifted():
    mine = Key("1", label="k-v2", check_value="0x01", key_type="aes", owner="alice", shared=("bob",),
               attributes={"decrypt": True, "extractable": False, "modifiable": True})
    theirs = Key("1", label="k", check_value="0x01", key_type="aes", owner="alice", shared=("carol",),
                 attributes={"decrypt": False, "extractable": True, "modifiable": True})
    [plan] = plan_key_sync([mine], [(ClusterView("d", BASE), [theirs])])
    return plan.differing


def test_report_aligns_nothing_and_align_sets_what_set_attribute_can_change_but_not_shares():
    assert plan_alignment(_drifted(), "report") == []
    [alignment] = plan_alignment(_drifted(), "align")
    assert alignment.changes == [("label", "k", "k-v2"), ("decrypt", False, True)]
    assert alignment.share == [] and alignment.unshare == [] and alignment.work
    assert [name for name, unused in alignment.left] == ["shared-users", "extractable"]
    assert "align_with_shares" in dict(alignment.left)["shared-users"]
    assert "cannot be changed after a key is made" in dict(alignment.left)["extractable"]


def test_align_with_shares_shares_what_the_source_shares_and_unshares_the_rest():
    [alignment] = plan_alignment(_drifted(), "align_with_shares")
    assert alignment.share == ["bob"] and alignment.unshare == ["carol"]
    assert [name for name, unused in alignment.left] == ["extractable"]


def test_a_copy_that_is_not_modifiable_is_left_as_it_is():
    [(mine, theirs, differences)] = _drifted()
    theirs.attributes["modifiable"] = False
    [alignment] = plan_alignment([(mine, theirs, differences)], "align_with_shares")
    assert not alignment.work and len(alignment.left) == 4


def test_alignment_of_keys_without_differences_has_no_work():
    same = Key("1", label="k", check_value="0x01", key_type="aes", owner="alice")
    [plan] = plan_key_sync([same], [(ClusterView("d", BASE), [same])])
    assert plan_alignment(plan.differing, "align_with_shares") == []


def test_keys_with_a_quorum_value_to_copy_or_purge_are_flagged():
    guarded = Key("1", label="q", check_value="0x01", key_type="aes", owner="alice", quorum=(2, 0))
    plain = Key("2", label="p", check_value="0x02", key_type="aes", owner="alice", quorum=(0, 0))
    [plan] = plan_key_sync([guarded, plain], [(ClusterView("d", BASE), [])])
    assert plan.quorum == [guarded]
    [present] = plan_key_sync([guarded], [(ClusterView("d", BASE), [guarded])])
    assert present.quorum == []


def test_quorum_enabled_needs_an_admin_with_a_quorum_key():
    assert ClusterView("c", [User("admin", "CO", quorum=True)]).quorum_enabled
    assert not ClusterView("c", [User("alice", "CU", quorum=True)]).quorum_enabled
