# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The work of cloudhsm_user: declared users on every target, users replicated from a source cluster, and the
users a source lacks deleted from its clones."""

from __future__ import annotations

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import DataPlaneTask, fail
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import (
    is_lineage_error, lineage_message, quorum_message)
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import (
    UserSpec, apply_user_plan, manageable_users, plan_user_purge, plan_user_replication, plan_users)


class UserSync(DataPlaneTask):
    """cloudhsm_user: declared users on every target, or users replicated from a source cluster."""

    def targets(self):
        return self.params["clusters"] or self.session.targets()

    def run(self):
        if self.params["replicate_from"]:
            return self.replicate()
        return self.declare()

    def declare(self):
        params = self.params
        specs = [UserSpec(u["name"], u["role"], u["state"]) for u in params["users"]]
        passwords = dict((u["name"].lower(), u.get("password")) for u in params["users"])
        reports, changed, refused = [], False, []
        diff = []
        planned = []
        for target in self.targets():
            # Key owners matter only when a user may be deleted.
            view = self.session.read_view(target, keys=any(s.state == "absent" for s in specs) or params["force"])
            planned.append((target, view, plan_users(specs, view, update_password=params["update_password"],
                                                     force=params["force"])))
        self._refuse_quorum([(view, (["creating %s on %s" % (", ".join(s.name for s in plan.create), view.name)]
                                     if plan.create else [])
                              + (["deleting %s on %s" % (", ".join(u.name for u in plan.delete), view.name)]
                                 if plan.delete else []))
                             for unused_target, view, plan in planned])
        for target, view, plan in planned:
            report = dict(cluster=view.name, created=[], deleted=[], password_changed=[], failed=[],
                          refused=[dict(username=n, reason=r) for n, r in plan.refused])
            refused.extend("%s: %s" % (view.name, reason) for unused_name, reason in plan.refused)
            for spec in plan.create:
                if not passwords.get(spec.name):
                    report["failed"].append(dict(username=spec.name, reason="a password is needed to create it"))
            if not self.module.check_mode:
                self._apply(target, plan, passwords, report)
            else:
                report["created"] = [s.name for s in plan.create if passwords.get(s.name)]
                report["deleted"] = [u.name for u in plan.delete]
                report["password_changed"] = [s.name for s in plan.change_password]
            changed = changed or bool(report["created"] or report["deleted"] or report["password_changed"])
            reports.append(report)
            diff.append(dict(before_header=view.name, after_header=view.name,
                             before=_user_lines(view.users),
                             after=_user_lines(apply_user_plan(view, plan).users)))
        result = dict(changed=changed, clusters=reports)
        if self.module._diff:
            result["diff"] = diff
        failures = ["%s: %s %s" % (r["cluster"], f["username"], f["reason"]) for r in reports for f in r["failed"]]
        if refused or failures:
            fail(self.module, "; ".join(refused + failures), **result)
        return result

    def _refuse_quorum(self, work):
        """Fail before any change when user management is due on a cluster with quorum (M of N) authentication.
        ``work``: (view, [descriptions of the user changes due there])."""
        clusters = [view.name for view, changes in work if changes and view.quorum_enabled]
        if clusters:
            fail(self.module, quorum_message(clusters, [change for view, changes in work if view.name in clusters
                                                        for change in changes]))

    def _apply(self, target, plan, passwords, report):
        for user in plan.delete:
            self._record(report, "deleted", user.name, self.session.delete_user(target, user))
        for spec in plan.create:
            if passwords.get(spec.name):
                self._record(report, "created", spec.name, self.session.create_user(target, spec, passwords[spec.name]))
        for spec in plan.change_password:
            if passwords.get(spec.name):
                self._record(report, "password_changed", spec.name,
                             self.session.change_password(target, spec, passwords[spec.name]))
            else:
                report["failed"].append(dict(username=spec.name, reason="update_password=always needs a password"))

    @staticmethod
    def _record(report, field, name, result):
        if result.ok:
            report[field].append(name)
        else:
            report["failed"].append(dict(username=name, reason=result.message))

    def replicate(self):
        params, session = self.params, self.session
        source = params["replicate_from"]
        names = [u["name"] for u in params["users"]] or None
        source_view = session.read_view(source)
        purging = bool(params["purge"] or params["purge_users"])
        gone_keys = dict((str(name), set(str(ref) for ref in refs))
                         for name, refs in (params["assume_keys_deleted"] or {}).items())
        reports, changed, problems, diff = [], False, [], []
        planned = []
        for target in self.targets():
            if session.same_cluster(target, source):
                continue
            view = session.read_view(target, keys=purging)
            todo, conflicts = plan_user_replication(source_view, view, names)
            remove, refused = plan_user_purge(
                source_view, view, purge=params["purge"], names=params["purge_users"],
                protected=[params["username"]], keys_leaving=gone_keys.get(view.name, ())) if purging else ([], [])
            planned.append((target, view, todo, conflicts, remove, refused))
        # A clone carries its source's quorum registration, so either side having one means approvals are due.
        self._refuse_quorum([(view if view.quorum_enabled or not source_view.quorum_enabled else source_view,
                              (["replicating %s from %s to %s" % (", ".join(u.name for u in todo), source_view.name,
                                                                  view.name)] if todo else [])
                              + (["deleting %s on %s" % (", ".join(u.name for u in remove), view.name)]
                                 if remove else []))
                             for unused_target, view, todo, unused_c, remove, unused_r in planned])
        for target, view, todo, conflicts, remove, refused in planned:
            report = dict(cluster=view.name, replicated=[], deleted=[],
                          failed=[dict(username=n, reason=r) for n, r in conflicts + refused],
                          extra=sorted(u.name for u in manageable_users(view.users) if source_view.user(u.name) is None))
            if todo and not self.module.check_mode:
                results = session.replicate_users(todo[:1], source, target)
                if not results[0].ok and is_lineage_error(results[0].message):
                    fail(self.module, lineage_message(source_view.name, view.name, results[0].message))
                if len(todo) > 1:
                    results += session.replicate_users(todo[1:], source, target)
                for user, result in zip(todo, results):
                    self._record(report, "replicated", user.name, result)
            elif todo:
                report["replicated"] = [u.name for u in todo]
            if self.module.check_mode:
                report["deleted"] = [u.name for u in remove]
            else:
                for user in remove:
                    self._record(report, "deleted", user.name, session.delete_user(target, user))
            changed = changed or bool(report["replicated"] or report["deleted"])
            gone = set(report["deleted"])
            diff.append(dict(before_header=view.name, after_header=view.name, before=_user_lines(view.users),
                             after=_user_lines([u for u in view.users if u.name not in gone] +
                                               [u for u in todo if u.name in report["replicated"]])))
            problems.extend("%s: %s %s" % (view.name, f["username"], f["reason"]) for f in report["failed"])
            reports.append(report)
        result = dict(changed=changed, source=source_view.name, clusters=reports)
        if self.module._diff:
            result["diff"] = diff
        if problems:
            fail(self.module, "; ".join(problems), **result)
        return result


def _user_lines(users):
    return "".join("%s (%s)\n" % (u.name, u.role) for u in sorted(users, key=lambda u: u.name))
