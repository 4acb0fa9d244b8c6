# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Values of the CloudHSM data plane and the pure planners that diff desired state against actual state.

Nothing here runs a tool: the drivers turn tool output into ``User`` and ``Key`` values, the planners decide, and
the drivers carry the plan out. Keeping decisions pure is what lets the tests check them exhaustively.
"""

from __future__ import annotations

import hashlib
from collections import Counter

ROLE_ADMIN = "admin"
ROLE_CRYPTO_USER = "crypto-user"
ROLE_UNACTIVATED_ADMIN = "unactivated-admin"
ROLE_APPLIANCE = "appliance"
MANAGEABLE_ROLES = (ROLE_ADMIN, ROLE_CRYPTO_USER)

# SDK 3 user types -> SDK 5 roles (reference: admin = CO/PCO, crypto-user = CU, unactivated-admin = PRECO, AU).
SDK3_TYPE_TO_ROLE = {
    "CO": ROLE_ADMIN,
    "PCO": ROLE_ADMIN,
    "CU": ROLE_CRYPTO_USER,
    "PRECO": ROLE_UNACTIVATED_ADMIN,
    "AU": ROLE_APPLIANCE,
}
ROLE_TO_SDK3_TYPE = {ROLE_ADMIN: "CO", ROLE_CRYPTO_USER: "CU", ROLE_UNACTIVATED_ADMIN: "PRECO"}


def normalize_role(role):
    """Map any role spelling the tools print to one of the role constants."""
    text = (role or "").strip()
    if text.upper() in SDK3_TYPE_TO_ROLE:
        return SDK3_TYPE_TO_ROLE[text.upper()]
    lowered = text.lower()
    if lowered.startswith("internal"):
        return ROLE_APPLIANCE
    if lowered in ("crypto_user", "cryptouser", "cu"):
        return ROLE_CRYPTO_USER
    return lowered


class _Value(object):
    """Compared and hashed by what ``_key`` returns, so equal values from two listings meet in sets and dicts."""

    __slots__ = ()

    def _key(self):
        raise NotImplementedError

    def __eq__(self, other):
        return isinstance(other, type(self)) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())


class User(_Value):
    """An HSM user as one cluster (or SDK 3 server) reports it. Names are case-insensitive, kept lowercase."""

    __slots__ = ("name", "role", "locked", "coverage", "user_id", "quorum")

    def __init__(self, name, role, locked=False, coverage="full", user_id=None, quorum=False):
        self.name = name.lower()
        self.role = normalize_role(role)
        self.locked = locked
        self.coverage = coverage
        self.user_id = user_id
        # The user registered a quorum (M of N) signing key: SDK 5 "quorum" entries, SDK 3 MofnPubKey YES.
        self.quorum = quorum

    def _key(self):
        return (self.name, self.role, self.locked, self.coverage, self.user_id)

    def __repr__(self):
        return "User(%r, %r)" % (self.name, self.role)

    def to_dict(self):
        result = {"username": self.name, "role": self.role, "locked": self.locked, "cluster_coverage": self.coverage}
        if self.user_id is not None:
            result["user_id"] = self.user_id
        if self.quorum:
            result["quorum"] = True
        return result


# Key attributes that can change after a key is made (key set-attribute / setAttribute) or that differ between
# otherwise equal keys; label and id are Key fields of their own.
DRIFT_ATTRIBUTES = ("encrypt", "decrypt", "wrap", "unwrap", "sign", "verify", "derive", "extractable", "sensitive",
                    "modifiable", "trusted", "wrap-with-trusted", "private", "destroyable")


def pair_link(key_type, public_value):
    """The value that ties the public and the private key of one pair: both carry the same modulus (RSA) or EC
    point, so a short digest of it names the pair. None for secret keys or when the value is unknown."""
    if not public_value or public_value == "inconsistent" or key_type not in ("rsa", "ec"):
        return None
    return "%s:%s" % (key_type, hashlib.sha256(public_value.lower().encode()).hexdigest()[:16])


class Key(_Value):
    """A key as one cluster reports it.

    ``identity`` is what makes two keys on two clusters "the same key": the stable attributes (type, label, id,
    key check value) when the tool shows them. When it does not (an SDK 5 admin listing, SDK 3 CMU), the reference
    (handle) is combined with what is known (label or owner); replication keeps the reference, so this still
    matches copies and never matches two different keys that merely share a handle number on two clusters.
    """

    __slots__ = ("reference", "label", "key_id", "check_value", "key_type", "key_class", "length", "owner",
                 "shared", "extractable", "coverage", "token", "pair", "quorum", "attributes")

    def __init__(self, reference, label=None, key_id=None, check_value=None, key_type=None, key_class=None,
                 length=None, owner=None, shared=(), extractable=None, coverage=None, token=None, pair=None,
                 quorum=None, attributes=None):
        self.reference = reference
        self.label = label
        self.key_id = key_id
        self.check_value = check_value.lower() if check_value else None
        self.key_type = key_type
        self.key_class = key_class
        self.length = length
        self.owner = owner.lower() if owner else None
        self.shared = tuple(sorted(name.lower() for name in shared))
        self.extractable = extractable
        self.coverage = coverage
        # False for a session key (listings used for sync leave those out), None when the tool does not say.
        self.token = token
        # What links the public and the private key of one pair: the same value on both (the tools print no link,
        # so the drivers derive it from the modulus or EC point they share); None for secret keys or when unknown.
        self.pair = pair
        # (manage, use) key quorum values, None when unknown.
        self.quorum = tuple(quorum) if quorum is not None else None
        # The attributes that can change after a key is made and matter for drift ({SDK 5 name: value}).
        self.attributes = dict(attributes or {})

    @property
    def identity(self):
        if self.check_value:
            return ("attributes", self.key_type, self.label, self.key_id or "", self.check_value)
        return ("reference", self.reference, self.label, self.owner)

    @property
    def material(self):
        """What says two keys hold the same secret: type, length and key check value (None when unknown)."""
        if not self.check_value:
            return None
        return (self.key_type, self.length, self.check_value)

    @property
    def users(self):
        """Every user the key needs on a cluster it is copied to: its owner and the users it is shared with."""
        return tuple(name for name in ((self.owner,) + self.shared) if name)

    def _key(self):
        return (self.reference, self.label, self.key_id, self.check_value, self.key_type, self.key_class,
                self.length, self.owner, self.shared, self.extractable)

    def __repr__(self):
        return "Key(%r, label=%r)" % (self.reference, self.label)

    def describe(self):
        """Short text naming the key for messages."""
        parts = ["key %s" % self.reference]
        if self.label:
            parts.append("label %r" % self.label)
        if self.key_id:
            parts.append("id %s" % self.key_id)
        return " ".join(parts)

    def to_dict(self):
        return {
            "key_reference": self.reference,
            "label": self.label,
            "id": self.key_id,
            "check_value": self.check_value,
            "key_type": self.key_type,
            "class": self.key_class,
            "length_bytes": self.length,
            "owner": self.owner,
            "shared_users": list(self.shared),
            "extractable": self.extractable,
            "token": self.token,
            "pair": self.pair,
            "quorum_values": list(self.quorum) if self.quorum is not None else None,
            "attributes": dict(self.attributes),
        }


class ClusterView(object):
    """What a driver read from one cluster (SDK 5 cluster id, or SDK 3 server): its users and its keys."""

    def __init__(self, name, users=None, keys=None):
        self.name = name
        self.users = list(users or [])
        self.keys = list(keys or [])

    @property
    def quorum_enabled(self):
        """True when an admin registered a quorum (M of N) key: user management may then need approvals, which
        the tools ask for interactively. The M value itself is in no output the drivers read."""
        return any(user.quorum and user.role == ROLE_ADMIN for user in self.users)

    @property
    def activated(self):
        return not any(user.role == ROLE_UNACTIVATED_ADMIN for user in self.users)

    def user(self, name):
        name = name.lower()
        for user in self.users:
            if user.name == name:
                return user
        return None

    def owned_key_counts(self):
        return Counter(key.owner for key in self.keys if key.owner)


# ---------------------------------------------------------------------------------------------------------------
# Users


class UserSpec(object):
    """One declared user: name, role, state. The password stays with the module; planners never see it."""

    __slots__ = ("name", "role", "state")

    def __init__(self, name, role=ROLE_CRYPTO_USER, state="present"):
        self.name = name.lower()
        self.role = normalize_role(role)
        self.state = state

    def __repr__(self):
        return "UserSpec(%r, %r, %r)" % (self.name, self.role, self.state)


class UserPlan(object):
    """What to do on one cluster: ``create``/``change_password`` hold UserSpecs, ``delete`` holds Users,
    ``refused`` holds (name, reason) pairs the module reports as failures."""

    def __init__(self):
        self.create = []
        self.delete = []
        self.change_password = []
        self.refused = []

    @property
    def changes(self):
        return bool(self.create or self.delete or self.change_password)


def plan_users(specs, view, update_password="on_create", force=False):
    """Diff declared users against one cluster's users.

    Safety: the last admin and a user owning keys are only deleted with ``force``; a role cannot change in place
    (the tools have no command for it), so a role mismatch is refused unless ``force`` asks to delete and recreate.
    """
    plan = UserPlan()
    # Admins after the plan, so "last admin" holds whatever order the specs come in.
    admins = set(user.name for user in view.users if user.role == ROLE_ADMIN)
    for spec in specs:
        current = view.user(spec.name)
        if spec.state == "present" and spec.role == ROLE_ADMIN and (
                current is None or (force and current.role in MANAGEABLE_ROLES)):
            admins.add(spec.name)
    owned = view.owned_key_counts()
    for spec in specs:
        current = view.user(spec.name)
        if spec.state == "absent":
            if current is None:
                continue
            if current.role not in MANAGEABLE_ROLES:
                plan.refused.append((spec.name, "user %s is a built-in %s user and cannot be deleted." % (
                    spec.name, current.role)))
                continue
            reason = _deletion_blocker(current, admins, owned)
            if reason and not force:
                plan.refused.append((spec.name, reason + " Set force=true to delete it anyway."))
                continue
            plan.delete.append(current)
            admins.discard(current.name)
            continue
        if current is None:
            plan.create.append(spec)
            continue
        if current.role not in MANAGEABLE_ROLES:
            plan.refused.append((spec.name, "user %s is a built-in %s user and cannot be managed." % (
                spec.name, current.role)))
            continue
        if current.role != spec.role:
            if not force:
                plan.refused.append((spec.name, (
                    "user %s exists with role %s but is declared %s; a role cannot change in place. "
                    "Delete the user (state=absent) and create it again, or set force=true to do both." % (
                        spec.name, current.role, spec.role))))
                continue
            reason = _deletion_blocker(current, admins, owned)
            if reason:
                plan.refused.append((spec.name, reason + " Its role cannot be changed."))
                continue
            plan.delete.append(current)
            plan.create.append(spec)
            if current.role == ROLE_ADMIN:
                admins.discard(current.name)
            continue
        if update_password == "always":
            plan.change_password.append(spec)
    return plan


def _deletion_blocker(user, admins, owned):
    if user.role not in MANAGEABLE_ROLES:
        return "user %s is a built-in %s user." % (user.name, user.role)
    if user.role == ROLE_ADMIN and admins == set([user.name]):
        return "user %s is the last admin; deleting it would leave nobody able to manage users." % user.name
    if owned.get(user.name):
        return "user %s owns %d key(s); the HSM refuses to delete a key owner and the keys would be lost." % (
            user.name, owned[user.name])
    return None


def apply_user_plan(view, plan):
    """The users a cluster would have after ``plan`` (pure; used by tests and check mode)."""
    deleted = set(user.name for user in plan.delete)
    users = [user for user in view.users if user.name not in deleted]
    users.extend(User(spec.name, spec.role) for spec in plan.create)
    return ClusterView(view.name, users, view.keys)


def plan_user_replication(source, destination, names=None):
    """Users of ``source`` to replicate to ``destination``: manageable users it lacks.

    Returns (to_replicate, conflicts); a conflict is a user present on both with different roles.
    """
    wanted = set(name.lower() for name in names) if names else None
    to_replicate, conflicts = [], []
    for user in source.users:
        if user.role not in MANAGEABLE_ROLES or (wanted is not None and user.name not in wanted):
            continue
        current = destination.user(user.name)
        if current is None:
            to_replicate.append(user)
        elif current.role != user.role:
            conflicts.append((user.name, "user %s is %s on %s but %s on %s; replicate cannot change a role." % (
                user.name, user.role, source.name, current.role, destination.name)))
    return to_replicate, conflicts


def plan_user_purge(source, destination, purge=False, names=None, protected=(), keys_leaving=()):
    """Users of ``destination`` that ``source`` lacks and that are to be deleted: all of them with ``purge``, those
    named in ``names`` otherwise. Returns (to_delete, refused): never a ``protected`` user (the login), never a
    built-in user, never the last admin, never a user owning keys that stay (``keys_leaving``: references of the
    destination keys an earlier step deletes).
    """
    wanted = set(name.lower() for name in names or [])
    protected = set(name.lower() for name in protected)
    leaving = set(normalize_reference(ref) for ref in keys_leaving)
    owned = Counter(key.owner for key in destination.keys
                    if key.owner and normalize_reference(key.reference) not in leaving)
    admins = set(user.name for user in destination.users if user.role == ROLE_ADMIN)
    to_delete, refused = [], []
    for user in destination.users:
        if source.user(user.name) is not None or not (purge or user.name in wanted):
            continue
        if user.role not in MANAGEABLE_ROLES:
            continue
        if user.name in protected:
            refused.append((user.name, "user %s is the user this run logs in with; it is never purged." % user.name))
            continue
        reason = _deletion_blocker(user, admins, owned)
        if reason:
            refused.append((user.name, reason + " It is kept; purge its keys first."))
            continue
        admins.discard(user.name)
        to_delete.append(user)
    return to_delete, refused


# ---------------------------------------------------------------------------------------------------------------
# Keys


def select_keys(keys, owner=None, labels=None, ids=None, references=None, attributes=None):
    """Keys matching every given criterion (each list criterion matches any of its values)."""
    def match(key):
        if owner and key.owner != owner.lower():
            return False
        if labels and key.label not in labels:
            return False
        if ids and (key.key_id or "") not in ids:
            return False
        if references and normalize_reference(key.reference) not in set(normalize_reference(r) for r in references):
            return False
        for name, value in (attributes or {}).items():
            if str(_attribute(key, name)).lower() != str(value).lower():
                return False
        return True
    return [key for key in keys if match(key)]


_ATTRIBUTE_FIELDS = {"label": "label", "id": "key_id", "check-value": "check_value", "key-type": "key_type",
                     "class": "key_class", "key-length-bytes": "length", "extractable": "extractable"}


def _attribute(key, name):
    return getattr(key, _ATTRIBUTE_FIELDS.get(name.replace("_", "-"), name.replace("-", "_")), None)


def normalize_reference(reference):
    """SDK 5 prints references as 0x-prefixed 16-digit hex, SDK 3 as decimal handles; compare as integers."""
    text = str(reference).strip().lower()
    try:
        return int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        return text


class KeyPlan(object):
    """What to do on one destination.

    ``replicate``: source keys missing there; ``already_present``: source keys it holds; ``extra``: its keys the
    source lacks (drift, whether or not they are purged); ``purge``: its keys to delete; ``last_copies``: the keys
    of ``purge`` whose material no cluster keeps after the plan; ``kept``: (key, reason) purge candidates kept for
    safety; ``conflicts``: (key, reason) source keys that cannot be replicated as they are; ``blocked``: (key,
    [user names]) source keys whose owner or share users the destination lacks; ``missing_users``: user name ->
    descriptions of the keys that need it; ``differing``: (source key, destination key, differences) keys both hold
    whose attributes or shares differ (see ``key_differences``; reported, never changed); ``quorum``: keys to copy
    or delete that carry a key quorum value.
    """

    def __init__(self, destination):
        self.destination = destination
        self.replicate = []
        self.already_present = []
        self.extra = []
        self.purge = []
        self.last_copies = []
        self.kept = []
        self.conflicts = []
        self.blocked = []
        self.missing_users = {}
        self.differing = []
        self.quorum = []


def key_differences(source, destination):
    """[(attribute, source value, destination value)] of two copies of one key: label, id, shared users, key quorum
    values and the drift attributes both listings show (an attribute one side does not show is not drift)."""
    differences = []
    for name, mine, theirs in (("label", source.label, destination.label),
                               ("id", source.key_id or "", destination.key_id or "")):
        if mine != theirs:
            differences.append((name, mine, theirs))
    if source.shared != destination.shared:
        differences.append(("shared-users", list(source.shared), list(destination.shared)))
    if source.quorum is not None and destination.quorum is not None and source.quorum != destination.quorum:
        differences.append(("key-quorum-values", list(source.quorum), list(destination.quorum)))
    for name in DRIFT_ATTRIBUTES:
        if name in source.attributes and name in destination.attributes \
                and source.attributes[name] != destination.attributes[name]:
            differences.append((name, source.attributes[name], destination.attributes[name]))
    return differences


# What ``attribute_drift: align`` sets on a clone's copy with key set-attribute: the label and the usage flags that
# AWS lists as changeable after a key is made (SDK 3 setAttribute documents label, encrypt, decrypt, wrap and unwrap;
# SDK 5 key set-attribute the other modifiable usage flags). The id is left out: AWS does not document the form
# set-attribute takes it in. Everything else (extractable, sensitive, private, modifiable, destroyable, key quorum
# values) is fixed when a key is made, so it stays reported.
ALIGNABLE_ATTRIBUTES = ("label", "encrypt", "decrypt", "wrap", "unwrap", "sign", "verify", "derive", "trusted",
                        "wrap-with-trusted")
ATTRIBUTE_DRIFT_MODES = ("report", "align", "align_with_shares")


class Alignment(object):
    """What ``attribute_drift`` changes on one destination copy of a key: ``changes`` holds (attribute, destination
    value, source value) to set with key set-attribute; ``share``/``unshare`` the user names to share the copy with
    or to stop sharing it with; ``left`` holds (attribute, reason) for the differences left as they are."""

    __slots__ = ("source", "destination", "changes", "share", "unshare", "left")

    def __init__(self, source, destination):
        self.source = source
        self.destination = destination
        self.changes = []
        self.share = []
        self.unshare = []
        self.left = []

    @property
    def work(self):
        return bool(self.changes or self.share or self.unshare)


def plan_alignment(differing, mode="report"):
    """[Alignment] for the ``differing`` items of a KeyPlan: with ``align`` the alignable attributes, with
    ``align_with_shares`` also the shared users; nothing with ``report``. A copy whose ``modifiable`` attribute is
    false cannot be changed: all its differences are left, with the reason."""
    if mode not in ("align", "align_with_shares"):
        return []
    alignments = []
    for source, destination, differences in differing:
        alignment = Alignment(source, destination)
        fixed = destination.attributes.get("modifiable") is False
        for name, mine, theirs in differences:
            if name == "shared-users":
                if mode != "align_with_shares":
                    alignment.left.append((name, "shares are aligned only with attribute_drift=align_with_shares"))
                elif fixed:
                    alignment.left.append((name, "the copy is not modifiable"))
                else:
                    alignment.share = sorted(set(mine) - set(theirs))
                    alignment.unshare = sorted(set(theirs) - set(mine))
            elif name not in ALIGNABLE_ATTRIBUTES:
                alignment.left.append((name, "%s cannot be changed after a key is made" % name
                                       if name != "id" else "the id is not aligned (AWS does not document the form "
                                                            "key set-attribute takes it in)"))
            elif fixed:
                alignment.left.append((name, "the copy is not modifiable (modifiable=false)"))
            else:
                alignment.changes.append((name, theirs, mine))
        alignments.append(alignment)
    return alignments


def has_key_quorum(key):
    """True when a key needs quorum approvals for management or use (a value above 0)."""
    return bool(key.quorum) and any(value and value > 0 for value in key.quorum)


def with_pair_partners(selected, keys):
    """``selected`` plus the other objects of every key pair it touches (from ``keys``), so a pair is never
    synced, reported or purged by halves; token objects only, in the order of ``keys``."""
    pairs = set(key.pair for key in selected if key.pair)
    chosen = set(id(key) for key in selected)
    return [key for key in keys
            if key.token is not False and (id(key) in chosen or (key.pair and key.pair in pairs))]


def group_pairs(keys):
    """``keys`` as entries: the objects of one key pair together (private key first), any other key alone."""
    groups, by_pair = [], {}
    for key in keys:
        if key.pair:
            if key.pair not in by_pair:
                by_pair[key.pair] = []
                groups.append(by_pair[key.pair])
            by_pair[key.pair].append(key)
        else:
            groups.append([key])
    for group in groups:
        group.sort(key=lambda key: 0 if key.key_class == "private-key" else 1)
    return groups


def plan_key_sync(source_keys, destinations, purge=False, purge_labels=None, delete_last_copies=False,
                  assumed_users=None):
    """Plan the key sync of ``source_keys`` (already selected) to every destination.

    ``destinations`` is a list of (ClusterView, selected destination keys). Keys match by ``identity``, counted as
    multisets so duplicates are copied as often as the source holds them. A destination key whose reference equals
    a missing source key's but whose attributes differ is a conflict (the HSM refuses that replication).
    ``assumed_users``: destination name -> user names taken as present there (check mode: the users an earlier step
    would create), so the plan is the one the real run carries out.

    Purge candidates are the destination keys the source lacks: all of them with ``purge``, those labelled one of
    ``purge_labels`` otherwise. The guard looks at the whole DR set (the source and every destination): a candidate
    whose material (type, length, check value) stays on some cluster is deleted; one whose every remaining copy is a
    candidate would leave the DR set, and is deleted only with ``delete_last_copies`` (after a backup was pinned);
    a key of unknown material is never purged.
    """
    labels = set(purge_labels or [])
    assumed_users = assumed_users or {}
    plans, candidates = [], []
    # Session keys end with their session: never counted, copied or purged.
    source_keys = [key for key in source_keys if key.token is not False]
    destinations = [(view, [key for key in keys if key.token is not False]) for view, keys in destinations]
    for view, keys in destinations:
        plan = KeyPlan(view.name)
        present = {}
        for key in keys:
            present.setdefault(key.identity, []).append(key)
        by_reference = dict((normalize_reference(key.reference), key) for key in keys)
        matched = set()
        names = set(user.name for user in view.users)
        names.update(name.lower() for name in assumed_users.get(view.name, ()))
        for key in source_keys:
            if present.get(key.identity):
                copy = present[key.identity].pop(0)
                matched.add(id(copy))
                plan.already_present.append(key)
                differences = key_differences(key, copy)
                if differences:
                    plan.differing.append((key, copy, differences))
                continue
            clash = by_reference.get(normalize_reference(key.reference))
            if clash is not None and id(clash) not in matched and key.material and clash.material == key.material:
                # The same key material under the same reference: one key whose attributes changed on one side
                # after cloning. Reported as drift, never changed here.
                matched.add(id(clash))
                plan.already_present.append(key)
                plan.differing.append((key, clash, key_differences(key, clash)))
                continue
            if clash is not None and clash.identity != key.identity:
                plan.conflicts.append((key, (
                    "%s on %s already holds reference %s with different attributes (%s); delete the unwanted "
                    "version on one cluster, then sync again." % (
                        key.describe(), view.name, clash.reference, clash.describe()))))
                continue
            missing = [name for name in key.users if name not in names]
            for name in missing:
                plan.missing_users.setdefault(name, []).append(key.describe())
            if missing:
                plan.blocked.append((key, missing))
            else:
                plan.replicate.append(key)
        _keep_pairs_whole(plan)
        for key in keys:
            if id(key) in matched:
                continue
            plan.extra.append(key)
            if purge or key.label in labels:
                candidates.append((plan, key))
        plans.append(plan)

    # Copies that stay whatever happens: the source's and every destination key that is not a candidate.
    staying = Counter(key.material for key in source_keys if key.material)
    chosen = set(id(key) for unused_plan, key in candidates)
    for unused_view, keys in destinations:
        staying.update(key.material for key in keys if key.material and id(key) not in chosen)
    for plan, key in candidates:
        if key.material is None:
            plan.kept.append((key, "its key check value is unknown, so it cannot be shown to exist "
                                   "elsewhere; delete it with cloudhsm_key if it is really unwanted."))
        elif staying[key.material] > 0:
            plan.purge.append(key)
        elif delete_last_copies:
            plan.purge.append(key)
            plan.last_copies.append(key)
        else:
            plan.kept.append((key, "no cluster of the DR set keeps another copy of this key material, so deleting "
                                   "it would remove the key for good; pin a backup that holds it and set "
                                   "delete_last_copies=true, or replicate it to the source."))
    for plan in plans:
        plan.quorum = [key for key in plan.replicate + plan.purge if has_key_quorum(key)]
    return plans


def _keep_pairs_whole(plan):
    """When one object of a key pair cannot be copied, its partners wait too, with the same reason: a clone
    never holds half a pair because of the sync."""
    stopped = {}
    for key, reason in plan.conflicts:
        if key.pair:
            stopped.setdefault(key.pair, ("conflict", "the other object of its key pair cannot be copied: " + reason))
    for key, names in plan.blocked:
        if key.pair:
            stopped.setdefault(key.pair, ("blocked", names))
    if not stopped:
        return
    waiting = [key for key in plan.replicate if key.pair in stopped]
    plan.replicate = [key for key in plan.replicate if key.pair not in stopped]
    for key in waiting:
        kind, detail = stopped[key.pair]
        if kind == "conflict":
            plan.conflicts.append((key, detail))
        else:
            plan.blocked.append((key, detail))


def apply_key_plan(keys, plan):
    """The keys a destination would hold after ``plan`` (pure; used by tests and check mode)."""
    purged = list(plan.purge)
    result = []
    for key in keys:
        if key in purged:
            purged.remove(key)
            continue
        result.append(key)
    result.extend(plan.replicate)
    return result


def manageable_users(users):
    """The users the collection creates, replicates and deletes (admins and crypto users; not the appliance user
    or an unactivated PRECO)."""
    return [user for user in users if user.role in MANAGEABLE_ROLES]
