"""The SDK 5 DR set the day-2 e2e modules build once each, the summary lines a playbook run printed, and what the
simulated HSMs hold, read past the collection (sessions, key objects, users).

A DR set here: source in us-east-1, clones in the given regions (one AZ each), one crypto user `payments_app` and
one declared key `demo-kek` it owns, built through prepare_network.yml and clone_cluster.yml (scripts/demo.py).
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import demo  # noqa: E402

CLONE = """  - name: {prefix}-dr-{region}
    region: {region}
    availability_zones: [{region}a]
    subnet_ids: "{{{{ dr_subnet_ids['{region}'] | default([]) }}}}"
"""

SETTINGS = """---
cloudhsm_dr_sdk: 5
cloudhsm_dr_endpoint_url: "{{{{ lookup('env', 'AWS_ENDPOINT_URL') }}}}"
cloudhsm_dr_tags:
  purpose: {purpose}
cloudhsm_dr_source:
  name: {prefix}-primary
  region: us-east-1
  availability_zones: [us-east-1a]
  subnet_ids: "{{{{ dr_subnet_ids['us-east-1'] | default([]) }}}}"
cloudhsm_dr_clones:
{clones}cloudhsm_dr_client_cidrs: [10.0.0.0/16]
cloudhsm_dr_client_package_source: file
cloudhsm_dr_client_manage_daemon: false
cloudhsm_dr_ca_dir: "{{{{ dr_run_dir }}}}/ca"
cloudhsm_dr_admin_password: "{{{{ dr_passwords.admin }}}}"
cloudhsm_dr_users:
  - name: payments_app
    role: crypto-user
    password: "{{{{ dr_passwords.payments_app }}}}"
cloudhsm_dr_keys:
  - label: demo-kek
    owner: payments_app
"""


def settings(prefix, purpose, clone_regions):
    clones = "".join(CLONE.format(prefix=prefix, region=region) for region in clone_regions)
    return SETTINGS.format(prefix=prefix, purpose=purpose, clones=clones)


def built_dr_set(tmp_path_factory, prefix, settings_text):
    """Yields the DemoRun of a freshly built DR set (for a module-scoped fixture); stops its simulator after."""
    run = demo.DemoRun("5", str(tmp_path_factory.mktemp(prefix) / "run"), out=sys.stderr)
    run.prepare_run_dir()
    run.settings = os.path.join(run.run_dir, "dr.yml")
    with open(run.settings, "w") as handle:
        handle.write(settings_text)
    run.reset_client()
    run.start_simulator()
    try:
        run.build_package()
        run.write_secrets()
        run.run_playbook("prepare_network.yml", progress=False)
        run.run_playbook("clone_cluster.yml", progress=False)
        yield run
    finally:
        run.stop_simulator()


def summary(playbook_run):
    """The lines of the last summary the playbook printed."""
    with open(playbook_run.log_path) as handle:
        text = handle.read()
    start = text.rindex('TASK [Summarize the DR set]')
    body = text[text.index('"msg": [', start) + len('"msg": '):]
    return json.loads(body[:body.index("\n    ]") + len("\n    ]")])


class Login(object):
    """A session on a cluster's first HSM, ended on exit (session keys end with it)."""

    def __init__(self, run, cluster, username, password):
        self.run, self.hsm = run, cluster["hsm_ips"][0]
        user = next(u for u in run.hsm_call("list_users", hsm=self.hsm)["users"] if u["name"] == username)
        self.session = run.hsm_call("login", hsm=self.hsm, role=user["role"], username=username,
                                    password=password)["session"]

    def call(self, op, **args):
        return self.run.hsm_call(op, hsm=self.hsm, session=self.session, **args)

    def __enter__(self):
        return self

    def __exit__(self, *unused):
        self.run.hsm_call("logout", hsm=self.hsm, session=self.session)


def objects(run, cluster):
    """Every key object the admin sees: (handle, label, class, kcv, owner, shares, session), sorted by handle."""
    with Login(run, cluster, "admin", run.passwords["admin"]) as admin:
        keys = admin.call("list_keys")["keys"]
    return sorted((k["handle"], k["label"], k["class"], k["kcv"], k["owner_name"], tuple(sorted(k["shared_names"])),
                   k["session"]) for k in keys)


def users_of(run, cluster):
    return sorted((u["name"], u["role"]) for u in run.hsm_call("list_users", hsm=cluster["hsm_ips"][0])["users"])
