# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the data plane tells the user: the recognition of the tools' error texts (lineage, missing users, locked
accounts, unreachable HSMs, mutual TLS), the password policy, and the messages built from them."""

from __future__ import annotations

import re

_LINEAGE_PATTERNS = re.compile(
    r"mask(ing)?[ _-]?key|not (a )?clones?|clone lineage|not created from (a|the same) backup|common backup|"
    r"unrelated cluster|ExtractMaskedObject: 0x[1-9a-f]|InsertMaskedObject: 0x[1-9a-f]", re.IGNORECASE)
_MISSING_USER_PATTERNS = re.compile(
    r"(owner|shared user|user)s? (\S+ )?(does not|doesn't|do not|must) exist|user (\S+ )?not found|"
    r"no such user|USER_NOT_FOUND", re.IGNORECASE)


# Texts the tools print for a locked account and for HSMs that do not answer (SDK 3 shows a locked account as an
# ordinary login failure, so only SDK 5 texts can say it).
_LOCKED_PATTERNS = re.compile(r"\blocked\b|lock(ed)?[ -]?out|RET_USER_LOCKED", re.IGNORECASE)
_UNREACHABLE_PATTERNS = re.compile(
    r"unable to connect|not reachable|unreachable|connection (to the (HSM|server)s? )?(failed|refused|timed out)",
    re.IGNORECASE)
# The HSM locks an account after this many failed logins in a row (reference: "lockout after 5 failed logins").
LOGIN_ATTEMPTS_BEFORE_LOCKOUT = 5
# Passwords the tools accept: 7 to 32 characters in the 2023 user guide, 8 to 32 in the current one.
PASSWORD_MIN_LENGTH = 7
PASSWORD_SAFE_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 32


# How a cluster that enforces mutual TLS refuses a client (the real wording is not documented).
_MTLS_PATTERNS = re.compile(r"mutual tls|\bmtls\b|client certificate|certificate (required|unknown)|"
                            r"handshake failure", re.IGNORECASE)


def is_mtls_error(message):
    return bool(message) and bool(_MTLS_PATTERNS.search(message))


def is_locked_error(message):
    return bool(message) and bool(_LOCKED_PATTERNS.search(message))


def is_unreachable_error(message):
    return bool(message) and bool(_UNREACHABLE_PATTERNS.search(message))


def login_failed_message(username, role, where, detail):
    """Why a login failed, and what to do about it: a locked account, HSMs that do not answer, or (the rest) wrong
    credentials. ``where``: the cluster or servers; ``detail``: the tool's answer."""
    head = "login as %s (%s) on %s was refused: %s." % (username, role, where, detail)
    if is_locked_error(detail):
        return ("%s The account is locked after %d failed logins in a row (this run tried once and did not retry). "
                "An admin must set a new password for it: hsmops.cloudhsm.cloudhsm_user, logged in as an admin, with "
                "users=[{name: %s, role: %s, password: NEW}] and update_password=always; then log in with the new "
                "password." % (head, LOGIN_ATTEMPTS_BEFORE_LOCKOUT, username, role))
    if is_mtls_error(detail):
        return ("login as %s (%s) on %s failed: %s. The cluster requires mutual TLS and did not accept this client's "
                "certificate (none configured, not signed by a registered trust anchor, or expired); the credentials "
                "were not checked. Give this host a client certificate and key for %s signed by one of the cluster's "
                "trust anchors: role hsmops.cloudhsm.cloudhsm_client with cloudhsm_client_mtls_certificates, and "
                "for a DR set cloudhsm_sync_config_mtls, or cloudhsm_dr_mtls in the DR playbooks (docs/security.md, "
                "Mutual TLS)."
                % (username, role, where, detail, where))
    if is_unreachable_error(detail):
        return ("login as %s (%s) on %s failed: %s. No HSM that the client configuration lists for %s answered, so "
                "the credentials were not checked (not retried). Make sure the cluster's HSMs are ACTIVE and "
                "reachable from this host on TCP 2223-2225; if an HSM was replaced, update the client configuration "
                "(the hsmops.cloudhsm.cloudhsm_sync_config role with each cluster's hsm_ips), then run again."
                % (username, role, where, detail, where))
    return ("%s It was not retried, so the account is not locked by this run; check the username, role and "
            "password (%d failed logins in a row lock the account)." % (head, LOGIN_ATTEMPTS_BEFORE_LOCKOUT))


def password_problem(owner, password):
    """Why a password will be refused by the tools (its length), or None. ``owner`` names whose password it is."""
    if password is None or PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        return None
    return ("the password of %s has %d characters; CloudHSM accepts %d to %d (%d to %d on current clusters). Give "
            "it a password of %d to %d characters; nothing was changed." % (
                owner, len(password), PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_SAFE_MIN_LENGTH,
                PASSWORD_MAX_LENGTH, PASSWORD_SAFE_MIN_LENGTH, PASSWORD_MAX_LENGTH))


def password_warning(owner, password):
    """A warning for a password that only the older rule accepts (7 characters), or None."""
    if password is None or not PASSWORD_MIN_LENGTH <= len(password) < PASSWORD_SAFE_MIN_LENGTH:
        return None
    return ("the password of %s has %d characters: clusters that follow the current CloudHSM rule (%d to %d) refuse "
            "it, older ones accept it. Use %d or more characters." % (
                owner, len(password), PASSWORD_SAFE_MIN_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_SAFE_MIN_LENGTH))


def is_lineage_error(message):
    return bool(message) and bool(_LINEAGE_PATTERNS.search(message))


def is_missing_user_error(message):
    return bool(message) and bool(_MISSING_USER_PATTERNS.search(message))


def lineage_message(source, destination, detail=None):
    text = ("%s and %s are not clones of one backup (their masking keys differ), so keys and users cannot be "
            "copied between them. Create %s from a backup of %s (or both from a common backup), or remove it from "
            "the destinations." % (source, destination, destination, source))
    if detail:
        text += " Tool said: %s" % detail
    return text


def users_first_message(destination, missing):
    parts = ["%s (needed by %s)" % (name, ", ".join(sorted(keys)[:3]) + (" ..." if len(keys) > 3 else ""))
             for name, keys in sorted(missing.items())]
    return ("%s lacks the owner or share users of keys to sync: %s. Sync users first (hsmops.cloudhsm.cloudhsm_user "
            "with replicate_from, or declare them), then sync keys." % (destination, "; ".join(parts)))


def quorum_message(clusters, work):
    """What to do when user management on a quorum (M of N) cluster is needed: the tools ask for approvals
    interactively, so the collection stops before any change and names the approval workflow."""
    return ("%s %s quorum (M of N) authentication for user management, so %s need(s) the approval of M admins, "
            "which the tools collect interactively. Nothing was changed. Do it by hand with the approval workflow: "
            "SDK 5, `quorum token-sign generate --service user --token <file>`, have M admins sign the token, then "
            "run the user command with `--approval <signed token file>`; SDK 3 (cloudhsm_mgmt_util), `getToken`, "
            "each approver `approveToken`, then the command. Then run the sync again: what was done by hand is "
            "skipped." % (", ".join(clusters), "has" if len(clusters) == 1 else "have", "; ".join(work)))


def key_quorum_message(keys):
    """What to do when keys with key quorum values are to be copied or deleted."""
    return ("%s carr%s a key quorum value (M of N approvals for key management or use). Whether key replicate and "
            "key delete need those approvals is not documented, so nothing was copied or deleted. Replicate or "
            "delete these keys by hand with the approval workflow (SDK 5, `quorum token-sign generate --service "
            "key-management`, M approvers sign, then the key command with `--approval <signed token file>`), or "
            "leave them out of the selection (owner, labels, ids, handles), then run the sync again." % (
                "; ".join(keys[:5]) + (" and %d more" % (len(keys) - 5) if len(keys) > 5 else ""),
                "ies" if len(keys) == 1 else "y"))


def failure_summary(reports, shown=5, max_clauses=10):
    """One clause per destination and reason: how many keys, the first few labels, and why (with what to do when the
    reason is HSMs that did not answer)."""
    clauses = []
    for report in reports:
        by_reason = {}
        for key in report["failed"]:
            reason = key.get("reason") or "no reason given"
            by_reason.setdefault(reason, []).append(str(key.get("label") or key.get("key_reference")))
        for reason, names in sorted(by_reason.items(), key=lambda item: -len(item[1])):
            listed = ", ".join(names[:shown]) + (" and %d more" % (len(names) - shown) if len(names) > shown else "")
            if is_unreachable_error(reason):
                reason += (" (the HSMs of %s did not answer: make sure they are ACTIVE and reachable; if one was "
                           "replaced, update the client configuration)" % report["cluster"])
            clauses.append((report["cluster"], "to %s, %d key(s) (%s): %s" % (
                report["cluster"], len(names), listed, reason)))
    text = [clause for unused_cluster, clause in clauses[:max_clauses]]
    rest = clauses[max_clauses:]
    if rest:
        clusters = []
        for cluster, unused_clause in rest:
            if cluster not in clusters:
                clusters.append(cluster)
        text.append("%d more groups of keys with other reasons, to %s" % (len(rest), ", ".join(clusters)))
    return "; ".join(text)
