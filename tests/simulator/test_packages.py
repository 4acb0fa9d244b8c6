"""The client tools as Debian packages: contents, metadata, and the tools run from an unpacked or installed tree."""

import json
import os
import stat
import subprocess

import pytest

from cloudhsm_sim import packaging
from cloudhsm_sim.dataplane.testing import HsmTestServer, run_tool

TOOLS = {
    "3": ["cloudhsm_client", "cloudhsm_mgmt_util", "configure", "key_mgmt_util"],
    "5": ["cloudhsm-cli", "configure-cli"],
}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("debs"))
    return {sdk: packaging.build_package(sdk, out) for sdk in ("3", "5")}


@pytest.fixture(scope="module")
def hsm():
    with HsmTestServer() as server:
        server.cluster("cluster-pkgpkgpkgpk", ["10.6.0.1", "10.6.0.2"])
        yield server


def dpkg_deb(*args):
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True).stdout


def test_names_and_metadata(packages):
    assert os.path.basename(packages["5"]) == "cloudhsm-cli_5.16.0-1_all.deb"
    assert os.path.basename(packages["3"]) == "cloudhsm-client_3.4.4-1_all.deb"
    info5 = dpkg_deb("-I", packages["5"])
    assert "Package: cloudhsm-cli\n" in info5 and "Conflicts: cloudhsm-client\n" in info5
    assert "Architecture: all\n" in info5
    info3 = dpkg_deb("-I", packages["3"])
    assert "Package: cloudhsm-client\n" in info3 and "Conflicts: cloudhsm-cli\n" in info3
    assert dpkg_deb("-f", packages["3"], "Version").strip() == "3.4.4-1"


@pytest.mark.parametrize("sdk", ["3", "5"])
def test_contents_are_root_owned_with_sane_modes(packages, sdk):
    listing = dpkg_deb("-c", packages[sdk]).splitlines()
    entries = {line.split()[-1].lstrip("."): line.split() for line in listing}
    for tool in TOOLS[sdk]:
        mode, owner = entries["/opt/cloudhsm/bin/" + tool][:2]
        assert mode == "-rwxr-xr-x" and owner == "root/root"
    assert all(fields[1] == "root/root" for fields in entries.values())
    assert not any(
        fields[0][-2] == "w" or fields[0][5] == "w" for fields in entries.values()
    )  # nothing group/world-writable
    assert "/opt/cloudhsm/lib/simulator/cloudhsm_tools/common.py" in entries
    configs = {"3": ["cloudhsm_client.cfg", "cloudhsm_mgmt_util.cfg"], "5": ["cloudhsm-cli.cfg"]}[sdk]
    for name in configs:
        assert entries["/opt/cloudhsm/etc/" + name][0] == "-rw-r--r--"
    if sdk == "3":
        assert "/etc/init.d/cloudhsm-client" in entries and "/lib/systemd/system/cloudhsm-client.service" in entries


@pytest.mark.parametrize("sdk", ["3", "5"])
def test_conffiles_and_maintainer_scripts(packages, sdk, tmp_path):
    subprocess.run(["dpkg-deb", "-e", packages[sdk], str(tmp_path / "control")], check=True)
    conffiles = (tmp_path / "control" / "conffiles").read_text().split()
    assert all(path.startswith("/opt/cloudhsm/etc/") or path == "/etc/init.d/cloudhsm-client" for path in conffiles)
    assert "/opt/cloudhsm/etc/" + ("cloudhsm-cli.cfg" if sdk == "5" else "cloudhsm_client.cfg") in conffiles
    for script in ("postinst", "prerm"):
        path = tmp_path / "control" / script
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
        assert path.read_text().startswith("#!/bin/sh\nset -e\n")


def test_unpacked_tree_runs_against_the_simulator(packages, hsm, tmp_path):
    for sdk in ("3", "5"):
        subprocess.run(["dpkg", "-x", packages[sdk], str(tmp_path / sdk)], check=True)
    sdk5 = str(tmp_path / "5" / "opt" / "cloudhsm")
    assert run_tool(sdk5, "configure-cli", ["-a", "10.6.0.1"], endpoint=hsm.endpoint).returncode == 0
    listed = run_tool(sdk5, "cloudhsm-cli", ["user", "list"], endpoint=hsm.endpoint)
    assert [u["role"] for u in json.loads(listed.stdout)["data"]["users"]] == [
        "unactivated-admin",
        "internal(APPLIANCE_USER)",
    ]
    assert "Usage: cloudhsm-cli" in run_tool(sdk5, "cloudhsm-cli", ["--help"]).stdout
    sdk3 = str(tmp_path / "3" / "opt" / "cloudhsm")
    configured = run_tool(sdk3, "configure", ["--cmu", "10.6.0.1"], endpoint=hsm.endpoint)
    assert configured.stdout.endswith(
        "Updating server config in /opt/cloudhsm/etc/cloudhsm_mgmt_util.cfg\n".replace("/opt/cloudhsm", sdk3)
    )
    open(sdk3 + "/etc/customerCA.crt", "w").write("-----BEGIN CERTIFICATE-----\n")
    session = run_tool(
        sdk3,
        "cloudhsm_mgmt_util",
        [sdk3 + "/etc/cloudhsm_mgmt_util.cfg"],
        stdin="listUsers\nquit\n",
        endpoint=hsm.endpoint,
    )
    assert "Users on server 1(10.6.0.2):\nNumber of users found:2\n" in session.stdout
    daemon = run_tool(sdk3, "cloudhsm_client", [sdk3 + "/etc/cloudhsm_client.cfg", "--once"], endpoint=hsm.endpoint)
    assert daemon.returncode == 0
    info = json.load(open(sdk3 + "/daemon/1/cluster.info"))
    assert info == {"cluster_id": "cluster-pkgpkgpkgpk", "servers": ["10.6.0.1", "10.6.0.2"]}
    kmu = run_tool(sdk3, "key_mgmt_util", stdin="exit\n", endpoint=hsm.endpoint)
    assert kmu.stdout == "Command:  " and kmu.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="dpkg needs root to install packages")
def test_dpkg_install_upgrade_remove(packages, hsm, tmp_path):
    """Real dpkg installs, upgrades in place and removes both packages, in a root of their own.

    The machine's own /opt/cloudhsm and dpkg database are left alone: other tests may be using them.
    """
    root = tmp_path / "root"
    admin = root / "var" / "lib" / "dpkg"
    for directory in ("info", "updates", "triggers"):
        (admin / directory).mkdir(parents=True)
    (admin / "status").write_text("")

    def dpkg(*args):
        # python3 comes from the machine, not from the throwaway database: hence --force-depends.
        return subprocess.run(
            [
                "dpkg",
                "--root",
                str(root),
                "--force-script-chrootless",
                "--force-depends",
                "--log",
                str(tmp_path / "dpkg.log"),
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,  # the caller asserts on the exit status
        )

    opt = str(root / "opt" / "cloudhsm")
    for sdk, name, other in (("5", "cloudhsm-cli", "cloudhsm-client"), ("3", "cloudhsm-client", "cloudhsm-cli")):
        installed = dpkg("-i", packages[sdk])
        assert installed.returncode == 0, installed.stderr
        assert "Status: install ok installed" in dpkg("-s", name).stdout
        assert os.path.isdir(opt + "/run")  # made by postinst
        for tool in TOOLS[sdk]:
            assert os.access(opt + "/bin/" + tool, os.X_OK)
        conflicting = dpkg("-i", packages["3" if sdk == "5" else "5"])
        assert conflicting.returncode != 0 and "conflicts" in conflicting.stderr  # as AWS's packages do
        if sdk == "5":
            configured = run_tool(opt, "configure-cli", ["-a", "10.6.0.2"], endpoint=hsm.endpoint)
            assert configured.returncode == 0
            listed = run_tool(opt, "cloudhsm-cli", ["user", "list"], endpoint=hsm.endpoint)
            assert json.loads(listed.stdout)["error_code"] == 0
            again = dpkg("-i", packages[sdk])  # an upgrade in place keeps the configured conffile
            assert again.returncode == 0, again.stderr
            cfg = json.load(open(opt + "/etc/cloudhsm-cli.cfg"))
            assert cfg["clusters"][0]["cluster"]["servers"][0]["hostname"] == "10.6.0.2"
        removed = dpkg("-r", name)
        assert removed.returncode == 0, removed.stderr
        assert not os.path.exists(opt + "/bin/" + TOOLS[sdk][0])
        assert os.path.exists(opt + "/etc/" + ("cloudhsm-cli.cfg" if sdk == "5" else "cloudhsm_client.cfg"))
        purged = dpkg("--purge", name)
        assert purged.returncode == 0, purged.stderr
        assert dpkg("-s", name).returncode != 0
