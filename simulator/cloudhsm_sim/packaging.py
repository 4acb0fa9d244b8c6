"""Build the emulated client tools into Debian packages named like AWS's: ``cloudhsm-client`` (SDK 3) and
``cloudhsm-cli`` (SDK 5), installing under ``/opt/cloudhsm`` as the real ones do.

``install_tree(sdk, root)`` lays the same files out under any directory (tests run the tools from there);
``build_package(sdk, out_dir)`` stages that tree at ``opt/cloudhsm`` and runs ``dpkg-deb --build``;
``build_rpm(sdk, out_dir)`` builds the same tree into an RPM named like AWS's EL packages with ``rpmbuild`` (Debian's
``rpm`` package), for tests of the RPM-family install path.
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile

from . import __version__

TOOLS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools")
LIB_PACKAGE = "cloudhsm_tools"  # the tools package's name once installed under <root>/lib/simulator
INSTALL_ROOT = "/opt/cloudhsm"

PACKAGES = {
    "3": {
        "name": "cloudhsm-client",
        "version": "3.4.4-1",
        "conflicts": "cloudhsm-cli",
        "tools": {
            "configure": "sdk3_configure",
            "cloudhsm_mgmt_util": "sdk3_cmu",
            "key_mgmt_util": "sdk3_kmu",
            "cloudhsm_client": "sdk3_daemon",
        },
        "description": "AWS CloudHSM Client SDK 3 tools (simulator stand-in)\n"
        " configure, cloudhsm_mgmt_util, key_mgmt_util and the cloudhsm-client daemon, emulated\n"
        " by the hsmops.cloudhsm CloudHSM simulator. They reach simulated HSMs only.",
    },
    "5": {
        "name": "cloudhsm-cli",
        "version": "5.16.0-1",
        "conflicts": "cloudhsm-client",
        "tools": {"cloudhsm-cli": "sdk5_cli", "configure-cli": "sdk5_configure"},
        "description": "AWS CloudHSM CLI, Client SDK 5 (simulator stand-in)\n"
        " cloudhsm-cli and configure-cli, emulated by the hsmops.cloudhsm CloudHSM simulator.\n"
        " They reach simulated HSMs only.",
    },
}

LAUNCHER = """#!/usr/bin/env python3
# {tool}: CloudHSM simulator stand-in (hsmops.cloudhsm). The install root is two levels above this file.
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib", "simulator"))
from {package}.{module} import main  # noqa: E402

sys.exit(main(ROOT, sys.argv[1:]))
"""

INIT_SCRIPT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          cloudhsm-client
# Required-Start:    $remote_fs $network
# Required-Stop:     $remote_fs $network
# Default-Start:
# Default-Stop:
# Short-Description: CloudHSM client daemon (simulator stand-in)
### END INIT INFO
# Not enabled at boot: start it with "service cloudhsm-client start" when key_mgmt_util should see it running.
DAEMON=/opt/cloudhsm/bin/cloudhsm_client
CONFIG=/opt/cloudhsm/etc/cloudhsm_client.cfg
PIDFILE=/opt/cloudhsm/run/cloudhsm_client.pid

case "$1" in
  start)
    start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$PIDFILE" --exec "$DAEMON" -- "$CONFIG"
    ;;
  stop)
    start-stop-daemon --stop --quiet --oknodo --retry 5 --pidfile "$PIDFILE" && rm -f "$PIDFILE"
    ;;
  restart)
    "$0" stop
    "$0" start
    ;;
  status)
    start-stop-daemon --status --pidfile "$PIDFILE" && echo "cloudhsm-client is running" && exit 0
    echo "cloudhsm-client is not running"
    exit 3
    ;;
  *)
    echo "Usage: $0 {start|stop|restart|status}" >&2
    exit 2
    ;;
esac
exit 0
"""

SYSTEMD_UNIT = """[Unit]
Description=CloudHSM client daemon (simulator stand-in)
After=network.target

[Service]
Type=simple
ExecStart=/opt/cloudhsm/bin/cloudhsm_client /opt/cloudhsm/etc/cloudhsm_client.cfg
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""


def config_templates(sdk, root=INSTALL_ROOT):
    """The config files a fresh install ships, by file name."""
    ca = os.path.join(root, "etc", "customerCA.crt")
    if sdk == "5":
        return {
            "cloudhsm-cli.cfg": {
                "clusters": [{"type": "hsm1", "cluster": {"hsm_ca_file": ca, "servers": []}}],
                "logging": {
                    "log_type": "file",
                    "log_file": os.path.join(root, "run", "cloudhsm-cli.log"),
                    "log_level": "info",
                    "log_interval": "daily",
                },
            }
        }
    return {
        "cloudhsm_client.cfg": {
            "client": {
                "CriticalAlertScript": "",
                "create_object_minimum_nodes": 1,
                "daemon_id": 1,
                "e2e_owner_crt_path": ca,
                "enable_3des_key_reuse": "no",
                "log_level": "INFO",
                "reconnect_attempts": -1,
                "reconnect_interval": 3,
                "socket_type": "UNIXSOCKET",
                "sslreneg": 0,
                "tcp_port": 1111,
                "workers": 1,
                "zoneid": 0,
            },
            "dualfactor": {
                "certificate": "certificate.crt",
                "dualfactor_ch_ssl_ciphers": "default",
                "dualfactor_ssl": "yes",
                "enable": "no",
                "pkey": "pkey.pem",
                "port": 2225,
            },
            "loadbalance": {
                "enable": "yes",
                "prefer_same_zone": "no",
                "relative_idleness_weight": 1,
                "sucess_rate_weight": 1,
            },
            "server": {"hostname": "", "port": 2223},
            "ssl": {
                "CApath": os.path.join(root, "etc", "certs"),
                "certificate": os.path.join(root, "etc", "client.crt"),
                "pkey": os.path.join(root, "etc", "client.key"),
                "server_ch_ssl_ciphers": "default",
                "server_ssl": "yes",
            },
        },
        "cloudhsm_mgmt_util.cfg": {
            "scard": {"certificate": "cert-sc", "enable": "no", "pkey": "pkey-sc", "port": 2225},
            "servers": [],
        },
    }


def _write(path, text, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def install_tree(sdk, root, endpoint=None):
    """Lay out the package's files for install root ``root`` (``/opt/cloudhsm`` in the package)."""
    spec = PACKAGES[str(sdk)]
    lib = os.path.join(root, "lib", "simulator", LIB_PACKAGE)
    os.makedirs(lib, exist_ok=True)
    for name in sorted(os.listdir(TOOLS_DIR)):
        if name.endswith(".py"):
            shutil.copyfile(os.path.join(TOOLS_DIR, name), os.path.join(lib, name))
            os.chmod(os.path.join(lib, name), 0o644)
    for tool, module in spec["tools"].items():
        _write(os.path.join(root, "bin", tool), LAUNCHER.format(tool=tool, package=LIB_PACKAGE, module=module), 0o755)
    for name, content in config_templates(str(sdk), INSTALL_ROOT if root.endswith(INSTALL_ROOT) else root).items():
        _write(os.path.join(root, "etc", name), json.dumps(content, indent=4, sort_keys=True) + "\n", 0o644)
    if endpoint:
        _write(os.path.join(root, "etc", "simulator-endpoint"), endpoint + "\n", 0o644)
    os.makedirs(os.path.join(root, "run"), exist_ok=True)
    if str(sdk) == "3":
        os.makedirs(os.path.join(root, "daemon", "1"), exist_ok=True)
    for directory, unused_subdirs, unused_files in os.walk(root):
        os.chmod(directory, 0o755)
    return root


def build_package(sdk, out_dir, endpoint=None):
    """Build ``<name>_<version>_all.deb`` for SDK ``"3"`` or ``"5"`` into ``out_dir``; return its path."""
    spec = PACKAGES[str(sdk)]
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cloudhsm-deb-") as stage:
        root = os.path.join(stage, INSTALL_ROOT.lstrip("/"))
        install_tree(sdk, root, endpoint)
        conffiles = sorted(os.path.join(INSTALL_ROOT, "etc", name) for name in os.listdir(os.path.join(root, "etc")))
        # $DPKG_ROOT is set when dpkg installs into another root without chroot (--force-script-chrootless).
        postinst = '#!/bin/sh\nset -e\nmkdir -p "$DPKG_ROOT%s/run"\nexit 0\n' % INSTALL_ROOT
        prerm = "#!/bin/sh\nset -e\nexit 0\n"
        if str(sdk) == "3":
            _write(os.path.join(stage, "etc", "init.d", "cloudhsm-client"), INIT_SCRIPT, 0o755)
            _write(os.path.join(stage, "lib", "systemd", "system", "cloudhsm-client.service"), SYSTEMD_UNIT, 0o644)
            conffiles.append("/etc/init.d/cloudhsm-client")
            prerm = (
                '#!/bin/sh\nset -e\nif [ -z "$DPKG_ROOT" ] && [ -x /etc/init.d/cloudhsm-client ]; then\n'
                "    /etc/init.d/cloudhsm-client stop >/dev/null 2>&1 || true\nfi\nexit 0\n"
            )
        size_kb = sum(os.path.getsize(os.path.join(d, f)) for d, unused_subdirs, fs in os.walk(stage) for f in fs) // 1024 + 1
        control = (
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: hsmops.cloudhsm simulator "
            "<noreply@localhost>\nInstalled-Size: {size}\nDepends: python3 (>= 3.8)\n"
            "Conflicts: {conflicts}\nSection: utils\nPriority: optional\nDescription: {description}\n"
        ).format(size=size_kb, **spec)
        debian = os.path.join(stage, "DEBIAN")
        _write(os.path.join(debian, "control"), control, 0o644)
        _write(os.path.join(debian, "conffiles"), "\n".join(conffiles) + "\n", 0o644)
        _write(os.path.join(debian, "postinst"), postinst, 0o755)
        _write(os.path.join(debian, "prerm"), prerm, 0o755)
        for directory, unused_subdirs, files in os.walk(stage):
            os.chmod(directory, 0o755)
            for name in files:
                path = os.path.join(directory, name)
                os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & 0o755 | 0o644)
        target = os.path.join(out_dir, "%s_%s_all.deb" % (spec["name"], spec["version"]))
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", stage, target],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return target


RPM_SPEC = """Name: {name}
Version: {version}
Release: {release}.{dist}
Summary: {summary}
License: GPL-3.0-or-later
BuildArch: {arch}
AutoReqProv: no
Requires: python3 >= 3.8
Conflicts: {conflicts}

%description
{description}

%install
mkdir -p %{{buildroot}}
cp -a {stage}/. %{{buildroot}}/

%files
%defattr(-,root,root,-)
{install_root}/bin
{install_root}/lib
{install_root}/run
%dir {install_root}/etc
{config_files}
"""


def build_rpm(sdk, out_dir, endpoint=None, dist="el9", arch="x86_64"):
    """Build ``<name>-<version>-<release>.<dist>.<arch>.rpm`` for SDK ``"3"`` or ``"5"`` into ``out_dir`` with
    rpmbuild; return its path. The files are those of the .deb; the configuration files are %config(noreplace)."""
    spec = PACKAGES[str(sdk)]
    version, release = spec["version"].split("-", 1)
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cloudhsm-rpm-") as work:
        stage = os.path.join(work, "stage")
        install_tree(sdk, os.path.join(stage, INSTALL_ROOT.lstrip("/")), endpoint)
        etc = os.path.join(stage, INSTALL_ROOT.lstrip("/"), "etc")
        summary, unused_newline, body = spec["description"].partition("\n")
        spec_path = os.path.join(work, "client.spec")
        with open(spec_path, "w") as handle:
            handle.write(RPM_SPEC.format(
                name=spec["name"], version=version, release=release, dist=dist, arch=arch, summary=summary,
                conflicts=spec["conflicts"], description="\n".join(line.strip() for line in body.splitlines()),
                stage=stage, install_root=INSTALL_ROOT,
                config_files="\n".join("%%config(noreplace) %s/etc/%s" % (INSTALL_ROOT, name)
                                       for name in sorted(os.listdir(etc))),
            ))
        subprocess.run(
            ["rpmbuild", "-bb", "--target", arch, "--define", "_topdir %s" % os.path.join(work, "top"),
             "--define", "_build_id_links none", "--define", "__os_install_post %{nil}", spec_path],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        built = os.path.join(work, "top", "RPMS", arch)
        name = sorted(os.listdir(built))[0]
        target = os.path.join(out_dir, name)
        shutil.copyfile(os.path.join(built, name), target)
    return target


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="cloudhsm-sim package", description="Build a client tools .deb or .rpm")
    parser.add_argument("--sdk", choices=("3", "5"), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--endpoint", help="simulator endpoint written to /opt/cloudhsm/etc/simulator-endpoint")
    parser.add_argument("--format", choices=("deb", "rpm"), default="deb")
    args = parser.parse_args(argv)
    build = build_rpm if args.format == "rpm" else build_package
    print(build(args.sdk, args.out, args.endpoint))
    return 0


__all__ = ["build_package", "build_rpm", "install_tree", "PACKAGES", "main", "__version__"]
