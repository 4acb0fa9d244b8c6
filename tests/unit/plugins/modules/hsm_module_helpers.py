# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Running the data-plane modules against the fake client tools."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hsmops.cloudhsm.tests.unit.plugins.module_utils.hsm import fake_tools


@pytest.fixture
def hsm(tmp_path, monkeypatch):
    return fake_tools.Environment(tmp_path, monkeypatch, fake_tools.dr_state())


def run_module(main, env, args, capsys, check_mode=False, diff=False):
    """main() with ``args`` and the fake tools' bin dir; returns the result dict. Asserts that no password given
    to the module shows up in its output or in any tool's argv."""
    module_args = dict(args, client_bin_dir=env.bin_dir, timeout=20)
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
        assert secret not in env.argv_text(), "a password reached a tool's argv"
    return json.loads(out)


def secrets_in(args):
    found = [args.get("password"), args.get("admin_password")]
    for user in args.get("users") or []:
        found.append(user.get("password"))
    return [secret for secret in found if secret]
