"""The execution environment definition produces a complete ansible-builder build context."""

import os
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")


def test_builder_create_writes_full_context(tmp_path):
    context = tmp_path / "context"
    shutil.copy(os.path.join(ROOT, "execution-environment.yml"), tmp_path)
    shutil.copytree(os.path.join(ROOT, "collections"), tmp_path / "collections")
    result = subprocess.run(
        [BUILDER, "create", "-f", str(tmp_path / "execution-environment.yml"), "-c", str(context), "-v", "3",
         "--output-filename", "Containerfile"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-core==2.19.14" in containerfile
    assert "ansible-runner==2.4.3" in containerfile
    assert "quay.io/centos/centos:stream9" in containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    names = {entry["name"] for entry in galaxy["collections"]}
    assert {"hsmops.cloudhsm", "amazon.aws", "community.crypto"} <= names
    python_reqs = (context / "_build" / "requirements.txt").read_text()
    assert "boto3" in python_reqs and "botocore" in python_reqs
    assert "openssl" in (context / "_build" / "bindep.txt").read_text()


def test_collection_declares_python_and_system_needs_for_introspection():
    # ansible-builder reads these files from every installed collection when it builds the image.
    requirements = open(os.path.join(ROOT, "requirements.txt")).read()
    assert "boto3" in requirements and "botocore" in requirements
    assert "openssl" in open(os.path.join(ROOT, "bindep.txt")).read()
    galaxy = yaml.safe_load(open(os.path.join(ROOT, "galaxy.yml")))
    assert galaxy["dependencies"] == {"amazon.aws": ">=10.0.0", "community.crypto": ">=2.22.0"}
