"""Only the drivers and the two SDK-specific roles (installing the client, writing its configuration) branch on the
client SDK. The data-plane modules, the key and user sync, the activate and reconcile roles and the playbooks' task
files pass the SDK on and let the session's capability flags decide.
"""

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WATCHED = [
    "plugins/modules/*.py",
    "plugins/module_utils/hsm/common.py",
    "plugins/module_utils/hsm/key_sync.py",
    "plugins/module_utils/hsm/user_sync.py",
    "plugins/module_utils/hsm/model.py",
    "roles/cloudhsm_activate/*/*.yml",
    "roles/cloudhsm_reconcile/*/*.yml",
    "playbooks/tasks/*.yml",
]
# A comparison or a choice on the SDK: sdk == "3", sdk != 5, cloudhsm_dr_sdk | int == 3, (... sdk ...) | ternary(...),
# sdk in ("3", ...), selectattr('sdk', 'equalto', ...).
SDK = r"\b(?:\w+_)?sdk\b"
BRANCH = re.compile(
    SDK + r"[^#\n]*?(?:==|!=|\bternary\b|\bequalto\b|\bin\s*[\[(])"
    r"|(?:==|!=)\s*[^#\n]*?" + SDK, re.IGNORECASE)
# Words, not code: comments, YAML descriptions and task names may speak of the SDKs.
PROSE = re.compile(r"^\s*(?:#|-?\s*name:|description:|- \w)|^\s*\"\"\"|^\s*[A-Z]")


def branches(text):
    """(line number, line) of every SDK branch in text (outside Python's triple-quoted strings: documentation)."""
    found = []
    quoted = False
    for number, line in enumerate(text.splitlines(), 1):
        quotes = line.count('"""')
        inside, quoted = quoted, quoted != (quotes % 2 == 1)
        if inside or quotes or PROSE.match(line):
            continue
        if BRANCH.search(line):
            found.append((number, line.strip()))
    return found


def test_nothing_outside_the_drivers_branches_on_the_sdk():
    found = {}
    for pattern in WATCHED:
        paths = sorted(glob.glob(os.path.join(ROOT, pattern)))
        assert paths, "nothing matches %s: update WATCHED" % pattern
        for path in paths:
            with open(path) as handle:
                hits = branches(handle.read())
            if hits:
                found[os.path.relpath(path, ROOT)] = hits
    assert not found, "SDK branches outside the drivers (use a session capability flag instead): %s" % found


def test_the_checker_sees_the_branches_it_is_for():
    samples = [
        'if driver.sdk == "3":',
        "    if params['sdk'] != '5':",
        'client_config: "{{ (cloudhsm_dr_sdk | int == 3) | ternary(path, omit) }}"',
        "when: cloudhsm_reconcile_sdk | string == '5'",
        "if sdk in ('3', 'auto'):",
        "when: '5' == cloudhsm_dr_sdk | string",
    ]
    for sample in samples:
        assert branches(sample), sample
    for words in ('sdk: "{{ cloudhsm_reconcile_sdk | string }}"', "# SDK 3 == cloudhsm_mgmt_util",
                  "        description: Client SDK generation of the client host.",
                  'DOCUMENTATION = r"""\n  - compared with C(==), nothing depends on the SDK\n"""'):
        assert not branches(words), words
