"""Kill a playbook run the way a crash of the control node would, and make sure nothing of it survives.

Ansible's workers, and the modules and client tools they start, may leave the playbook's process group (some detach
into sessions of their own), so a kill by process group alone can leave a task running into the rerun. A run
started with ``marked_env`` carries a marker in its environment that every process below it inherits; after the
kill, ``assert_run_gone`` waits until no live process carries that marker (or sits in the killed process group)
and fails if one stays.
"""

import os
import signal
import time
import uuid

MARKER = "HSMOPS_TEST_RUN_MARKER"


def marked_env(env):
    """A copy of ``env`` with a marker of its own; returns (env, marker)."""
    marker = uuid.uuid4().hex
    return dict(env, **{MARKER: marker}), marker


def _stat(pid):
    """(parent pid, process group, state) of a process from /proc, or None when it is gone."""
    try:
        with open("/proc/%s/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[2]), fields[0]


def _pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def descendants(pid):
    """Every process below pid, from /proc (children by parent id, recursively)."""
    children = {}
    for entry in _pids():
        stat = _stat(entry)
        if stat:
            children.setdefault(stat[0], []).append(entry)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid):
    """SIGKILL a process and everything below it. The tree is frozen first (SIGSTOP) so nothing forks while it is
    collected."""
    frozen = set()
    for unused_attempt in range(5):
        tree = [p for p in [pid] + descendants(pid) if p not in frozen]
        if not tree:
            break
        for member in tree:
            try:
                os.kill(member, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            frozen.add(member)
    for member in frozen:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return frozen


def _carries(pid, marker):
    try:
        with open("/proc/%s/environ" % pid, "rb") as handle:
            return ("%s=%s" % (MARKER, marker)).encode() in handle.read().split(b"\0")
    except OSError:  # gone, or another user's process (never one of ours)
        return False


def _command(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return "?"


def survivors(marker, group=None):
    """[(pid, command)] of the live processes (zombies run nothing) that carry ``marker`` or sit in ``group``."""
    found = []
    for pid in _pids():
        stat = _stat(pid)
        if stat is None or stat[2] in ("Z", "X") or pid == os.getpid():
            continue
        if (group is not None and stat[1] == group) or _carries(pid, marker):
            found.append((pid, _command(pid)))
    return found


def assert_run_gone(marker, group=None, timeout=30.0):
    """Wait until no process of the killed run is left; AssertionError naming the survivors after ``timeout``.
    Processes that had left the killed tree (reparented) are killed too, as a crash would take them."""
    deadline = time.monotonic() + timeout
    while True:
        left = survivors(marker, group)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError("processes of the killed playbook run still alive %.0fs after SIGKILL: %s"
                                 % (timeout, left))
        for pid, unused_command in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.1)


def kill_run(proc, marker):
    """SIGKILL the playbook process ``proc`` (started in a session of its own with a ``marked_env``) and all it
    started; returns once every process of the run is gone (AssertionError if one stays)."""
    kill_tree(proc.pid)
    proc.wait()
    assert_run_gone(marker, group=proc.pid)
