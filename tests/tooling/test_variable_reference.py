"""The variable reference is true to the playbooks.

Every `cloudhsm_dr_*` variable a playbook (or a task file it includes) reads is listed in docs/variables.md with a
YAML example, and is an option of the DR settings schema (roles/cloudhsm_dr_settings/meta/argument_specs.yml)
unless the reference lists it under "Set by the playbooks". Every documented variable is read by some playbook.
"""

import glob
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(ROOT, "docs", "variables.md")
SCHEMA = os.path.join(ROOT, "roles", "cloudhsm_dr_settings", "meta", "argument_specs.yml")
# A variable name, not part of a dotted name such as the role hsmops.cloudhsm.cloudhsm_dr_settings.
VARIABLE = re.compile(r"(?<![.\w])(cloudhsm_dr_[a-z0-9_]+)")
SECTION = re.compile(r"^### `(cloudhsm_dr_[a-z0-9_]+)`\s*$", re.MULTILINE)


def read(path):
    with open(path) as handle:
        return handle.read()


def playbook_variables():
    """{variable: [files that read it]} over playbooks/, its task files and examples."""
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "playbooks", "**", "*.yml"), recursive=True)):
        for name in VARIABLE.findall(read(path)):
            found.setdefault(name, set()).add(os.path.relpath(path, ROOT))
    return found


def reference_sections():
    """{variable: its section text} of docs/variables.md, and the names under "Set by the playbooks"."""
    text = read(REFERENCE)
    facts_at = text.index("## Set by the playbooks")
    matches = list(SECTION.finditer(text))
    sections, facts = {}, set()
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        sections[match.group(1)] = text[match.end():end]
        if match.start() > facts_at:
            facts.add(match.group(1))
    return sections, facts


def schema_options():
    return set(yaml.safe_load(read(SCHEMA))["argument_specs"]["main"]["options"])


def test_every_variable_a_playbook_reads_is_in_the_reference():
    sections, unused_facts = reference_sections()
    missing = {name: sorted(files) for name, files in playbook_variables().items() if name not in sections}
    assert not missing, "add these to docs/variables.md (and the schema): %s" % missing


def test_every_setting_is_in_the_schema_and_every_schema_option_in_the_reference():
    sections, facts = reference_sections()
    settings = set(sections) - facts
    assert settings - schema_options() == set(), "documented but not in %s" % SCHEMA
    assert schema_options() - settings == set(), "in the schema but not documented in docs/variables.md"


def test_every_documented_variable_has_an_example_and_is_read_by_a_playbook():
    sections, unused_facts = reference_sections()
    read_somewhere = playbook_variables()
    for name, text in sections.items():
        blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
        assert blocks, "%s has no YAML example" % name
        assert name in yaml.safe_load(blocks[0]), "the example of %s does not set it" % name
        assert name in read_somewhere, "%s is documented but no playbook reads it" % name


def test_the_checker_sees_a_variable_the_reference_lacks(tmp_path):
    """The scan is not vacuous: a made-up variable in a playbook would be reported."""
    sections, unused_facts = reference_sections()
    text = "- ansible.builtin.debug:\n    msg: \"{{ cloudhsm_dr_not_documented | default(1) }} {{ x.cloudhsm_dr_attr }}\"\n"
    assert [name for name in VARIABLE.findall(text) if name not in sections] == ["cloudhsm_dr_not_documented"]
