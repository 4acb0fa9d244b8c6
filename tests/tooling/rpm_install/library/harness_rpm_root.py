# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test harness only: the package manager behind ansible.builtin.package (ansible_package_use) on a Debian host
standing in for an RPM-family one. It does what dnf does with a local package file or a package name, with rpm
itself, in the isolated root named by HSMOPS_RPM_ROOT: install a file unless that name-version-release is
installed (an older one is upgraded), remove a name that is installed. Check mode says what it would do."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="list", elements="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent", "installed", "removed", "latest"]),
        ),
        supports_check_mode=True,
    )
    root = os.environ.get("HSMOPS_RPM_ROOT")
    if not root or not os.path.isdir(root):
        module.fail_json(msg="HSMOPS_RPM_ROOT must name the isolated root to install into")
    rpm = ["rpm", "--root", root, "--dbpath", "/var/lib/rpm"]

    def installed(nevr):
        return module.run_command(rpm + ["-q", nevr])[0] == 0

    changed, done = False, []
    for name in module.params["name"]:
        if module.params["state"] in ("absent", "removed"):
            if installed(name):
                changed = True
                done.append("removed " + name)
                if not module.check_mode:
                    rc, out, err = module.run_command(rpm + ["-e", name])
                    if rc:
                        module.fail_json(msg="rpm -e %s failed: %s" % (name, err or out))
            continue
        if not name.endswith(".rpm"):
            if not installed(name):
                module.fail_json(msg="no repository in this harness: %s is not installed" % name)
            continue
        rc, nevr, err = module.run_command(["rpm", "-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}", name])
        if rc:
            module.fail_json(msg="not a package file: %s (%s)" % (name, err))
        if installed(nevr):
            continue
        changed = True
        done.append("installed " + nevr)
        if not module.check_mode:
            rc, out, err = module.run_command(rpm + ["-U", name])
            if rc:
                module.fail_json(msg="rpm -U %s failed: %s" % (name, err or out))
    module.exit_json(changed=changed, results=done)


if __name__ == "__main__":
    main()
