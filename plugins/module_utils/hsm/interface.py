# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The data-plane interface every driver implements completely, so that no caller branches on the client SDK.

A driver (``HsmDriver``) opens a session (``HsmSession``): one client session for the whole module run, whatever
tools the SDK needs behind it. Clusters are named by their cluster ids under every SDK (``None`` for the one
cluster of a single-cluster client configuration). What an SDK cannot do is a capability flag of the session, never
a comparison of SDK versions in the caller.
"""

from __future__ import annotations

import abc


class HsmError(Exception):
    """A data-plane failure with a message fit for the user (never holding a secret)."""


class LoginFailed(HsmError):
    pass


class OpResult(object):
    __slots__ = ("ok", "message", "data")

    def __init__(self, ok, message="", data=None):
        self.ok = ok
        self.message = message
        self.data = data

    def __repr__(self):
        return "OpResult(%r, %r)" % (self.ok, self.message)


class HsmDriver(abc.ABC):
    """One client SDK. ``sdk`` names it for messages and results only: callers never branch on it."""

    sdk = None

    def __init__(self, settings):
        self.settings = settings

    @abc.abstractmethod
    def open(self, targets=None, secrets=(), keys=False):
        """A session on ``targets`` (cluster ids; None or [] for every cluster of the client configuration).
        ``secrets``: values to scrub from every message. ``keys``: the session mostly works on keys (a hint the
        driver may use to start the right tool first; every operation works either way)."""


class HsmSession(abc.ABC):
    """One client session on one or more clusters.

    Capability flags (class attributes) say what the SDK behind the session can do; an operation a session cannot
    do raises ``HsmError`` with a message naming the option that needs it.
    """

    # Key listings show labels, ids and attributes, so keys can be selected by them across clusters.
    selects_keys_by_attribute = True
    # Keys can be deleted on any cluster of the session (not only the one a client daemon serves).
    deletes_keys_by_cluster = True
    # A key's label and usage flags can be changed after it was made (``set_key_attribute``).
    changes_key_attributes = True
    # Mutual TLS (trust anchors, enforcement level) can be managed.
    manages_mtls = True
    # A key's generate/find/share/delete reaches the cluster named by ``target`` (else: the one cluster the client
    # daemon serves, whatever target says).
    keys_by_cluster = True

    warning = None

    @abc.abstractmethod
    def targets(self):
        """The clusters the session reaches, as given to ``open`` (or all of the configuration)."""

    @abc.abstractmethod
    def same_cluster(self, first, second):
        """True when the two targets name one cluster (e.g. a cluster id and the server it maps to)."""

    @abc.abstractmethod
    def login(self, username, role, password, targets=None):
        """Log in once on ``targets`` (default all); a refused login raises ``LoginFailed`` and is never retried
        (five failures in a row lock the account)."""

    @abc.abstractmethod
    def close(self):
        """End the session and its tools."""

    @abc.abstractmethod
    def read_view(self, target, keys=False, key_filter=None, key_details=False):
        """A ``ClusterView`` of ``target``: its users, and with ``keys`` the token keys the login sees (with
        ``key_details`` their attributes too, where reading them costs extra commands)."""

    @abc.abstractmethod
    def activate(self, target, password, default_password=None):
        """Set the first admin's password on a new cluster. ``default_password``: the password the unactivated
        admin logs in with first, where the SDK needs one (SDK 3 PRECO). An ``OpResult`` whose data is
        ``"already_active"`` when the cluster was activated before."""

    @abc.abstractmethod
    def create_user(self, target, spec, password):
        """An ``OpResult``."""

    @abc.abstractmethod
    def change_password(self, target, spec, password):
        """An ``OpResult``."""

    @abc.abstractmethod
    def delete_user(self, target, user):
        """An ``OpResult``."""

    @abc.abstractmethod
    def replicate_users(self, users, source, destination):
        """One ``OpResult`` per user, in order (batched in the one session)."""

    @abc.abstractmethod
    def replicate_keys(self, keys, source, destination):
        """One ``OpResult`` per key, in order (batched in the one session)."""

    @abc.abstractmethod
    def generate_key(self, target, spec):
        """A new symmetric key (``Key``) from ``spec``: label, key_type, length_bytes, extractable, share_with,
        key_id."""

    @abc.abstractmethod
    def generate_key_pair(self, target, spec):
        """(public ``Key``, private ``Key``) from ``spec``: key_type rsa|ec, label, public_label, modulus_bits,
        public_exponent, curve, key_id, extractable, share_with."""

    @abc.abstractmethod
    def find_keys(self, target, label, key_id=None, key_class="secret-key"):
        """[``Key``] labelled ``label`` (and with id ``key_id``) of class ``key_class`` (any with None)."""

    @abc.abstractmethod
    def share_key(self, target, key, username, share=True):
        """Share ``key`` with crypto user ``username`` (stop sharing with ``share=False``); an ``OpResult``."""

    @abc.abstractmethod
    def set_key_attribute(self, target, key, name, value):
        """Set one attribute of ``key`` (as its owner); an ``OpResult``; raises ``HsmError`` where
        ``changes_key_attributes`` is False."""

    @abc.abstractmethod
    def delete_key(self, target, key):
        """An ``OpResult``."""

    @abc.abstractmethod
    def list_trust_anchors(self, target):
        """[{reference, certificate}]; raises ``HsmError`` where ``manages_mtls`` is False."""

    @abc.abstractmethod
    def get_mtls_enforcement(self, target):
        """'none' or 'client-and-server'; raises ``HsmError`` where ``manages_mtls`` is False."""

    @abc.abstractmethod
    def register_trust_anchor(self, target, path):
        """An ``OpResult``; raises ``HsmError`` where ``manages_mtls`` is False."""

    @abc.abstractmethod
    def deregister_trust_anchor(self, target, reference):
        """An ``OpResult``; raises ``HsmError`` where ``manages_mtls`` is False."""

    @abc.abstractmethod
    def set_mtls_enforcement(self, target, level):
        """An ``OpResult``; raises ``HsmError`` where ``manages_mtls`` is False."""
