"""Unpack named collections from a downloaded `ansible` wheel into an ansible_collections tree.

    python extract_collections.py WHEEL_DIR TREE NS.NAME [NS.NAME ...]
"""

import glob
import os
import shutil
import sys
import zipfile


def main(wheel_dir, tree, names):
    wheels = sorted(glob.glob(os.path.join(wheel_dir, "ansible-*.whl")))
    if not wheels:
        sys.exit("no ansible wheel in %s" % wheel_dir)
    with zipfile.ZipFile(wheels[-1]) as wheel:
        members = wheel.namelist()
        for name in names:
            namespace, collection = name.split(".")
            prefix = "ansible_collections/%s/%s/" % (namespace, collection)
            target = os.path.join(tree, prefix)
            shutil.rmtree(target, ignore_errors=True)
            wanted = [m for m in members if m.startswith(prefix) and not m.endswith("/")]
            if not wanted:
                sys.exit("%s is not in %s" % (name, wheels[-1]))
            for member in wanted:
                wheel.extract(member, tree)
            print("%s: %d files from %s" % (name, len(wanted), os.path.basename(wheels[-1])))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
