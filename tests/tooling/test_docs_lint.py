"""The collection's documentation passes antsibull-docs' linter, and `make docs` builds the site, both offline.

Run on the build-tree copy of the collection (build/collections/ansible_collections/hsmops/cloudhsm, made by
`make build-tree`), where its dependency collections sit next to it.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, "build", "collections")
COLLECTION_DIR = os.path.join(COLLECTIONS, "ansible_collections", "hsmops", "cloudhsm")
BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def tool_env():
    assert os.path.isfile(os.path.join(COLLECTION_DIR, "galaxy.yml")), "run `make build-tree` first"
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS
    env["PATH"] = os.pathsep.join([BIN, env.get("PATH", "")])
    # The build tree lies inside this git work tree but is ignored by it; without a ceiling antsibull-docs would
    # copy only git-tracked files of the collections it lints (none of the build tree's).
    env["GIT_CEILING_DIRECTORIES"] = os.path.dirname(COLLECTIONS)
    return env


def test_lint_collection_docs_is_clean(tool_env):
    result = subprocess.run(
        [os.path.join(BIN, "antsibull-docs"), "lint-collection-docs", "--plugin-docs", COLLECTION_DIR],
        env=tool_env, capture_output=True, text=True, timeout=600, check=False,
    )
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode == 0 and findings == [], "\n".join(findings) + result.stderr[-2000:]


def test_lint_sees_every_module_and_role(tool_env):
    """The linter above only means something if antsibull-docs finds the plugins: ansible-doc must list them all."""
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(COLLECTION_DIR, "plugins", "modules"))
                     if name.endswith(".py") and not name.startswith("_"))
    roles = sorted(os.listdir(os.path.join(COLLECTION_DIR, "roles")))
    for plugin_type, names in (("module", modules), ("role", roles)):
        listed = subprocess.run(
            [os.path.join(BIN, "ansible-doc"), "-t", plugin_type, "--list", "--json", "hsmops.cloudhsm"],
            env=tool_env, capture_output=True, text=True, timeout=300, check=False,
        )
        assert listed.returncode == 0, listed.stderr
        found = {name.split(".")[-1] for name in json.loads(listed.stdout)}
        assert set(names) <= found, sorted(set(names) - found)


def test_make_docs_builds_the_site(tool_env, tmp_path):
    dest = tmp_path / "docs"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "build_docs.py"), COLLECTION_DIR, str(dest)],
        env=tool_env, capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = dest / "build" / "html"
    index = (html / "index.html").read_text()
    for module in ("cloudhsm_cluster", "cloudhsm_backup_copy", "cloudhsm_key_sync", "cloudhsm_user"):
        assert (html / ("%s_module.html" % module)).exists()
        assert "%s_module.html" % module in index
    for role in os.listdir(os.path.join(COLLECTION_DIR, "roles")):
        assert (html / ("%s_role.html" % role)).exists(), role
    # References to Ansible's own documentation resolve offline, to docs.ansible.com.
    cluster = (html / "cloudhsm_cluster_module.html").read_text()
    assert "https://docs.ansible.com/projects/ansible/devel/reference_appendices/common_return_values.html" in cluster
