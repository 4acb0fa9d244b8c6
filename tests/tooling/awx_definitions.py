"""The AWX / Automation Controller definitions kept under docs/awx/, and what the collection's playbooks read.

Shared by the survey validation test and the AWX-style runner test. ``variables_read(playbook)`` walks a playbook of
``playbooks/`` with everything it pulls in (task files, the collection's roles and their templates) and returns each
variable the Jinja expressions there name, with whether every use of it has a fallback (``default`` or an
``is defined`` test), and the role options and module options it is passed to unchanged.
"""

import os
import re

import jinja2
import yaml
from jinja2 import nodes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX_DIR = os.path.join(ROOT, "docs", "awx")
PLAYBOOKS = os.path.join(ROOT, "playbooks")
ROLES = os.path.join(ROOT, "roles")
MODULES = os.path.join(ROOT, "plugins", "modules")
DOC_FRAGMENTS = os.path.join(ROOT, "plugins", "doc_fragments")
COLLECTION = "hsmops.cloudhsm."

SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# Keys whose string value is a bare Jinja expression rather than a template.
EXPRESSION_KEYS = {"when", "that", "failed_when", "changed_when", "until"}
INCLUDE_TASKS = ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks", "include_tasks", "import_tasks")
INCLUDE_ROLE = ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role")
# Filters that pass a value on unchanged in meaning: a survey answer piped only through these reaches the option as is.
PASS_THROUGH_FILTERS = {"default", "d", "string", "int", "bool", "trim"}
TASK_KEYWORDS = {
    "name", "when", "loop", "loop_control", "register", "vars", "tags", "run_once", "delegate_to", "changed_when",
    "failed_when", "until", "retries", "delay", "no_log", "become", "become_user", "check_mode", "diff", "notify",
    "environment", "args", "ignore_errors", "with_items", "listen", "module_defaults", "throttle", "any_errors_fatal",
}

_JINJA = jinja2.Environment()


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def job_templates():
    """Name -> definition of every job template file under docs/awx/job_templates/."""
    folder = os.path.join(AWX_DIR, "job_templates")
    found = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".yml"):
            found[name[:-4]] = load_yaml(os.path.join(folder, name))
    return found


def workflow():
    return load_yaml(os.path.join(AWX_DIR, "workflow_dr_drill.yml"))


def inventory():
    return load_yaml(os.path.join(AWX_DIR, "inventory.yml"))


def project_playbook_target(playbook):
    """The collection playbook a project playbook of docs/awx/project/ imports (e.g. ``clone_cluster``)."""
    plays = load_yaml(os.path.join(AWX_DIR, "project", playbook))
    targets = [play.get("ansible.builtin.import_playbook") for play in plays]
    assert len(targets) == 1 and targets[0].startswith(COLLECTION), targets
    return targets[0][len(COLLECTION):]


# -- Jinja analysis ----------------------------------------------------------------------------------------------
class Use:
    """How one expression uses one variable: ``guarded`` when every use has a fallback (default, is defined)."""

    def __init__(self, guarded):
        self.guarded = guarded


def _walk(node, parent, found, locals_):
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in locals_:
        guarded = (isinstance(parent, nodes.Filter) and parent.name in ("default", "d") and parent.node is node) or (
            isinstance(parent, nodes.Test) and parent.name in ("defined", "undefined") and parent.node is node)
        found.setdefault(node.name, []).append(guarded)
    if isinstance(node, nodes.For):
        for name in node.target.find_all(nodes.Name):
            locals_ = locals_ | {name.name}
    if isinstance(node, nodes.Assign):
        for name in node.target.find_all(nodes.Name):
            locals_ = locals_ | {name.name}
    for child in node.iter_child_nodes():
        _walk(child, node, found, locals_)


def expression_uses(text, bare=False):
    """Variable name -> Use, for a template string (or a bare expression such as a ``when``)."""
    source = "{{ (%s) }}" % text if bare else text
    tree = _JINJA.parse(source)
    # Names set inside the template (set / for targets) are its own, not variables it reads.
    own = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    found = {}
    _walk(tree, None, found, frozenset(own))
    return {name: Use(all(guards)) for name, guards in found.items()}


def _passed_whole(text):
    """The variable a template hands on unchanged: ``{{ var }}`` or ``{{ var | default(x) | string }}``."""
    match = re.fullmatch(r"\s*\{\{\s*(.*?)\s*\}\}\s*", text, re.S)
    if not match or "{{" in match.group(1):
        return None
    tree = _JINJA.parse("{{ %s }}" % match.group(1))
    output = tree.body[0].nodes[0]
    while isinstance(output, nodes.Filter) and output.name in PASS_THROUGH_FILTERS:
        output = output.node
    return output.name if isinstance(output, nodes.Name) else None


class Reads:
    """What a playbook (with its task files and roles) reads: variable -> uses, and where a variable goes whole."""

    def __init__(self):
        self.uses = {}
        self.role_options = {}
        self.module_options = {}
        self.roles = set()

    def add(self, name, use):
        self.uses.setdefault(name, []).append(use)

    def required(self, name):
        return any(not use.guarded for use in self.uses.get(name, []))


def _strings(value, key=None):
    """(key, string) pairs of a YAML value, depth first."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for child_key, child in value.items():
            yield from _strings(child, child_key)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child, key)


def _scan(value, reads, key=None):
    for child_key, text in _strings(value, key):
        bare = child_key in EXPRESSION_KEYS and "{{" not in text
        if not bare and "{{" not in text and "{%" not in text:
            continue
        for name, use in expression_uses(text, bare=bare).items():
            reads.add(name, use)


def _whole_value_targets(args, record):
    for option, value in (args or {}).items():
        if isinstance(value, str):
            whole = _passed_whole(value)
            if whole:
                record.setdefault(whole, set()).add(option)


def _task_list(tasks, base_dir, reads, seen):
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        for block_key in ("block", "rescue", "always"):
            if block_key in task:
                _task_list(task[block_key], base_dir, reads, seen)
        _scan({k: v for k, v in task.items() if k not in ("block", "rescue", "always")}, reads)
        action = next((k for k in task if k not in TASK_KEYWORDS and k not in ("block", "rescue", "always")), None)
        if action in INCLUDE_TASKS:
            target = task[action] if isinstance(task[action], str) else task[action].get("file")
            _task_file(os.path.join(base_dir, target), reads, seen)
        elif action in INCLUDE_ROLE:
            role = task[action]["name"]
            assert role.startswith(COLLECTION), role
            role = role[len(COLLECTION):]
            reads.roles.add(role)
            for option, value in (task.get("vars") or {}).items():
                whole = _passed_whole(value) if isinstance(value, str) else None
                if whole:
                    reads.role_options.setdefault(whole, set()).add((role, option))
            _role(role, reads, seen)
        elif action and action.startswith(COLLECTION):
            module = action[len(COLLECTION):]
            targets = {}
            _whole_value_targets(task[action] if isinstance(task[action], dict) else {}, targets)
            for variable, options in targets.items():
                reads.module_options.setdefault(variable, set()).update((module, option) for option in options)


def _task_file(path, reads, seen):
    path = os.path.normpath(path)
    if path in seen:
        return
    seen.add(path)
    _task_list(load_yaml(path), os.path.dirname(path), reads, seen)


def _role(role, reads, seen):
    folder = os.path.join(ROLES, role)
    if folder in seen:
        return
    seen.add(folder)
    # Defaults and vars are scanned for what they read, not as reads of their own names.
    for sub in ("defaults", "vars"):
        path = os.path.join(folder, sub, "main.yml")
        if os.path.exists(path):
            _scan(load_yaml(path) or {}, reads)
    tasks_dir = os.path.join(folder, "tasks")
    if os.path.isdir(tasks_dir):
        _task_file(os.path.join(tasks_dir, "main.yml"), reads, seen)
        for name in sorted(os.listdir(tasks_dir)):
            _task_file(os.path.join(tasks_dir, name), reads, seen)
    templates = os.path.join(folder, "templates")
    if os.path.isdir(templates):
        for name in sorted(os.listdir(templates)):
            with open(os.path.join(templates, name)) as handle:
                for variable, use in expression_uses(handle.read()).items():
                    reads.add(variable, use)


def variables_read(playbook):
    """Reads of ``playbooks/<playbook>.yml`` and all it includes."""
    reads = Reads()
    seen = set()
    for play in load_yaml(os.path.join(PLAYBOOKS, playbook + ".yml")):
        _scan({k: v for k, v in play.items() if k not in ("tasks", "pre_tasks", "post_tasks", "handlers", "roles")}, reads)
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            _task_list(play.get(section), PLAYBOOKS, reads, seen)
    return reads


def template_layer_reads(values):
    """Variable -> top-level keys of ``values`` (inventory or template variables) whose templates read it."""
    found = {}
    for key, value in (values or {}).items():
        reads = Reads()
        _scan(value, reads)
        for name in reads.uses:
            found.setdefault(name, set()).add(key)
    return found


# -- argument specs ----------------------------------------------------------------------------------------------
def role_spec(role):
    path = os.path.join(ROLES, role, "meta", "argument_specs.yml")
    if not os.path.exists(path):
        return None
    return load_yaml(path)["argument_specs"]["main"].get("options", {})


def _documentation(source, attribute="DOCUMENTATION"):
    match = re.search(r"^\s*%s\s*=\s*r?([\"']{3})(.*?)\1" % attribute, source, re.S | re.M)
    return yaml.safe_load(match.group(2)) or {}


def module_options(module):
    """The options of a module's DOCUMENTATION, with those of the collection's own doc fragments it extends (read
    from the source; no import needed). Fragments of other collections (amazon.aws) are left out."""
    with open(os.path.join(MODULES, module + ".py")) as handle:
        documentation = _documentation(handle.read())
    options = {}
    for fragment in documentation.get("extends_documentation_fragment") or []:
        if not fragment.startswith(COLLECTION):
            continue
        name, _dot, attribute = fragment[len(COLLECTION):].partition(".")
        with open(os.path.join(DOC_FRAGMENTS, name + ".py")) as handle:
            options.update(_documentation(handle.read(), attribute.upper() or "DOCUMENTATION").get("options", {}))
    options.update(documentation.get("options", {}))
    return options
