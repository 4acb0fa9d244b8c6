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
short_description: Generate, share or delete a key or key pair in an AWS CloudHSM cluster
description:
  - Makes a symmetric key (AES 128/192/256 or generic secret) or an asymmetric key pair (RSA 2048/3072/4096, EC on
    the P-256, P-384, P-521 or secp256k1 curve) with a given label and id present or absent, and shares it with (or
    stops sharing it with) other crypto users.
  - Idempotent by label and id; an existing key is never regenerated (its material could not be recovered), and a
    mismatch between the existing key and the declared type, size, curve or extractability is reported as a
    warning. Shares are brought to what O(share_with) and O(unshare_from) declare.
  - A key pair is found by the label and id of its private key; its public key is the public key that carries the
    same modulus or EC point.
  - Log in as the crypto user that owns (or will own) the key (O(role=crypto-user)).
  - SDK 5 uses C(cloudhsm-cli key generate-symmetric), C(key generate-asymmetric-pair), C(key share),
    C(key unshare) and C(key delete); SDK 3 uses C(key_mgmt_util) C(genSymKey), C(genRSAKeyPair), C(genECCKeyPair)
    and C(deleteKey) on the cluster the client daemon serves, and C(cloudhsm_mgmt_util) C(shareKey) (logged in as
    the same crypto user, over O(client_config)) to share an existing key.
author:
  - hsmops.cloudhsm contributors (@hsmops)
extends_documentation_fragment:
  - hsmops.cloudhsm.hsm_client
  - hsmops.cloudhsm.hsm_client.login
options:
  cluster:
    description:
      - SDK 5, the cluster id of a multi-cluster C(cloudhsm-cli.cfg) (omit with a single cluster). SDK 3 ignores it, as
        C(key_mgmt_util) reaches the one cluster the client daemon serves.
    type: str
  label:
    description:
      - Label of the key; of the private key (and, unless O(public_label) is given, of the public key) of a pair.
    type: str
    required: true
  public_label:
    description:
      - Label of the public key of a pair, when it differs from O(label). SDK 5 only (C(key_mgmt_util) gives both
        keys of a pair one label).
    type: str
  key_id:
    description:
      - Id of the key (of both keys of a pair); with O(label) it identifies the key. SDK 5 sets ids only on
        hsm2m.medium clusters.
    type: str
  key_type:
    description:
      - Key type. V(rsa) and V(ec) make a key pair (a private and a public key).
    type: str
    choices: [aes, generic-secret, rsa, ec]
    default: aes
  key_size:
    description:
      - Key size in bits. AES takes 128, 192 or 256 (default 256); a generic secret a multiple of 8 (default 256);
        RSA the modulus size 2048, 3072 or 4096 (default 2048). Not used with V(ec) (see O(curve)).
    type: int
  curve:
    description:
      - Curve of an EC key pair.
    type: str
    choices: [secp256r1, secp384r1, secp521r1, secp256k1]
    default: secp256r1
  public_exponent:
    description:
      - Public exponent of an RSA key pair.
    type: int
    default: 65537
  extractable:
    description:
      - Whether the key (the private key of a pair) can be exported (wrapped) from the HSM.
    type: bool
    default: false
  share_with:
    description:
      - Crypto users the key (the private key of a pair) must be shared with. A new key is generated shared with
        them; an existing key is shared with those it is not shared with yet.
    type: list
    elements: str
    default: []
  unshare_from:
    description:
      - Crypto users the key must not be shared with; an existing share with them is removed.
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
      - V(present) generates the key when no key has this label and id; V(absent) deletes every key that has them
        (both keys of a pair).
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

- name: An RSA 3072 signing key pair, its private key shared with the signing service
  hsmops.cloudhsm.cloudhsm_key:
    label: code-signing
    key_type: rsa
    key_size: 3072
    share_with: [signer]
    username: app_user1
    role: crypto-user
    password: "{{ app_user1_password }}"
  register: signing_pair

- name: An EC P-384 key pair for TLS offload, the public key labelled apart (SDK 5)
  hsmops.cloudhsm.cloudhsm_key:
    label: tls-p384
    public_label: tls-p384-public
    key_type: ec
    curve: secp384r1
    username: app_user1
    role: crypto-user
    password: "{{ app_user1_password }}"

- name: Share an existing key with one crypto user and stop sharing it with another (SDK 3)
  hsmops.cloudhsm.cloudhsm_key:
    sdk: "3"
    label: payments-kek
    share_with: [batch_user]
    unshare_from: [old_app_user]
    username: app_user1
    role: crypto-user
    password: "{{ app_user1_password }}"
"""

RETURN = r"""
key:
  description: The key, or the private key of a pair (after generation, or the existing one); absent after deletion.
  returned: when O(state=present)
  type: dict
  sample: {key_reference: "0x0000000000300006", label: payments-kek, id: "", key_type: aes, class: secret-key,
           length_bytes: 32, check_value: "0x5e118e", extractable: false, owner: app_user1, shared_users: [],
           token: true, pair: null, quorum_values: [0, 0],
           attributes: {encrypt: false, decrypt: false, wrap: false, unwrap: false, sign: true, verify: true}}
public_key:
  description: The public key of a pair.
  returned: when O(state=present) and O(key_type) is V(rsa) or V(ec)
  type: dict
  sample: {key_reference: "0x0000000000300007", label: code-signing, id: "", key_type: rsa, class: public-key,
           length_bytes: 384, check_value: "0x29bbd1", extractable: true, owner: app_user1, shared_users: [],
           token: true, pair: "rsa:5f0c8e1d2a3b4c5d", quorum_values: [0, 0], attributes: {verify: true}}
shared:
  description: Crypto users the key was shared with in this run (would be, in check mode).
  returned: when O(state=present)
  type: list
  elements: str
unshared:
  description: Crypto users the key stopped being shared with in this run (would, in check mode).
  returned: when O(state=present)
  type: list
  elements: str
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


PAIR_TYPES = ("rsa", "ec")
DEFAULT_SIZES = {"aes": 256, "generic-secret": 256, "rsa": 2048}


def validate_size(module):
    """The key length in bytes (symmetric keys) or the modulus size in bits (RSA); None for EC."""
    key_type, bits = module.params["key_type"], module.params["key_size"]
    if key_type == "ec":
        if bits is not None:
            module.fail_json(msg="key_size does not apply to an EC key pair; choose its curve with curve.")
        return None
    bits = DEFAULT_SIZES[key_type] if bits is None else bits
    if key_type == "aes" and bits not in (128, 192, 256):
        module.fail_json(msg="key_size %d is not an AES size; use 128, 192 or 256." % bits)
    if key_type == "generic-secret" and (bits <= 0 or bits % 8 or bits > 28672):
        module.fail_json(msg="key_size %d is not a generic secret size; use a multiple of 8 up to 28672." % bits)
    if key_type == "rsa":
        if bits not in (2048, 3072, 4096):
            module.fail_json(msg="key_size %d is not an RSA modulus size; use 2048, 3072 or 4096." % bits)
        return bits
    return bits // 8


def validate_shares(module):
    sharing = set(name.lower() for name in module.params["share_with"])
    both = sorted(sharing & set(name.lower() for name in module.params["unshare_from"]))
    if both:
        module.fail_json(msg="%s in both share_with and unshare_from; name each user in one of them." %
                         ", ".join(both))
    if module.params["username"].lower() in [n.lower() for n in module.params["share_with"]]:
        module.fail_json(msg="share_with names %s, the key owner; a key is shared with other crypto users only."
                         % module.params["username"])
    if module.params["public_label"] and module.params["key_type"] not in PAIR_TYPES:
        module.fail_json(msg="public_label applies to rsa and ec key pairs only (key_type is %s)." %
                         module.params["key_type"])


def find_present(session, target, params):
    """(key, public key or None, [every key found]) for the declared label and id; fails on ambiguity."""
    pair = params["key_type"] in PAIR_TYPES
    found = session.find_keys(target, params["label"], params["key_id"],
                              key_class="private-key" if pair else "secret-key")
    if not pair:
        return found, []
    public_label = params["public_label"] or params["label"]
    publics = session.find_keys(target, public_label, params["key_id"], key_class="public-key")
    return found, publics


def mismatches(key, params, size):
    declared = [("key_type", key.key_type, params["key_type"]), ("extractable", key.extractable, params["extractable"])]
    if params["key_type"] in ("aes", "generic-secret"):
        declared.append(("length_bytes", key.length, size))
    return ["%s is %s, declared %s" % (name, have, want) for name, have, want in declared
            if have is not None and have != want]


def align_shares(module, session, target, key, result):
    """Share/unshare the existing key as declared; returns the failures."""
    owner = (key.owner or "").lower()
    have = set(key.shared)
    result["shared"] = sorted(n.lower() for n in module.params["share_with"] if n.lower() not in have)
    result["unshared"] = sorted(n.lower() for n in module.params["unshare_from"] if n.lower() in have)
    if owner and owner != module.params["username"].lower() and (result["shared"] or result["unshared"]):
        fail(module, "%s is owned by %s; only its owner can share it. Log in as %s." % (
            key.describe(), owner, owner), **result)
    if not (result["shared"] or result["unshared"]):
        return []
    result["changed"] = True
    if module.check_mode:
        return []
    failures = []
    for name, share in [(n, True) for n in result["shared"]] + [(n, False) for n in result["unshared"]]:
        outcome = session.share_key(target, key, name, share=share)
        if not outcome.ok:
            failures.append("%s %s: %s" % ("sharing with" if share else "unsharing from", name, outcome.message))
    return failures


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(
            cluster=dict(type="str"),
            label=dict(type="str", required=True),
            public_label=dict(type="str"),
            key_id=dict(type="str"),
            key_type=dict(type="str", choices=["aes", "generic-secret", "rsa", "ec"], default="aes"),
            key_size=dict(type="int"),
            curve=dict(type="str", choices=["secp256r1", "secp384r1", "secp521r1", "secp256k1"],
                       default="secp256r1"),
            public_exponent=dict(type="int", default=65537),
            extractable=dict(type="bool", default=False),
            share_with=dict(type="list", elements="str", default=[]),
            unshare_from=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            generate=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    size = validate_size(module)
    validate_shares(module)
    pair = params["key_type"] in PAIR_TYPES
    target = params["cluster"]
    result = dict(changed=False)
    with hsm_session(module, [target], keys=True) as (driver, session):
        found, publics = find_present(session, target, params)
        if params["state"] == "absent":
            # The public keys that belong to the private keys found (same pair link), not every public key with
            # the label: another user's pair may carry it too.
            links = set(key.pair for key in found if key.pair)
            doomed = found + [key for key in publics if key.pair in links]
            result["deleted"] = [key.reference for key in doomed]
            result["changed"] = bool(doomed)
            if doomed and not module.check_mode:
                failures = ["%s: %s" % (key.reference, outcome.message) for key, outcome in
                            ((key, session.delete_key(target, key)) for key in doomed) if not outcome.ok]
                if failures:
                    fail(module, "deleting key(s) labelled %r failed: %s" % (params["label"], "; ".join(failures)),
                         **result)
        elif len(found) > 1:
            fail(module, "label %r matches %d keys on %s (%s) and no key_id tells which one is meant; give key_id to "
                 "pick one, or label the keys apart." % (params["label"], len(found), target,
                                                         ", ".join(key.reference for key in found)), **result)
        elif found:
            key = found[0]
            problems = mismatches(key, params, size)
            if problems:
                module.warn("%s exists and is kept as it is (a key cannot be regenerated without losing its "
                            "material): %s." % (key.describe(), "; ".join(problems)))
            if pair:
                partner = [public for public in publics if key.pair and public.pair == key.pair]
                result["public_key"] = partner[0].to_dict() if partner else None
            failures = align_shares(module, session, target, key, result)
            if result["changed"] and not module.check_mode:
                refreshed = [k for k in find_present(session, target, params)[0] if k.reference == key.reference]
                key = refreshed[0] if refreshed else key
            result["key"] = key.to_dict()
            result["missing"] = False
            if failures:
                fail(module, "%s: %s" % (key.describe(), "; ".join(failures)), **result)
        elif not params["generate"]:
            result.update(missing=True, shared=[], unshared=[])
            module.warn("no key labelled %r on %s; it is not generated again (generate=false): new material under the "
                        "same label would be a different key. If it was deleted on purpose, remove it from the "
                        "declared keys; to make a new key, run with generate=true." % (
                            params["label"], target or "the cluster"))
        else:
            result["changed"] = True
            result["missing"] = False
            result["shared"] = sorted(n.lower() for n in params["share_with"])
            result["unshared"] = []
            spec = dict(label=params["label"], key_id=params["key_id"], key_type=params["key_type"],
                        extractable=params["extractable"], share_with=params["share_with"])
            if pair:
                spec.update(public_label=params["public_label"], modulus_bits=size, curve=params["curve"],
                            public_exponent=params["public_exponent"])
            else:
                spec.update(length_bytes=size)
            if module.check_mode:
                predicted = dict(label=params["label"], id=params["key_id"], key_type=params["key_type"],
                                 extractable=params["extractable"], shared_users=result["shared"])
                if pair:
                    result["key"] = dict(predicted, **{"class": "private-key"})
                    result["public_key"] = dict(predicted, label=params["public_label"] or params["label"],
                                                extractable=True, shared_users=[], **{"class": "public-key"})
                else:
                    result["key"] = dict(predicted, length_bytes=size, **{"class": "secret-key"})
            elif pair:
                public, private = session.generate_key_pair(target, spec)
                result["key"], result["public_key"] = private.to_dict(), public.to_dict()
            else:
                result["key"] = session.generate_key(target, spec).to_dict()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
