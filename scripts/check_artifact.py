"""Build the collection artifact, install it next to its dependencies, and check what users will get.

    python check_artifact.py COLLECTION_DIR WORK_DIR DEPENDENCY_TREE

Checks: the tarball builds; it holds no simulator, benchmark, build or test-output files; it installs with
``ansible-galaxy collection install``; ``ansible-doc`` renders every module and role from the installed copy.
"""

import glob
import os
import shutil
import subprocess
import sys
import tarfile

FORBIDDEN_PREFIXES = ("simulator/", "bench/", "build/", "tests/output/", ".venv/", "scripts/", ".ci/")


def run(cmd, **kwargs):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)


def main(collection_dir, work_dir, dependency_tree):
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    run(["ansible-galaxy", "collection", "build", collection_dir, "--output-path", work_dir, "--force"])
    tarballs = glob.glob(os.path.join(work_dir, "hsmops-cloudhsm-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    with tarfile.open(tarballs[0]) as tar:
        names = tar.getnames()
    leaked = [n for n in names if n.startswith(FORBIDDEN_PREFIXES) or "/__pycache__/" in n]
    if leaked:
        sys.exit("artifact holds files users must not get: %s" % ", ".join(sorted(leaked)[:20]))
    install_root = os.path.join(work_dir, "installed")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=install_root)
    # With the build tree on the collections path, galaxy would call the collection installed and skip it.
    run(["ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p", install_root, tarballs[0]], env=env)
    installed = os.path.join(install_root, "ansible_collections", "hsmops", "cloudhsm", "MANIFEST.json")
    if not os.path.isfile(installed):
        sys.exit("ansible-galaxy did not install the artifact: %s is missing" % installed)
    for dep in ("amazon/aws", "community/crypto"):
        shutil.copytree(os.path.join(dependency_tree, "ansible_collections", dep),
                        os.path.join(install_root, "ansible_collections", dep))
    modules = sorted(os.path.splitext(os.path.basename(p))[0]
                     for p in glob.glob(os.path.join(collection_dir, "plugins", "modules", "*.py")))
    roles = sorted(os.path.basename(p) for p in glob.glob(os.path.join(collection_dir, "roles", "*")))
    for module in modules:
        result = run(["ansible-doc", "-t", "module", "hsmops.cloudhsm." + module], env=env)
        if "EXAMPLES" not in result.stdout or "RETURN VALUES" not in result.stdout:
            sys.exit("ansible-doc for %s lacks EXAMPLES or RETURN VALUES; it printed:\n%s%s"
                     % (module, result.stdout[-2000:], result.stderr[-2000:]))
    for role in roles:
        result = run(["ansible-doc", "-t", "role", "hsmops.cloudhsm." + role], env=env)
        if "ENTRY POINT" not in result.stdout:
            sys.exit("ansible-doc for role %s shows no entry point; it printed:\n%s%s"
                     % (role, result.stdout[-2000:], result.stderr[-2000:]))
    print("artifact %s: %d files, %d modules and %d roles documented"
          % (os.path.basename(tarballs[0]), len(names), len(modules), len(roles)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
