"""``make docs``: the collection's documentation site (modules, roles, playbook docs) built with antsibull-docs.

    python scripts/build_docs.py COLLECTION_DIR DEST_DIR

COLLECTION_DIR is the collection inside an ``ansible_collections`` tree that also holds its dependencies (the build
tree of ``make build-tree``). The site is written to DEST_DIR/build/html. It works offline: the Sphinx configuration
``antsibull-docs sphinx-init`` writes is kept, except that the one intersphinx inventory it needs (Ansible's) is a
small local file instead of a download. The theme is sphinx-ansible-theme when it is installed, Sphinx's built-in alabaster otherwise.
"""

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import zlib

BIN = os.path.dirname(sys.executable)
COLLECTION = "hsmops.cloudhsm"
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
# The Ansible documentation labels the generated pages refer to, for a local intersphinx inventory: the links
# resolve to docs.ansible.com without downloading its inventory. Both labels head their pages: no anchor needed.
ANSIBLE_LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
}


def collections_root(collection_dir):
    """ROOT of ROOT/ansible_collections/NAMESPACE/NAME."""
    path = os.path.abspath(collection_dir)
    root = os.path.dirname(os.path.dirname(os.path.dirname(path)))
    if os.path.basename(os.path.dirname(os.path.dirname(path))) != "ansible_collections":
        sys.exit("%s is not inside an ansible_collections tree" % collection_dir)
    return root


def write_ansible_inventory(path):
    """A Sphinx objects.inv (version 2) holding ANSIBLE_LABELS."""
    lines = "".join("%s std:label -1 %s %s\n" % (label, uri, title) for label, (uri, title) in sorted(ANSIBLE_LABELS.items()))
    with open(path, "wb") as handle:
        handle.write(b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
                     b"# The remainder of this file is compressed using zlib.\n")
        handle.write(zlib.compress(lines.encode()))


def run(command, env, cwd=None):
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, env=env, cwd=cwd, check=True)


def build(collection_dir, dest):
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = collections_root(collection_dir)
    env["PATH"] = os.pathsep.join([BIN, env.get("PATH", "")])
    theme = "sphinx_ansible_theme" if importlib.util.find_spec("sphinx_ansible_theme") else "alabaster"
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    # antsibull-docs writes only into an existing directory that nobody else can write to.
    os.makedirs(dest, mode=0o755)
    os.chmod(dest, 0o755)
    antsibull_docs = os.path.join(BIN, "antsibull-docs")
    run([antsibull_docs, "sphinx-init", "--use-current", "--squash-hierarchy", "--fail-on-error",
         "--dest-dir", dest, "--sphinx-theme", theme,
         "--project", COLLECTION, "--copyright", "hsmops.cloudhsm contributors",
         "--title", "hsmops.cloudhsm: AWS CloudHSM disaster recovery", "--html-short-title", COLLECTION,
         COLLECTION], env)
    write_ansible_inventory(os.path.join(dest, "ansible_devel.inv"))
    with open(os.path.join(dest, "conf.py"), "a") as conf:
        conf.write("\n# Offline build (make docs): a local inventory of the Ansible labels the pages use.\n"
                   "intersphinx_mapping = {'ansible_devel': (%r, %r)}\n"
                   % (ANSIBLE_DOCS, os.path.join(dest, "ansible_devel.inv")))
    rst = os.path.join(dest, "rst")
    os.chmod(rst, 0o755)
    run([antsibull_docs, "--config-file", os.path.join(dest, "antsibull-docs.cfg"), "collection",
         "--cleanup", "everything", "--fail-on-error", "--use-current", "--squash-hierarchy",
         "--dest-dir", rst, COLLECTION], env)
    run([os.path.join(BIN, "sphinx-build"), "-M", "html", rst, os.path.join(dest, "build"), "-c", dest,
         "-W", "--keep-going", "-q"], env)
    index = os.path.join(dest, "build", "html", "index.html")
    if not os.path.exists(index):
        sys.exit("sphinx-build wrote no %s" % index)
    return index


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("collection_dir")
    parser.add_argument("dest")
    args = parser.parse_args(argv)
    try:
        index = build(args.collection_dir, os.path.abspath(args.dest))
    except subprocess.CalledProcessError as error:
        print("docs build failed: %s exited with %d" % (os.path.basename(error.cmd[0]), error.returncode))
        return 1
    print("docs site: %s" % index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
