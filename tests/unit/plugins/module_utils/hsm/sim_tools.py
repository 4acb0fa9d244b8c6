# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The simulator's own client tools, for the driver, session and module unit tests.

One in-process HSM API serves a test module; each test gets fresh clusters (unique ids) and the tools installed under
a temporary directory as the simulator's packages lay them out. What a test only builds on (activation, users, keys)
is set up through the simulator's HSM API. The clusters are named by their ids under both SDKs (SDK 3 through the
cluster map next to SyncClusters.cfg, as roles/cloudhsm_sync_config writes it). ``Recorder`` keeps what the drivers
gave the tools: every argv, and every line written to a tool's stdin.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import sys

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm import process
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.driver import ClientSettings, get_driver

SIMULATOR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "simulator"))
if SIMULATOR not in sys.path:
    sys.path.insert(0, SIMULATOR)

# The simulator ships in the collection's source tree, next to these tests.
testing = importlib.import_module("cloudhsm_sim.dataplane.testing")
sdk3_configure = importlib.import_module("cloudhsm_sim.tools.sdk3_configure")
dataplane = importlib.import_module("cloudhsm_sim.dataplane")
service = importlib.import_module("cloudhsm_sim.dataplane.service")
HsmRefusal = importlib.import_module("cloudhsm_sim.dataplane.model").HsmError

ADMIN_PW = "Officer-Pass1"
CU_PW = "Crypto-Pass1"
NEW_PW = "Crypto-Pass2"
_numbers = itertools.count(1)
ROLES = {"admin": "CO", "crypto-user": "CU"}


@pytest.fixture(scope="module")
def hsm():
    with testing.HsmTestServer() as server:
        yield server


@pytest.fixture
def tool_path(monkeypatch):
    if os.path.exists("/usr/bin/python3"):
        # The tools run with the first python3 on PATH; a version manager's shim costs time on every start.
        monkeypatch.setenv("PATH", "/usr/bin" + os.pathsep + os.environ.get("PATH", ""))


class Recorder(object):
    """What the drivers gave the tools: ("argv", [..]) per process, ("line", text) per line written to stdin."""

    def __init__(self, monkeypatch):
        self.calls = []
        start, send = process.ToolSession.__init__, process.ToolSession.send
        recorder = self

        def recording_start(session, argv, *args, **kwargs):
            recorder.calls.append(("argv", list(argv)))
            start(session, argv, *args, **kwargs)

        def recording_send(session, text):
            recorder.calls.extend(("line", line) for line in text.splitlines())
            return send(session, text)

        monkeypatch.setattr(process.ToolSession, "__init__", recording_start)
        monkeypatch.setattr(process.ToolSession, "send", recording_send)

    def argvs(self):
        return [value for kind, value in self.calls if kind == "argv"]

    def argv_text(self):
        return " ".join(" ".join(argv) for argv in self.argvs())

    def commands(self, *words):
        """The lines sent that start with ``words``."""
        return [value for kind, value in self.calls if kind == "line" and value.split()[:len(words)] == list(words)]


class DrPair(object):
    """One SDK's clusters and client tools; ``clusters`` is what the client configuration lists, source first."""

    def __init__(self, sdk, hsm, directory):
        self.sdk = sdk
        self.hsm = hsm
        number = next(_numbers)
        tag = "".join("abcdefghijklmnopqrstuvwxyz"[int(d)] for d in "%04d" % number)
        self.source = "cluster-%ssrc%s" % ("ctr" + sdk, tag)
        self.clone = "cluster-%scln%s" % ("ctr" + sdk, tag)
        self.unrelated = "cluster-%soth%s" % ("ctr" + sdk, tag)
        prefix = "10.%d.%d." % (60 + int(sdk), number % 250)
        self.ips = {self.source: prefix + "1", self.clone: prefix + "2", self.unrelated: prefix + "3"}
        self.hsm_type = "hsm1.medium" if sdk == "3" else "hsm2m.medium"
        hsm.cluster(self.source, [self.ips[self.source]], hsm_type=self.hsm_type)
        self.root = testing.tool_root(sdk, os.path.join(directory, "opt-cloudhsm"), hsm.endpoint)
        self.sync_config = os.path.join(self.root, "etc", "SyncClusters.cfg")
        self.settings = ClientSettings(bin_dir=os.path.join(self.root, "bin"), timeout=30,
                                       config_path=self.sync_config if sdk == "3" else None)
        self.clusters = []
        self.configure([self.source])

    def configure(self, clusters):
        """The client configuration for ``clusters`` (source first), written as the collection's roles write it."""
        if self.sdk == "3":
            with open(self.sync_config, "w") as handle:
                json.dump({"scard": {"enable": "no"},
                           "servers": [sdk3_configure.cmu_server(self.root, self.ips[c]) for c in clusters]}, handle)
            with open(os.path.splitext(self.sync_config)[0] + ".clusters.json", "w") as handle:
                json.dump({"clusters": [{"cluster_id": c, "hostname": self.ips[c]} for c in clusters]}, handle)
            client = os.path.join(self.root, "etc", "cloudhsm_client.cfg")
            with open(client) as handle:
                config = json.load(handle)
            config["server"]["hostname"] = self.ips[clusters[0]]  # the daemon serves the source
            with open(client, "w") as handle:
                json.dump(config, handle)
        else:
            for cluster in clusters:
                if cluster not in self.clusters:
                    self.tool("configure-cli", "add-cluster", "--cluster-id", cluster, "--region", "us-east-1")
        self.clusters = list(clusters)

    # Set-up through the simulator's HSM API (what a test builds on, not what it tests).
    def activated(self, cluster=None):
        self.hsm.call("activate", hsm=self.ips[cluster or self.source], password=ADMIN_PW)
        return self

    def login(self, cluster, username="admin", password=ADMIN_PW, role="CO"):
        return self.hsm.call("login", hsm=self.ips[cluster], role=role, username=username, password=password)["session"]

    def with_crypto_users(self, *users, cluster=None):
        cluster = cluster or self.source
        session = self.login(cluster)
        for user in users:
            self.hsm.call("create_user", hsm=self.ips[cluster], session=session, role="CU", username=user,
                          password=CU_PW)
        self.hsm.call("logout", session=session)
        return self

    def with_clone(self):
        self.hsm.clone(self.source, self.clone, [self.ips[self.clone]], region="us-east-1")
        self.configure(self.clusters + [self.clone])
        return self

    def with_unrelated(self, *users):
        self.hsm.cluster(self.unrelated, [self.ips[self.unrelated]], hsm_type=self.hsm_type)
        self.activated(self.unrelated).with_crypto_users(*users, cluster=self.unrelated)
        self.configure(self.clusters + [self.unrelated])
        return self

    def with_keys(self, *labels):
        session = self.open([self.source], username="alice", role="crypto-user", password=CU_PW, keys=True)
        try:
            return [session.generate_key(self.source, dict(label=label, key_type="aes", length_bytes=16))
                    for label in labels]
        finally:
            session.close()

    def add_keys(self, cluster, owner, labels, size=32, first_handle=None):
        """Keys of ``owner`` (a crypto user with CU_PW) generated on ``cluster``, from handle ``first_handle`` if
        given (as if the cluster had held other keys before); returns their handles."""
        if first_handle:
            self.state(cluster).next_handle = max(self.state(cluster).next_handle, first_handle)
        return [self.as_owner(cluster, owner, "generate_key", key_type="aes", size=size, label=label)["key"]["handle"]
                for label in labels]

    def as_owner(self, cluster, owner, op, **args):
        """One HSM API call on ``cluster`` in a session of crypto user ``owner``."""
        session = self.login(cluster, owner, CU_PW, "CU")
        try:
            return self.hsm.call(op, hsm=self.ips[cluster], session=session, **args)
        finally:
            self.hsm.call("logout", session=session)

    def copy_keys(self):
        """Every key of the source copied to the clone, as key replicate copies them."""
        source, clone = self.login(self.source), self.login(self.clone)
        for handle in self.keys(self.source):
            self.hsm.call("sync_key", hsm=self.ips[self.source], session=source, dest_hsm=self.ips[self.clone],
                          dest_session=clone, handle=handle)
        self.hsm.call("logout", session=source)
        self.hsm.call("logout", session=clone)

    def dr_set(self, keys=7):
        """Source (admin, alice, ``keys`` AES keys of alice labelled k0...), its clone (the users, no keys) and an
        unrelated cluster (admin, alice); configured in that order."""
        self.activated().with_crypto_users("alice").with_clone().with_unrelated("alice")
        self.add_keys(self.source, "alice", ["k%d" % i for i in range(keys)])
        return self

    # What a cluster holds, read from the simulator's state.
    def state(self, cluster):
        return dataplane.STATE.clusters[cluster]

    def users(self, cluster):
        return dict((name, user["role"]) for name, user in self.state(cluster).users.items())

    def keys(self, cluster):
        state = self.state(cluster)
        return dict((handle, service.key_view(state, key)) for handle, key in state.keys.items())

    def handles(self, cluster):
        """{label: handle} of the keys on ``cluster``."""
        return dict((key["label"], handle) for handle, key in self.keys(cluster).items())

    def password_works(self, cluster, username, password, role="CU"):
        try:
            session = self.login(cluster, username, password, role)
        except HsmRefusal:
            return False
        self.hsm.call("logout", session=session)
        return True

    def tool(self, name, *args):
        result = testing.run_tool(self.root, name, args, endpoint=self.hsm.endpoint)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def open(self, targets=None, username="admin", role="admin", password=ADMIN_PW, keys=False):
        session = get_driver(self.sdk, self.settings).open(targets, secrets=[password], keys=keys)
        if username:
            session.login(username, role, password, targets=session.targets())
        return session


@pytest.fixture
def dr(hsm, tmp_path, tool_path):  # pylint: disable=redefined-outer-name,unused-argument
    """``dr(sdk)``: a fresh DrPair of that SDK."""
    return lambda sdk="5": DrPair(sdk, hsm, str(tmp_path / ("sdk" + sdk)))
