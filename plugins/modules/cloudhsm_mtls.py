#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudhsm_mtls
version_added: 0.1.0
short_description: Register mutual TLS trust anchors and set the mTLS enforcement level of CloudHSM clusters
description:
  - Mutual TLS between client and HSM exists on C(hsm2m.medium) clusters and is managed with C(cloudhsm-cli
    cluster mtls) (Client SDK 5 only; with O(sdk=3) the module fails saying so).
  - Registers the trust anchors in O(trust_anchors) that are not registered yet (a cluster holds at most two),
    optionally deregisters the others (O(purge_trust_anchors)), and sets O(enforcement).
  - When enforcement becomes V(client-and-server), this client must already present a certificate signed by one of
    the anchors (see the C(cloudhsm_client) role's C(cloudhsm_client_mtls_certificates)); otherwise it would lock
    itself out, and the HSM refuses.
  - So that no step locks the client out, new anchors are registered first, then enforcement is lowered to V(none)
    if asked, then anchors are deregistered, then enforcement is raised.
  - Reads first and changes only what differs; in check mode nothing is changed and the result says what would be.
author:
  - hsmops.cloudhsm contributors (@hsmops)
extends_documentation_fragment:
  - hsmops.cloudhsm.hsm_client
  - hsmops.cloudhsm.hsm_client.login
  - hsmops.cloudhsm.hsm_client.clusters
options:
  trust_anchors:
    description:
      - PEM certificates (the text, not file names) that must be registered as trust anchors.
      - RSA 2048, 3072 or 4096 bit or EC P-256, P-384 or P-521 keys (AWS's list). At most two per cluster.
    type: list
    elements: str
    default: []
  purge_trust_anchors:
    description:
      - Deregister registered trust anchors that are not in O(trust_anchors) (for example the old CA after a
        rotation). Clients whose certificates only the purged anchor signed can no longer connect once
        enforcement is on.
    type: bool
    default: false
  enforcement:
    description:
      - The mTLS enforcement level to set. Omit to leave it as it is.
    type: str
    choices: [none, client-and-server]
notes:
  - The login must be an admin (C(register-trust-anchor), C(deregister-trust-anchor) and C(set-enforcement) are
    admin commands).
  - Whether a cluster created from a backup keeps its source's trust anchors and enforcement level is not
    documented by AWS; run this module on the clone to make sure either way.
"""

EXAMPLES = r"""
- name: Trust the customer CA for client certificates and require them
  hsmops.cloudhsm.cloudhsm_mtls:
    clusters: [cluster-abcdefghijk]
    username: admin
    password: "{{ hsm_admin_password }}"
    trust_anchors:
      - "{{ lookup('ansible.builtin.file', 'pki/client-root.crt') }}"
    enforcement: client-and-server

- name: Rotate the client CA (both anchors while clients move, then the old one goes)
  hsmops.cloudhsm.cloudhsm_mtls:
    username: admin
    password: "{{ hsm_admin_password }}"
    trust_anchors: ["{{ new_client_root_pem }}"]
    purge_trust_anchors: true
"""

RETURN = r"""
clusters:
  description: One entry per cluster.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: The cluster id (C(default) for a single-cluster configuration).
      type: str
    trust_anchors:
      description: The trust anchors after the run (would be, in check mode), by reference and SHA-256 of the DER.
      type: list
      elements: dict
    registered:
      description: How many anchors this run registered (would register).
      type: int
    deregistered:
      description: References of the anchors this run deregistered (would deregister).
      type: list
      elements: str
    enforcement:
      description: The enforcement level after the run (would be, in check mode).
      type: str
    enforcement_before:
      description: The enforcement level before the run.
      type: str
  sample:
    - cluster: cluster-abcdefghijk
      trust_anchors: [{reference: "0x01", sha256: "9f86d0..."}]
      registered: 1
      deregistered: []
      enforcement: client-and-server
      enforcement_before: none
"""

import base64
import hashlib
import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import client_argument_spec
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import fail
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.common import hsm_session

MAX_TRUST_ANCHORS = 2
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def certificate_digest(pem):
    """SHA-256 of the certificate's DER (the first certificate of ``pem``), or None when it is not PEM."""
    found = _PEM.search(pem or "")
    if not found:
        return None
    try:
        der = base64.b64decode("".join(found.group(1).split()), validate=True)
    except (ValueError, TypeError):
        return None
    return hashlib.sha256(der).hexdigest()


def plan_cluster(anchors, wanted, purge, enforcement, current_level):
    """What to change on one cluster: (register [pem], deregister [reference], level or None, problem or None)."""
    present = dict((certificate_digest(a["certificate"]), a["reference"]) for a in anchors)
    register, seen = [], set()
    for pem in wanted:
        digest = certificate_digest(pem)
        if digest not in present and digest not in seen:
            register.append(pem)
        seen.add(digest)
    deregister = [ref for digest, ref in sorted(present.items(), key=lambda item: str(item[1]))
                  if purge and digest not in seen]
    remaining = len(present) - len(deregister)
    if remaining + len(register) > MAX_TRUST_ANCHORS:
        return register, deregister, None, (
            "%d trust anchors are registered and %d more are asked for, but a cluster holds at most %d. Set "
            "purge_trust_anchors: true to deregister the ones not listed, or list fewer." % (
                len(present), len(register), MAX_TRUST_ANCHORS))
    level = enforcement if enforcement and enforcement != current_level else None
    final_level = enforcement or current_level
    if final_level == "client-and-server" and remaining + len(register) == 0:
        return register, deregister, level, (
            "enforcement client-and-server needs at least one trust anchor; give trust_anchors or keep the "
            "registered ones (purge_trust_anchors: false).")
    return register, deregister, level, None


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(
            clusters=True,
            trust_anchors=dict(type="list", elements="str", default=[]),
            purge_trust_anchors=dict(type="bool", default=False),
            enforcement=dict(type="str", choices=["none", "client-and-server"]),
        ),
        supports_check_mode=True,
    )
    wanted = module.params["trust_anchors"]
    bad = [str(index) for index, pem in enumerate(wanted) if certificate_digest(pem) is None]
    if bad:
        fail(module, "trust_anchors[%s] is not a PEM certificate (-----BEGIN CERTIFICATE----- ...); give the "
                     "certificate's text, for example with lookup('ansible.builtin.file', PATH). Nothing was "
                     "changed." % ", ".join(bad))
    reports, errors = [], []
    workdir = None
    try:
        with hsm_session(module, module.params["clusters"] or None) as (driver, session):
            plans = []
            for target in session.targets():
                anchors = session.list_trust_anchors(target)
                level = session.get_mtls_enforcement(target)
                register, deregister, new_level, problem = plan_cluster(
                    anchors, wanted, module.params["purge_trust_anchors"], module.params["enforcement"], level)
                if problem:
                    errors.append("%s: %s" % (target or "the cluster", problem))
                plans.append((target, anchors, level, register, deregister, new_level))
            if errors:  # nothing is changed anywhere when one cluster's plan is impossible
                fail(module, "; ".join(errors))
            for target, anchors, level, register, deregister, new_level in plans:
                name = target or "default"
                if not module.check_mode:
                    if register and workdir is None:
                        workdir = tempfile.mkdtemp(prefix="hsmops-mtls-")
                    for index, pem in enumerate(register):
                        path = os.path.join(workdir, "anchor-%d.pem" % index)
                        with open(path, "w") as handle:
                            handle.write(pem.strip() + "\n")
                        outcome = session.register_trust_anchor(target, path)
                        if not outcome.ok:
                            errors.append("registering a trust anchor on %s failed: %s" % (name, outcome.message))
                    if new_level == "none" and not errors:
                        outcome = session.set_mtls_enforcement(target, new_level)
                        if not outcome.ok:
                            errors.append("setting mTLS enforcement none on %s failed: %s" % (name, outcome.message))
                    for reference in deregister if not errors else []:
                        outcome = session.deregister_trust_anchor(target, reference)
                        if not outcome.ok:
                            errors.append("deregistering trust anchor %s on %s failed: %s" % (
                                reference, name, outcome.message))
                    if new_level and new_level != "none" and not errors:
                        outcome = session.set_mtls_enforcement(target, new_level)
                        if not outcome.ok:
                            errors.append("setting mTLS enforcement %s on %s failed: %s" % (
                                new_level, name, outcome.message))
                    after = session.list_trust_anchors(target) if (register or deregister) else anchors
                else:
                    after = [a for a in anchors if a["reference"] not in deregister] + [
                        dict(reference="(new)", certificate=pem) for pem in register]
                reports.append(dict(
                    cluster=name,
                    trust_anchors=[dict(reference=a["reference"], sha256=certificate_digest(a["certificate"]))
                                   for a in after],
                    registered=len(register),
                    deregistered=list(deregister),
                    enforcement=new_level or level,
                    enforcement_before=level,
                ))
                if errors:
                    break
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    changed = any(r["registered"] or r["deregistered"] or r["enforcement"] != r["enforcement_before"] for r in reports)
    result = dict(changed=changed, clusters=reports)
    if module._diff:
        result["diff"] = dict(
            before=dict((r["cluster"], dict(enforcement=r["enforcement_before"])) for r in reports),
            after=dict((r["cluster"], dict(enforcement=r["enforcement"], registered=r["registered"],
                                           deregistered=r["deregistered"])) for r in reports))
    if errors:
        fail(module, "; ".join(errors), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
