"""Run a command with a client host of its own: a private mount namespace in which /opt, the package database and
the client role's download directory are the run's own, and so are the temporary directory and the client locks.

    python private_client_host.py WORK_DIR -- COMMAND...

The simulated client packages install under /opt/cloudhsm with dpkg, so every run that installs them shares the
machine's /opt and /var/lib/dpkg and waits for the others through the client lock (with_simulator.lock_client).
Inside the namespace /opt is an empty directory of WORK_DIR, /var/lib/dpkg a copy of the machine's without the
CloudHSM client packages, and TMPDIR a directory of WORK_DIR (where the client locks live), so the command neither
waits for nor disturbs the runs outside. Needs root and util-linux's unshare; without them the command runs as it is,
on the machine's client host, after saying why.
"""

import os
import shutil
import subprocess
import sys

CLIENT_PACKAGES = ("cloudhsm-cli", "cloudhsm-client")
# The client role's download directory (cloudhsm_client_download_dir's default), private like /opt.
PACKAGE_CACHE = "/var/cache/hsmops-cloudhsm"
DPKG_DIR = "/var/lib/dpkg"


def _client_package_files(unused_directory, names):
    return [name for name in names if name.split(".")[0].split(":")[0] in CLIENT_PACKAGES]


def private_roots(work_dir):
    """Make WORK_DIR's opt, dpkg (the machine's database without the client packages), package cache and tmp
    directories; returns them by name."""
    roots = {name: os.path.join(work_dir, "root-" + name) for name in ("opt", "dpkg", "cache", "tmp")}
    for name in ("opt", "cache", "tmp"):
        os.makedirs(roots[name], exist_ok=True)
    if os.path.isdir(roots["dpkg"]):
        shutil.rmtree(roots["dpkg"])
    # Another run may be adding or removing the client packages meanwhile: their own files are left out.
    shutil.copytree(DPKG_DIR, roots["dpkg"], symlinks=True, ignore=_client_package_files)
    status_path = os.path.join(roots["dpkg"], "status")
    with open(status_path) as handle:
        stanzas = handle.read().split("\n\n")
    kept = [s for s in stanzas if not any(s.startswith("Package: %s\n" % p) for p in CLIENT_PACKAGES)]
    with open(status_path, "w") as handle:
        handle.write("\n\n".join(kept))
    return roots


def isolated(roots, command):
    """``command`` in a private mount namespace over ``roots`` (from private_roots)."""
    if not os.path.isdir(PACKAGE_CACHE):
        os.makedirs(PACKAGE_CACHE, mode=0o755)
    script = ('mount --bind "$0" /opt && mount --bind "$1" %s && mount --bind "$2" %s && TMPDIR="$3" && export TMPDIR '
              '&& shift 3 && exec "$@"' % (DPKG_DIR, PACKAGE_CACHE))
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, roots["opt"], roots["dpkg"],
            roots["cache"], roots["tmp"]] + list(command)


def why_not_private():
    """Why a private client host cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("unshare") is None:
        return "no unshare command (util-linux)"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        return "unshare -m failed: %s" % (probe.stderr.strip() or probe.returncode)
    return None


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write(__doc__)
        return 2
    work_dir, command = os.path.abspath(argv[0]), argv[2:]
    reason = why_not_private()
    if reason:
        sys.stderr.write("private_client_host: %s; running on the machine's client host (under its lock)\n" % reason)
        return subprocess.call(command)
    os.makedirs(work_dir, exist_ok=True)
    return subprocess.call(isolated(private_roots(work_dir), command))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
