# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the data-plane modules share: the client options, the driver session they run in, error handling."""

from __future__ import annotations

from contextlib import contextmanager

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.driver import (
    ClientSettings, DEFAULT_BIN_DIR, get_driver)
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.process import ToolError, scrub


def client_argument_spec(login=True, clusters=False, **extra):
    """The options of the hsm_client doc fragment (and of hsm_client.login with ``login``, of hsm_client.clusters
    with ``clusters``) plus ``extra``."""
    spec = dict(
        sdk=dict(type="str", choices=["5", "3", "auto"], default="5"),
        client_bin_dir=dict(type="path", default=DEFAULT_BIN_DIR),
        client_config=dict(type="path"),
        timeout=dict(type="float", default=60.0),
    )
    if login:
        spec.update(
            username=dict(type="str", required=True),
            password=dict(type="str", required=True, no_log=True),
            role=dict(type="str", choices=["admin", "crypto-user"], default="admin"),
        )
    if clusters:
        spec.update(clusters=dict(type="list", elements="str", default=[]))
    spec.update(extra)
    return spec


def settings_from(params):
    return ClientSettings(bin_dir=params["client_bin_dir"], config_path=params.get("client_config"),
                          timeout=params["timeout"])


def secrets_of(module):
    """Every secret value among the module's parameters: the values of its no_log options, top level and in
    suboptions, as AnsibleModule collected them."""
    # The PRECO default ("password") is public; masking that word would only garble messages.
    public = module.params.get("preco_password") if module.params.get("preco_password") == "password" else None
    return sorted(value for value in module.no_log_values if value and value != public)


def fail(module, message, **result):
    """fail_json with every secret scrubbed from the message (belt and braces on top of no_log)."""
    module.fail_json(msg=scrub(str(message), secrets_of(module)), **result)


class DataPlaneTask(object):
    """The work of one data-plane module run (key_sync, user_sync), in the session ``hsm_session`` opened; the
    driver opens another where a step needs a different login."""

    def __init__(self, module, driver, session):
        self.module = module
        self.driver = driver
        self.session = session
        self.params = module.params


@contextmanager
def hsm_session(module, targets=None, login=True, keys=False):
    """Yield (driver, session) for the module run; HSM and tool errors end the module with a clear message.
    ``keys``: a session for key generation/deletion (SDK 3: key_mgmt_util instead of cloudhsm_mgmt_util)."""
    secrets = secrets_of(module)
    session = None
    try:
        driver = get_driver(module.params["sdk"], settings_from(module.params))
        session = driver.open(targets, secrets=secrets, keys=keys)
        if getattr(session, "warning", None):
            module.warn(session.warning)
        if login:
            session.login(module.params["username"], module.params["role"], module.params["password"],
                          targets=session.targets())
        yield driver, session
    except (HsmError, ToolError) as exc:
        fail(module, exc)
    finally:
        if session is not None:
            try:
                session.close()
            except (HsmError, ToolError):
                pass
