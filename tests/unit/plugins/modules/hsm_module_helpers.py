# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Running the data-plane modules against the simulator's client tools."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm.sim_tools import (  # noqa: F401  pylint: disable=unused-import
    ADMIN_PW, CU_PW, Recorder, dr, hsm, tool_path)


@pytest.fixture
def dr_set(dr, monkeypatch):  # pylint: disable=redefined-outer-name
    """``dr_set(sdk, keys=7)``: a DR set (sim_tools.DrPair.dr_set) whose ``calls`` records what the modules give
    the tools from then on."""
    calls = Recorder(monkeypatch)

    def make(sdk="5", keys=7, build=True):
        pair = dr(sdk)
        if build:
            pair.dr_set(keys)
        pair.calls = calls
        del calls.calls[:]
        return pair
    return make


def run_module(main, pair, args, capsys, check_mode=False, diff=False):
    """main() with ``args`` and the pair's tools; returns the result dict. Asserts that no password given to the
    module shows up in its output or in any tool's argv."""
    module_args = dict(args, client_bin_dir=pair.settings.bin_dir, timeout=30)
    module_args.setdefault("sdk", pair.sdk)
    if pair.sdk == "3":
        module_args["client_config"] = pair.sync_config
    if check_mode:
        module_args["_ansible_check_mode"] = True
    if diff:
        module_args["_ansible_diff"] = True
    with patch_module_args(module_args):
        with pytest.raises(SystemExit):
            main()
    out = capsys.readouterr().out
    for secret in secrets_in(module_args):
        assert secret not in out, "a password leaked into the module result"
        assert secret not in pair.calls.argv_text(), "a password reached a tool's argv"
    return json.loads(out)


def secrets_in(args):
    found = [args.get("password"), args.get("admin_password")]
    for user in (args.get("users") or []) + (args.get("owner_credentials") or []):
        found.append(user.get("password"))
    return [secret for secret in found if secret]
