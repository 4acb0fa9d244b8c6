#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_key
version_added: 0.1.0
short_description: Generate or delete a symmetric key in an AWS CloudHSM cluster
description:
  - Makes a symmetric key (AES 128/192/256 or generic secret) with a given label and id present or absent.
  - Idempotent by label and id; an existing key is never regenerated (its material could not be recovered), and a
    mismatch between the existing key and the declared type, size or extractability is reported as a warning.
  - Log in as the crypto user that owns (or will own) the key (O(role=crypto-user)).
  - SDK 5 uses C(cloudhsm-cli key generate-symmetric) and C(key delete); SDK 3 uses C(key_mgmt_util) C(genSymKey) and
    C(deleteKey) on the cluster the client daemon serves.
author:
  - hsmops.cloudhsm contributors (@hsmops)
extends_documentation_fragment:
  - hsmops.cloudhsm.hsm_client
  - hsmops.cloudhsm.hsm_client.login
options:
  cluster:
    description:
      - SDK 5, the cluster id of a multi-cluster C(cloudhsm-cli.cfg) (omit with a single cluster). SDK 3 ignores it.
    type: str
  label:
    description:
      - Label of the key.
    type: str
    required: true
  key_id:
    description:
      - Id of the key; with O(label) it identifies the key. SDK 5 sets ids only on hsm2m.medium clusters.
    type: str
  key_type:
    description:
      - Key type.
    type: str
    choices: [aes, generic-secret]
    default: aes
  key_size:
    description:
      - Key size in bits. AES takes 128, 192 or 256; a generic secret a multiple of 8.
    type: int
    default: 256
  extractable:
    description:
      - Whether the key can be exported (wrapped) from the HSM.
    type: bool
    default: false
  share_with:
    description:
      - Crypto users to share the new key with.
    type: list
    elements: str
    default: []
  generate:
    description:
      - With O(state=present), whether a missing key is generated. V(false) reports it instead (RV(missing), a
        warning, no change), because new material under an old label is a different key, so a key deleted on
        purpose must not come back silently.
    type: bool
    default: true
  state:
    description:
      - V(present) generates the key when no key has this label and id; V(absent) deletes every key that has them.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: A non-extractable AES-256 key for the payments application
  hsmops.cloudhsm.cloudhsm_key:
    cluster: cluster-abcdefghijk
    label: payments-kek
    username: app_user1
    role: crypto-user
    password: "{{ app_user1_password }}"
  register: kek
"""

RETURN = r"""
key:
  description: The key (after generation, or the existing one); absent after deletion.
  returned: when O(state=present)
  type: dict
  sample: {key_reference: "0x0000000000300006", label: payments-kek, id: "", key_type: aes, length_bytes: 32,
           check_value: "0x5e118e", extractable: false, owner: app_user1, shared_users: []}
missing:
  description: Whether the key was missing and left so (O(generate=false)).
  returned: when O(state=present)
  type: bool
deleted:
  description: Key references deleted (that would be, in check mode).
  returned: when O(state=absent)
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import client_argument_spec
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import fail
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import hsm_session


def validate_size(module):
    key_type, bits = module.params["key_type"], module.params["key_size"]
    if key_type == "aes" and bits not in (128, 192, 256):
        module.fail_json(msg="key_size %d is not an AES size; use 128, 192 or 256." % bits)
    if key_type == "generic-secret" and (bits <= 0 or bits % 8 or bits > 28672):
        module.fail_json(msg="key_size %d is not a generic secret size; use a multiple of 8 up to 28672." % bits)
    return bits // 8


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(
            cluster=dict(type="str"),
            label=dict(type="str", required=True),
            key_id=dict(type="str"),
            key_type=dict(type="str", choices=["aes", "generic-secret"], default="aes"),
            key_size=dict(type="int", default=256),
            extractable=dict(type="bool", default=False),
            share_with=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            generate=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    length = validate_size(module)
    target = params["cluster"]
    result = dict(changed=False)
    with hsm_session(module, [target], keys=True) as (driver, session):
        found = session.find_keys(target, params["label"], params["key_id"])
        if params["state"] == "absent":
            result["deleted"] = [key.reference for key in found]
            result["changed"] = bool(found)
            if found and not module.check_mode:
                failures = ["%s: %s" % (key.reference, outcome.message) for key, outcome in
                            ((key, session.delete_key(target, key)) for key in found) if not outcome.ok]
                if failures:
                    fail(module, "deleting key(s) labelled %r failed: %s" % (params["label"], "; ".join(failures)),
                         **result)
        elif len(found) > 1:
            fail(module, "label %r matches %d keys on %s (%s) and no key_id tells which one is meant; give key_id to "
                 "pick one, or label the keys apart." % (params["label"], len(found), target,
                                                         ", ".join(key.reference for key in found)), **result)
        elif found:
            key = found[0]
            mismatches = [
                "%s is %s, declared %s" % (name, have, want) for name, have, want in (
                    ("key_type", key.key_type, params["key_type"]), ("length_bytes", key.length, length),
                    ("extractable", key.extractable, params["extractable"]))
                if have is not None and have != want]
            if mismatches:
                module.warn("key %s labelled %r exists and is kept as it is (a key cannot be regenerated without "
                            "losing its material): %s." % (key.reference, params["label"], "; ".join(mismatches)))
            result["key"] = key.to_dict()
            result["missing"] = False
        elif not params["generate"]:
            result["missing"] = True
            module.warn("no key labelled %r on %s; it is not generated again (generate=false): new material under the "
                        "same label would be a different key. If it was deleted on purpose, remove it from the "
                        "declared keys; to make a new key, run with generate=true." % (
                            params["label"], target or "the cluster"))
        else:
            result["changed"] = True
            result["missing"] = False
            spec = dict(label=params["label"], key_id=params["key_id"], key_type=params["key_type"],
                        length_bytes=length, extractable=params["extractable"], share_with=params["share_with"])
            if module.check_mode:
                result["key"] = dict(label=params["label"], id=params["key_id"], key_type=params["key_type"],
                                     length_bytes=length, extractable=params["extractable"])
            else:
                result["key"] = session.generate_key(target, spec).to_dict()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
