"""The RPM-family install path of the cloudhsm_client role, on this Debian machine.

The simulated client tools are built into RPMs named like AWS's EL packages with Debian's rpmbuild
(cloudhsm_sim.packaging.build_rpm), and the role's own install tasks (roles/cloudhsm_client/tasks/install.yml) run
with the facts of a RHEL host; the package manager behind ansible.builtin.package is a harness that installs with
rpm into an isolated root (rpm --root, its own database) instead of dnf into /. Proven: the role's RPM branch (the
conflicting SDK removed first, the staged file installed, a rerun changing nothing, the platform map and its message
for a platform AWS no longer ships), and that the package installs, runs and conflicts as its metadata says. Not
proven: dnf itself, and AWS's real RPMs (their file names for EL10 are NOT CONFIRMED; see the role's vars).
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "simulator"))

from cloudhsm_sim.packaging import build_rpm  # noqa: E402

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpm_install", "install.yml")
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(ROOT, "build", "collections")
RHEL9 = {"os_family": "RedHat", "distribution": "RedHat", "distribution_major_version": "9", "architecture": "x86_64"}

# The EL host's own python3, which the client package requires (an empty root has no package that provides it).
PYTHON_PROVIDER_SPEC = """Name: hsmops-test-python3
Version: 3.11
Release: 1
Summary: python3 as the test's RHEL root provides it
License: GPL-3.0-or-later
BuildArch: noarch
Provides: python3 = 3.11
%description
Stands for the host's python3 in the isolated root of the RPM install test.
%files
"""


def rpm(root, *args):
    return subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm"] + list(args),
                          capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    if shutil.which("rpmbuild") is None:
        pytest.fail("rpmbuild is missing: `make system-deps` installs Debian's rpm package")
    out = tmp_path_factory.mktemp("rpms")
    spec = out / "provider.spec"
    spec.write_text(PYTHON_PROVIDER_SPEC)
    subprocess.run(["rpmbuild", "-bb", "--define", "_topdir %s" % (out / "top"), "--define", "_build_id_links none",
                    str(spec)], check=True, capture_output=True)
    provider = next((out / "top" / "RPMS" / "noarch").iterdir())
    return {"5": build_rpm("5", str(out), dist="el9"), "3": build_rpm("3", str(out), dist="el8"),
            "provider": str(provider)}


@pytest.fixture(scope="module")
def host(tmp_path_factory, packages):
    """An isolated root with an empty RPM database and python3 'installed'."""
    root = str(tmp_path_factory.mktemp("el-root"))
    assert rpm(root, "--initdb").returncode == 0
    result = rpm(root, "-i", packages["provider"])
    assert result.returncode == 0, result.stderr
    return root


def run_play(host, tmp_path, hosts, **role_vars):
    """Runs the harness on ``hosts`` ({inventory name: host facts}); returns ({host: stats}, {task: {host: result}})."""
    host_vars = dict((name, {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                             "host_facts": facts}) for name, facts in hosts.items())
    inventory = {"all": {"hosts": host_vars}}
    inventory_path = tmp_path / "inventory.json"
    inventory_path.write_text(json.dumps(inventory))
    variables = dict({"rpm_root": host, "cloudhsm_client_download_dir": str(tmp_path / "dl")}, **role_vars)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_STDOUT_CALLBACK="harness_results",
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(os.path.dirname(PLAYBOOK), "callback_plugins"),
               ANSIBLE_LIBRARY=os.path.join(os.path.dirname(PLAYBOOK), "library"))
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), PLAYBOOK,
                             "-i", str(inventory_path), "-e", json.dumps(variables)],
                            capture_output=True, text=True, env=env, check=False)
    try:
        report = json.loads(result.stdout[result.stdout.index("{"):])
    except ValueError:
        raise AssertionError("no JSON report: %s %s" % (result.stdout[-2000:], result.stderr[-2000:])) from None
    return report["stats"], report["tasks"]


def run_role(host, tmp_path, facts=None, **role_vars):
    """The harness on one RPM-family host (RHEL 9 unless ``facts``): (its stats, {task: its result})."""
    stats, tasks = run_play(host, tmp_path, {"el": facts or RHEL9}, **role_vars)
    return stats["el"], dict((name, results["el"]) for name, results in tasks.items() if "el" in results)


def test_sdk5_rpm_installs_through_the_role_and_runs(host, packages, tmp_path):
    stats, tasks = run_role(host, tmp_path, cloudhsm_client_sdk=5, cloudhsm_client_package_source="file",
                            cloudhsm_client_package_file=packages["5"])
    assert stats["failures"] == 0, tasks
    assert tasks["Install the package file (RedHat family)"]["changed"]
    assert tasks["Install the package file (RedHat family)"]["results"] == ["installed cloudhsm-cli-5.16.0-1.el9"]
    assert "skipped" in tasks["Install the package file (Debian family)"]
    assert rpm(host, "-q", "cloudhsm-cli").stdout.strip() == "cloudhsm-cli-5.16.0-1.el9.x86_64"
    verify = rpm(host, "-V", "cloudhsm-cli")
    assert verify.returncode == 0, verify.stdout
    cli = os.path.join(host, "opt", "cloudhsm", "bin", "cloudhsm-cli")
    assert os.access(cli, os.X_OK)
    # The configuration file is the package's %config: kept on upgrade and removal when changed.
    assert "/opt/cloudhsm/etc/cloudhsm-cli.cfg" in rpm(host, "-qc", "cloudhsm-cli").stdout.split()
    ran = subprocess.run([sys.executable, cli, "--help"], capture_output=True, text=True, check=False)
    assert "cloudhsm-cli" in (ran.stdout + ran.stderr).lower()

    stats, tasks = run_role(host, tmp_path, cloudhsm_client_sdk=5, cloudhsm_client_package_source="file",
                            cloudhsm_client_package_file=packages["5"])
    assert stats["changed"] == 0 and stats["failures"] == 0, tasks


def test_switching_to_sdk3_removes_the_conflicting_rpm_first(host, packages, tmp_path):
    """The two SDK generations conflict (as AWS's packages do): rpm refuses both, the role removes one first."""
    refused = rpm(host, "-U", "--test", packages["3"])
    assert refused.returncode != 0 and "conflicts with" in refused.stderr
    facts = dict(RHEL9, distribution_major_version="8")
    stats, tasks = run_role(host, tmp_path, facts=facts, cloudhsm_client_sdk=3, cloudhsm_client_package_source="file",
                            cloudhsm_client_package_file=packages["3"])
    assert stats["failures"] == 0, tasks
    assert tasks["Remove the client package of the other SDK generation (the two conflict)"]["results"] == [
        "removed cloudhsm-cli"]
    assert rpm(host, "-q", "cloudhsm-cli").returncode != 0
    assert rpm(host, "-q", "cloudhsm-client").stdout.strip() == "cloudhsm-client-3.4.4-1.el8.x86_64"


MIRROR_FILES = {
    "rhel10": (dict(RHEL9, distribution_major_version="10"), "EL10/cloudhsm-cli-latest.el10.x86_64.rpm"),
    "al2023-arm": (dict(RHEL9, distribution="Amazon", distribution_major_version="2023", architecture="aarch64"),
                   "Amzn2023/cloudhsm-cli-latest.amzn2023.aarch64.rpm"),
    "rhel8-arm": (dict(RHEL9, distribution_major_version="8", architecture="aarch64"),
                  "EL8/cloudhsm-cli-latest.el8.aarch64.rpm"),
}


def test_url_source_downloads_the_platform_package_and_replaces_sdk3(host, packages, tmp_path):
    """package_source url: the address comes from the role's platform map; AWS's download site is replaced by a
    local file:// mirror (nothing leaves the machine) that holds the RHEL 10 file only."""
    mirror = tmp_path / "mirror"
    (mirror / "EL10").mkdir(parents=True)
    shutil.copyfile(packages["5"], str(mirror / MIRROR_FILES["rhel10"][1]))
    stats, tasks = run_role(host, tmp_path, facts=MIRROR_FILES["rhel10"][0], cloudhsm_client_sdk=5,
                            cloudhsm_client_package_source="url", __cloudhsm_client_download_base="file://%s" % mirror)
    assert stats["failures"] == 0, tasks
    assert tasks["Download the package"]["changed"]
    assert tasks["Remove the client package of the other SDK generation (the two conflict)"]["results"] == [
        "removed cloudhsm-client"]
    assert rpm(host, "-q", "cloudhsm-cli").returncode == 0 and rpm(host, "-q", "cloudhsm-client").returncode != 0


def test_the_rpm_download_address_per_platform_and_a_platform_aws_no_longer_ships(host, tmp_path):
    """One run, a host per platform: the address each would download from, and the refusal for RHEL 7 (SDK 5.12 was
    its last release) that names the supported platforms. The mirror is empty, so nothing is downloaded."""
    mirror = "file://%s" % (tmp_path / "empty-mirror")
    hosts = dict((name, facts) for name, (facts, unused_file) in MIRROR_FILES.items())
    hosts["rhel7"] = dict(RHEL9, distribution_major_version="7")
    stats, tasks = run_play(host, tmp_path, hosts, cloudhsm_client_sdk=5, cloudhsm_client_package_source="url",
                            __cloudhsm_client_download_base=mirror)
    looked_up = tasks["Look up AWS's package for this operating system"]
    for name, (unused_facts, expected) in MIRROR_FILES.items():
        assert looked_up[name]["ansible_facts"]["__cloudhsm_client_url"] == mirror + "/" + expected
        assert stats[name]["failures"] == 1 and "failed" in tasks["Download the package"][name], name
    message = tasks["Fail when AWS publishes no package for this operating system"]["rhel7"]["msg"]
    assert "SDK 5.12 was the last release for RHEL 7" in message and "RHEL 8, 9 and 10" in message
    assert "Nothing was installed" in message
    assert "rhel7" not in tasks["Download the package"]
