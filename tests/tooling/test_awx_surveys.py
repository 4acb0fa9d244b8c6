"""The AWX definitions under docs/awx/ fit the playbooks they run.

Every survey question sets a variable the playbook (with its task files and roles) reads, directly or through a
template in the inventory or the template's own variables; a variable the playbook reads without a fallback is a
required question; an answer handed unchanged to a role option or a module option has that option's type and
choices, and a password answer only reaches options the role's argument spec marks no_log.
"""

import os

import pytest

import awx_definitions as awx

JOB_TEMPLATES = awx.job_templates()
WORKFLOW = awx.workflow()
INVENTORY_VARS = awx.inventory()["all"]["vars"]
PLAYBOOK_OF = {name: awx.project_playbook_target(template["playbook"]) for name, template in JOB_TEMPLATES.items()}
READS = {playbook: awx.variables_read(playbook) for playbook in sorted(set(PLAYBOOK_OF.values()))}
SURVEYS = dict(JOB_TEMPLATES, drill_workflow=WORKFLOW)

TEXT_TYPES = {"str", "path", "raw"}


def questions(template):
    return template["survey_spec"]["spec"] if template.get("survey_enabled") else []


def template_layer(template):
    """Variable -> inventory or template variables whose templates read it."""
    layer = awx.template_layer_reads(INVENTORY_VARS)
    for name, keys in awx.template_layer_reads(template.get("extra_vars")).items():
        layer.setdefault(name, set()).update(keys)
    return layer


def converted(value, spec_type):
    if spec_type == "int":
        return int(value)
    if spec_type == "float":
        return float(value)
    if spec_type == "bool":
        text = str(value).lower()
        assert text in ("true", "false", "yes", "no", "1", "0"), value
        return text in ("true", "yes", "1")
    return str(value)


def check_answer_fits(question, spec_type, choices, where):
    kind = question["type"]
    if kind in ("password", "text", "textarea"):
        assert spec_type in TEXT_TYPES, "%s: a %s answer goes to %s of type %s" % (question["variable"], kind, where, spec_type)
    elif kind == "integer":
        assert spec_type in ("int", "str"), "%s: an integer answer goes to %s of type %s" % (question["variable"], where, spec_type)
    elif kind == "float":
        assert spec_type in ("float", "str"), where
    elif kind == "multiplechoice":
        for choice in question["choices"]:
            value = converted(choice, spec_type)
            assert not choices or value in choices, "%s: choice %r is not one of %s of %s" % (
                question["variable"], choice, choices, where)
    elif kind == "multiselect":
        assert spec_type == "list", where


@pytest.mark.parametrize("template_name", sorted(SURVEYS))
def test_survey_spec_is_well_formed(template_name):
    template = SURVEYS[template_name]
    assert template["survey_enabled"] is True
    spec = template["survey_spec"]["spec"]
    variables = [question["variable"] for question in spec]
    assert len(variables) == len(set(variables)), variables
    for question in spec:
        assert question["type"] in awx.SURVEY_TYPES, question
        assert isinstance(question["required"], bool), question
        assert question["question_name"] and question["question_description"], question
        if question["type"] == "multiplechoice":
            assert isinstance(question["choices"], list) and len(question["choices"]) >= 2, question
            assert question["default"] in question["choices"], question
        if question["type"] == "integer":
            assert question["min"] <= question["default"] <= question["max"], question
        if question["type"] == "password":
            # A password default would be stored and shown to everyone who can launch the template.
            assert question["default"] == "", question
            assert 8 <= question["min"] <= question["max"] <= 32, "CloudHSM passwords are 8 to 32 characters"


@pytest.mark.parametrize("template_name", sorted(JOB_TEMPLATES))
def test_job_template_runs_a_collection_playbook(template_name):
    template = JOB_TEMPLATES[template_name]
    assert os.path.exists(os.path.join(awx.AWX_DIR, "project", template["playbook"]))
    assert os.path.exists(os.path.join(awx.PLAYBOOKS, PLAYBOOK_OF[template_name] + ".yml"))
    assert template["inventory"] and template["execution_environment"] and template["project"]
    assert "CloudHSM DR AWS" in template["credentials"]


@pytest.mark.parametrize("template_name", sorted(JOB_TEMPLATES))
def test_every_survey_variable_is_read_by_the_playbook(template_name):
    template = JOB_TEMPLATES[template_name]
    reads = READS[PLAYBOOK_OF[template_name]]
    layer = template_layer(template)
    for question in questions(template):
        variable = question["variable"]
        through = {key for key in layer.get(variable, ()) if key in reads.uses}
        assert variable in reads.uses or through, (
            "%s: survey variable %s is read neither by playbooks/%s.yml nor by an inventory or template variable it "
            "reads" % (template_name, variable, PLAYBOOK_OF[template_name]))


@pytest.mark.parametrize("template_name", sorted(JOB_TEMPLATES))
def test_variables_the_playbook_needs_are_required_questions(template_name):
    template = JOB_TEMPLATES[template_name]
    reads = READS[PLAYBOOK_OF[template_name]]
    inventory_needs = set()
    for key, value in INVENTORY_VARS.items():
        if key in reads.uses:
            layer = awx.Reads()
            awx._scan(value, layer)
            inventory_needs.update(name for name in layer.uses if layer.required(name))
    for question in questions(template):
        variable = question["variable"]
        if reads.required(variable) or variable in inventory_needs:
            assert question["required"], "%s: %s has no fallback in the playbook, so the question must be required" % (
                template_name, variable)


@pytest.mark.parametrize("template_name", sorted(JOB_TEMPLATES))
def test_answers_fit_the_role_options_they_reach(template_name):
    template = JOB_TEMPLATES[template_name]
    reads = READS[PLAYBOOK_OF[template_name]]
    checked = 0
    for question in questions(template):
        for role, option in sorted(reads.role_options.get(question["variable"], ())):
            spec = awx.role_spec(role)
            assert spec is not None, "roles/%s has no meta/argument_specs.yml to check %s against" % (role, option)
            assert option in spec, "roles/%s: %s is not in its argument spec" % (role, option)
            where = "roles/%s option %s" % (role, option)
            check_answer_fits(question, spec[option].get("type", "str"), spec[option].get("choices"), where)
            if question["type"] == "password":
                assert spec[option].get("no_log") is True, "%s takes a password answer but is not no_log" % where
            checked += 1
    if any(reads.role_options.get(q["variable"]) for q in questions(template)):
        assert checked > 0


@pytest.mark.parametrize("template_name", sorted(JOB_TEMPLATES))
def test_answers_fit_the_module_options_they_reach(template_name):
    template = JOB_TEMPLATES[template_name]
    reads = READS[PLAYBOOK_OF[template_name]]
    for question in questions(template):
        for module, option in sorted(reads.module_options.get(question["variable"], ())):
            options = awx.module_options(module)
            assert option in options, "%s has no option %s" % (module, option)
            check_answer_fits(question, options[option].get("type", "str"), options[option].get("choices"),
                              "module %s option %s" % (module, option))


def test_password_answers_reach_roles_and_modules():
    """The analysis finds where the admin password goes: proof the checks above look at something."""
    reads = READS["clone_cluster"]
    assert ("cloudhsm_activate", "cloudhsm_activate_admin_password") in reads.role_options["cloudhsm_dr_admin_password"]
    assert ("cloudhsm_reconcile", "cloudhsm_reconcile_password") in READS["sync"].role_options["cloudhsm_dr_admin_password"]
    assert ("cloudhsm_cluster", "backup_retention_days") in reads.module_options["cloudhsm_dr_backup_retention_days"]


def test_every_inventory_variable_is_read_by_some_playbook():
    all_reads = set()
    for playbook in ("clone_cluster", "sync", "copy_backups", "teardown"):
        all_reads.update((READS.get(playbook) or awx.variables_read(playbook)).uses)
    unknown = sorted(key for key in INVENTORY_VARS if key not in all_reads)
    assert unknown == [], "inventory variables no playbook reads (typos?): %s" % unknown


def test_drill_workflow_runs_existing_templates_and_answers_their_surveys():
    by_name = {template["name"]: (key, template) for key, template in JOB_TEMPLATES.items()}
    identifiers = {node["identifier"] for node in WORKFLOW["workflow_nodes"]}
    provided = {q["variable"] for q in questions(WORKFLOW)} | set(WORKFLOW.get("extra_vars") or {})
    for node in WORKFLOW["workflow_nodes"]:
        assert node["unified_job_template"]["name"] in by_name, node
        key, template = by_name[node["unified_job_template"]["name"]]
        for links in (node.get("related") or {}).values():
            assert {link["identifier"] for link in links} <= identifiers
        for question in questions(template):
            if question["required"] and question["type"] == "password":
                assert question["variable"] in provided, "%s needs %s from the workflow" % (key, question["variable"])
    # The workflow's own variables replace the DR set's clones: every playbook of the drill must read them.
    for variable in WORKFLOW["extra_vars"]:
        readers = [PLAYBOOK_OF[by_name[n["unified_job_template"]["name"]][0]] for n in WORKFLOW["workflow_nodes"]]
        assert any(variable in READS[playbook].uses for playbook in readers), variable
    # The drill clone must not be a standing clone, or the drill's teardown would remove it.
    standing = {(clone["region"], clone["name"]) for clone in INVENTORY_VARS["cloudhsm_dr_clones"]}
    drill = {(clone["region"], clone["name"]) for clone in WORKFLOW["extra_vars"]["cloudhsm_dr_clones"]}
    assert not standing & drill
    assert WORKFLOW["extra_vars"]["cloudhsm_dr_teardown_source"] is False


def test_schedules_run_existing_templates_with_valid_answers():
    schedules = awx.load_yaml(os.path.join(awx.AWX_DIR, "schedules.yml"))["schedules"]
    surveys = {template["name"]: template for template in SURVEYS.values()}
    for schedule in schedules:
        template = surveys[schedule["unified_job_template"]]
        assert schedule["rrule"].startswith("DTSTART;TZ=UTC:") and " RRULE:FREQ=" in schedule["rrule"]
        spec = {q["variable"]: q for q in questions(template)}
        for variable, answer in (schedule.get("extra_data") or {}).items():
            assert variable in spec, "%s answers %s, which its template does not ask" % (schedule["name"], variable)
            if spec[variable]["type"] == "multiplechoice":
                assert answer in spec[variable]["choices"]
            if spec[variable]["type"] == "integer":
                assert spec[variable]["min"] <= answer <= spec[variable]["max"]
