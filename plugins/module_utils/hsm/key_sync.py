# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The work of cloudhsm_key_sync: read the clusters, plan (model.py), carry the plan out, report per destination."""

from __future__ import annotations

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import DataPlaneTask, fail, secrets_of
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import (
    failure_summary, is_lineage_error, key_quorum_message, lineage_message, users_first_message)
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import (
    apply_key_plan, group_pairs, manageable_users, plan_alignment, plan_key_sync, select_keys, with_pair_partners)


def _brief(key):
    """What results list for a key: enough to find it, small enough for 10,000 of them."""
    return {"key_reference": key.reference, "label": key.label, "id": key.key_id, "owner": key.owner}


def _entries(keys):
    """Result entries for ``keys``: a key pair is one entry (its private key's fields, the pair link and both
    objects), any other key one entry of its own."""
    entries = []
    for group in group_pairs(keys):
        entry = _brief(group[0])
        if group[0].pair:
            entry["pair"] = group[0].pair
            entry["objects"] = [dict(_brief(key), **{"class": key.key_class}) for key in group]
        entries.append(entry)
    return entries


def _drift_entry(source_key, destination_key, differences):
    """One key whose copies differ: the key (as the source holds it) and each attribute with both values."""
    entry = _brief(source_key)
    entry["destination_key_reference"] = destination_key.reference
    if source_key.pair:
        entry["pair"] = source_key.pair
    entry["differences"] = [dict(attribute=name, source=mine, destination=theirs)
                            for name, mine, theirs in differences]
    return entry


def _alignment_entry(alignment):
    """One copy aligned (or to align, in check mode): the key as the clone holds it and each change made."""
    entry = _brief(alignment.destination)
    if alignment.source.pair:
        entry["pair"] = alignment.source.pair
    entry["changes"] = ([dict(attribute=name, before=before, after=after) for name, before, after in alignment.changes]
                        + [dict(attribute="shared-users", share=name) for name in alignment.share]
                        + [dict(attribute="shared-users", unshare=name) for name in alignment.unshare])
    return entry


def lineage_probe(session, source, destination, username):
    """True when ``destination`` is shown not to be a clone of ``source``.

    Replicating the logged-in admin, who exists on both, changes nothing on a clone (the copy is refused as
    already present) and is refused with a masking-key error between unrelated clusters.
    """
    source_view = session.read_view(source)
    user = source_view.user(username)
    if user is None or user.role != "admin":
        return None
    result = session.replicate_users([user], source, destination)[0]
    return result.message if not result.ok and is_lineage_error(result.message) else None


class KeySync(DataPlaneTask):
    """cloudhsm_key_sync: the source's keys copied to every destination, drift reported or aligned."""

    def _selection(self):
        params = self.params
        return dict(owner=params["owner"], labels=params["labels"], ids=params["ids"], references=params["handles"],
                    attributes=params["filter"])

    def run(self):
        params, session = self.params, self.session
        mode = params.get("attribute_drift") or "report"
        if mode != "report" and not session.changes_key_attributes:
            fail(self.module, "attribute_drift=%s needs SDK 5: the cloudhsm_mgmt_util (SDK 3) setAttribute "
                              "command's arguments and answers are not documented well enough to change keys on "
                              "a clone safely. Use attribute_drift=report (the drift stays in the report) and "
                              "align the keys by hand as their owner; nothing was changed." % mode)
        unsupported = []
        if not session.selects_keys_by_attribute:
            unsupported.extend(name for name in ("labels", "ids", "filter") if params[name])
        if not session.deletes_keys_by_cluster:
            unsupported.extend(name for name in ("purge", "purge_labels") if params[name])
        if unsupported:
            fail(self.module, "%s need SDK 5: cloudhsm_mgmt_util (SDK 3) shows no key labels, ids or attributes "
                              "and cannot delete keys. Select SDK 3 keys by owner or handles." % (
                                  ", ".join(unsupported)))
        selection = self._selection()
        # Every key's attributes (label, class, pair link, token flag, key check value) and quorum value: what tells
        # a pair's objects apart, finds changed labels and leaves session keys out (SDK 3 reads them key by key).
        source_view = session.read_view(params["source"], keys=True, key_details=True)
        source_keys = with_pair_partners(select_keys(source_view.keys, **selection), source_view.keys)
        destinations = []
        for name in params["destinations"]:
            view = session.read_view(name, keys=True, key_details=True)
            destinations.append((view, with_pair_partners(select_keys(view.keys, **selection), view.keys)))
        assumed = dict((str(name), list(users or [])) for name, users in (params["assume_users"] or {}).items())
        plans = plan_key_sync(source_keys, destinations, purge=params["purge"], purge_labels=params["purge_labels"],
                              delete_last_copies=params["delete_last_copies"], assumed_users=assumed)

        missing = [(plan, pair[0]) for plan, pair in zip(plans, destinations) if plan.missing_users]
        if missing:
            plan, view = missing[0]
            if not self.module.check_mode:
                detail = lineage_probe(session, params["source"], params["destinations"][plans.index(plan)],
                                       params["username"])
                if detail:
                    fail(self.module, lineage_message(source_view.name, view.name, detail))
            blocked = [[dict(_brief(key), reason="users missing on the destination: %s" % ", ".join(names))
                        for key, names in plan.blocked] for plan in plans]
            fail(self.module, " ".join(users_first_message(v.name, p.missing_users) for p, v in missing),
                 destinations=[self._report(p, [], [], failed, [], v, source_view) for p, failed, (v, unused_keys)
                               in zip(plans, blocked, destinations)])
        quorum_keys = ["%s on %s" % (key.describe(), plan.destination) for plan in plans for key in plan.quorum]
        if quorum_keys:
            fail(self.module, key_quorum_message(quorum_keys),
                 destinations=[self._report(p, [], [], [], [], v, source_view) for p, (v, unused_keys)
                               in zip(plans, destinations)])
        alignments = [plan_alignment(plan.differing, mode) for plan in plans]
        owners = self._owner_passwords(plans, alignments)

        reports, changed = [], False
        for plan, (view, keys), name, aligning in zip(plans, destinations, params["destinations"], alignments):
            failed = [dict(_brief(key), reason=reason) for key, reason in plan.conflicts]
            if self.module.check_mode:
                synced, purged = list(plan.replicate), list(plan.purge)
                aligned = [a for a in aligning if a.work]
            else:
                synced = self._replicate(plan, name, failed)
                if synced is None:
                    # Not a clone: stop here; earlier destinations' results stay in the report.
                    fail(self.module, lineage_message(source_view.name, view.name, failed[-1]["reason"]),
                         destinations=reports)
                purged = self._purge(plan, name, failed, owners)
                aligned = self._align(aligning, name, failed, owners)
            changed = changed or bool(synced or purged or aligned)
            report = self._report(plan, synced, purged, failed, plan.kept, view, source_view)
            report["aligned"] = [_alignment_entry(a) for a in aligned]
            report["not_aligned"] = [dict(_brief(a.destination), attribute=name, reason=reason)
                                     for a in aligning for name, reason in a.left]
            reports.append(report)

        summary = dict((field, sum(len(r[field]) for r in reports))
                       for field in ("synced", "already_present", "failed", "purged", "attribute_drift", "aligned"))
        summary["drift"] = sum(r["drift"] for r in reports)
        result = dict(changed=changed, source=dict(cluster=source_view.name, selected=len(source_keys),
                                                   keys_held=len(source_view.keys),
                                                   users_held=len(manageable_users(source_view.users))),
                      destinations=reports, summary=summary)
        if self.module._diff:
            result["diff"] = [dict(before_header=view.name, after_header=view.name,
                                   before="\n".join(sorted(str(k.label or k.reference) for k in keys)) + "\n",
                                   after="\n".join(sorted(str(k.label or k.reference)
                                                          for k in apply_key_plan(keys, plan))) + "\n")
                              for plan, (view, keys) in zip(plans, destinations)]
        if summary["failed"]:
            fail(self.module, "%d key(s) could not be synced: %s. Fix each cause and run again: keys already synced "
                              "are skipped; destinations[].failed lists every key with its reason." % (
                                  summary["failed"], failure_summary(reports)), **result)
        return result

    def _owner_passwords(self, plans, alignments=()):
        """The password of every owner of a key to purge or align (only a key's owner may delete it or change it);
        fails before any change, naming the owners, when one is not given."""
        given = dict((item["name"].lower(), item["password"]) for item in self.params["owner_credentials"] or [])
        if self.params["role"] == "crypto-user":
            given.setdefault(self.params["username"].lower(), self.params["password"])
        needed = {}
        for plan, aligning in zip(plans, list(alignments) or [[] for unused in plans]):
            for key in list(plan.purge) + [a.destination for a in aligning if a.work]:
                if key.owner not in given:
                    needed.setdefault(key.owner or "(unknown owner)", []).append(
                        "%s on %s" % (key.describe(), plan.destination))
        if needed:
            fail(self.module, "only the owner of a key can delete it or change its attributes, and no password was "
                              "given for %s. Add each owner's name and password to owner_credentials (the DR "
                              "playbooks take them from cloudhsm_dr_users), or leave these keys out of the purge "
                              "and set attribute_drift=report; nothing was changed." % (
                                  "; ".join("%s (owner of %s)" % (owner, ", ".join(keys[:3]) + (
                                      " ..." if len(keys) > 3 else "")) for owner, keys in sorted(needed.items()))))
        return given

    def _replicate(self, plan, destination, failed):
        """Copy plan.replicate; the first key goes alone so a non-clone destination stops before any batch.
        Returns the keys copied, or None when the destination is not a clone (the reason ends ``failed``)."""
        keys = list(plan.replicate)
        if not keys:
            return []
        source = self.params["source"]
        first = self.session.replicate_keys(keys[:1], source, destination)[0]
        if not first.ok and is_lineage_error(first.message):
            failed.append(dict(_brief(keys[0]), reason=first.message))
            return None
        results = [first] + (self.session.replicate_keys(keys[1:], source, destination) if len(keys) > 1 else [])
        synced = []
        for key, result in zip(keys, results):
            if result.ok:
                synced.append(key)
            else:
                failed.append(dict(_brief(key), reason=result.message))
        return synced

    def _as_owners(self, destination, items, owner_of, owners, work):
        """Run ``work(session, item)`` for each item, logged in as its owner (``owner_of(item)``) on
        ``destination`` in a session of its own: the HSM lets only a key's owner delete or change it."""
        by_owner = {}
        for item in items:
            by_owner.setdefault(owner_of(item), []).append(item)
        for owner, owned in sorted(by_owner.items()):
            session = self.driver.open([destination], secrets=list(self.session_secrets()) + [owners[owner]],
                                       keys=True)
            try:
                session.login(owner, "crypto-user", owners[owner], targets=[destination])
                for item in owned:
                    work(session, item)
            finally:
                session.close()

    def _purge(self, plan, destination, failed, owners):
        """Delete plan.purge, each key as its owner."""
        purged = []

        def delete(session, key):
            result = session.delete_key(destination, key)
            if result.ok:
                purged.append(key)
            else:
                failed.append(dict(_brief(key), reason="delete failed: %s" % result.message))
        self._as_owners(destination, plan.purge, lambda key: key.owner, owners, delete)
        return purged

    def _align(self, alignments, destination, failed, owners):
        """Set each alignment's attributes on the destination copy to the source's values (and its shares, when
        asked), as the copy's owner. Returns the alignments carried out in full; a refused change goes to
        ``failed`` with the attribute and the tool's answer, and the changes after it on that key wait for a
        rerun."""
        done = []

        def align(session, alignment):
            key = alignment.destination
            steps = ([("set", name, after) for name, unused_before, after in alignment.changes]
                     + [("share", name, True) for name in alignment.share]
                     + [("share", name, False) for name in alignment.unshare])
            for kind, name, value in steps:
                if kind == "set":
                    result = session.set_key_attribute(destination, key, name, value)
                    what = "setting %s to %s" % (name, value)
                else:
                    result = session.share_key(destination, key, name, share=value)
                    what = "%s %s" % ("sharing with" if value else "unsharing from", name)
                if not result.ok:
                    failed.append(dict(_brief(key), reason="%s failed: %s" % (what, result.message)))
                    return
            done.append(alignment)
        self._as_owners(destination, [a for a in alignments if a.work], lambda a: a.destination.owner, owners, align)
        return done

    def session_secrets(self):
        return secrets_of(self.module)

    @staticmethod
    def _report(plan, synced, purged, failed, kept, view, source_view):
        """One destination's result; users_missing/users_extra and keys extra/differing make its ``drift`` (as read:
        users an earlier step would create in check mode are still missing here)."""
        names = set(user.name for user in manageable_users(view.users))
        source_names = set(user.name for user in manageable_users(source_view.users))
        report = dict(cluster=plan.destination, synced=_entries(synced),
                      already_present=_entries(plan.already_present), failed=failed,
                      purged=_entries(purged),
                      last_copies=[_brief(k) for k in plan.last_copies if k in purged],
                      kept=[dict(_brief(k), reason=reason) for k, reason in kept],
                      extra=_entries(plan.extra),
                      differing=[dict(_brief(k), reason=reason) for k, reason in plan.conflicts],
                      attribute_drift=[_drift_entry(*item) for item in plan.differing], aligned=[], not_aligned=[],
                      keys_held=len(view.keys), users_held=len(manageable_users(view.users)),
                      users_missing=sorted(source_names - names), users_extra=sorted(names - source_names))
        report["drift"] = (len(_entries(plan.replicate)) + len(group_pairs([k for k, unused in plan.blocked]))
                           + len(plan.conflicts) + len(report["extra"]) + len(report["attribute_drift"])
                           + len(report["users_missing"]) + len(report["users_extra"]))
        return report
