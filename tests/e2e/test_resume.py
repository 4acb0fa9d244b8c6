"""clone_cluster killed part-way, then run again: it converges without duplicate clusters, HSMs or backup copies.

In a module of its own: the flows of test_dr_flow.py hold the machine's CloudHSM client until their module ends.
"""

import os
import signal
import sys
import time

from test_dr_flow import assert_one_clone_set, start_flow

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "chaos"))
from process_tree import kill_run, marked_env  # noqa: E402  (shared with the fault tests)


def test_clone_cluster_killed_part_way_converges_on_rerun(tmp_path):
    """A run killed while the clone is being created resumes without duplicate clusters, HSMs or copies."""
    run = start_flow("5", tmp_path / "run")
    try:
        # Check mode first, from nothing: it may report what it would create, but creates nothing.
        run.run_playbook("clone_cluster.yml", log_name="clone_cluster-check", check=True, progress=False)
        assert run.clusters() == []
        # The killed run carries a marker in its environment: the rerun starts only once no process of it is left.
        env = run.env
        run.env, marker = marked_env(env)
        try:
            proc, log, log_path = run.start_playbook("clone_cluster.yml", log_name="clone_cluster-killed")
        finally:
            run.env = env
        with log:
            for line in proc.stdout:
                log.write(line)
                if line.startswith("TASK [Create the clones from the copies"):
                    time.sleep(0.5)
                    kill_run(proc, marker)
                    break
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        run.run_playbook("clone_cluster.yml", log_name="clone_cluster-resumed", progress=False)
        assert_one_clone_set(run)
        assert run.report()["match"]
        again = run.run_playbook("clone_cluster.yml", log_name="clone_cluster-after-resume", progress=False)
        assert again.changed == 0, again.changed_tasks
    finally:
        run.stop_simulator()
