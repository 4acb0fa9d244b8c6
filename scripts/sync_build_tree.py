"""Mirror the collection's files into the ansible_collections tree that ansible-test, ansible-lint and molecule use.

ansible-test needs the collection at ROOT/ansible_collections/NS/NAME next to its dependencies, and misbehaves with a
symlinked checkout, so the files are copied. Only files git would track (tracked, or untracked and not ignored) are
copied; files that disappeared from the work tree are removed from the copy, except ansible-test's own output.
"""

import fcntl
import os
import shutil
import subprocess
import sys

KEEP = ("tests/output/", ".git/")
# Interpreter caches come and go while tests run from the copy; they are never synced, nor removed here.
CACHE_DIRS = ("__pycache__", ".pytest_cache")
# Files that runs write into the copy itself (the simulator's cloud config for ansible-test); removing them would pull
# the ground from under an integration run in the other make lane.
KEEP_FILES = ("tests/integration/cloud-config-", "tests/integration/inventory")
KEEP_DIRS = tuple(k.rstrip("/") for k in KEEP)


def tracked_files(repo):
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repo, check=True, capture_output=True,
    ).stdout.decode()
    return sorted({name for name in out.split("\0") if name and os.path.isfile(os.path.join(repo, name))})


def main(repo, dest):
    wanted = set(tracked_files(repo))
    os.makedirs(dest, exist_ok=True)
    if not os.path.isdir(os.path.join(dest, ".git")):
        # The copy sits inside the work tree's ignored build/ folder; a repository of its own stops ansible-test
        # from consulting the outer one, where every file of the copy is ignored.
        subprocess.run(["git", "init", "-q", dest], check=True)
    copied = 0
    for name in wanted:
        src, dst = os.path.join(repo, name), os.path.join(dest, name)
        st = os.stat(src)
        if os.path.exists(dst):
            dt = os.stat(dst)
            if dt.st_size == st.st_size and int(dt.st_mtime) == int(st.st_mtime) and dt.st_mode == st.st_mode:
                continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
        copied += 1
    removed = 0
    for root, dirs, files in os.walk(dest):
        rel_root = os.path.relpath(root, dest)
        rel_root = "" if rel_root == "." else rel_root + "/"
        if rel_root.startswith(KEEP):
            dirs[:] = []
            continue
        dirs[:] = [name for name in dirs if name not in CACHE_DIRS]
        for name in files:
            if rel_root + name not in wanted and not (rel_root + name).startswith(KEEP_FILES):
                os.unlink(os.path.join(root, name))
                removed += 1
    for root, dirs, files in os.walk(dest, topdown=False):
        if os.path.relpath(root, dest).startswith(KEEP_DIRS) or CACHE_DIRS[0] in root or CACHE_DIRS[1] in root:
            continue
        if root != dest and not os.listdir(root):
            os.rmdir(root)
    print(f"build tree {dest}: {len(wanted)} files, {copied} copied, {removed} removed")


def locked_main(repo, dest):
    # Parallel make lanes may both ask for the copy; one syncs while the other waits.
    tree = os.path.abspath(os.path.join(dest, os.pardir, os.pardir, os.pardir))  # above ansible_collections/
    os.makedirs(tree, exist_ok=True)
    with open(os.path.join(tree, ".sync-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        main(repo, dest)


if __name__ == "__main__":
    locked_main(sys.argv[1], sys.argv[2])
