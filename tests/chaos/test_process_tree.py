"""The kill the fault tests use: a killed run leaves no process behind, also one that left the process tree."""

import os
import subprocess
import sys
import time

from process_tree import kill_run, kill_tree, marked_env, survivors

# A parent whose child starts a grandchild in a session of its own and exits: the grandchild is reparented, so it
# is no longer below the parent, as a detached worker would be.
ORPHAN_MAKER = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', "
    "'import subprocess; subprocess.Popen([\"sleep\", \"60\"], start_new_session=True)']).wait()\n"
    "time.sleep(60)\n"
)


def start(env):
    return subprocess.Popen([sys.executable, "-c", ORPHAN_MAKER], env=env, start_new_session=True)


def orphaned(marker):
    """True once the run is its parent and the orphaned sleep (the middle process has exited)."""
    commands = [command for unused_pid, command in survivors(marker)]
    return len(commands) == 2 and "sleep 60" in commands


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_reparented_process_of_the_run_is_found_and_ends_with_it():
    env, marker = marked_env(os.environ)
    proc = start(env)
    wait_for(lambda: orphaned(marker))
    orphan = next(pid for pid, command in survivors(marker) if pid != proc.pid)
    kill_tree(proc.pid)
    proc.wait()
    # The tree kill missed the orphan; the marker still finds it.
    assert [pid for pid, unused in survivors(marker)] == [orphan]
    kill_run(proc, marker)
    assert survivors(marker) == []


def test_kill_run_leaves_nothing_and_spares_other_processes():
    env, marker = marked_env(os.environ)
    other_env, other_marker = marked_env(os.environ)
    proc, other = start(env), start(other_env)
    try:
        wait_for(lambda: orphaned(marker) and orphaned(other_marker))
        kill_run(proc, marker)
        assert survivors(marker) == []
        assert len(survivors(other_marker)) == 2
    finally:
        kill_run(other, other_marker)
