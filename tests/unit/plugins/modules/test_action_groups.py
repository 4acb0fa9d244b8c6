# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The action group hsmops.cloudhsm.hsm holds exactly the data-plane modules that take the whole client and login
contract: module_defaults passes every option of a group to every member, so a member lacking one would fail with
"Unsupported parameters", and a module that takes the contract but is left out could not be configured once."""

from __future__ import annotations

import glob
import importlib
import os

import pytest
import yaml

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import client_argument_spec

MODULES = os.path.dirname(importlib.import_module(
    "ansible_collections.hsmops.cloudhsm.plugins.modules.cloudhsm_user").__file__)
RUNTIME = os.path.join(MODULES, "..", "..", "meta", "runtime.yml")
CONTRACT = set(client_argument_spec(login=True))


class Captured(Exception):
    """Raised in place of AnsibleModule: carries the argument spec main() built."""


def argument_spec(name, monkeypatch):
    module = importlib.import_module("ansible_collections.hsmops.cloudhsm.plugins.modules." + name)
    if not hasattr(module, "AnsibleModule"):
        return None  # an AWS module (AnsibleAWSModule)

    def capture(argument_spec, **unused):
        raise Captured(argument_spec)

    monkeypatch.setattr(module, "AnsibleModule", capture)
    with pytest.raises(Captured) as captured:
        module.main()
    return captured.value.args[0]


def hsm_group():
    with open(RUNTIME) as handle:
        return yaml.safe_load(handle)["action_groups"]["hsm"]


def test_every_member_takes_the_whole_client_and_login_contract(monkeypatch):
    members = hsm_group()
    assert members, "the hsm action group is empty"
    for name in members:
        spec = argument_spec(name, monkeypatch)
        assert spec is not None, "%s is in the hsm group but is not a data-plane module" % name
        assert CONTRACT <= set(spec), "%s lacks %s" % (name, sorted(CONTRACT - set(spec)))
        for option in CONTRACT:
            assert spec[option] == client_argument_spec(login=True)[option], (name, option)


def test_every_data_plane_module_with_the_contract_is_a_member(monkeypatch):
    members = set(hsm_group())
    outside = []
    for path in sorted(glob.glob(os.path.join(MODULES, "cloudhsm_*.py"))):
        name = os.path.basename(path)[:-3]
        spec = argument_spec(name, monkeypatch)
        if spec is not None and CONTRACT <= set(spec) and name not in members:
            outside.append(name)
    assert not outside, "add %s to the hsm action group in meta/runtime.yml" % outside
    # cloudhsm_activate logs in as the PRECO with options of its own: module_defaults with a login would break it.
    assert "cloudhsm_activate" not in members
    assert "username" not in argument_spec("cloudhsm_activate", monkeypatch)
