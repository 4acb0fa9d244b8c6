# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The choice of driver (SDK 5 ``cloudhsm-cli``, or SDK 3 ``cloudhsm_mgmt_util`` and ``key_mgmt_util``) and the
client settings it runs with. The interface the drivers implement is ``interface.py``; what they tell the user is
``messages.py``."""

from __future__ import annotations

import os

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmError

DEFAULT_BIN_DIR = "/opt/cloudhsm/bin"
SDK5_TOOL = "cloudhsm-cli"
SDK3_TOOL = "cloudhsm_mgmt_util"
SDK3_KEY_TOOL = "key_mgmt_util"


class ClientSettings(object):
    """Where the client tools and their configuration live, and how long to wait for them."""

    def __init__(self, bin_dir=DEFAULT_BIN_DIR, config_path=None, timeout=60.0):
        self.bin_dir = bin_dir or DEFAULT_BIN_DIR
        self.config_path = config_path
        self.timeout = timeout

    def tool(self, name):
        return os.path.join(self.bin_dir, name)

    @property
    def etc_dir(self):
        return os.path.join(os.path.dirname(os.path.abspath(self.bin_dir)), "etc")


def detect_sdk(settings):
    """'5' when cloudhsm-cli is installed under the bin dir, else '3' when cloudhsm_mgmt_util is, else None."""
    for sdk, tool in (("5", SDK5_TOOL), ("3", SDK3_TOOL)):
        path = settings.tool(tool)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return sdk
    return None


def get_driver(sdk, settings):
    """The driver for ``sdk`` ('5', '3' or 'auto'); raises HsmError naming what is missing."""
    chosen = detect_sdk(settings) if sdk == "auto" else sdk
    if chosen is None:
        raise HsmError("sdk=auto found neither %s nor %s in %s. Install a CloudHSM client there or set client_bin_dir "
                       "to the directory holding it." % (SDK5_TOOL, SDK3_TOOL, settings.bin_dir))
    tool = settings.tool(SDK5_TOOL if chosen == "5" else SDK3_TOOL)
    if not os.path.isfile(tool):
        raise HsmError("sdk=%s needs %s, which is not at %s. Install the Client SDK %s tools or set client_bin_dir." % (
            chosen, os.path.basename(tool), tool, chosen))
    if chosen == "5":
        from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.sdk5 import Sdk5Driver
        return Sdk5Driver(settings)
    from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.sdk3 import Sdk3Driver
    return Sdk3Driver(settings)


def session_class(sdk):
    """The session class of ``sdk`` (5 or 3): its capability flags say what that SDK can do before any client tool is
    reached, as the settings check on the control node needs."""
    if str(sdk) == "5":
        from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.sdk5 import Sdk5Session
        return Sdk5Session
    from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.sdk3 import Sdk3ClientSession
    return Sdk3ClientSession
